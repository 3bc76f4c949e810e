"""Video into a room behind a lossy link keeps moving: a lost packet costs a glitch.

The receiving room runs as its own process behind a real impaired link (tests.linklab)
with seeded random loss on its downlink. With aiortc's own jitter buffer one unrecovered
packet froze its video for ~14 s; ours bounds the wait (endpoint/_jitter.py). The floor
here is loose; the figures belong to the bench.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from endpoint import CallState
from kiosk.hub import LocalHub
from tests.endpoint.conftest import meet_across_link
from tests.linklab import ImpairedLink, Impairment
from tests.room_process import RemoteRoom

LOSSY_SECONDS = 20.0
LONGEST_GAP_FLOOR = 1.5  # seconds; aiortc's buffer alone: ~14 s at 5 % loss


@pytest.fixture
def link(hub: Any) -> Iterator[ImpairedLink]:
    with ImpairedLink(4, seed=10) as made:
        yield made


async def test_five_percent_loss_costs_glitches_not_a_freeze(
    room: Any, open_hub: LocalHub, remote: RemoteRoom, link: ImpairedLink
) -> None:
    b = await meet_across_link(room, open_hub, remote)
    link.set(down=Impairment(loss=0.05))
    start = time.monotonic()
    await asyncio.sleep(LOSSY_SECONDS)
    gap = remote.longest_gap("Xã Gần", since=start)
    dropped = link.counters()["down"]
    assert dropped.get("loss", 0) > 50, f"the link lost too little to tell: {dropped}"
    assert remote.frames("Xã Gần") > 10 * LOSSY_SECONDS * 0.5, "video kept flowing"
    assert gap <= LONGEST_GAP_FLOOR, f"longest frame gap {gap:.1f} s at 5 % loss"
    assert remote.state() == "in-meeting" and b.state is CallState.IN_MEETING

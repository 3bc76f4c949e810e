"""Audio from a room behind a lossy link keeps playing: a lost packet is concealed.

The far room runs as its own process behind a real impaired link (tests.linklab) with
seeded random loss on its uplink. The hub's AudioBridge receives its Opus with holes in
it, conceals them as it decodes (Opus PLC), and sends the mix to the room here whole,
which plays it out through its real playout (a synthetic speaker drains it in real time):
nothing is left for our own receive side to conceal, and nothing stalls. Loss on a room's
own downlink (the mix with holes in it) is concealed by our receive side
(endpoint/_audio_jitter.py, endpoint/_opus_decode.py): the links bench test
(test_links_bench.py, 10 % downlink loss) measures that. The floor here is loose.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from devices import SyntheticSpeaker
from devices.speaker import SourceStats
from endpoint import CallState
from kiosk.hub import LocalHub
from tests.endpoint.conftest import meet_across_link
from tests.linklab import ImpairedLink, Impairment
from tests.room_process import RemoteRoom

LOSSY_SECONDS = 15.0
CONTINUITY_FLOOR = 0.9  # the bench's target at 10 % loss is 0.98


@pytest.fixture
def link(hub: Any) -> Iterator[ImpairedLink]:
    with ImpairedLink(8, seed=13) as made:
        yield made


def far_stats(call: Any) -> SourceStats:
    stats = call.playout.stats()
    assert len(stats) == 1, stats
    return next(iter(stats.values()))


async def test_ten_percent_loss_is_concealed_not_stalled(
    room: Any, open_hub: LocalHub, remote: RemoteRoom, link: ImpairedLink
) -> None:
    near = await meet_across_link(room, open_hub, remote)
    speaker = SyntheticSpeaker(near.playout)
    speaker.start()
    try:
        await asyncio.sleep(2.0)  # the far room's audio is playing
        link.set(up=Impairment(loss=0.1))
        before = far_stats(near)
        await asyncio.sleep(LOSSY_SECONDS)
        after = far_stats(near)
    finally:
        speaker.stop()
    played, stalled = after.played - before.played, after.stalled - before.stalled
    continuity = played / max(1, played + stalled)
    lost = link.counters()["up"].get("loss", 0)
    assert lost > 50, f"the link lost too little to tell: {link.counters()}"
    assert continuity >= CONTINUITY_FLOOR, (before, after)
    assert after.buffered_ms <= 400, "delay stays bounded"
    assert remote.state() == "in-meeting" and near.state is CallState.IN_MEETING

"""A room behind a real impaired link: the link is cut, then comes back.

The room runs as its own process in a child network namespace (tests.linklab); every
packet between it and the hub, signaling and media, crosses the relay.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from endpoint import CallState, ParticipantLeft
from kiosk.hub import LocalHub
from tests._util import wait_until
from tests.endpoint.conftest import meet_across_link
from tests.endpoint.test_recovery import frames_flow, seen_from
from tests.linklab import ImpairedLink
from tests.room_process import RemoteRoom

CUT_SECONDS = 10.0


@pytest.fixture
def link(hub: Any) -> Iterator[ImpairedLink]:
    with ImpairedLink(3) as made:
        yield made


async def test_a_cut_link_is_noticed_marked_and_healed(
    room: Any, open_hub: LocalHub, remote: RemoteRoom, link: ImpairedLink
) -> None:
    b = await meet_across_link(room, open_hub, remote)
    left: list[Any] = []
    b.listen(lambda e: left.append(e) if isinstance(e, ParticipantLeft) else None)
    tile = seen_from(b, "Xã Xa")
    link.cut()
    cut = time.monotonic()
    await wait_until(lambda: tile.stale, timeout=6)
    assert time.monotonic() - cut <= 3.0, "the rooms that stay mark it within 3 s"
    await wait_until(lambda: remote.state_since("reconnecting", cut) is not None, timeout=6)
    detect = remote.state_since("reconnecting", cut)
    assert detect is not None and detect - cut <= 3.0, f"noticed after {detect - cut:.1f} s"
    await asyncio.sleep(max(0.0, cut + CUT_SECONDS - time.monotonic()))
    assert remote.state() == "reconnecting", "still trying, not failed"
    link.restore()
    await wait_until(lambda: remote.state() == "in-meeting", timeout=15)
    before = remote.frames("Xã Gần")
    await wait_until(lambda: remote.frames("Xã Gần") > before + 10, timeout=15)
    await frames_flow(b, "Xã Xa")
    assert not tile.stale and b.state is CallState.IN_MEETING
    assert not left, "the session was taken back: no leave seen by the room that stayed"

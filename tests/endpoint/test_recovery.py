"""Meetings that heal: a hub restart, a dropped connection, a room that comes back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import endpoint
from endpoint import Call, CallState, FailReason, MediaChanged, ParticipantLeft, StateChanged
from endpoint.errors import ConnectionLost
from kiosk.hub import HubRoom, LocalHub
from tests._util import wait_until
from tests.endpoint.test_call import counters_seen, peer


@pytest.fixture
def own_hub(hub: Any) -> Iterator[LocalHub]:
    """A hub of this test's own (the session's hub must not be restarted)."""
    local = LocalHub().start()
    yield local
    local.stop()


def in_room(room: Any, hub: LocalHub, display: str, **kw: Any) -> Call:
    call: Call = room(display, url=hub.url, room=hub.room.room, pin=hub.room.pin, **kw)
    return call


def seen_from(call: Call, display: str) -> Any:
    return next(p for p in call.participants.values() if p.display == display)


async def frames_flow(call: Call, display: str, more: int = 10, timeout: float = 15.0) -> None:
    """*call* decodes at least *more* new frames from *display* (by frame counter)."""
    await wait_until(lambda: peer(call, display), timeout=timeout)
    seen = counters_seen(call, display)
    await wait_until(lambda: len(seen) >= more, timeout=timeout)
    assert all(x < y for x, y in zip(seen, seen[1:], strict=False)), "counters must increase"


def states(call: Call) -> list[StateChanged]:
    events: list[StateChanged] = []
    call.listen(lambda e: events.append(e) if isinstance(e, StateChanged) else None)
    return events


async def test_hub_restart_rejoins_by_itself(room: Any, own_hub: LocalHub) -> None:
    a, b = in_room(room, own_hub, "Xã A"), in_room(room, own_hub, "Xã B")
    seen_a = states(a)
    await a.join()
    await b.join()
    await frames_flow(a, "Xã B")
    own_hub.kill()
    killed = time.monotonic()
    await wait_until(lambda: a.state is CallState.RECONNECTING, timeout=5)
    assert time.monotonic() - killed < 3.0
    await asyncio.sleep(3.0)  # the hub stays down: still trying, never a red failure
    assert a.state is CallState.RECONNECTING and b.state is CallState.RECONNECTING
    assert a.reconnecting is not None and a.reconnecting.attempt >= 1
    own_hub.start()
    await wait_until(lambda: a.state is b.state is CallState.IN_MEETING, timeout=15)
    await frames_flow(a, "Xã B")
    await frames_flow(b, "Xã A")
    assert CallState.FAILED not in [e.state for e in seen_a]
    interrupted = [e for e in seen_a if e.state is CallState.RECONNECTING and e.attempt == 0]
    assert len(interrupted) == 1, "one break is announced once"


async def test_leave_stops_reconnecting(room: Any, own_hub: LocalHub) -> None:
    a = in_room(room, own_hub, "Xã A")
    await a.join()
    own_hub.kill()
    await wait_until(lambda: a.state is CallState.RECONNECTING, timeout=5)
    await a.leave()
    assert a.state is CallState.IDLE
    own_hub.start()
    await asyncio.sleep(3.0)
    assert a.state is CallState.IDLE, "a room that left must not come back by itself"


async def test_reconnecting_gives_up_on_a_wrong_pin(room: Any, own_hub: LocalHub) -> None:
    a = in_room(room, own_hub, "Xã A")
    seen = states(a)
    await a.join()
    own_hub.restart(HubRoom(pin="1357"))  # the district changed the PIN meanwhile
    await wait_until(lambda: a.state is CallState.FAILED, timeout=20)
    assert a.failure is not None and a.failure.reason is FailReason.WRONG_PIN
    await asyncio.sleep(1.0)
    failed = [e for e in seen if e.state is CallState.FAILED]
    assert len(failed) == 1 and failed[0].reason is FailReason.WRONG_PIN, "one failure, one event"
    assert a.state is CallState.FAILED, "given up: no more attempts"


async def test_a_room_that_rejoins_is_seen_by_the_rooms_that_stayed(room: Any) -> None:
    a, b, c = room("Xã A"), room("Xã B"), room("Xã C")
    for call in (a, b, c):
        await call.join()
    await frames_flow(a, "Xã C")
    await c.leave()
    await wait_until(lambda: not peer(a, "Xã C") and not peer(b, "Xã C"))
    await c.join()
    await frames_flow(a, "Xã C")
    await frames_flow(b, "Xã C")
    await frames_flow(c, "Xã A")


async def test_dropped_connection_is_taken_back_without_leaving(
    room: Any, own_hub: LocalHub
) -> None:
    a, b = in_room(room, own_hub, "Xã A"), in_room(room, own_hub, "Xã B")
    await a.join()
    await b.join()
    await frames_flow(b, "Xã A")
    feed = seen_from(b, "Xã A").feed
    events: list[Any] = []
    b.listen(events.append)
    assert a._conn is not None and a._conn.client._ws is not None
    await a._conn.client._ws.close()  # the connection drops; the hub keeps the session
    await wait_until(lambda: a.state is CallState.RECONNECTING, timeout=5)
    await wait_until(lambda: a.state is CallState.IN_MEETING, timeout=15)
    await frames_flow(b, "Xã A")
    assert seen_from(b, "Xã A").feed == feed, "the same room member, not a new one"
    assert not [e for e in events if isinstance(e, ParticipantLeft)], "no leave seen"
    await frames_flow(a, "Xã B")


async def test_rooms_that_stay_mark_a_room_whose_media_stopped(room: Any) -> None:
    a, b = room("Xã A"), room("Xã B")
    await a.join()
    await b.join()
    await frames_flow(b, "Xã A")
    events: list[Any] = []
    b.listen(events.append)
    tile = seen_from(b, "Xã A")
    assert a._conn is not None
    a._conn.client.on_lost = lambda why: None  # a goes silent without telling anyone
    a._media.cancel("liveness")
    await a._conn.client._tasks.close()
    for sender in a._conn.publisher.pc.getSenders() if a._conn.publisher else []:
        await sender.stop()
    stopped = time.monotonic()
    await wait_until(lambda: tile.stale, timeout=6)
    assert time.monotonic() - stopped < 3.0
    assert any(isinstance(e, MediaChanged) and e.participant is tile for e in events)
    assert peer(b, "Xã A"), "the tile stays, marked"


async def test_nothing_runs_after_leave(room: Any) -> None:
    a, b = room("Xã A"), room("Xã B")
    await a.join()
    await b.join()
    await frames_flow(a, "Xã B")
    await b.leave()  # a renegotiates; then a leaves too
    await a.leave()
    await asyncio.sleep(0.2)
    package = str(Path(endpoint.__file__).parent) + "/"
    ours = [
        t
        for t in asyncio.all_tasks()
        if not t.done() and t.get_coro().cr_code.co_filename.startswith(package)
    ]
    assert ours == [], [t.get_name() for t in ours]


async def test_stalled_signaling_alone_does_not_break_a_meeting(room: Any) -> None:
    """A lossy link can hold the WebSocket's TCP back for seconds while UDP media still
    arrives: that is no reason to tear the meeting down (only a much longer stall is)."""
    a, b = room("Xã A"), room("Xã B")
    await a.join()
    await b.join()
    await frames_flow(a, "Xã B")
    assert a._conn is not None
    a._conn.client._tasks.cancel("keepalive")  # no more acks: signaling goes quiet
    stalled = time.monotonic()
    await asyncio.sleep(4.0)
    assert a.state is CallState.IN_MEETING, "media still flows: keep the meeting"
    await wait_until(lambda: a.state is not CallState.IN_MEETING, timeout=6)
    assert 5.5 < time.monotonic() - stalled < 8.0
    await wait_until(lambda: a.state is CallState.IN_MEETING, timeout=15)


async def test_a_room_announced_while_joining_is_kept(
    room: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hub may announce a newcomer between its join reply and the end of our join;
    the newcomer is not in that reply, and must not be dropped as a room that left."""
    import endpoint._session as session

    class Racing(session.Connection):
        async def open(self, *args: Any, **kwargs: Any) -> Any:
            feeds = await super().open(*args, **kwargs)
            late = {"publishers": [{"id": 424242, "display": "Xã Muộn"}]}
            self.wiring.on_room_event({"janus": "event", "plugindata": {"data": late}})
            for _ in range(3):
                await asyncio.sleep(0)  # the call takes the newcomer in before its join ends
            return feeds

    monkeypatch.setattr("endpoint.call.Connection", Racing)
    a = room("Xã A")
    await a.join()
    assert a.state is CallState.IN_MEETING
    await asyncio.sleep(0.5)
    assert peer(a, "Xã Muộn"), "announced during the join, then dropped"


async def test_leaving_while_reconnecting_leaves_no_ghost(room: Any, own_hub: LocalHub) -> None:
    a, b = in_room(room, own_hub, "Xã A"), in_room(room, own_hub, "Xã B")
    await a.join()
    await b.join()
    await frames_flow(b, "Xã A")
    assert a._conn is not None and a._conn.client._ws is not None
    await a._conn.client._ws.close()  # the hub still holds a's session
    await wait_until(lambda: a.state is CallState.RECONNECTING, timeout=5)
    await a.leave()
    assert a.state is CallState.IDLE
    await wait_until(lambda: not peer(b, "Xã A"), timeout=5)  # not 20 s later


async def test_a_second_or_interrupted_leave_still_leaves(room: Any) -> None:
    a, b = room("Xã A"), room("Xã B")
    await a.join()
    await b.join()
    await frames_flow(b, "Xã A")
    first = asyncio.ensure_future(a.leave())
    await asyncio.sleep(0.01)
    first.cancel()  # as a second tap (or the app stopping) used to do
    await a.leave()
    assert a.state is CallState.IDLE
    await asyncio.gather(a.leave(), a.leave())
    await wait_until(lambda: not peer(b, "Xã A"), timeout=5)


async def test_a_short_audio_gap_at_the_hub_is_not_a_broken_uplink(room: Any) -> None:
    a = room("Xã A")
    await a.join()
    assert a._conn is not None and a._conn.audio is not None
    hub_says = a._conn.audio.handle.listener  # the AudioBridge handle hears our audio
    silent = {"janus": "media", "type": "audio", "receiving": False}
    hub_says(silent)
    await asyncio.sleep(0.5)
    hub_says({**silent, "receiving": True})
    await asyncio.sleep(1.5)
    assert a.state is CallState.IN_MEETING
    hub_says(silent)
    await wait_until(lambda: a.state is not CallState.IN_MEETING, timeout=3)
    await wait_until(lambda: a.state is CallState.IN_MEETING, timeout=15)


async def test_a_receiving_connection_closed_under_us_is_rejoined(room: Any) -> None:
    """aiortc closes a connection by itself when ICE consent expires (checks lost behind
    media on a loaded link); the call must notice and come back, not sit frozen."""
    a, b = room("Xã A"), room("Xã B")
    await a.join()
    await b.join()
    await frames_flow(b, "Xã A")
    assert b._conn is not None and b._conn.subscriber is not None
    await b._conn.subscriber.pc.close()
    await wait_until(lambda: b.state is CallState.RECONNECTING, timeout=3)
    await wait_until(lambda: b.state is CallState.IN_MEETING, timeout=15)
    await frames_flow(b, "Xã A")


async def test_a_link_lost_during_a_claim_leaves_no_ghost_in_the_audio(
    room: Any, own_hub: LocalHub
) -> None:
    """The first claim attempt joins the AudioBridge under our member id, then its link
    drops: the next claim must detach that member's handle (else the hub answers 490,
    «id exists», and the room came back only after a slow backoff, as a new member)."""
    a, b = in_room(room, own_hub, "Xã A"), in_room(room, own_hub, "Xã B")
    await a.join()
    await b.join()
    await frames_flow(b, "Xã A")
    feed = seen_from(b, "Xã A").feed
    events: list[Any] = []
    b.listen(events.append)
    seen_a = states(a)
    seed, cut = a.roster.bridge_joined, []

    def link_drops_once(members: Any) -> None:  # called on the AudioBridge's join reply
        if not cut:
            cut.append(True)
            raise ConnectionLost("link lost during the rejoin (test)")
        seed(members)

    a.roster.bridge_joined = link_drops_once  # type: ignore[method-assign]
    assert a._conn is not None and a._conn.client._ws is not None
    await a._conn.client._ws.close()  # the hub keeps the session: a claim follows
    await wait_until(lambda: bool(cut), timeout=10)
    await wait_until(lambda: a.state is CallState.IN_MEETING, timeout=8)
    assert [e.reason for e in seen_a if e.reason is FailReason.HUB_ERROR] == []
    await frames_flow(b, "Xã A")
    assert seen_from(b, "Xã A").feed == feed, "the same room member, not a new one"
    assert not [e for e in events if isinstance(e, ParticipantLeft)], "no leave seen"

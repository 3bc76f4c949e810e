"""Endpoints in a real Janus room: pictures, sound, arrivals, departures, failures."""

from __future__ import annotations

import asyncio
from typing import Any

from devices import framecode
from endpoint import Call, CallState, FailReason, ParticipantJoined, ParticipantLeft
from tests._audio_server import dominant_frequency, rms
from tests._util import wait_until
from tests.endpoint.conftest import settings


def counters_seen(call: Call, display: str) -> list[int]:
    """Collect the frame code of every frame *call* decodes from *display*."""
    participant = next(p for p in call.participants.values() if p.display == display)
    seen: list[int] = []

    def on_frame() -> None:
        frame, _ = participant.video.get()
        code = framecode.decode(frame.to_ndarray(format="gray")) if frame is not None else None
        if code is not None:
            seen.append(code.counter)

    participant.video.listen(on_frame)
    return seen


def peer(call: Call, display: str) -> bool:
    return any(p.display == display for p in call.participants.values())


async def test_two_rooms_see_each_others_live_frames(room: Any) -> None:
    a, b = room("Xã Bản Vẽ"), room("Xã Nà Hỳ")
    await a.join()
    await b.join()
    assert (a.state, b.state) == (CallState.IN_MEETING, CallState.IN_MEETING)
    await wait_until(lambda: peer(a, "Xã Nà Hỳ") and peer(b, "Xã Bản Vẽ"))
    seen_by_a, seen_by_b = counters_seen(a, "Xã Nà Hỳ"), counters_seen(b, "Xã Bản Vẽ")
    await wait_until(lambda: len(seen_by_a) > 0 and len(seen_by_b) > 0)
    start_a, start_b = len(seen_by_a), len(seen_by_b)
    await asyncio.sleep(2.0)
    for seen, start in ((seen_by_a, start_a), (seen_by_b, start_b)):
        window = seen[start:]
        increasing = all(x < y for x, y in zip(seen, seen[1:], strict=False))
        assert increasing, "frame counters must strictly increase"
        assert len(window) >= 20, f"only {len(window)} frames in 2 s (need >= 10 fps)"


async def test_each_room_hears_the_other_on_its_speaker(room: Any, audio_server: Any) -> None:
    a = room("Xã A", tone=440.0, sink="room_a")
    b = room("Xã B", tone=660.0, sink="room_b")
    await a.join()
    await b.join()
    await wait_until(lambda: peer(a, "Xã B") and peer(b, "Xã A"))
    await asyncio.sleep(1.0)
    heard_a = await asyncio.to_thread(audio_server.record, "room_a", 1.0)
    heard_b = await asyncio.to_thread(audio_server.record, "room_b", 1.0)
    assert rms(heard_a) > 0.05 and rms(heard_b) > 0.05, (rms(heard_a), rms(heard_b))
    assert abs(dominant_frequency(heard_a) - 660.0) < 5
    assert abs(dominant_frequency(heard_b) - 440.0) < 5


async def test_muted_room_sends_silence(room: Any, audio_server: Any) -> None:
    a = room("Xã A", tone=440.0)
    b = room("Xã B", tone=660.0, sink="room_b")
    a.set_muted(True)
    await a.join()
    await b.join()
    await wait_until(lambda: peer(b, "Xã A"))
    await asyncio.sleep(1.0)
    assert rms(await asyncio.to_thread(audio_server.record, "room_b", 0.6)) < 0.005
    a.set_muted(False)
    await asyncio.sleep(0.5)
    heard = await asyncio.to_thread(audio_server.record, "room_b", 0.6)
    assert rms(heard) > 0.05 and abs(dominant_frequency(heard) - 440.0) < 5


async def test_third_room_joins_mid_meeting_and_leaves(room: Any) -> None:
    a, b, c = room("Xã A"), room("Xã B"), room("Xã C")
    events: list[Any] = []
    a.listen(events.append)
    await a.join()
    await b.join()
    await wait_until(lambda: peer(a, "Xã B") and peer(b, "Xã A"))
    await c.join()
    await wait_until(lambda: peer(a, "Xã C") and peer(b, "Xã C"))
    for call in (a, b):
        participant = next(p for p in call.participants.values() if p.display == "Xã C")
        await wait_until(lambda p=participant: p.video.seq > 5)
    assert {p.display for p in c.participants.values()} & {"Xã A", "Xã B", "Xã C"} == {
        "Xã A",
        "Xã B",
    }
    await c.leave()
    assert c.state is CallState.IDLE
    await wait_until(lambda: not peer(a, "Xã C") and not peer(b, "Xã C"))
    ours = {"Xã A", "Xã B", "Xã C"}  # the shared hub may still list a room another test left
    joined = [e.participant.display for e in events if isinstance(e, ParticipantJoined)]
    left = [e.participant.display for e in events if isinstance(e, ParticipantLeft)]
    joined, left = [d for d in joined if d in ours], [d for d in left if d in ours]
    assert joined == ["Xã B", "Xã C"] and left == ["Xã C"]
    b_from_a = next(p for p in a.participants.values() if p.display == "Xã B")
    before = b_from_a.video.seq
    await asyncio.sleep(1.0)
    assert b_from_a.video.seq > before + 5, "remaining room's video must keep flowing"


async def test_wrong_pin_fails_with_reason(room: Any) -> None:
    call = room("Xã A", pin="0000")
    await call.join()
    assert call.state is CallState.FAILED
    assert call.failure is not None and call.failure.reason is FailReason.WRONG_PIN


async def test_unknown_room_fails_with_reason(room: Any) -> None:
    call = room("Xã A", room=999)
    await call.join()
    assert call.failure is not None and call.failure.reason is FailReason.NO_SUCH_ROOM


async def test_unreachable_hub_fails_with_reason(room: Any, hub: Any) -> None:
    from kiosk.hub import free_port

    call = room("Xã A", url=f"ws://127.0.0.1:{free_port()}/", connect_timeout=2.0)
    await call.join()
    assert call.state is CallState.FAILED
    assert call.failure is not None and call.failure.reason is FailReason.HUB_UNREACHABLE


async def test_rejoin_after_leave(room: Any) -> None:
    a, b = room("Xã A"), room("Xã B")
    await a.join()
    await b.join()
    await wait_until(lambda: peer(a, "Xã B"))
    await a.leave()
    assert a.participants == {}
    await a.join()
    await wait_until(lambda: peer(a, "Xã B"))
    participant = next(iter(a.participants.values()))
    await wait_until(lambda: participant.video.seq > 3)


def test_pin_never_in_settings_repr(hub: Any) -> None:
    assert "2468" not in repr(settings(hub, "Xã A"))


async def test_hub_reports_who_is_talking(room: Any) -> None:
    a, b = room("Xã A", tone=440.0), room("Xã B")
    b.set_muted(True)
    await a.join()
    await b.join()
    await wait_until(lambda: peer(b, "Xã A") and peer(a, "Xã B"))
    a_seen_by_b = next(p for p in b.participants.values() if p.display == "Xã A")
    b_seen_by_a = next(p for p in a.participants.values() if p.display == "Xã B")
    await wait_until(lambda: a_seen_by_b.talking, timeout=8)
    assert not b_seen_by_a.talking
    a.set_muted(True)
    await wait_until(lambda: not a_seen_by_b.talking, timeout=8)


async def test_leaving_releases_the_camera(room: Any) -> None:
    a = room("Xã A")
    before = len(a.camera.frames._listeners)
    for _ in range(2):
        await a.join()
        assert len(a.camera.frames._listeners) == before + 1
        await a.leave()
        assert len(a.camera.frames._listeners) == before

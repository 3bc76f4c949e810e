"""A meeting holds past every protocol timer in play, at production values.

Janus drops a session after 60 s without a keepalive, ICE consent expires after 30 s,
and earlier builds dropped every call 30 s in (an unanswered keepalive). So one real
meeting of two rooms runs for 80 s, and at the end pictures and sound must still flow
both ways: frame counters decoded at the far side, each room's tone heard by the other.
"""

from __future__ import annotations

import asyncio
from typing import Any

from endpoint import CallState, StateChanged
from tests._audio_server import dominant_frequency, rms
from tests._util import wait_until
from tests.endpoint.test_call import counters_seen, peer
from tests.endpoint.test_recovery import seen_from

HOLD_SECONDS = 80.0  # > session timeout 60 s, ICE consent 30 s, keepalive, DTLS timers


async def test_a_meeting_holds_for_80_seconds(room: Any, audio_server: Any) -> None:
    a = room("Xã A", tone=440.0, sink="room_a")
    b = room("Xã B", tone=660.0, sink="room_b")
    changes: list[StateChanged] = []
    for call in (a, b):
        call.listen(lambda e: changes.append(e) if isinstance(e, StateChanged) else None)
    await a.join()
    await b.join()
    await wait_until(lambda: peer(a, "Xã B") and peer(b, "Xã A"))
    seen_by_a, seen_by_b = counters_seen(a, "Xã B"), counters_seen(b, "Xã A")
    await asyncio.sleep(HOLD_SECONDS)
    assert (a.state, b.state) == (CallState.IN_MEETING, CallState.IN_MEETING)
    assert [c.state for c in changes if c.state is not CallState.IN_MEETING] == [
        CallState.CONNECTING,
        CallState.CONNECTING,
    ], "no interruption, no failure in the whole meeting"
    for seen in (seen_by_a, seen_by_b):
        start = len(seen)
        await wait_until(lambda s=seen, n=start: len(s) >= n + 20, timeout=5)
        assert all(x < y for x, y in zip(seen[start:], seen[start + 1 :], strict=False))
    assert not seen_from(a, "Xã B").stale and not seen_from(b, "Xã A").stale
    heard_a = await asyncio.to_thread(audio_server.record, "room_a", 1.0)
    heard_b = await asyncio.to_thread(audio_server.record, "room_b", 1.0)
    assert rms(heard_a) > 0.05 and abs(dominant_frequency(heard_a) - 660.0) < 5
    assert rms(heard_b) > 0.05 and abs(dominant_frequency(heard_b) - 440.0) < 5

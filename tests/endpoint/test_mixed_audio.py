"""The meeting's audio is mixed by the hub: every room is heard, whatever the join order.

Four rooms already talk, each a distinct tone; a fifth joins and its loudspeaker (a real
audio sink) must carry all four, then a sixth room's tone once it joins after. A room
receives one mixed Opus stream, however many rooms there are: its audio downlink is
measured on the wire (SRTP, RTCP and headers included).
"""

from __future__ import annotations

import asyncio
from typing import Any

from endpoint import Call
from tests._audio_server import RATE
from tests._util import wait_until
from tests.endpoint.test_audiobridge import tone_strength
from tests.endpoint.test_call import peer

TALKING = {"Xã Một": 350.0, "Xã Hai": 500.0, "Xã Ba": 700.0, "Xã Bốn": 900.0}
LATE = ("Xã Sáu", 1150.0)
LEVEL = 0.12  # each tone's amplitude: five of them mixed stay far from clipping
HEARD = 0.1  # a tone's peak relative to the strongest one: heard (a missing one: < 0.01)
AUDIO_DOWN_KBPS = 64.0  # the budget for a 25-room meeting (DESIGN.md §7): one mix


def audio_bytes_in(call: Call) -> int:
    """Bytes received so far on the AudioBridge connection (everything on the wire)."""
    assert call._conn is not None and call._conn.audio is not None
    transports = {t.receiver.transport for t in call._conn.audio.pc.getTransceivers()}
    stats = [s for tr in transports for s in tr._get_stats().values()]
    return sum(int(getattr(s, "bytesReceived", 0) or 0) for s in stats)


async def hears_all(audio_server: Any, sink: str, tones: list[float], timeout: float) -> None:
    """Until every tone is heard in one second of what *sink* plays (or fail with levels)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        played = await asyncio.to_thread(audio_server.record, sink, 1.2)
        levels = {}
        if len(played) >= RATE // 2:  # a loaded machine may start the recorder late
            levels = {hz: round(tone_strength(played[-RATE:], hz), 3) for hz in tones}
            if all(level >= HEARD for level in levels.values()):
                return
        assert asyncio.get_running_loop().time() < deadline, f"tone levels heard: {levels}"


async def test_a_room_joining_late_hears_every_room_and_is_heard(
    room: Any, audio_server: Any
) -> None:
    talkers = [room(name, tone=hz, level=LEVEL) for name, hz in TALKING.items()]
    for call in talkers:
        await call.join()
    five = room("Xã Năm", tone=250.0, sink="room_a", level=LEVEL)
    await five.join()
    await wait_until(lambda: all(peer(five, name) for name in TALKING), timeout=10)
    await hears_all(audio_server, "room_a", list(TALKING.values()), timeout=10)
    loop = asyncio.get_running_loop()
    bytes0, t0 = audio_bytes_in(five), loop.time()
    await asyncio.sleep(5.0)
    kbps = (audio_bytes_in(five) - bytes0) * 8 / (loop.time() - t0) / 1000
    print(f"\naudio downlink of one room in a 5-room meeting: {kbps:.1f} kbit/s on the wire")
    assert kbps <= AUDIO_DOWN_KBPS, f"audio downlink {kbps:.1f} kbit/s"
    listener = room("Xã Nghe", tone=1400.0, sink="room_b", level=LEVEL)
    await listener.join()
    await hears_all(audio_server, "room_b", [*TALKING.values(), 250.0], timeout=10)
    late = room(LATE[0], tone=LATE[1], level=LEVEL)
    await late.join()
    await hears_all(audio_server, "room_a", [*TALKING.values(), 1400.0, LATE[1]], timeout=10)

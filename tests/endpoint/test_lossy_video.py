"""Video into a room behind a lossy link keeps moving: a lost packet costs a glitch.

The receiving room runs as its own process behind a real impaired link (tests.linklab)
with seeded random loss on its downlink; a healthy room sends it 640x360@15 VP8. The
receiving room reports every frame it decodes with the frame code read from the picture
(counter and send time), so freezes and delay are measured per frame. With aiortc's own
jitter buffer one unrecovered packet froze video for ~14 s; ours bounds the wait
(endpoint/_jitter.py) and asks again for what is still missing (endpoint/_nack.py).

The floors leave room for a loaded 2-core machine (measured there, 30 s runs: longest
freeze ~0.3 s at 5 % and ~0.35 s at 10 %, where the machine's own stalls, seen without
loss too, are part of it); the targets themselves belong to the bench (bench/links.py).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from devices import Playout, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, CallState
from kiosk.hub import LocalHub
from tests.endpoint.conftest import meet_across_link, settings
from tests.linklab import ImpairedLink, Impairment
from tests.room_process import RemoteRoom

PHASE_SECONDS = 15.0
# seconds, longest time between two frames shown: floors for a loaded 2-core machine (a
# whole-process stall at load ~10 measured 1.0 s at 5 %); the 0.3 / 0.5 s targets
# belong to bench/links.py. aiortc's own buffer: ~14 s, so a broken buffer still fails here.
FREEZE_FLOOR = {0.05: 1.2, 0.10: 1.5}
DELAY_P95_FLOOR_MS = 400  # send stamp to decoded, at 10 % loss
RECOVERY_FLOOR = 2.0  # seconds from the loss ending to video under 200 ms late
# the far room's debug lines, shown with a failure's output
DEBUG_LOGGERS = "endpoint._jitter,endpoint._nack,endpoint._first_report"


@pytest.fixture
def link(hub: Any) -> Iterator[ImpairedLink]:
    with ImpairedLink(4, seed=10) as made:
        yield made


@pytest.fixture
def remote(open_hub: Any, link: ImpairedLink) -> Iterator[RemoteRoom]:
    """Room "Xã Xa" behind the link, reporting every frame it decodes."""
    from kiosk import netns

    url = f"ws://{netns.ADDRESS}:{open_hub.port}/"
    argv = RemoteRoom.argv(url, open_hub.room.room, "Xã Xa", per_frame=True)
    env = {**os.environ, "ROOM_PIN": open_hub.room.pin, "ROOM_DEBUG": DEBUG_LOGGERS}
    proc = link.popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, env=env)
    room = RemoteRoom(proc)
    yield room
    room.stop()


@pytest.fixture
async def sender(hub: Any) -> AsyncIterator[Callable[..., Call]]:
    """The healthy room: 640x360@15, as the bench sends."""
    made: list[tuple[Call, SyntheticCamera]] = []

    def make(display: str, **overrides: Any) -> Call:
        camera = SyntheticCamera(display, 640, 360, 15)
        camera.start()
        call = Call(settings(hub, display, **overrides), camera, SyntheticMicrophone(), Playout())
        made.append((call, camera))
        return call

    yield make
    for call, camera in made:
        await call.leave()
        camera.stop()


def p95(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


async def lossy_phase(remote: RemoteRoom, link: ImpairedLink, loss: float) -> tuple[float, int]:
    """*loss* on the receiving room's downlink for a while: (longest freeze, delay p95)."""
    link.set(down=Impairment(loss=loss))
    start = time.monotonic()
    await asyncio.sleep(PHASE_SECONDS)
    end = time.monotonic()
    shown = remote.shown("Xã Gần", start, end)
    assert len(shown) > 10 * PHASE_SECONDS, f"video kept flowing at {loss:.0%}: {len(shown)}"
    freeze = remote.longest_freeze("Xã Gần", start, end)
    if freeze > FREEZE_FLOOR[loss]:  # what the frames around it say, for the failure
        print(f"\nat {loss:.0%}: {remote.around_longest_freeze('Xã Gần', start, end)}")
    return freeze, p95(remote.delays_ms("Xã Gần", start, end))


async def recovery(remote: RemoteRoom, link: ImpairedLink) -> float:
    """The loss ends: seconds until a frame is shown less than 200 ms after it was sent."""
    link.set(down=Impairment())
    start = time.monotonic()
    await asyncio.sleep(RECOVERY_FLOOR + 0.5)
    shown = remote.shown("Xã Gần", start)
    late = [(x["t"], (x["wall_ms"] - x["stamp_ms"]) % 2**32) for x in shown]
    return next((t - start for t, delay in late if delay < 200), float("inf"))


async def test_lossy_downlink_costs_glitches_not_freezes(
    sender: Any, open_hub: LocalHub, remote: RemoteRoom, link: ImpairedLink
) -> None:
    near = await meet_across_link(sender, open_hub, remote)
    freeze5, _ = await lossy_phase(remote, link, 0.05)
    lost5 = link.counters()["down"].get("loss", 0)
    freeze10, delay10 = await lossy_phase(remote, link, 0.10)
    lost10 = link.counters()["down"].get("loss", 0) - lost5
    recovered = await recovery(remote, link)
    assert lost5 > 40 and lost10 > 2 * 40, f"the link lost too little to tell: {lost5}, {lost10}"
    assert freeze5 <= FREEZE_FLOOR[0.05], f"longest freeze {freeze5:.2f} s at 5 % loss"
    assert freeze10 <= FREEZE_FLOOR[0.10], f"longest freeze {freeze10:.2f} s at 10 % loss"
    assert delay10 <= DELAY_P95_FLOOR_MS, f"video delay p95 {delay10} ms at 10 % loss"
    assert recovered <= RECOVERY_FLOOR, f"video back under 200 ms late after {recovered:.1f} s"
    assert remote.state() == "in-meeting" and near.state is CallState.IN_MEETING

"""Join time: the officer's tap → the first remote frame decoded on this kiosk.

Runs a local Janus hub and a synthetic far-end room inside a private network
namespace, then joins N times (a fresh call each time, as after a tap) and prints
the median, min and max. Last line: ``join_ms: <median> ms``.

    python bench/join.py [--runs 7]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import time

from devices import Playout, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, CallState, HubSettings
from kiosk import netns
from kiosk.demo import far_end
from kiosk.hub import LocalHub


async def one_join(hub: LocalHub, camera: SyntheticCamera) -> float:
    settings = HubSettings(url=hub.url, room=hub.room.room, display="Xã Đo", pin=hub.room.pin)
    call = Call(settings, camera, SyntheticMicrophone(), Playout())
    start = time.perf_counter()
    await call.join()  # what the Join button does
    if call.state is not CallState.IN_MEETING:
        raise SystemExit(f"join failed: {call.failure}")
    while not any(p.video.seq > 0 for p in call.participants.values()):
        await asyncio.sleep(0.002)
    elapsed = (time.perf_counter() - start) * 1000
    await call.leave()
    return elapsed


async def measure(hub: LocalHub, runs: int) -> list[float]:
    remote, remote_camera = far_end(hub)
    remote_camera.start()
    camera = SyntheticCamera("Xã Đo", 640, 360, 15)
    camera.start()
    await remote.join()
    await asyncio.sleep(1.0)
    times = []
    for run in range(runs):
        times.append(await one_join(hub, camera))
        print(f"run {run + 1}: {times[-1]:.0f} ms", flush=True)
        await asyncio.sleep(0.5)
    await remote.leave()
    camera.stop()
    remote_camera.stop()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if not netns.inside():
        netns.exec_inside([sys.executable, *sys.argv])
    logging.basicConfig(level=logging.WARNING)
    with LocalHub() as hub:
        times = asyncio.run(measure(hub, max(5, args.runs)))
    print(f"join_ms min: {min(times):.0f} ms, max: {max(times):.0f} ms, runs: {len(times)}")
    print(f"join_ms: {statistics.median(times):.0f} ms")


if __name__ == "__main__":
    main()

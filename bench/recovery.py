"""Recovery figures: how fast a meeting heals after a hub restart, a cut link, a rejoin.

Runs a local Janus hub inside a private network namespace; one room sits behind an
impaired link (tests.linklab: a child namespace and a user-space relay that every packet
crosses) as its own process, the others run here. Each figure is the median of --runs
runs (at least 3) with min and max:

- link_cut_detect_s   link cut → the room behind it says it is reconnecting
- stale_tile_s        link cut → the room that stayed marks it «mất kết nối»
- link_cut_rejoin_s   link back (after --cut-seconds) → frames decoded both ways again
- hub_restart_rejoin_s hub killed, back 5 s later → frames decoded both ways again
- rejoin_seen_s       a room leaves and taps Join again → a room that stayed decodes it

    python bench/recovery.py [--runs 3] [--cut-seconds 30]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from devices import Playout, SyntheticCamera, SyntheticMicrophone  # noqa: E402
from endpoint import Call, HubSettings, Participant  # noqa: E402
from kiosk import netns  # noqa: E402
from kiosk.hub import LocalHub  # noqa: E402
from tests.linklab import ImpairedLink  # noqa: E402
from tests.room_process import RemoteRoom  # noqa: E402

FAR = "Xã Xa"  # behind the link
HUB_DOWN_SECONDS = 5.0
TIMEOUT = 60.0
FAR_LOG = os.environ.get("DIEMCAU_FAR_LOG")  # the far room's log, for a closer look


def room(hub: LocalHub, name: str) -> Call:
    camera = SyntheticCamera(name, 320, 180, 15)
    camera.start()
    settings = HubSettings(url=hub.url, room=hub.room.room, display=name, pin=hub.room.pin)
    return Call(settings, camera, SyntheticMicrophone(), Playout())


async def until(predicate: Callable[[], bool], what: str | Callable[[], str]) -> float:
    """Poll every 10 ms; the time it became true."""
    deadline = time.monotonic() + TIMEOUT
    while not predicate():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for: {what if isinstance(what, str) else what()}")
        await asyncio.sleep(0.01)
    return time.monotonic()


def tile(call: Call, display: str) -> Participant | None:
    return next((p for p in call.participants.values() if p.display == display), None)


async def decoding_again(call: Call, display: str, after: float, frames: int = 5) -> float:
    """When *call* has decoded *frames* new frames from *display* since *after*."""

    def fresh() -> bool:
        p = tile(call, display)
        if p is None or p.media.last < after or p.stale:
            return False
        start.setdefault(p.feed, p.video.seq)
        return p.video.seq >= start[p.feed] + frames

    def state() -> str:
        rooms = [(p.display, p.video.seq, p.stale) for p in call.participants.values()]
        return f"{call.settings.display} decoding {display} ({call.state.value}, {rooms})"

    start: dict[int, int] = {}
    return await until(fresh, state)


async def remote_decoding(far: RemoteRoom, display: str, after: float) -> float:
    await until(lambda: far.state_since("in-meeting", after) is not None, "far room back")
    base = far.frames(display)
    return await until(lambda: far.frames(display) >= base + 5, f"far room decoding {display}")


async def link_cut(link: ImpairedLink, near: Call, far: RemoteRoom, seconds: float) -> list[float]:
    await decoding_again(near, FAR, 0.0)
    cut = time.monotonic()
    link.cut()
    stale = await until(lambda: bool((p := tile(near, FAR)) and p.stale), "tile marked") - cut
    detected = await until(lambda: far.state_since("reconnecting", cut) is not None, "detect")
    detect = (far.state_since("reconnecting", cut) or detected) - cut
    await asyncio.sleep(max(0.0, cut + seconds - time.monotonic()))
    back = time.monotonic()
    link.restore()
    print(f"  link restored at {time.time():.3f}", flush=True)
    ends = await asyncio.gather(
        decoding_again(near, FAR, back), remote_decoding(far, near.settings.display, back)
    )
    return [detect, max(ends) - back, stale]


async def hub_restart(hub: LocalHub) -> float:
    a, b = room(hub, "Xã A"), room(hub, "Xã B")
    await a.join()
    await b.join()
    await asyncio.gather(decoding_again(a, "Xã B", 0.0), decoding_again(b, "Xã A", 0.0))
    hub.kill()
    await asyncio.sleep(HUB_DOWN_SECONDS)
    await asyncio.to_thread(hub.start)
    back = time.monotonic()
    ends = await asyncio.gather(decoding_again(a, "Xã B", back), decoding_again(b, "Xã A", back))
    await asyncio.gather(a.leave(), b.leave())
    for call in (a, b):
        call.camera.stop()
    return max(ends) - back


async def rejoin_seen(hub: LocalHub, stays: Call) -> float:
    comer = room(hub, "Xã Quay Lại")
    await comer.join()
    await decoding_again(stays, "Xã Quay Lại", 0.0)
    await comer.leave()
    await until(lambda: tile(stays, "Xã Quay Lại") is None, "left")
    tap = time.monotonic()
    await comer.join()
    seen = await until(lambda: bool((p := tile(stays, "Xã Quay Lại")) and p.video.seq > 0), "seen")
    await comer.leave()
    comer.camera.stop()
    return seen - tap


def start_far(link: ImpairedLink, hub: LocalHub) -> RemoteRoom:
    url = f"ws://{netns.ADDRESS}:{hub.port}/"
    env = {**os.environ, "ROOM_PIN": hub.room.pin, "PYTHONPATH": str(ROOT)}
    argv = RemoteRoom.argv(url, hub.room.room, FAR)
    log = open(FAR_LOG, "w") if FAR_LOG else subprocess.DEVNULL  # noqa: SIM115 - lives with it
    pipes = dict(stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=log)
    return RemoteRoom(link.popen(argv, text=True, env=env, **pipes))  # type: ignore[arg-type]


async def measure(
    link: ImpairedLink, hub: LocalHub, runs: int, cut: float
) -> dict[str, list[float]]:
    figures: dict[str, list[float]] = {}
    near = room(hub, "Xã Gần")
    await near.join()
    far = start_far(link, hub)
    try:
        for run in range(runs):
            detect, rejoin, stale = await link_cut(link, near, far, cut)
            print(f"link cut {run + 1}: detect {detect:.2f} s, rejoin {rejoin:.2f} s, "
                  f"stale tile {stale:.2f} s", flush=True)  # fmt: skip
            for key, value in zip(("link_cut_detect_s", "link_cut_rejoin_s", "stale_tile_s"),
                                  (detect, rejoin, stale), strict=True):  # fmt: skip
                figures.setdefault(key, []).append(value)
        for run in range(runs):
            figures.setdefault("rejoin_seen_s", []).append(await rejoin_seen(hub, near))
            print(f"rejoin {run + 1}: seen after {figures['rejoin_seen_s'][-1]:.2f} s", flush=True)
    finally:
        far.stop()
        await near.leave()
        near.camera.stop()
    for run in range(runs):
        figures.setdefault("hub_restart_rejoin_s", []).append(await hub_restart(hub))
        print(f"hub restart {run + 1}: {figures['hub_restart_rejoin_s'][-1]:.2f} s", flush=True)
    return figures


def report(figures: dict[str, list[float]]) -> None:
    for key, values in figures.items():
        print(f"{key} min: {min(values):.2f} s, max: {max(values):.2f} s, runs: {len(values)}")
    for key, values in figures.items():
        print(f"{key}: {statistics.median(values):.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cut-seconds", type=float, default=30.0)
    args = parser.parse_args()
    if not netns.inside():
        netns.exec_inside([sys.executable, *sys.argv])
    logging.basicConfig(level=logging.WARNING)
    with ImpairedLink(1) as link:
        hub = LocalHub(ws_ip="0.0.0.0")  # signaling reachable from the link's namespace
        with hub:
            figures = asyncio.run(measure(link, hub, max(3, args.runs), args.cut_seconds))
    report(figures)


if __name__ == "__main__":
    main()

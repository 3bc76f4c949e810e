"""Restart figures: the kiosk SIGKILLed in a meeting, back in it with frames flowing.

Runs a local Janus hub inside a private network namespace, a far-end room in this process,
and ``diemcau run`` as a real process under a small supervisor (what systemd's
Restart=always does), with a NOTIFY_SOCKET of our own:

- ready_s   process start → READY=1 (the Join button can be tapped)
- rejoin_s  SIGKILL in a meeting → the far room decodes frames from the kiosk's new feed
            (process start, READY, rejoin with mute kept, media included)

Each figure: median of --runs runs, with min and max.

    python bench/restart.py [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kiosk import netns  # noqa: E402
from kiosk.hub import LocalHub  # noqa: E402
from tests.kiosk import restart_lab as lab  # noqa: E402
from tests.kiosk.notify_socket import NotifySocket, has  # noqa: E402


def figure(name: str, values: list[float]) -> str:
    return (
        f"{name}: {statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"
    )


async def measure(hub: LocalHub, folder: Path, runs: int) -> tuple[list[float], list[float]]:
    far, camera = lab.far_room(hub)
    await far.join()
    config = lab.write_config(folder, hub)
    lab.seed_meeting(folder, hub.room.room, muted=True)
    notify = NotifySocket(folder / "notify")
    kiosk = lab.supervised(config, notify, folder / "kiosk.log").start()
    ready, rejoin, feeds = [], [], set()
    try:
        await lab.wait_notify(notify, lab.in_meeting(muted=True), kiosk, 60)
        feeds.add(await lab.frames_from(far, lab.SITE, exclude=feeds))
        ready.append(notify.wait_for(has("READY"), 1).at - kiosk.starts[0])
        for run in range(runs):
            killed = kiosk.kill()
            msg = await lab.wait_notify(
                notify, lambda m, k=killed: m.at > k and has("READY")(m), kiosk, 60
            )
            ready.append(msg.at - kiosk.starts[-1])
            await lab.wait_notify(notify, lab.in_meeting(muted=True, since=killed), kiosk, 60)
            feeds.add(await lab.frames_from(far, lab.SITE, exclude=feeds, more=3))
            rejoin.append(time.monotonic() - killed)
            print(f"run {run + 1}: ready {ready[-1]:.2f} s, rejoin {rejoin[-1]:.2f} s", flush=True)
    finally:
        kiosk.stop()
        notify.close()
        await far.leave()
        camera.stop()
    return ready, rejoin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not netns.inside():
        netns.exec_inside([sys.executable, *sys.argv])
    logging.basicConfig(level=logging.WARNING)
    with LocalHub() as hub, tempfile.TemporaryDirectory(prefix="diemcau-restart-") as tmp:
        ready, rejoin = asyncio.run(measure(hub, Path(tmp), max(1, args.runs)))
    print(figure("rejoin_s", rejoin))
    print(figure("ready_s", ready))


if __name__ == "__main__":
    main()

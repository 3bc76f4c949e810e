"""Rural links: our endpoint against plain aiortc 1.16 on the same impaired link.

Two rooms meet on a local Janus hub inside a private network namespace. The sending room
("Xã Gửi", 640×360@15 camera with a frame code, a steady tone) sits on the hub's LAN; the
receiving room ("Xã Nhận") sits behind ``tests.linklab.ImpairedLink``, a user-space relay
that every packet crosses. Each scenario holds its impairment for --seconds (60 by
default), then takes it away and waits for the video to catch up. Both rooms run as their
own processes (``bench/_links_room.py``): once as ours, once with ``--baseline`` (plain
aiortc: ``endpoint.plain_aiortc()``, none of our seams or adaptive layers).

Scenarios: loss5, loss10, loss20 (random loss on the receiver's downlink), bursty5 (5 %
in bursts of ~3 packets), rtt300 (150 ms each way + 0..30 ms jitter, both directions),
cap256 (the receiver's downlink capped at 256 kbit/s behind a 200 ms tail-drop queue),
outage30 (both directions cut for 30 s: the window is the outage itself).

Measured at the receiver over the impairment window, per scenario and side, as
``links.<scenario>.<side>.<metric>: <median> <unit> (min .., max ..)`` over --runs runs:

- audio_continuity   share of 20 ms blocks given to the loudspeaker that carried the
                     sender's tone (played or concealed); stall silence does not count
- longest_freeze_s   largest gap between successive new frames decoded (window edges count)
- video_delay_p95_ms send stamp (in the picture) → decoded here, 95th percentile
- fps                new frames decoded per second
- send_kbps          the sending room's send rate on the wire (SRTP/RTCP included, its stats)
- audio_send_kbps    the sending room's Opus payload rate (RTP payload, as WebRTC stats count)
- recv_kbps          the receiving room's receive rate on the wire (its own stats)
- tier               what arrives, from the decoded pictures over the window's last 10 s:
                     0 = 640×360@15, 1 = 424×240@15, 2 = 320×180@10, 3 = audio only
                     (under 2 new frames a second)
- recover_s          impairment removed → frames decoded with delay < 200 ms for 1 s
- call_drops         times the receiving room went to «reconnecting» in the window

    python bench/links.py [--runs 3] [--seconds 60] [--scenarios loss5,loss10] [--sides ours]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._lines import JsonLines  # noqa: E402
from kiosk import netns  # noqa: E402
from kiosk.hub import LocalHub  # noqa: E402
from tests.linklab import ImpairedLink, Impairment  # noqa: E402

SENDER, RECEIVER = "Xã Gửi", "Xã Nhận"
ROOM_SCRIPT = str(ROOT / "bench" / "_links_room.py")
JOIN_TIMEOUT = 45.0
WARMUP = 4.0
RECOVER_WAIT = 20.0
CAUGHT_UP_MS = 200.0
CAUGHT_UP_FOR = 1.0
DUMP = os.environ.get("DIEMCAU_BENCH_DUMP")  # a folder: every run's raw reports, for a closer look
TIERS = [(360, 15.0), (240, 15.0), (180, 10.0)]  # picture height, frame rate; 3 = none


@dataclass(frozen=True)
class Scenario:
    down: Impairment = field(default_factory=Impairment)
    up: Impairment = field(default_factory=Impairment)
    cut: bool = False
    seconds: float | None = None  # fixed length (the outage), else --seconds


SCENARIOS: dict[str, Scenario] = {
    "loss5": Scenario(down=Impairment(loss=0.05)),
    "loss10": Scenario(down=Impairment(loss=0.10)),
    "loss20": Scenario(down=Impairment(loss=0.20)),
    "bursty5": Scenario(down=Impairment(loss=0.05, burst=3)),
    "rtt300": Scenario(
        down=Impairment(delay_ms=150, jitter_ms=30), up=Impairment(delay_ms=150, jitter_ms=30)
    ),
    "cap256": Scenario(down=Impairment(rate_kbps=256)),
    "outage30": Scenario(cut=True, seconds=30.0),
}
UNITS = {
    "audio_continuity": "",
    "longest_freeze_s": "s",
    "video_delay_p95_ms": "ms",
    "fps": "fps",
    "send_kbps": "kbit/s",
    "audio_send_kbps": "kbit/s",
    "recv_kbps": "kbit/s",
    "tier": "",
    "recover_s": "s",
    "call_drops": "",
}


class Room(JsonLines):
    """A benchmark room process and its JSON lines, read on a thread as they come."""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)


def argv(hub: LocalHub, url: str, name: str, size: str, tone: float, baseline: bool) -> list[str]:
    args = [sys.executable, ROOM_SCRIPT, "--url", url, "--room", str(hub.room.room),
            "--name", name, "--size", size, "--tone", str(tone)]  # fmt: skip
    return args + (["--baseline"] if baseline else [])


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def run_once(
    hub: LocalHub, link: ImpairedLink, scenario: Scenario, seconds: float, baseline: bool
) -> dict[str, float]:
    url = f"ws://{netns.ADDRESS}:{hub.port}/"
    env = {**os.environ, "ROOM_PIN": hub.room.pin or ""}
    log = subprocess.DEVNULL if not os.environ.get("DIEMCAU_BENCH_LOG") else None
    pipes: dict[str, Any] = dict(stdout=subprocess.PIPE, stdin=subprocess.PIPE, stderr=log)
    link.set(up=Impairment(), down=Impairment())
    sender = Room(
        subprocess.Popen(  # fmt: skip
            argv(hub, url, SENDER, "640x360", 440.0, baseline), text=True, env=env, **pipes
        )
    )
    receiver = Room(
        link.popen(  # fmt: skip
            argv(hub, url, RECEIVER, "320x180", 660.0, baseline), text=True, env=env, **pipes
        )
    )
    try:
        wait_for(lambda: len(receiver.of("frame")) > 15, JOIN_TIMEOUT, "the first frames")
        time.sleep(WARMUP)
        length = scenario.seconds or seconds
        t0 = time.monotonic()
        if scenario.cut:
            link.cut()
        else:
            link.set(up=scenario.up, down=scenario.down)
        time.sleep(length)
        t1 = time.monotonic()
        link.set(up=Impairment(), down=Impairment())
        deadline = t1 + RECOVER_WAIT
        while time.monotonic() < deadline and recovered(receiver, t1) is None:
            time.sleep(0.2)
        time.sleep(1.5)  # the last reports of the window
        if DUMP:
            dump = {"t0": t0, "t1": t1, "sender": sender.lines, "receiver": receiver.lines}
            path = Path(DUMP) / f"links-{time.time():.0f}-{'baseline' if baseline else 'ours'}.json"
            path.write_text(json.dumps(dump))
        return figures(sender, receiver, t0, t1)
    finally:
        receiver.stop()
        sender.stop()


def recovered(receiver: Room, t1: float) -> float | None:
    """Seconds from *t1* to the first frame after which delay stayed < 200 ms for 1 s."""
    frames = [f for f in receiver.of("frame") if f["t"] >= t1]
    for i, first in enumerate(frames):
        if first["delay_ms"] >= CAUGHT_UP_MS:
            continue
        held = [f for f in frames[i:] if f["t"] <= first["t"] + CAUGHT_UP_FOR]
        if frames[-1]["t"] >= first["t"] + CAUGHT_UP_FOR and all(
            f["delay_ms"] < CAUGHT_UP_MS for f in held
        ):
            return float(first["t"] - t1)
    return None


def new_frames(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Frames that moved the picture on (a repeated or older counter is not new)."""
    out, last = [], -1
    for frame in frames:
        if frame["n"] > last:
            out.append(frame)
            last = frame["n"]
    return out


def audio_blocks(receiver: Room, t0: float, t1: float) -> list[bool]:
    blocks = []
    for line in receiver.of("audio"):
        marks = line["heard"]
        for k, mark in enumerate(marks):
            t = line["t"] - (len(marks) - k) * 0.02
            if t0 <= t < t1:
                blocks.append(mark == "1")
    return blocks


def rate(room: Room, key: str, t0: float, t1: float, kinds: tuple[str, ...]) -> float:
    stats = [s for s in room.of("stats") if t0 <= s["t"] <= t1]
    if len(stats) < 2:
        return float("nan")
    sent = 0  # counters start again when the room reconnects: add up the steps
    for before, after in zip(stats, stats[1:], strict=False):
        step = sum(after[key].get(k, 0) - before[key].get(k, 0) for k in kinds)
        sent += step if step >= 0 else sum(after[key].get(k, 0) for k in kinds)
    return sent * 8 / 1000 / (stats[-1]["t"] - stats[0]["t"])


def tier_of(frames: list[dict[str, Any]], seconds: float) -> int:
    fps = len(frames) / seconds
    if fps < 2.0:  # a still picture now and then, or nothing: audio only
        return 3
    height = statistics.median(f["h"] for f in frames)
    for index, (h, rate_) in enumerate(TIERS):
        if height >= h * 0.9 and fps >= rate_ * 0.6:
            return index
    return 2


def figures(sender: Room, receiver: Room, t0: float, t1: float) -> dict[str, float]:
    window = new_frames([f for f in receiver.of("frame") if t0 <= f["t"] <= t1])
    times = [t0, *(f["t"] for f in window), t1]
    delays = sorted(f["delay_ms"] for f in window)
    blocks = audio_blocks(receiver, t0, t1)
    last10 = [f for f in window if f["t"] >= t1 - 10]
    recover = recovered(receiver, t1)
    states = receiver.of("state")
    drops = [  # in a meeting → reconnecting (each retry says "reconnecting" again)
        now for before, now in zip(states, states[1:], strict=False)
        if now["state"] == "reconnecting" and before["state"] != "reconnecting"
        and t0 <= now["t"] <= t1
    ]  # fmt: skip
    return {
        "audio_continuity": sum(blocks) / len(blocks) if blocks else 0.0,
        "longest_freeze_s": max(b - a for a, b in zip(times, times[1:], strict=False)),
        "video_delay_p95_ms": delays[int(0.95 * (len(delays) - 1))] if delays else float("nan"),
        "fps": len(window) / (t1 - t0),
        "send_kbps": rate(sender, "tx", t0, t1, ("wire",)),
        "audio_send_kbps": rate(sender, "tx", t0, t1, ("audio",)),
        "recv_kbps": rate(receiver, "rx", t0, t1, ("wire",)),
        "tier": float(tier_of(last10, min(10.0, t1 - t0))),
        "recover_s": float("inf") if recover is None else recover,
        "call_drops": float(len(drops)),
    }


def show(value: float) -> str:
    if value != value:  # nan
        return "n/a"
    if value == float("inf"):
        return f">{RECOVER_WAIT:.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"


def report(name: str, side: str, runs: list[dict[str, float]]) -> None:
    for metric, unit in UNITS.items():
        values = [run[metric] for run in runs]
        line = f"links.{name}.{side}.{metric}: {show(statistics.median(values))}"
        line += f" {unit}" if unit else ""
        if len(values) > 1:
            line += f" (min {show(min(values))}, max {show(max(values))})"
        print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--sides", default="ours,baseline")
    parser.add_argument("--seed", type=int, default=1, help="the link's loss pattern")
    parser.add_argument("--link-index", type=int, default=7, help="tests.linklab link number")
    args = parser.parse_args()
    names = [s for s in args.scenarios.split(",") if s]
    unknown = [s for s in names if s not in SCENARIOS]
    if unknown:
        parser.error(f"--scenarios: unknown {', '.join(unknown)} (known: {', '.join(SCENARIOS)})")
    sides = [s for s in args.sides.split(",") if s]
    if any(s not in ("ours", "baseline") for s in sides):
        parser.error("--sides: ours and/or baseline")
    if not netns.inside():
        netns.exec_inside([sys.executable, *sys.argv])
    logging.basicConfig(level=logging.WARNING)
    with ImpairedLink(args.link_index, seed=args.seed) as link:
        hub = LocalHub(ws_ip="0.0.0.0")  # signaling reachable from the link's namespace
        with hub:
            for name in names:
                for side in sides:
                    runs = [
                        run_once(hub, link, SCENARIOS[name], args.seconds, side == "baseline")
                        for _ in range(max(1, args.runs))
                    ]
                    report(name, side, runs)


if __name__ == "__main__":
    main()

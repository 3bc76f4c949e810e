"""A room as its own process, for tests and benches that put it behind an impaired link.

    ROOM_PIN=2468 python -m tests.room_process --url ws://198.18.0.1:8188/ --room 1234 --name "Xã C"

Joins with a synthetic camera (frame counter in the picture) and a tone, then prints one
JSON line per state change ``{"t", "event": "state", "state", "attempt"}`` and, every
0.2 s, ``{"t", "event": "frames", "seen": {room: frames decoded}, "stale": [rooms]}``.
``t`` is ``time.monotonic()``, which every process on the machine shares. Ends on SIGTERM
(leaving the meeting) or when stdin closes.

With ``--per-frame`` it also prints, for every frame decoded from another room, ``{"t",
"event": "frame", "room", "counter", "stamp_ms", "wall_ms"}``: the frame code the sender
drew into the picture (devices/framecode.py: its frame counter and wall-clock send time)
and this process' wall clock when the frame came out of the decoder, so freezes and
delay are measured per frame (same machine, same wall clock).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
import time
from typing import Any

from devices import Playout, SyntheticCamera, SyntheticMicrophone, framecode
from endpoint import Call, CallEvent, HubSettings, Participant, StateChanged

REPORT_EVERY = 0.2


class CountingPlayout(Playout):
    """The playout mixer, counting the audio samples each room delivered to it."""

    def __init__(self) -> None:
        super().__init__()
        self.heard: dict[Any, int] = {}

    def write(self, key: Any, samples: Any) -> None:
        self.heard[key] = self.heard.get(key, 0) + len(samples)
        super().write(key, samples)


def say(event: str, **fields: Any) -> None:
    print(json.dumps({"t": time.monotonic(), "event": event, **fields}), flush=True)


def on_event(event: CallEvent) -> None:
    if isinstance(event, StateChanged):
        say("state", state=event.state.value, attempt=event.attempt, reason=str(event.reason))


def frame_reporter(participant: Participant) -> None:
    """Report each frame decoded from *participant* with the code read from its picture."""

    def decoded() -> None:  # called by the receiving task right after each new frame
        frame, _ = participant.video.get()
        code = framecode.decode(frame.to_ndarray(format="gray")) if frame is not None else None
        if code is not None:
            say("frame", room=participant.display, counter=code.counter,
                stamp_ms=code.stamp_ms, wall_ms=int(time.time() * 1000))  # fmt: skip

    participant.video.listen(decoded)


def link_fields(call: Call) -> dict[str, Any]:
    """This room's link grade, rooms it marks weak or whose video it paused, and the
    seconds of the meeting's audio (the hub's mix) delivered to the playout."""
    rooms, heard = call.participants.values(), getattr(call.playout, "heard", {})
    return {
        "link": call.link.grade.value if call.link is not None else None,
        "loss_down": call.link.loss_down if call.link is not None else None,
        "weak": [p.display for p in rooms if p.weak],
        "paused": [p.display for p in rooms if p.video_paused],
        "audio_s": sum(heard.values()) / 48000,
    }


def send_fields(call: Call) -> dict[str, Any]:
    """What this room sends: its quality tier (None: not adapting) and kbit/s."""
    status = call.send_status
    tier = status.tier.name if status is not None and status.tier is not None else None
    return {"tier": tier, "send_kbps": round(status.send_kbps, 1) if status else None}


async def report(call: Call, stop: asyncio.Event, per_frame: bool) -> None:
    watched: set[int] = set()
    while not stop.is_set():
        for participant in call.participants.values() if per_frame else ():
            if id(participant) not in watched:
                watched.add(id(participant))
                frame_reporter(participant)
        seen = {p.display: p.video.seq for p in call.participants.values()}
        stale = [p.display for p in call.participants.values() if p.stale]
        say("frames", seen=seen, stale=stale, **link_fields(call), **send_fields(call))
        await asyncio.sleep(REPORT_EVERY)


async def main(args: argparse.Namespace) -> None:
    camera = SyntheticCamera(args.name, 320, 180, 15)
    camera.start()
    settings = HubSettings(
        url=args.url, room=args.room, display=args.name, pin=os.environ.get("ROOM_PIN")
    )
    call = Call(settings, camera, SyntheticMicrophone(args.tone), CountingPlayout())
    call.listen(on_event)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.read(1) or stop.set())
    await call.join()
    reporter = asyncio.create_task(report(call, stop, args.per_frame))
    await stop.wait()
    await call.leave()
    reporter.cancel()
    camera.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--tone", type=float, default=440.0)
    parser.add_argument("--per-frame", action="store_true", help="report every decoded frame")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(created).3f %(name)s: %(message)s"
    )
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in filter(None, os.environ.get("ROOM_DEBUG", "").split(",")):
        logging.getLogger(name).setLevel(logging.DEBUG)  # shown with a failing test's output
    asyncio.run(main(parser.parse_args()))


class RemoteRoom:
    """The parent's view of a room process: its reports, read on a thread as they come."""

    def __init__(self, proc: Any) -> None:
        import threading

        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, name="room-reader", daemon=True)
        self._reader.start()

    @staticmethod
    def argv(
        url: str, room: int, name: str, tone: float = 440.0, per_frame: bool = False
    ) -> list[str]:
        return [sys.executable, "-m", "tests.room_process", "--url", url, "--room", str(room),
                "--name", name, "--tone", str(tone)] + ["--per-frame"] * per_frame  # fmt: skip

    def _read(self) -> None:
        for line in self.proc.stdout:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                continue

    def state(self) -> str | None:
        states = [line["state"] for line in self.lines if line["event"] == "state"]
        return states[-1] if states else None

    def state_since(self, state: str, after: float) -> float | None:
        """When the room first reported *state* after time *after*."""
        return next(
            (x["t"] for x in self.lines if x["event"] == "state" and x["state"] == state
             and x["t"] >= after), None,
        )  # fmt: skip

    def frames(self, display: str) -> int:
        reports = [x for x in self.lines if x["event"] == "frames"]
        return int(reports[-1]["seen"].get(display, 0)) if reports else 0

    def longest_gap(self, display: str, since: float) -> float:
        """Longest time after *since* that *display*'s decoded frame count stood still
        (to the report period, 0.2 s), up to the latest report."""
        reports = [(x["t"], x["seen"].get(display, 0)) for x in self.lines
                   if x["event"] == "frames" and x["t"] >= since]  # fmt: skip
        longest, moved, count = 0.0, since, None
        for t, seen in reports:
            if seen != count:
                longest, moved, count = max(longest, t - moved), t, seen
        return max(longest, reports[-1][0] - moved) if reports else float("inf")

    def shown(self, display: str, since: float, until: float | None = None) -> list[dict[str, Any]]:
        """Per-frame reports (``--per-frame``) of *display* in [since, until], each frame
        once and in order: a frame older than one already shown does not count."""
        shown: list[dict[str, Any]] = []
        for x in list(self.lines):
            if x["event"] != "frame" or x["room"] != display or x["t"] < since:
                continue
            if until is not None and x["t"] > until:
                break
            if not shown or x["counter"] > shown[-1]["counter"]:
                shown.append(x)
        return shown

    def longest_freeze(self, display: str, since: float, until: float) -> float:
        """Largest time in [since, until] between two frames of *display* shown."""
        times = [since] + [x["t"] for x in self.shown(display, since, until)] + [until]
        return max(b - a for a, b in zip(times, times[1:], strict=False))

    def around_longest_freeze(self, display: str, since: float, until: float) -> str:
        """The frames of *display* either side of its longest freeze in [since, until]
        (time from *since*, frame counter, delay): for a failing test's message."""
        shown = self.shown(display, since, until)
        times = [since] + [x["t"] for x in shown] + [until]
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        at = gaps.index(max(gaps))
        near = shown[max(0, at - 3) : at + 3]
        return "; ".join(
            f"t={x['t'] - since:.3f} n={x['counter']} delay={delay_ms(x)}" for x in near
        )

    def delays_ms(self, display: str, since: float, until: float | None = None) -> list[int]:
        """Send stamp to decoded, per frame shown, in milliseconds."""
        return [delay_ms(x) for x in self.shown(display, since, until)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - it must go either way
                self.proc.kill()
                self.proc.wait()

    # -- link reports (the room's LinkWatch) ----------------------------------------
    def reports(self, since: float = 0.0) -> list[dict[str, Any]]:
        return [x for x in list(self.lines) if x["event"] == "frames" and x["t"] >= since]

    def paused_at(self, display: str, since: float) -> float | None:
        """When the room first reported *display*'s video paused after *since*."""
        return next((x["t"] for x in self.reports(since) if display in x.get("paused", ())), None)

    def audio_share(self, since: float, until: float) -> float:
        """Seconds of the meeting's audio (the hub's mix) delivered to the room's playout
        per second, between the first and the last report in [since, until]."""
        heard = [(x["t"], x["audio_s"]) for x in self.reports(since) if x["t"] <= until]
        if len(heard) < 2:
            return 0.0
        return (heard[-1][1] - heard[0][1]) / (heard[-1][0] - heard[0][0])


def delay_ms(frame: dict[str, Any]) -> int:
    """Send stamp to decoded of one frame report, in milliseconds."""
    return int((frame["wall_ms"] - frame["stamp_ms"]) % 2**32)

"""One room of the links benchmark, as its own process (``bench/links.py`` starts two).

    ROOM_PIN=... python bench/_links_room.py --url ws://198.18.0.1:8188/ --room 1234 \
        --name "Xã Gửi" --size 640x360 [--baseline]

Publishes a synthetic camera (frame counter and send stamp in the picture) and a steady
tone, and measures what it receives from the other room, printing JSON lines
(``t`` = ``time.monotonic()``, shared by every process on the machine):

- ``{"event": "frame", "t", "n", "delay_ms", "w", "h"}`` for every decoded frame whose
  code reads (n = the sender's frame counter, delay = receive wall clock - send stamp);
- ``{"event": "audio", "t", "heard": "1101..."}`` once a second: one character per
  20 ms block that this room's playout gave the loudspeaker, ``1`` when the block
  carried the other room's tone (played, or concealed well enough to be heard), ``0``
  when it was silence (a stall);
- ``{"event": "stats", "t", "tx": {"audio", "video", "wire"}, "rx": {"wire"}, "tier"}``
  once a second from the call's own peer connections: RTP payload bytes sent per kind,
  and all bytes on the wire each way (SRTP, RTCP, headers), all its connections together
  (VideoRoom publisher and subscriber, and the AudioBridge: our audio out, the mix in);
- ``{"event": "state", "t", "state"}`` on call state changes.

``--baseline`` runs on plain aiortc 1.16 (``endpoint.plain_aiortc()``): none of our media
seams or adaptive layers. Ends on SIGTERM or when stdin closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import av
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import endpoint  # noqa: E402
from devices import Playout, SyntheticCamera, SyntheticMicrophone, framecode  # noqa: E402
from endpoint import Call, CallEvent, HubSettings, Participant, StateChanged  # noqa: E402

BLOCK = 0.02  # the 20 ms audio frame the continuity figure counts
HEARD_RMS = 0.03  # the tone is sent at RMS ~0.21; silence and stall read ~0
LEVEL = 0.3


def say(event: str, **fields: Any) -> None:
    print(json.dumps({"t": round(time.monotonic(), 4), "event": event, **fields}), flush=True)


class Ear:
    """Pulls the playout mix in real time, 20 ms at a time, like a loudspeaker would,
    and notes for each block whether the other room's tone was in it."""

    def __init__(self, playout: Playout) -> None:
        self.playout = playout
        self._marks: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-ear", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        count = int(self.playout.rate * BLOCK)
        deadline = time.monotonic()
        while not self._stop.is_set():
            block = self.playout.read(count)
            rms = float(np.sqrt(np.mean(np.square(block)))) if len(block) else 0.0
            with self._lock:
                self._marks.append("1" if rms >= HEARD_RMS else "0")
            deadline = max(deadline + BLOCK, time.monotonic() - BLOCK)
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def take(self) -> str:
        with self._lock:
            marks, self._marks = "".join(self._marks), []
        return marks

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


class Eye:
    """Reads the frame code of every frame decoded from other rooms."""

    def __init__(self) -> None:
        self._watched: set[int] = set()

    def watch(self, participant: Participant) -> None:
        if id(participant.video) in self._watched:
            return
        self._watched.add(id(participant.video))
        slot = participant.video
        slot.listen(lambda: self._seen(slot.get()[0]))

    @staticmethod
    def _seen(frame: Any) -> None:
        if not isinstance(frame, av.VideoFrame):
            return
        code = framecode.decode(frame.to_ndarray(format="gray"))
        if code is None:
            return
        delay = (int(time.time() * 1000) - code.stamp_ms) % 2**32
        say("frame", n=code.counter, delay_ms=delay, w=frame.width, h=frame.height)


async def stats(call: Call) -> None:
    while True:
        await asyncio.sleep(1.0)
        conn = call._conn  # noqa: SLF001 - a benchmark reads the call's own connections
        tx: dict[str, int] = {}
        rx: dict[str, int] = {}
        if conn is not None:
            for pc in conn.peer_connections().values():
                try:
                    report = await pc.getStats()
                except Exception:  # noqa: BLE001 - a connection closing mid-read
                    continue
                for s in report.values():
                    if s.type == "outbound-rtp":  # RTP payload bytes, per kind
                        tx[s.kind] = tx.get(s.kind, 0) + int(s.bytesSent)
                    elif s.type == "transport":  # everything on the wire (SRTP, RTCP)
                        tx["wire"] = tx.get("wire", 0) + int(s.bytesSent)
                        rx["wire"] = rx.get("wire", 0) + int(s.bytesReceived)
        status = call.send_status
        tier = status.tier.name if status is not None and status.tier is not None else None
        say("stats", tx=tx, rx=rx, tier=tier)


def reported(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        logging.error("stats stopped", exc_info=task.exception())


async def main(args: argparse.Namespace) -> None:
    if args.baseline:
        endpoint.plain_aiortc()
    width, height = (int(x) for x in args.size.split("x"))
    camera = SyntheticCamera(args.name, width, height, 15)
    camera.start()
    pin = os.environ.get("ROOM_PIN")
    settings = HubSettings(url=args.url, room=args.room, display=args.name, pin=pin)
    playout = Playout(adaptive=not args.baseline)  # the baseline: the fixed 80/200 ms mixer
    call = Call(settings, camera, SyntheticMicrophone(args.tone, level=LEVEL), playout)
    eye, ear = Eye(), Ear(playout)

    def on_event(event: CallEvent) -> None:
        if isinstance(event, StateChanged):
            say("state", state=event.state.value)
        for participant in call.participants.values():
            eye.watch(participant)

    call.listen(on_event)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.read(1) or stop.set())
    ear.start()
    await call.join()
    reporter = asyncio.create_task(stats(call))
    reporter.add_done_callback(reported)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
        say("audio", heard=ear.take())
    reporter.cancel()
    await call.leave()
    ear.stop()
    camera.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--tone", type=float, default=440.0)
    parser.add_argument("--baseline", action="store_true")
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(created).3f %(name)s: %(message)s"
    )
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(main(parser.parse_args()))

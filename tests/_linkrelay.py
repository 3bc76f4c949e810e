"""The relay process behind ``tests.linklab``: two TAP devices and the impairments between.

    python -m tests._linkrelay NEAR FAR [--seed N]      (run from the repository root)

It creates the TAP devices NEAR and FAR in the current network namespace, then moves
itself into a new, empty network namespace: the link's far side, once ``linklab`` has
moved FAR there. It prints ``{"pid": ...}`` and relays Ethernet frames: what the far side
sends into FAR ("up") comes out of NEAR, and the other way round ("down"), each direction
through its own :class:`tests._linkmodel.PathModel`.

Control: one JSON object per line on stdin, one JSON reply per line on stdout::

    {"op": "set", "up": {...impairment...}}  -> {"ok": true}   (a direction left out stays)
    {"op": "counters"}                        -> {"ok": true, "counters": {"up": ..., "down": ...}}

End of stdin (the owner closed it or died) ends the relay: it kills whatever still runs
in its namespace first, and the devices vanish with it.
"""

from __future__ import annotations

import argparse
import asyncio
import ctypes
import fcntl
import heapq
import itertools
import json
import os
import random
import signal
import struct
import sys

from tests._linkmodel import Impairment, ImpairmentError, PathModel

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
CLONE_NEWNET = 0x40000000
MAX_PACKET = 65535
READ_BATCH = 64  # packets read per wake-up before the other direction gets its turn
SLACK = 0.0005  # packets due within this many seconds leave together


def open_tap(name: str) -> int:
    """A non-blocking file descriptor on a new TAP device *name* (Ethernet frames, no header)."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def unshare_net() -> None:
    """Move this process into a new, empty network namespace."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")


class Direction:
    """Frames read from one TAP device, written to the other when the model says so."""

    def __init__(self, src: int, dst: int, model: PathModel) -> None:
        self.src, self.dst, self.model = src, dst, model
        self._loop = asyncio.get_running_loop()
        self._heap: list[tuple[float, int, bytes]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        self._loop.add_reader(src, self._on_readable)

    def set(self, imp: Impairment) -> None:
        self.model.impairment = imp
        if imp.cut:  # a cut link loses what is on the wire too
            self.model.counters.cut += len(self._heap)
            self._heap.clear()

    def close(self) -> None:
        """Stop reading; what is still in flight is dropped."""
        self._loop.remove_reader(self.src)
        if self._timer is not None:
            self._timer.cancel()
        self._heap.clear()

    def _on_readable(self) -> None:
        for _ in range(READ_BATCH):
            try:
                packet = os.read(self.src, MAX_PACKET)
            except BlockingIOError:
                return
            self._admit(packet)

    def _admit(self, packet: bytes) -> None:
        now = self._loop.time()
        due = self.model.admit(now, len(packet), len(self._heap))
        if due is None:
            return
        if due <= now + SLACK and not self._heap:
            self._write(packet)
            return
        heapq.heappush(self._heap, (due, next(self._order), packet))
        self._arm()

    def _arm(self) -> None:
        due = self._heap[0][0]
        if self._timer is not None:
            if self._timer.when() <= due:
                return
            self._timer.cancel()
        self._timer = self._loop.call_at(due, self._flush)

    def _flush(self) -> None:
        self._timer = None
        horizon = self._loop.time() + SLACK
        while self._heap and self._heap[0][0] <= horizon:
            self._write(heapq.heappop(self._heap)[2])
        if self._heap:
            self._arm()

    def _write(self, packet: bytes) -> None:
        try:
            os.write(self.dst, packet)
        except OSError:
            self.model.counters.error += 1
            return
        self.model.delivered(len(packet))


class Control:
    """JSON requests on stdin, JSON replies on stdout; end of stdin ends the relay."""

    def __init__(self, paths: dict[str, Direction]) -> None:
        self.paths = paths
        self.done = asyncio.get_running_loop().create_future()
        self._buffer = b""
        os.set_blocking(0, False)
        asyncio.get_running_loop().add_reader(0, self._on_readable)

    def _on_readable(self) -> None:
        try:
            data = os.read(0, 65536)
        except BlockingIOError:
            return
        if not data:
            asyncio.get_running_loop().remove_reader(0)
            self.done.set_result(None)
            return
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for line in lines:
            reply(self.handle(line))

    def handle(self, line: bytes) -> dict[str, object]:
        try:
            request = json.loads(line)
            return self._dispatch(request)
        except (ValueError, TypeError, KeyError, ImpairmentError) as err:
            return {"ok": False, "error": f"{type(err).__name__}: {err}"}

    def _dispatch(self, request: dict[str, object]) -> dict[str, object]:
        if request["op"] == "counters":
            counters = {name: path.model.counters.to_dict() for name, path in self.paths.items()}
            return {"ok": True, "counters": counters}
        if request["op"] != "set":
            raise ValueError(f"unknown op {request['op']!r} (known: set, counters)")
        settings = {name: request.get(name) for name in self.paths}
        for name, value in settings.items():
            if value is not None:
                self.paths[name].set(Impairment.from_dict(value))  # type: ignore[arg-type]
        return {"ok": True}


def reply(message: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


async def relay(near: int, far: int, seed: int) -> None:
    paths = {
        "up": Direction(far, near, PathModel(random.Random(f"{seed}-up"))),
        "down": Direction(near, far, PathModel(random.Random(f"{seed}-down"))),
    }
    await Control(paths).done


def sweep_namespace() -> None:
    """SIGKILL every other process in this process's network namespace."""
    own = os.stat("/proc/self/ns/net")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = os.stat(f"/proc/{entry.name}/ns/net")
            if (stat.st_dev, stat.st_ino) == (own.st_dev, own.st_ino):
                os.kill(int(entry.name), signal.SIGKILL)
        except OSError:
            continue  # gone meanwhile, or not ours to see


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests._linkrelay")
    parser.add_argument("near")
    parser.add_argument("far")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner's Ctrl-C closes our stdin
    near, far = open_tap(args.near), open_tap(args.far)
    unshare_net()
    reply({"pid": os.getpid()})
    asyncio.run(relay(near, far, args.seed))
    sweep_namespace()


if __name__ == "__main__":
    main()

"""How long a packet took to reach us, above the least it took lately: the queue on the path.

A packet's transit is its arrival time (our clock) minus its send time (the sender's clock,
from the RTP timestamp or an RTCP sender report). The two clocks differ by an unknown
offset, but the offset is the same for every packet, so transit *above its floor* (the
least transit of the last ``BASE`` seconds) is the extra delay a packet met on the way:
time spent in a queue. A fixed path delay (a long radio hop, 300 ms round trip) is in
the floor and does not count; jitter shows as single late packets, so the queue reading
is the *least* transit of the last ``RECENT`` seconds above the floor: it rises only when
every packet of that half second was held up, that is when a queue stands (the idea
behind CoDel's "minimum sojourn over an interval"). A queue that stands for longer than
``BASE`` seconds becomes the floor: readings are for changes, not for a link that was
congested from its first packet.

Why not reuse ``devices.speaker._Arrivals``: the playout measures lateness of decoded
audio against its own sample count and forgets a lasting shift within 2 s, on purpose
(it must follow the stream); a standing queue must not be forgotten that fast, and the
packets' own timestamps (losses included) give the send time directly.

Memory is bounded: the recent points (at most ``MAX_RECENT``) and one floor per second.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

RECENT = 0.5  # s: the least transit over this long is the reading (jitter filtered out)
BASE = 10.0  # s: the floor is the least transit over this long
MAX_RECENT = 256  # points held for the reading at most (20 ms audio: 25 per RECENT)
WRAP = 1 << 32


class Unwrap:
    """Extends a 32-bit wrapping counter (RTP timestamp, NTP 16.16 seconds) to an int
    that keeps growing; a value a little behind the last one stays behind it."""

    def __init__(self) -> None:
        self._last: int | None = None

    def __call__(self, value: int) -> int:
        if self._last is None:
            self._last = value
        else:
            self._last += (value - self._last + WRAP // 2) % WRAP - WRAP // 2
        return self._last


class Transit:
    """Transit of one kind of packet (one clock on the sending side), and the queue it shows."""

    def __init__(self, recent: float = RECENT, base: float = BASE, least: int = 1) -> None:
        self.recent, self.base, self.least = recent, base, least
        self._points: deque[tuple[float, float]] = deque(maxlen=MAX_RECENT)  # (arrival, transit)
        self._floors: deque[tuple[int, float]] = deque(maxlen=int(base) + 2)  # (second, least)

    def add(self, arrival: float, sent: float) -> None:
        """A packet sent at *sent* (sender's seconds) arrived at *arrival* (our seconds)."""
        transit = arrival - sent
        self._points.append((arrival, transit))
        while self._points[0][0] < arrival - self.recent:
            self._points.popleft()
        second = int(arrival // 1.0)
        if self._floors and self._floors[-1][0] == second:
            transit = min(transit, self._floors[-1][1])
            self._floors.pop()
        self._floors.append((second, transit))

    def queueing(self, now: float) -> float | None:
        """Seconds of standing queue: the least transit of the last ``recent`` seconds
        above the floor; None with fewer than ``least`` packets in that time."""
        recent = [t for arrival, t in self._points if arrival >= now - self.recent]
        if len(recent) < self.least:
            return None
        floor = min(t for second, t in self._floors if second >= now - self.base - 1.0)
        return max(0.0, min(recent) - floor)

    def clear(self) -> None:
        """The sender started over (new clock): forget every point."""
        self._points.clear()
        self._floors.clear()


class LoopLag:
    """How late our own event loop wakes, standing over the last ``RECENT`` seconds.

    Arrival times are read on the event loop, so a starved CPU (or a loop busy for tens of
    milliseconds at a time) makes every packet look late, exactly as a queue on the link
    would. A timer every ``EVERY`` seconds measures that lateness; its least over
    ``RECENT`` s is the delay every packet of that half second met *here*, which the queue
    readings must not count (measured: a 10 % random-loss link read as a full queue on a
    2-core machine at load 10, and video was paused for nothing).
    """

    EVERY = 0.05  # s between two wake-ups: 20 a second, next to nothing on the loop

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._late: deque[tuple[float, float]] = deque(maxlen=int(RECENT / self.EVERY) + 4)

    async def run(self) -> None:
        while True:
            due = self._clock() + self.EVERY
            await asyncio.sleep(self.EVERY)
            now = self._clock()
            self.add(now, max(0.0, now - due))

    def add(self, now: float, late: float) -> None:
        self._late.append((now, late))

    def standing(self, now: float) -> float:
        """Seconds every wake-up of the last ``RECENT`` s was late by (0 when unknown)."""
        recent = [late for at, late in self._late if at >= now - RECENT]
        return min(recent) if recent else 0.0


class SenderReports:
    """The hub's RTCP sender reports as they reach us (one per stream a second from
    Janus): their transit rises with a queue on *our downlink* only, where the media's
    own transit also rises with a queue on the sending room's uplink."""

    FRESH = 1.2  # s: a newest report older than this (one a second is due) says nothing
    STEP = 0.05  # s: the wall clock moved this much against ours: it was stepped (NTP)

    def __init__(self) -> None:
        self.transit = Transit(recent=RECENT, least=1)
        self._seen: dict[int, int] = {}  # ssrc -> its last report's NTP (middle 32 bits)
        self._ntp = Unwrap()
        self._newest: float | None = None
        self._offset: float | None = None

    def add(self, reports: Mapping[int, tuple[int, float]], offset: float | None = None) -> None:
        """One look at the receivers' last reports: ssrc -> (NTP middle 32 bits, arrival on
        our clock). *offset*: the wall clock less ours when they were read (aiortc stamps
        arrivals with the wall clock); when it jumps, the wall clock was stepped and reports
        that arrived before the step were moved by it: all are forgotten, and these too."""
        stepped = self._stepped(offset)
        new = sorted(
            (at, ssrc, ntp) for ssrc, (ntp, at) in reports.items() if self._seen.get(ssrc) != ntp
        )
        self._seen = {ssrc: ntp for ssrc, (ntp, _) in reports.items()}
        if stepped:
            return
        for arrival, _, ntp in new:
            self.transit.add(arrival, self._ntp(ntp) / 65536.0)
            self._newest = max(arrival, self._newest or arrival)

    def _stepped(self, offset: float | None) -> bool:
        if offset is None:
            return False
        last, self._offset = self._offset, offset
        if last is None or abs(offset - last) <= self.STEP:
            return False
        log.info("wall clock stepped by %.3f s: the hub's sender reports start over", offset - last)
        self.transit = Transit(recent=RECENT, least=1)
        self._newest = None
        return True

    def queueing(self, now: float) -> float | None:
        """Seconds of queue the latest reports met; None when none came in the last
        ``FRESH`` s before *now* (same clock as the arrivals: reports held up or dropped
        by a full queue, or none sent)."""
        if self._newest is None or now - self._newest > self.FRESH:
            return None
        return self.transit.queueing(self._newest)

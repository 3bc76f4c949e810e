"""Loudspeakers and the playout mixer that feeds them.

Remote audio is written per source into bounded rings; the speaker pulls mixed blocks at
its own pace, so the playout runs on the speaker's clock, not on packet arrivals.

Adaptive (the default): each source's delay follows how irregularly its audio arrives.
Every write is stamped with the injected clock; its lateness against a steady stream,
above the earliest of the last ``FLOOR`` seconds, is kept for the last ``WINDOW`` writes,
and the target delay is the 98th percentile of that, plus ``MARGIN`` (for the speaker's
and the decoder's block sizes), between ``min_target_ms`` and ``max_target_ms``. A source
that runs dry plays silence only until ``RESUME`` of audio is back (not a whole target), so
a late burst costs just its lateness; the delay that burst left behind is then cut back
towards the target, a little per block with a cross-fade, once even the lowest level of
the last second stands above it. Past ``max(max_ms, target + HEADROOM)`` a source is cut
to its target at once. Delay never builds up to seconds.

``adaptive=False`` is the mixer as it was before (fixed 80 ms priming, cut to the target
past 200 ms, every underrun waits for a full target again): the links benchmark's
baseline, "unmodified aiortc".

Both count per source what the loudspeaker got (``stats()``, ``totals()``): samples of
the source's own audio (received or concealed by the decoder), and samples of silence
while a source that had started playing was dry (a stall), from which the benchmark's
audio continuity is ``played / (played + stalled)``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import sounddevice as sd

from devices import _sd
from devices._ring import AudioRing, Samples

log = logging.getLogger(__name__)

RATE = 48000
WINDOW = 500  # writes the lateness statistics look back on (10 s of 20 ms frames)
QUANTILE = 0.98  # lateness the target covers; rarer spikes cost a short stall
MARGIN = 0.02  # seconds on top of the measured spread (block sizes)
RESUME = 0.04  # seconds of audio a dry source waits for before it plays again (at most)
FLOOR = 2.0  # seconds the earliest arrival is looked for in (as NetEQ does)
RESYNC = 0.3  # seconds of lateness taken as a break in the stream (an outage), not jitter
LEARN = 50  # writes seen before the measured spread sets the target
HEADROOM = 0.1  # seconds above the target at which a source is cut at once
SETTLE = 1.0  # seconds the level must stand above the target before it is cut back
FADE = 48  # samples faded out when a source runs dry (1 ms)


@dataclass(frozen=True)
class SourceStats:
    """What the loudspeaker got from one source (or all of them), in samples.

    ``played``: the source's own audio (received or concealed by the decoder);
    ``stalled``: silence while the source, after it had started, was dry;
    ``trimmed``: audio dropped to keep the delay down; ``underruns``: times it ran dry;
    ``target_ms`` / ``buffered_ms``: its delay target and what it holds now.
    """

    played: int = 0
    stalled: int = 0
    trimmed: int = 0
    underruns: int = 0
    target_ms: float = 0.0
    buffered_ms: float = 0.0

    @property
    def continuity(self) -> float:
        """Share of the time since it started that the source was heard, not stalled."""
        total = self.played + self.stalled
        return self.played / total if total else 1.0

    def __add__(self, other: SourceStats) -> SourceStats:
        return SourceStats(
            self.played + other.played,
            self.stalled + other.stalled,
            self.trimmed + other.trimmed,
            self.underruns + other.underruns,
            max(self.target_ms, other.target_ms),
            self.buffered_ms + other.buffered_ms,
        )


class _Arrivals:
    """How late each write comes against a steady stream, above the earliest of the last
    ``FLOOR`` seconds (so a lasting shift, such as a sender that skipped, is soon not
    jitter any more); the spread of those is the jitter to cover."""

    def __init__(self, rate: int) -> None:
        self.rate = rate
        self._late: deque[float] = deque(maxlen=WINDOW)  # above the floor, seconds
        self._recent: deque[tuple[float, float]] = deque(maxlen=WINDOW)  # (when, late)
        self._origin: float | None = None
        self._samples = 0

    def add(self, now: float, count: int) -> float:
        """Note a write of *count* samples at *now*; returns how late it came (seconds)."""
        if self._origin is None:
            self._origin = now
        late = now - self._origin - self._samples / self.rate
        while self._recent and now - self._recent[0][0] > FLOOR:
            self._recent.popleft()
        floor = min((old for _, old in self._recent), default=late)
        if late - floor > RESYNC:  # an outage: start over
            self._recent.clear()
            self._origin, self._samples, late, floor = now, 0, 0.0, 0.0
        self._samples += count
        self._recent.append((now, late))
        self._late.append(max(0.0, late - floor))
        return self._late[-1]

    def spread(self) -> float | None:
        """The lateness to cover (seconds); None until ``LEARN`` writes were seen."""
        if len(self._late) < LEARN:
            return None
        return float(np.quantile(np.fromiter(self._late, dtype=np.float64), QUANTILE))


class _Source:
    def __init__(self, rate: int, target: int) -> None:
        self.ring = AudioRing(rate // 2)
        self.primed = False
        self.started = False  # has played at least once: dry from now on is a stall
        self.target = target
        self.arrivals = _Arrivals(rate)
        self.spare: deque[tuple[float, int]] = deque(maxlen=WINDOW)  # (when, samples)
        self.cut = 0  # samples still to drop, a block at a time
        self.played = self.stalled = self.trimmed = self.underruns = 0

    def stats(self, rate: int) -> SourceStats:
        ms = 1000 / rate
        return SourceStats(
            self.played,
            self.stalled,
            self.trimmed,
            self.underruns,
            self.target * ms,
            len(self.ring) * ms,
        )


class Playout:
    """Mixes any number of remote sources, each with a bounded delay that follows its jitter.

    ``target_ms`` is where a source starts (and stays, with ``adaptive=False``);
    ``clock`` stamps writes (tests step it).
    """

    def __init__(
        self,
        rate: int = RATE,
        target_ms: int = 80,
        max_ms: int = 200,
        *,
        adaptive: bool = True,
        min_target_ms: int = 40,
        max_target_ms: int = 300,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.reference = AudioRing(rate // 2)  # what went to the loudspeakers (echo reference)
        self.target = rate * target_ms // 1000
        self.limit = rate * max_ms // 1000
        self.adaptive = adaptive
        self._bounds = (rate * min(min_target_ms, target_ms) // 1000, rate * max_target_ms // 1000)
        self._clock = clock
        self._sources: dict[Hashable, _Source] = {}
        self._retired = SourceStats()
        self._lock = threading.Lock()

    @property
    def trimmed(self) -> int:
        """Samples dropped so far to keep the delay down, over every source."""
        return self.totals().trimmed

    def write(self, key: Hashable, samples: Samples) -> None:
        with self._lock:
            source = self._sources.get(key)
            if source is None:
                source = self._sources[key] = _Source(self.rate, self.target)
            if self.adaptive:
                self._arrive(source, len(samples))
            before = len(source.ring)
            source.ring.write(samples)
            source.trimmed += before + len(samples) - len(source.ring)  # past the ring's size
            self._bound(source)

    def _arrive(self, source: _Source, count: int) -> None:
        now = self._clock()
        late = source.arrivals.add(now, count)
        source.spare.append((now, len(source.ring) + int(late * self.rate)))
        self._retarget(source)
        self._plan_cut(source, now)

    def _retarget(self, source: _Source) -> None:
        spread = source.arrivals.spread()
        if spread is not None:
            wanted = int((spread + MARGIN) * self.rate)
            source.target = min(max(wanted, self._bounds[0]), self._bounds[1])

    def _plan_cut(self, source: _Source, now: float) -> None:
        """Cut what even the lowest level of the last ``SETTLE`` seconds had to spare."""
        if now - source.spare[0][0] < SETTLE:
            return
        lowest = min(spare for when, spare in source.spare if now - when <= SETTLE)
        if lowest > source.target + self.rate * MARGIN:
            source.cut = max(source.cut, lowest - source.target)
            source.spare.clear()

    def _bound(self, source: _Source) -> None:
        limit = self.limit
        if self.adaptive:
            limit = max(limit, source.target + int(HEADROOM * self.rate))
        if len(source.ring) > limit:
            source.trimmed += source.ring.trim(source.target)
            source.cut = 0
        resume = min(source.target, int(RESUME * self.rate))
        if len(source.ring) >= (resume if self.adaptive and source.started else source.target):
            source.primed = source.started = True

    def remove(self, key: Hashable) -> None:
        with self._lock:
            source = self._sources.pop(key, None)
            if source is not None:
                self._retired += source.stats(self.rate)

    def read(self, count: int) -> Samples:
        """*count* mixed samples; silence for sources still filling their buffer."""
        out = np.zeros(count, dtype=np.float32)
        with self._lock:
            for source in self._sources.values():
                block = self._pull(source, count)
                out[: len(block)] += block
        self.reference.write(out)
        return out

    def _pull(self, source: _Source, count: int) -> Samples:
        if not source.primed:
            source.stalled += count if source.started else 0
            return np.zeros(0, dtype=np.float32)
        block = self._cut(source, count) if source.cut else source.ring.read(count)
        source.played += len(block)
        if len(block) < count:
            source.primed = False
            source.underruns += 1
            source.stalled += count - len(block)
            source.cut = 0
            if self.adaptive:
                block[-FADE:] *= np.linspace(1.0, 0.0, len(block[-FADE:]), dtype=np.float32)
        return block

    def _cut(self, source: _Source, count: int) -> Samples:
        """*count* samples that skip up to *count* more, cross-faded over the block."""
        drop = min(source.cut, count, max(0, len(source.ring) - count))
        block = source.ring.read(count + drop)
        source.cut = source.cut - drop if drop else 0  # nothing spare left: the cut is over
        source.trimmed += drop
        if len(block) < count + drop or not drop:
            return block[:count]
        fade = np.linspace(0.0, 1.0, count, dtype=np.float32)
        mixed: Samples = block[:count] * (1.0 - fade) + block[drop:] * fade
        return mixed

    def stats(self) -> dict[Hashable, SourceStats]:
        """Per source now playing: what the loudspeaker got from it (see ``SourceStats``)."""
        with self._lock:
            return {key: source.stats(self.rate) for key, source in self._sources.items()}

    def totals(self) -> SourceStats:
        """Every source so far, also those removed since (played, stalled, trimmed...)."""
        with self._lock:
            total = self._retired
            for source in self._sources.values():
                total += source.stats(self.rate)
            return total


class Speaker(Protocol):
    volume: int

    @property
    def error(self) -> str | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _scaled(block: Samples, volume: int) -> Samples:
    out: Samples = np.clip(block * (volume / 100.0), -1.0, 1.0).astype(np.float32)
    return out


class SoundDeviceSpeaker(_sd.StreamDevice):
    """Plays the playout mix on a sound device (PortAudio callback)."""

    def __init__(self, device: str, playout: Playout, volume: int = 80) -> None:
        super().__init__(device)
        self.playout, self.volume = playout, volume

    def start(self) -> None:
        self._open(sd.OutputStream, "output", self.playout.rate, 1)

    def _callback(self, out: Any, frames: int, when: Any, status: Any) -> None:
        out[:, 0] = _scaled(self.playout.read(frames), self.volume)


class SyntheticSpeaker:
    """Drains the playout mix in real time without a sound card, keeping the last
    second for inspection (level, dominant frequency)."""

    BLOCK = 0.01

    def __init__(self, playout: Playout, volume: int = 80) -> None:
        self.playout, self.volume = playout, volume
        self.recent = AudioRing(playout.rate)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def error(self) -> str | None:
        return None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="speaker:synthetic", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        count = int(self.playout.rate * self.BLOCK)
        deadline = time.monotonic()
        while not self._stop.is_set():
            self.recent.write(_scaled(self.playout.read(count), self.volume))
            deadline = max(deadline + self.BLOCK, time.monotonic() - self.BLOCK)
            self._stop.wait(max(0.0, deadline - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None


def open_speaker(device: str, playout: Playout, volume: int = 80) -> Speaker:
    if device == "synthetic":
        return SyntheticSpeaker(playout, volume)
    return SoundDeviceSpeaker(device, playout, volume)

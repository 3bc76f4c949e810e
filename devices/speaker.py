"""Loudspeakers and the playout mixer that feeds them.

Remote audio is written per source into bounded rings (target 60–100 ms, trimmed
past 200 ms); the speaker pulls mixed blocks at its own pace.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable
from typing import Any, Protocol

import numpy as np
import sounddevice as sd

from devices import _sd
from devices._ring import AudioRing, Samples

log = logging.getLogger(__name__)

RATE = 48000


class _Source:
    def __init__(self, rate: int) -> None:
        self.ring = AudioRing(rate // 2)
        self.primed = False


class Playout:
    """Mixes any number of remote sources with a bounded delay each."""

    def __init__(self, rate: int = RATE, target_ms: int = 80, max_ms: int = 200) -> None:
        self.rate = rate
        self.reference = AudioRing(rate // 2)  # what went to the loudspeakers (echo reference)
        self.target = rate * target_ms // 1000
        self.limit = rate * max_ms // 1000
        self._sources: dict[Hashable, _Source] = {}
        self._lock = threading.Lock()
        self.trimmed = 0

    def write(self, key: Hashable, samples: Samples) -> None:
        with self._lock:
            source = self._sources.setdefault(key, _Source(self.rate))
        source.ring.write(samples)
        if len(source.ring) > self.limit:
            self.trimmed += source.ring.trim(self.target)
        if len(source.ring) >= self.target:
            source.primed = True

    def remove(self, key: Hashable) -> None:
        with self._lock:
            self._sources.pop(key, None)

    def read(self, count: int) -> Samples:
        """*count* mixed samples; silence for sources still filling their buffer."""
        out = np.zeros(count, dtype=np.float32)
        with self._lock:
            sources = list(self._sources.values())
        for source in sources:
            if not source.primed:
                continue
            block = source.ring.read(count)
            out[: len(block)] += block
            if len(block) < count:
                source.primed = False
        self.reference.write(out)
        return out


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

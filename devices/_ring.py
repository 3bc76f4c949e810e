"""A bounded, thread-safe ring of mono float32 samples."""

from __future__ import annotations

import threading

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.float32]


class AudioRing:
    """Fixed capacity; writing past it drops the oldest samples (never grows)."""

    def __init__(self, capacity: int) -> None:
        self._buf = np.zeros(capacity, dtype=np.float32)
        self._lock = threading.Lock()
        self._start = 0
        self._size = 0
        self.dropped = 0

    @property
    def capacity(self) -> int:
        return len(self._buf)

    def __len__(self) -> int:
        return self._size

    def write(self, samples: Samples) -> None:
        data = np.asarray(samples, dtype=np.float32).ravel()[-self.capacity :]
        with self._lock:
            overflow = self._size + len(data) - self.capacity
            if overflow > 0:
                self._skip(overflow)
                self.dropped += overflow
            end = (self._start + self._size) % self.capacity
            first = min(len(data), self.capacity - end)
            self._buf[end : end + first] = data[:first]
            self._buf[: len(data) - first] = data[first:]
            self._size += len(data)

    def read(self, count: int) -> Samples:
        """Up to *count* of the oldest samples (fewer when fewer are buffered)."""
        with self._lock:
            count = min(count, self._size)
            idx = (self._start + np.arange(count)) % self.capacity
            out = self._buf[idx].copy()
            self._skip(count)
            return out

    def trim(self, keep: int) -> int:
        """Drop the oldest samples so at most *keep* remain; returns how many went."""
        with self._lock:
            extra = max(0, self._size - keep)
            self._skip(extra)
            return extra

    def _skip(self, count: int) -> None:
        self._start = (self._start + count) % self.capacity
        self._size -= count

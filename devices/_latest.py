"""Newest-wins hand-over slot between a producer thread and its consumers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class LatestFrame(Generic[T]):
    """Holds only the newest item; a slow reader skips, never delays, the writer.

    ``seq`` counts every ``put`` so a reader can tell whether anything new arrived.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._item: T | None = None
        self._seq = 0
        self._stamp = 0.0
        self._listeners: list[Callable[[], None]] = []

    def listen(self, callback: Callable[[], None]) -> Callable[[], None]:
        """Call *callback* (in the producer's thread) after each put; returns an undo."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def put(self, item: T, stamp: float = 0.0) -> None:
        with self._lock:
            self._item = item
            self._seq += 1
            self._stamp = stamp
        for callback in list(self._listeners):
            callback()

    def get(self) -> tuple[T | None, int]:
        """The newest item (or None) and its sequence number."""
        with self._lock:
            return self._item, self._seq

    @property
    def seq(self) -> int:
        return self._seq

    @property
    def stamp(self) -> float:
        """Producer's timestamp of the newest item (monotonic seconds)."""
        return self._stamp

    def clear(self) -> None:
        with self._lock:
            self._item = None

"""Look-ahead for the auto-mute gate: the room's audio waits a moment before it goes out.

A gate can only open after it has heard some speech, and the first syllable of a turn is
often soft (under babble it is below the noise for 100-300 ms). ``PreRoll`` delays the
outgoing audio by ``delay_s`` and lets a waiting block leave with a gain the gate gave while it
waited: the last ``sure_s`` before the gate opened always go out (the attack time and the
start of the sound that opened it); further back, up to ``delay_s``, only an unbroken run of
blocks webrtcvad called speech, so a fan's hiss before a turn stays muted. Word endings are
the hold's job; this is the onset's.

The delay costs that much extra one-way audio latency. 100 ms is about what a USB camera and
the video encoder already take, so it also keeps the room's lips and voice closer in sync.

A block pushed with ``ceiling`` 0 (the panel's manual mute was on when it was captured) leaves
silent whatever the gate does later: a mute covers the audio captured while it was on.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

SURE_S = 0.05


@dataclass
class _Waiting:
    samples: npt.NDArray[np.float32]
    seconds: float
    gain: float
    ceiling: float
    voiced: bool


class PreRoll:
    """A delay line for gated audio whose blocks leave with a gain decided while they waited
    (see the module docstring for how far back an opening reaches)."""

    def __init__(self, delay_s: float, sure_s: float = SURE_S) -> None:
        if delay_s < 0 or sure_s < 0:
            raise ValueError(f"pre-roll delay {delay_s} s, sure part {sure_s} s: must be >= 0")
        self.delay_s = delay_s
        self.sure_s = min(sure_s, delay_s)
        self._line: deque[_Waiting] = deque()
        self._queued = 0.0

    def push(
        self,
        samples: npt.NDArray[np.float32],
        rate: int,
        gain: float,
        ceiling: float = 1.0,
        voiced: bool = True,
    ) -> list[tuple[npt.NDArray[np.float32], float]]:
        """Queue one captured block with the gate's gain for it (``voiced``: webrtcvad called
        it speech); return the blocks now due, oldest first, each with the gain to apply
        (not yet multiplied)."""
        seconds = len(samples) / rate
        self._reach_back(gain, seconds)
        self._line.append(_Waiting(samples, seconds, gain, ceiling, voiced))
        self._queued += seconds
        due = []
        # A block leaves once the audio captured after it spans the delay.
        while self._line and self._queued - self._line[0].seconds >= self.delay_s - 1e-9:
            due.append(self._leave())
        return due

    def _reach_back(self, gain: float, newer: float) -> None:
        if gain <= 0:
            return
        for waiting in reversed(self._line):
            if newer > self.sure_s + 1e-9 and not waiting.voiced:
                return
            waiting.gain = max(waiting.gain, gain)
            newer += waiting.seconds

    def flush(self) -> list[tuple[npt.NDArray[np.float32], float]]:
        """Everything still waiting, with the gains decided so far (end of stream)."""
        return [self._leave() for _ in range(len(self._line))]

    def _leave(self) -> tuple[npt.NDArray[np.float32], float]:
        block = self._line.popleft()
        self._queued -= block.seconds
        return block.samples, min(block.gain, block.ceiling)

    @property
    def waiting_s(self) -> float:
        """Audio held back now, seconds."""
        return self._queued

"""Bad-input detection for the microphone array: the gate fails safe (open) on any fault.

Faults: wrong sample rate, channel count that does not match the array geometry, malformed
blocks (not finite, wrong shape), clipping, a dead channel, no signal at all, and no playout
reference (``NO_REFERENCE``: the caller knows, not the checker; without it the far end's echo
cannot be told from the room, so the gate must not decide). Clipping and dead
channels are judged over a sliding second so one loud clap is not a fault; a fault clears after
``CLEAR_S`` of clean input.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

CLIP_LEVEL = 0.999
CLIP_SHARE = 0.002  # share of clipped samples over the window that counts as clipping
DEAD_DB = -30.0  # a channel this far below the median of the others is dead
SILENT_DBFS = -100.0  # all channels this quiet: the capture delivers nothing
WINDOW_S = 1.0
CLEAR_S = 2.0


class FaultKind(enum.Enum):
    SAMPLE_RATE = "sample_rate"
    CHANNEL_COUNT = "channel_count"
    MALFORMED = "malformed"
    CLIPPING = "clipping"
    DEAD_CHANNEL = "dead_channel"
    NO_SIGNAL = "no_signal"
    NO_REFERENCE = "no_reference"


@dataclass(frozen=True)
class InputFault:
    """One detected problem; ``channel`` is set for per-channel faults."""

    kind: FaultKind
    detail: str
    channel: int | None = None

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.detail}"


NO_REFERENCE = InputFault(
    FaultKind.NO_REFERENCE, "no loudspeaker playout reference: echo cannot be told from the room"
)


class InputChecker:
    """Checks each capture block against the configured array and rate."""

    def __init__(self, channels: int, sample_rate: int) -> None:
        self._channels = channels
        self._rate = sample_rate
        self._frames = 0
        self._clipped = np.zeros(channels)
        self._power = np.zeros(channels)
        self._windowed = 0
        self._sticky: dict[FaultKind, tuple[float, InputFault]] = {}

    def check(self, block: npt.NDArray[np.floating], rate: int, t: float) -> tuple[InputFault, ...]:
        """Return the faults active at ``t`` (empty when the input is sound)."""
        hard = self._hard_faults(block, rate)
        if hard:
            return hard
        self._accumulate(block)
        for fault in self._window_faults():
            if fault.kind not in self._sticky:
                log.warning("microphone input fault: %s", fault)
            self._sticky[fault.kind] = (t, fault)
        self._sticky = {k: v for k, v in self._sticky.items() if t - v[0] < CLEAR_S}
        return tuple(f for _, f in self._sticky.values())

    def _hard_faults(self, block: npt.NDArray[np.floating], rate: int) -> tuple[InputFault, ...]:
        if rate != self._rate:
            return (InputFault(FaultKind.SAMPLE_RATE, f"got {rate} Hz, expected {self._rate} Hz"),)
        if block.ndim != 2 or block.shape[0] == 0:
            return (InputFault(FaultKind.MALFORMED, f"block shape {block.shape}"),)
        if block.shape[1] != self._channels:
            got, want = block.shape[1], self._channels
            detail = f"got {got} channels, array geometry has {want}"
            return (InputFault(FaultKind.CHANNEL_COUNT, detail),)
        if not np.all(np.isfinite(block)):
            return (InputFault(FaultKind.MALFORMED, "non-finite samples"),)
        return ()

    def _accumulate(self, block: npt.NDArray[np.floating]) -> None:
        if self._frames >= WINDOW_S * self._rate:
            self._clipped[:] = 0.0
            self._power[:] = 0.0
            self._frames = 0
        self._clipped += np.count_nonzero(np.abs(block) >= CLIP_LEVEL, axis=0)
        self._power += np.sum(np.square(block, dtype=np.float64), axis=0)
        self._frames += block.shape[0]
        self._windowed += 1

    def _window_faults(self) -> list[InputFault]:
        if self._frames < WINDOW_S * self._rate:
            return []
        faults = []
        share = self._clipped / self._frames
        for ch in np.flatnonzero(share > CLIP_SHARE):
            detail = f"channel {ch}: {share[ch]:.1%} of samples at full scale"
            faults.append(InputFault(FaultKind.CLIPPING, detail, int(ch)))
        faults.extend(self._level_faults(self._power / self._frames))
        return faults

    def _level_faults(self, power: npt.NDArray[np.float64]) -> list[InputFault]:
        level = 10 * np.log10(np.maximum(power, 1e-30))
        if np.all(level < SILENT_DBFS):
            return [InputFault(FaultKind.NO_SIGNAL, "all channels silent (capture delivers zeros)")]
        faults: list[InputFault] = []
        if level.size < 2:  # a single microphone has no others to be compared with
            return faults
        for ch in range(level.size):
            others = np.delete(level, ch)
            if level[ch] < np.median(others) + DEAD_DB:
                detail = f"channel {ch}: {level[ch]:.0f} dBFS, others {np.median(others):.0f}"
                faults.append(InputFault(FaultKind.DEAD_CHANNEL, detail, ch))
        return faults

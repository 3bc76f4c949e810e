"""Level models behind the gate: the far-end echo predictor and the adaptive noise statistics.

Both work on band powers of 10 ms frames (see ``_dsp.band_matrix``).

EchoModel predicts, per band, how much of the playout reference comes back into the microphone:
a non-negative FIR over the last ``lags`` frames of reference band power, adapted by
regularised NLMS while the far end plays. Working on powers (not waveforms) makes it
immune to phase and small clock drift; it is a detector's echo model, not a canceller.

NoiseModel keeps the noise spectrum (slow average of band power while the gate is closed) and
the recent distribution of the frame's level above that spectrum; the level floor is that
distribution's robust mean plus a margin (``floors``), so steady fans get a low floor and babble
or music, which fluctuate, get a higher one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from devices.voice._dsp import F64

SCALE_FRAMES = 500  # the typical reference power is a mean over ~5 s of playout
REG = 1.0  # NLMS regularisation: one typical reference frame
DT_TRAINED = 100  # updates before the model's prediction is trusted for double talk
DT_RATIO = 4.0  # the microphone 6 dB over the predicted echo: a near talker is in it
DT_STEP = 0.02  # ... and the model then learns this much slower (it still follows a louder hall)
YOUNG_STEP = 0.02  # a young model's step share unless the sound comes from the loudspeakers
SCALE_KNOWN = 20  # reference frames before the typical level is known
STRONG_SHARE = 0.3  # bands whose reference power is below this share of the typical: no step


class EchoModel:
    """Per-band power-domain echo path estimate from the playout reference."""

    def __init__(self, bands: int, lags: int = 40, step: float = 0.2) -> None:
        self._hist = np.zeros((lags, bands))
        self._h = np.zeros((lags, bands))
        self._step = step
        self._scale = np.zeros(bands)  # typical reference band power while the far end plays
        self._scale_n = 0
        self.updates = 0

    def predict(self, ref_power: F64) -> F64:
        """Push this frame's reference band power; return the predicted echo band power."""
        self._hist = np.roll(self._hist, 1, axis=0)
        self._hist[0] = ref_power
        return np.asarray(np.sum(self._h * self._hist, axis=0))

    def adapt(
        self, echo_power: F64, predicted: F64, trusted: bool = False, near: bool = False
    ) -> None:
        """NLMS step toward ``echo_power`` (mic band power minus noise, far end only).

        The step is regularised by the typical reference power: in the echo tail, or a quiet
        moment of the far end's speech, a near talker's error divided by the fading reference
        alone would blow the estimate up (and then mute near speech in every double talk).
        ``trusted``: the sound comes from the loudspeakers' direction (no near talker in it):
        full step even while the model is young; otherwise a young model learns slowly, so a
        near talker speaking over the far end from the first second is not learned as echo.
        ``near``: the gate hears near speech now: ``DT_STEP`` of the step (double talk).
        """
        now = self._hist[0]
        if np.any(now > 0):
            self._scale_n = min(self._scale_n + 1, SCALE_FRAMES)
            self._scale += (now - self._scale) / self._scale_n
        err = echo_power - predicted
        norm = np.sum(self._hist**2, axis=0) + (REG * self._scale) ** 2 + 1e-12
        step = self._step if trusted or self.updates >= DT_TRAINED else self._step * YOUNG_STEP
        louder = np.sum(echo_power) > DT_RATIO * np.sum(predicted)
        if near or (self.updates >= DT_TRAINED and louder):
            step *= DT_STEP  # a near talker is in it (double talk): barely learn
        # a faint reference frame teaches nothing, nor one before the typical level is known
        strong = (now >= STRONG_SHARE * self._scale) & (self._scale_n >= SCALE_KNOWN)
        self._h = np.maximum(self._h + step * self._hist * (err * strong / norm), 0.0)
        self.updates += 1

    @property
    def history_active(self) -> bool:
        return bool(np.any(self._hist > 0))


STARTUP_DB = 8.0
STARTUP_FRAMES = 400


@dataclass(frozen=True)
class LevelStats:
    """Robust mean and spread (dB) of one level feature over the noise history."""

    mean_db: float = 0.0
    spread_db: float = 1.0


def robust_stats(levels: F64) -> LevelStats:
    """Mean and spread from the 2nd and 12th percentiles, assuming a roughly normal level in dB.

    Near speech occupies the upper part of the distribution and hardly moves low percentiles,
    so no speech decision is needed and the estimate cannot run away.
    """
    lo, hi = np.percentile(levels, [2, 12])
    spread = max(float(hi - lo) / 0.879, 0.5)
    return LevelStats(float(hi) + 1.175 * spread, spread)


class NoiseModel:
    """Noise spectrum and noise statistics of two level features, without speech decisions.

    The spectrum is the 10th percentile of each band's log power over the last ``frames``, so
    it follows a rising noise even while the gate is open: the gate cannot lock itself out.
    Two whitened levels are measured against it: broadband (power sum ratio; best against
    babble, which shares the speech spectrum) and mean log band ratio (best against tonal music
    and hum, which fill few bands). Their statistics are recomputed over the same history against
    the current spectrum, so fluctuating noise raises the opening threshold and steady noise
    lowers it.
    """

    def __init__(self, bands: int, frames: int = 1000, every: int = 10) -> None:
        self._log = np.zeros((frames, bands))
        self._every = every
        self._count = 0
        self.spectrum = np.ones(bands)
        self.stats = (LevelStats(), LevelStats())

    @property
    def ready(self) -> bool:
        return self._count >= 50

    @property
    def frames(self) -> int:
        """Frames learned so far."""
        return self._count

    def levels_db(self, power: F64) -> tuple[float, float]:
        """(broadband, mean-log) level of ``power`` over the noise spectrum, dB."""
        log = 10.0 * np.log10(np.maximum(power, 1e-14))
        broad, mlog = self._levels(log[None, :])
        return float(broad[0]), float(mlog[0])

    def _levels(self, log: F64) -> tuple[F64, F64]:
        spec_log = 10.0 * np.log10(np.maximum(self.spectrum, 1e-14))
        broad = 10.0 * np.log10(np.sum(10.0 ** (log / 10.0), axis=1) / np.sum(self.spectrum))
        return broad, np.mean(log - spec_log, axis=1)

    def learn(self, power: F64) -> None:
        """Feed every frame that is not dominated by far-end echo."""
        self._log[self._count % self._log.shape[0]] = 10.0 * np.log10(np.maximum(power, 1e-14))
        self._count += 1
        if self._count % self._every == 0 or self._count < 30:
            hist = self._log[: min(self._count, self._log.shape[0])]
            self.spectrum = 10.0 ** (np.percentile(hist, 10, axis=0) / 10.0)
            self.stats = tuple(robust_stats(lv) for lv in self._levels(hist))  # type: ignore[assignment]

    def floors(self, min_excess_db: float) -> tuple[float, float]:
        """Level per feature (dB over the noise spectrum) that speech of this room must reach:
        the noise's typical level + ``min_excess_db`` (plus a start-up margin while the history
        is short)."""
        startup = self._startup_db()
        broad, mlog = self.stats
        return broad.mean_db + min_excess_db + startup, mlog.mean_db + min_excess_db + startup

    def _startup_db(self) -> float:
        """Extra margin while the history is too short to know the noise's spread."""
        return STARTUP_DB * max(0.0, 1.0 - self._count / STARTUP_FRAMES)

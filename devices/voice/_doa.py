"""Direction of arrival: SRP-PHAT over every microphone pair, far field, in the table plane.

Works on the 16 kHz spectra of the array (``_dsp.Framer``). The DoaEstimator gathers the cross
spectra of speech-only frames into blocks of ``DoaConfig.block_s`` of speech and scans the
steered response power over all azimuths; ``FrameDirection`` gives a fast, coarse direction
of the last ~50 ms (used to veto the gate when the sound comes from the loudspeakers).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from devices.voice._config import ArrayGeometry, DoaConfig
from devices.voice._dsp import C128, F64, NFFT, RATE

log = logging.getLogger(__name__)

SPEED_OF_SOUND = 343.0
NOISE_FRAMES = 200  # the noise cross spectra are a running mean over ~2 s of quiet


@dataclass(frozen=True)
class DoaEstimate:
    """A direction decided on speech frames from ``t_start`` to ``t_end`` (seconds).

    angle_deg: 0-360, counter-clockwise from mic 0's axis; confidence: 0-1, the normalised
    steered response at the peak (1 = one clean plane wave); frames: speech frames used;
    double_talk: some frames were taken while the far end played (near-end dominated frames the
    processor vetted: gate open, frame direction outside the exclusion ranges); candidates: frames
    taken before the gate judged them near speech (early speech candidates).
    """

    angle_deg: float
    confidence: float
    t_start: float
    t_end: float
    frames: int
    double_talk: bool = False
    candidates: int = 0


def angle_diff(a: float, b: float) -> float:
    """Smallest absolute difference of two angles in degrees (0-180)."""
    return abs((a - b + 180.0) % 360.0 - 180.0)


class Steering:
    """Precomputed steering matrix: pair cross-spectra -> steered response per angle."""

    def __init__(self, geometry: ArrayGeometry, cfg: DoaConfig, step_deg: float) -> None:
        pos = np.asarray(geometry.positions, dtype=np.float64)
        n = pos.shape[0]
        self.pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        freqs = np.fft.rfftfreq(NFFT, 1.0 / RATE)
        self.bins = np.flatnonzero((freqs >= cfg.min_freq_hz) & (freqs <= cfg.max_freq_hz))
        self.angles = np.arange(0.0, 360.0, step_deg)
        rad = np.radians(self.angles)
        unit = np.stack([np.cos(rad), np.sin(rad)])  # (2, angles)
        diff = np.array([pos[i] - pos[j] for i, j in self.pairs])  # (pairs, 2)
        tau = diff @ unit / SPEED_OF_SOUND  # (pairs, angles)
        omega = 2 * np.pi * freqs[self.bins]
        phase = -1j * omega[None, :, None] * tau[:, None, :]  # (pairs, bins, angles)
        self.matrix = np.exp(phase).reshape(-1, self.angles.size)
        # Re(x @ M) as one real product: complex BLAS products are ~80x slower on this kit
        self._real = np.ascontiguousarray(np.concatenate([self.matrix.real, self.matrix.imag]))
        self._i = np.array([p[0] for p in self.pairs])
        self._j = np.array([p[1] for p in self.pairs])

    def cross(self, spectra: C128) -> C128:
        """(bins_all, mics) spectra -> (pairs, bins) cross spectra of the used bins."""
        x = spectra[self.bins]
        return np.asarray((x[:, self._i] * np.conj(x[:, self._j])).T)

    def scan(self, cross: C128) -> tuple[float, float]:
        """PHAT-weight ``cross`` and return (angle_deg, confidence) of the SRP peak."""
        phat = cross / np.maximum(np.abs(cross), 1e-20)
        flat = phat.reshape(-1)
        srp = np.concatenate([flat.real, -flat.imag]) @ self._real / phat.size
        k = int(np.argmax(srp))
        return float(self.angles[k]), float(np.clip(srp[k], 0.0, 1.0))


class DoaEstimator:
    """Decides a direction per block of speech-only frames (GCC-PHAT / SRP-PHAT)."""

    def __init__(self, geometry: ArrayGeometry, config: DoaConfig | None = None) -> None:
        self.config = config or DoaConfig()
        self._steer = Steering(geometry, self.config, self.config.resolution_deg)
        self._acc = np.zeros((len(self._steer.pairs), self._steer.bins.size), complex)
        self._noise = np.zeros_like(self._acc)
        self._noise_frames = 0
        self._frames = 0
        self._double_talk = 0
        self._candidates = 0
        self._t_start = 0.0
        self._t_last = -math.inf

    def push(
        self,
        spectra: C128,
        speech: bool,
        t: float,
        weights: F64 | None = None,
        *,
        double_talk: bool = False,
        confirmed: bool = True,
        steady_noise: bool = False,
    ) -> DoaEstimate | None:
        """Add one 10 ms frame's array spectra; return an estimate when a block completes.

        ``weights`` (one per FFT bin, 0-1) down-weights bins dominated by noise, e.g. a Wiener
        gain from the gate's noise spectrum: loud speech bins then steer the estimate.
        ``double_talk`` marks a near-speech frame taken while the far end plays; ``confirmed``
        False marks an early candidate frame the gate has not (yet) judged near speech;
        ``steady_noise``: the noise is steady (a fan), so its learned cross spectra (see
        ``learn_noise``) are taken out of the frame's.
        """
        if t - self._t_last > self.config.max_gap_s:
            self._reset()
        if not speech:
            return None
        if self._frames == 0:
            self._t_start = t
        cross = self._steer.cross(spectra)
        if steady_noise:
            cross = cross - self._noise
        if weights is not None:
            cross = cross * weights[self._steer.bins][None, :]
        self._acc += cross
        self._frames += 1
        self._double_talk += double_talk
        self._candidates += not confirmed
        self._t_last = t
        if self._frames < round(self.config.block_s * 100):
            return None
        return self._decide()

    def learn_noise(self, spectra: C128) -> None:
        """Feed a frame with nobody near speaking: in steady noise its cross spectra, averaged
        over ~2 s, are taken out of every speech frame, so a point noise (a fan, a projector)
        does not pull the estimate toward itself. (Babble and music change too fast for a
        mean to describe the moment: there it would only add error.)"""
        self._noise_frames = min(self._noise_frames + 1, NOISE_FRAMES)
        self._noise += (self._steer.cross(spectra) - self._noise) / self._noise_frames

    def estimate(self, spectra: list[C128]) -> DoaEstimate:
        """Direction of a whole speech-only block given as a list of frame spectra."""
        self._reset()
        for k, s in enumerate(spectra):
            self._acc += self._steer.cross(s)
            self._frames = k + 1
        return self._decide()

    def _decide(self) -> DoaEstimate:
        angle, conf = self._steer.scan(self._acc)
        est = DoaEstimate(
            angle,
            conf,
            self._t_start,
            self._t_last,
            self._frames,
            self._double_talk > 0,
            self._candidates,
        )
        self._reset()
        return est

    def _reset(self) -> None:
        self._acc[:] = 0.0
        self._frames = 0
        self._double_talk = 0
        self._candidates = 0


class FrameDirection:
    """Coarse (5 degree) direction of the last few frames, for the gate's direction veto."""

    def __init__(self, geometry: ArrayGeometry, config: DoaConfig, smooth: float = 0.3) -> None:
        self._steer = Steering(geometry, config, 5.0)
        self._acc = np.zeros((len(self._steer.pairs), self._steer.bins.size), complex)
        self._smooth = smooth

    def push(self, spectra: C128) -> tuple[float, float]:
        cross = self._steer.cross(spectra)
        phat = cross / np.maximum(np.abs(cross), 1e-20)
        self._acc = (1.0 - self._smooth) * self._acc + self._smooth * phat
        return self._steer.scan(self._acc)


def wrap_deg(angle: F64 | float) -> float:
    return float(np.mod(angle, 360.0))

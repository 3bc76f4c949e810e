"""Beams toward the room's seats, for the gate's level check and speech detector.

The gate used to hear the plain mean of the microphones: with a 9 cm array that is nearly
omnidirectional, so babble from elsewhere in the hall and the room's reverberation reach the
level check and Silero at full strength. The installer's seat zones say where talkers sit, and
the array geometry is known, so ``SeatBeams`` forms one superdirective beam per seat (MVDR
against a diffuse noise field, diagonally loaded so a real array's mismatched microphones do
not blow up the low band) with the loudspeakers' directions added to the noise field as
interferers to damp the far end's echo. The field also learns what the room sounds like while
nobody near speaks (``learn``: the processor feeds the frames its gate keeps shut with no far
end and no candidate), added at ``ADAPT`` to the model and the beams redesigned every 0.5 s of
it, so a crowd at the door or a radio in a corner is damped more than a diffuse field would
say; the loading and the distortionless constraint keep the seat's own direction whole even
if a missed word leaks into it. Each 10 ms frame, the beam with the most power over the
last ``SELECT_FRAMES`` carries the room (whoever speaks from a seat is loudest in their own
beam); its spectrum replaces the microphone mean in the gate. The target direction is passed
undistorted, so levels stay comparable with the mean.
"""

from __future__ import annotations

import math

import numpy as np

from devices.voice._config import AngleRange, ArrayGeometry
from devices.voice._dsp import C128, F64, NFFT, RATE

SPEED_OF_SOUND = 343.0
LOADING = 0.1  # diagonal loading of the diffuse coherence: white noise gain >= -3 dB
TV_WEIGHT = 1.0  # the loudspeakers' direction as an interferer this strong against the field
SELECT_FRAMES = 8  # a beam's power is averaged over ~80 ms before it is picked
SELECT_LO_HZ, SELECT_HI_HZ = 200.0, 4000.0
ADAPT = 1.0  # weight of the learned noise field (quiet frames) added to the modelled one
LEARN_FRAMES = 200  # the learned field is a running mean over ~2 s of quiet
REDESIGN_FRAMES = 50  # the beams are redesigned every 0.5 s of quiet


def centre_deg(zone: AngleRange) -> float:
    """The middle of a zone (counter-clockwise from start to end, wrapping through 0)."""
    span = (zone.end_deg - zone.start_deg) % 360.0 or 360.0
    return (zone.start_deg + span / 2.0) % 360.0


def steering(geometry: ArrayGeometry, angle_deg: float) -> C128:
    """(bins, mics) far-field steering vectors: the spectra a plane wave from ``angle_deg``
    leaves at the microphones, relative to the array centre (the ``_doa`` convention)."""
    pos = np.asarray(geometry.positions, dtype=np.float64)
    rad = math.radians(angle_deg)
    lead = pos @ np.array([math.cos(rad), math.sin(rad)]) / SPEED_OF_SOUND  # (mics,) seconds
    omega = 2 * np.pi * np.fft.rfftfreq(NFFT, 1.0 / RATE)
    return np.asarray(np.exp(1j * omega[:, None] * lead[None, :]), dtype=np.complex128)


def noise_field(geometry: ArrayGeometry, loud: tuple[float, ...], loading: float) -> C128:
    """(bins, mics, mics) model of what to suppress: a spherically diffuse field, plus a plane
    wave from each of ``loud`` (degrees) at ``TV_WEIGHT``, plus ``loading`` of white noise."""
    pos = np.asarray(geometry.positions, dtype=np.float64)
    dist = np.linalg.norm(pos[:, None, :] - pos[None, :, :], axis=-1)
    freqs = np.fft.rfftfreq(NFFT, 1.0 / RATE)
    field = np.sinc(2.0 * freqs[:, None, None] * dist[None] / SPEED_OF_SOUND).astype(complex)
    for angle in loud:
        d = steering(geometry, angle)
        field += TV_WEIGHT * d[:, :, None] * np.conj(d[:, None, :])
    return np.asarray(field + loading * np.eye(pos.shape[0])[None], dtype=np.complex128)


def mvdr_weights(field: C128, d: C128) -> C128:
    """(bins, mics) weights w with w^H d = 1 that least pass ``field``."""
    solved = np.linalg.solve(field, d[:, :, None])[:, :, 0]
    norm = np.sum(np.conj(d) * solved, axis=1)
    return np.asarray(solved / norm[:, None], dtype=np.complex128)


class SeatBeams:
    """One fixed beam per seat; ``push`` returns the spectrum of the loudest seat's beam."""

    def __init__(
        self,
        geometry: ArrayGeometry,
        seats: tuple[AngleRange, ...],
        loudspeakers: tuple[AngleRange, ...] = (),
        loading: float | None = None,
    ) -> None:
        loading = LOADING if loading is None else loading
        self._field = noise_field(geometry, tuple(centre_deg(z) for z in loudspeakers), loading)
        self.angles = tuple(centre_deg(z) for z in seats)
        self._steer = [steering(geometry, a) for a in self.angles]
        self._design(self._field)
        self._learned = np.zeros_like(self._field)
        self._quiet = 0
        freqs = np.fft.rfftfreq(NFFT, 1.0 / RATE)
        self._band = (freqs >= SELECT_LO_HZ) & (freqs <= SELECT_HI_HZ)
        self._powers = np.zeros((SELECT_FRAMES, len(seats)))
        self._pos = 0
        self.chosen = 0

    def _design(self, field: C128) -> None:
        weights = [mvdr_weights(field, d) for d in self._steer]
        self._conj = np.conj(np.stack(weights))  # (seats, bins, mics)

    def learn(self, spectra: C128) -> None:
        """Feed a frame nobody near speaks in: the beams learn to suppress what it holds."""
        if ADAPT <= 0.0:
            return
        self._quiet += 1
        outer = spectra[:, :, None] * np.conj(spectra[:, None, :])
        self._learned += (outer - self._learned) / min(self._quiet, LEARN_FRAMES)
        if self._quiet % REDESIGN_FRAMES == 0:
            m = spectra.shape[1]
            scale = np.real(np.trace(self._learned, axis1=1, axis2=2)) / m
            norm = self._learned / np.maximum(scale, 1e-20)[:, None, None]
            self._design(self._field + ADAPT * norm)

    def push(self, spectra: C128) -> C128:
        """(bins, mics) spectra of the newest window -> (bins,) spectrum of the chosen beam."""
        beams = np.sum(self._conj * spectra[None], axis=2)  # (seats, bins)
        mag = np.abs(beams[:, self._band])
        self._powers[self._pos % SELECT_FRAMES] = np.sum(mag * mag, axis=1)
        self._pos += 1
        self.chosen = int(np.argmax(np.sum(self._powers, axis=0)))
        return np.asarray(beams[self.chosen], dtype=np.complex128)

    def gains_db(self, angle_deg: float, geometry: ArrayGeometry) -> F64:
        """(seats, bins) response of each beam to a plane wave from ``angle_deg`` (for tests)."""
        d = steering(geometry, angle_deg)
        resp = np.abs(np.sum(self._conj * d[None], axis=2))
        return np.asarray(20.0 * np.log10(np.maximum(resp, 1e-12)))

"""Where the room's steady point noise comes from (a radio, a TV in the next room, a generator).

While the gate is shut, the coarse frame direction of confident frames is gathered in a
histogram over azimuth that forgets over ``MEMORY_FRAMES`` of learning. An azimuth that holds
at least ``SHARE`` of that evidence within ``WIDTH_DEG`` is a *noise direction*: a point source
that sounds while nobody in the room speaks. Diffuse noise (fans, air conditioning) gives no
confident direction; babble from several places spreads over the histogram and never reaches
the share. In fluctuating noise a frame from a noise direction is no speech evidence for the
gate, so it neither opens nor holds it, and never reaches the direction finder: the radio
cannot pull the camera. Steady noise (a fan) keeps its direction out of this: the level cue
is reliable there, and a talker sitting in front of the fan must still be found.

Learning only takes frames the gate judged free of near speech, with no far end, so the room's
talkers and the loudspeakers do not become noise directions; a talker sitting in line with a
noise direction (within ``WIDTH_DEG``) still opens the gate when clearly louder than the noise.
"""

from __future__ import annotations

import numpy as np

from devices.voice._doa import angle_diff

BIN_DEG = 5.0
WIDTH_DEG = 10.0  # a noise direction covers +-this
SHARE = 0.5  # share of the confident quiet-frame evidence within +-WIDTH_DEG
MIN_CONFIDENCE = 0.3  # frame-direction confidence to learn or match
MEMORY_FRAMES = 1500.0  # forget over ~15 s of learning (10 ms frames)
MIN_EVIDENCE = 100.0  # ~1 s of confident frames before any noise direction exists


class NoiseDirections:
    """Histogram of confident frame directions heard while nobody near speaks."""

    def __init__(self) -> None:
        self._bins = int(round(360.0 / BIN_DEG))
        self._hist = np.zeros(self._bins)
        half = int(round(WIDTH_DEG / BIN_DEG))
        # bins within +-WIDTH_DEG of each bin (rows), wrapping around 360 degrees
        self._around = (np.arange(self._bins)[:, None] + np.arange(-half, half + 1)) % self._bins
        self._directions: tuple[float, ...] = ()
        self._count = 0

    def learn(self, angle_deg: float, confidence: float) -> None:
        """Feed the frame direction of a frame with no near speech and no far end."""
        self._hist *= 1.0 - 1.0 / MEMORY_FRAMES
        if confidence >= MIN_CONFIDENCE:
            self._hist[int(angle_deg // BIN_DEG) % self._bins] += 1.0
        self._count += 1
        if self._count % 10 == 0:
            self._directions = self._find()

    def _find(self) -> tuple[float, ...]:
        total = float(np.sum(self._hist))
        if total < MIN_EVIDENCE:
            return ()
        idx = self._around
        near = self._hist[idx].sum(axis=1)
        out: list[float] = []
        for b in np.argsort(near)[::-1]:
            if near[b] < SHARE * total:
                break
            weights = self._hist[idx[b]]
            rad = np.radians((idx[b] + 0.5) * BIN_DEG)
            centre = float(np.degrees(np.arctan2(weights @ np.sin(rad), weights @ np.cos(rad))))
            centre %= 360.0
            if all(angle_diff(centre, d) > 2 * WIDTH_DEG for d in out):
                out.append(centre)
        return tuple(out)

    @property
    def directions(self) -> tuple[float, ...]:
        """Centres (degrees) of the current noise directions, strongest first."""
        return self._directions

    def matches(self, angle_deg: float, confidence: float = 1.0) -> bool:
        """True when a (confident) direction lies within WIDTH_DEG of a noise direction."""
        return confidence >= MIN_CONFIDENCE and any(
            angle_diff(angle_deg, d) <= WIDTH_DEG for d in self._directions
        )

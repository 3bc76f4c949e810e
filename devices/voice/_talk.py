"""How loud this room's talkers are heard, for a gate whose room noise is talk (babble).

In babble the detector calls the noise speech too, so the level is the gate's cue, and one
voice of the crowd that sits near the array (or in a seat) rises, syllable by syllable, as far
over the noise's typical level as a quiet talker does: frame by frame the two look the same.
Over a few hundred milliseconds they do not. A murmur in the crowd is part of the noise, so
its energy over ``SEGMENT_FRAMES`` stays within a few dB of the noise's typical level, while
someone addressing the meeting holds their level over the whole segment. How far over the
noise that is depends on the room (how far the talkers sit, how loud the crowd is), so the
gate learns it: ``TalkLevel`` keeps the segment level of the frames that cleared the level
floor as speech (``heard_speech``) and asks a quiet sound for ``SHARE`` of their median, at
most ``CAP_DB``, before a shut gate opens on it (``clears``). Until ``KNOWN_FRAMES`` such
frames are heard it asks nothing: a room is never muted by what it has not learned yet.

``may_open`` is the gate's per-frame question. Only a sound under ``CLEAR_DB`` over the floor,
in babble, is asked; one that gives evidence in ``PERSIST_FRAMES`` of the last
``PERSIST_WINDOW`` frames opens anyway (a quiet talker who keeps talking gets in within about
half a second). The talkers' level is learned from speech the gate let through or that cleared
the floor by ``CLEAR_DB``, not from what this check held back.
"""

from __future__ import annotations

import math

import numpy as np

SEGMENT_FRAMES = 30  # energy is averaged over the last 300 ms
TALK_FRAMES = 2000  # talker level: the median over the last ~20 s of clear speech frames
KNOWN_FRAMES = 100  # ~1 s of clear speech before any segment level is asked for
SHARE = 0.4  # a quiet sound must reach this share (in dB over the noise) of the talkers' level
CAP_DB = 4.0  # ... but never more than this over the noise's typical level
MEDIAN_EVERY = 10  # the median is recomputed every this many new speech frames
CLEAR_DB = 2.0  # a sound this far over the gate's floor is never asked
PERSIST_FRAMES, PERSIST_WINDOW = 15, 60  # evidence in a quarter of 600 ms opens anyway


class TalkLevel:
    """Segment level of the room's sound and the level its talkers are heard at."""

    def __init__(self) -> None:
        self._ring = np.zeros(SEGMENT_FRAMES)
        self._pos = 0
        self._talk = np.zeros(TALK_FRAMES)
        self._heard = 0
        self._need: float | None = None
        self._persist = np.zeros(PERSIST_WINDOW, dtype=bool)
        self.segment_db = 0.0

    def may_open(
        self, level_db: float, typical_db: float, above: float, evidence: bool, *,
        far: bool, babble: bool, is_open: bool,
    ) -> bool:  # fmt: skip
        """One gate frame: may its speech evidence open a shut gate? ``level_db``: the frame's
        level over the noise spectrum, ``typical_db``: the noise's typical level, ``above``:
        the level over the gate's floor (all dB); ``babble``: the room's noise is talk;
        ``is_open``: the gate is open (holding or releasing)."""
        self.push(level_db, typical_db)
        if evidence and not far and (above >= CLEAR_DB or (above >= 0.0 and is_open)):
            self.heard_speech()
        self._persist[(self._pos - 1) % PERSIST_WINDOW] = evidence
        asked = babble and above < CLEAR_DB and not far
        if not asked or int(np.count_nonzero(self._persist)) >= PERSIST_FRAMES:
            return True
        return self.clears()

    def push(self, level_db: float, typical_db: float) -> None:
        """Feed this frame's level over the noise spectrum and the noise's typical level (dB):
        ``segment_db`` is then the energy of the last ``SEGMENT_FRAMES`` over that level."""
        self._ring[self._pos % SEGMENT_FRAMES] = 10.0 ** (level_db / 10.0)
        self._pos += 1
        mean = float(np.mean(self._ring[: min(self._pos, SEGMENT_FRAMES)]))
        self.segment_db = 10.0 * math.log10(max(mean, 1e-20)) - typical_db

    def heard_speech(self) -> None:
        """The frame just pushed cleared the level floor as speech: learn its segment level."""
        self._talk[self._heard % TALK_FRAMES] = self.segment_db
        self._heard += 1
        if self._heard >= KNOWN_FRAMES and (self._need is None or self._heard % MEDIAN_EVERY == 0):
            talk = float(np.median(self._talk[: min(self._heard, TALK_FRAMES)]))
            self._need = min(CAP_DB, SHARE * talk)

    @property
    def need_db(self) -> float | None:
        """Segment level a quiet sound must reach (dB over the noise); None: not learned yet."""
        return self._need

    def clears(self) -> bool:
        """The last segment reaches ``need_db`` (or nothing is learned yet)."""
        return self._need is None or self.segment_db >= self._need

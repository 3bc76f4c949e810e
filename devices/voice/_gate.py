"""The auto-mute gate: a learned speech detector plus what only this kit knows, with
attack/hold/release.

Per 10 ms frame (internally 16 kHz) a frame is *speech evidence* when
  * Silero VAD (``_speech``) gives the echo-suppressed microphone signal a speech probability
    of at least ``speech_threshold`` (``speech_hold`` while the gate holds open): it tells
    voices from music, fans, rain and engines, and needs nothing learned first;
  * its echo-compensated, noise-whitened level is at least ``min_excess_db`` over the noise
    model's typical level (``DOUBLE_TALK_DB`` more while the far end plays): distant babble
    and leftover echo stay below it;
  * the caller did not veto it (the sound comes from the TV/loudspeaker direction while the
    far end plays), and in fluctuating noise it does not come from a learned noise direction
    (a radio; see ``_noisedir``) unless ``ONSET_BYPASS_DB`` over the floor.
The noise and echo models learn all the time (the noise model from the echo-compensated level
while the far end plays), so the gate is ready within a second whatever the far end does.
Start-up: no level counts as loud before the noise model has learned ``KNOWN_FRAMES`` (a gate
that opened on anything the detector calls speech until its noise model was ready opened on
babble and on the far end's first words in every meeting); the far end's first
``ECHO_LISTEN_FRAMES`` only teach the echo model, and while it is young (``DT_TRAINED``) a
far-end frame must also clear the noise statistics, which then hold the echo.
Noise the detector does not take for speech (traffic, rain, a fan, music: ``speechlike``, the
share of quiet shut frames it calls speech, is low) lowers the level floor by up to
``RELAX_DB``: there the detector is the discriminating cue and the floor only a guard; below
the floor a turn opens only after ``RELAX_ATTACK_FRAMES`` in a row. Babble keeps the full floor.
Seats (the installer's zones, passed by the processor): babble is speech too, so in babble the
level is the only cue left and a quiet talker stays under the floor. Where the room's seats
are known, the direction adds one: a sound whose coarse direction has stayed in one seat zone
(``seat``) counts when the detector calls it speech down to ``SEAT_RELAX_DB`` under the floor
(once the noise model is ready; a shut gate opens so only after ``SEAT_ATTACK_FRAMES`` in a
row: babble from the seats' side gives short runs), and a shut gate opens on a sound from
outside every seat (``elsewhere``: a crowd at the door, the TV) only ``ELSEWHERE_DB`` over the
floor when the room's noise is talk itself (in noise the detector does not take for speech it
decides alone, as without seats). An open gate holds as before whatever the direction: a
direction error never cuts a talker off mid-sentence.
Babble, seats or not (seat relief included): a voice of the crowd near the array rises over
the floor for a syllable as a quiet talker does; a shut gate opens on a sound just over or
under the floor only when its last 300 ms reach a share of the level at which this room's
talkers are heard, or when it keeps giving evidence (``_talk``).
The gate opens after ``attack_ms`` of evidence, stays open ``hold_ms`` after the last evidence,
then ramps the gain down over ``release_ms``.
Bad input never mutes: faults put the gate in FAILSAFE_OPEN with the fault as the reason, and
so does a speech model that cannot be loaded or run (reason ``detector_unavailable``).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import numpy.typing as npt
import webrtcvad

from devices.voice._config import GateConfig
from devices.voice._dsp import F64, FRAME, RATE, Decimator, Framer, band_matrix, to_int16_bytes
from devices.voice._levels import DT_TRAINED, EchoModel, NoiseModel
from devices.voice._speech import DetectorUnavailable, EchoSuppressor, SpeechDetector
from devices.voice._talk import TalkLevel
from devices.voice._verdict import GateFrame, GateState, Hysteresis

log = logging.getLogger(__name__)

BANDS = band_matrix(200.0, 6000.0, 16)
CANDIDATE_DB = 4.0  # a frame this close to the level floor ...
CANDIDATE_PROB = 0.3  # ... and this likely speech is a *candidate* (DOA gathers it early)
FAR_ACTIVE_DBFS = -60.0
FAR_TAIL_FRAMES = 40  # echo keeps ringing ~0.4 s after the reference stops
DOUBLE_TALK_DB = 3.0  # extra level over the echo prediction needed while the far end plays
WARMUP_FRAMES = 10  # analysis window and smoothing still hold start-up zeros
SMOOTH_FRAMES = 6  # band powers are averaged over 60 ms: babble fluctuations average out
ONSET_BYPASS_DB = 6.0  # a frame from a noise direction counts when this far over the floor
LEARN_FLOOR = 0.1  # while the far end plays the noise model learns power - echo, >= this share
STEADY_SPREAD_DB = 2.5  # noise whose level spreads less than this is steady (fan, hum)
KNOWN_FRAMES = 10  # frames the noise model must have learned before any level counts as loud
ECHO_LISTEN_FRAMES = 20  # far-end frames the echo model hears before any double talk counts
RELAX_DB = 3.0  # level floor relief when the room's noise does not sound like speech at all
RELAX_ATTACK_FRAMES = 4  # ... but opens below the floor only after this many frames in a row
SPEECHLIKE_FRAMES = 300  # the noise's speech-likeness is a running mean over ~3 s of quiet
SEAT_RELAX_DB = 4.0  # speech from a seat zone counts this far under the level floor
SEAT_ATTACK_FRAMES = 5  # ... opening the gate only after this many such frames in a row
ELSEWHERE_DB = 5.0  # a shut gate opens on sound from outside every seat only this far over it
BABBLE_LIKE = 0.5  # the detector calls more than this share of the room's quiet noise speech


class VoiceGate:
    """Decides, every 10 ms, whether the room's microphone audio goes out.

    Feed mono blocks (any length; 10 ms expected) at ``config.sample_rate`` with the matching
    playout reference block (what the loudspeakers play now, or ``None``).
    """

    def __init__(self, config: GateConfig | None = None, detector: Any | None = None) -> None:
        self.config = config or GateConfig()
        self._vad = webrtcvad.Vad(self.config.vad_mode)
        self._mic_dec = Decimator(1)
        self._ref_dec = Decimator(1)
        self._mic_frames = Framer(1)
        self._ref_frames = Framer(1)
        self._pending = np.zeros((0, 2))
        self._hyst = Hysteresis(self.config)
        self._noise = NoiseModel(BANDS.shape[0])
        self._echo = EchoModel(BANDS.shape[0])
        self._suppressor = EchoSuppressor(BANDS)
        self._talk = TalkLevel()
        self._speech: SpeechDetector | None = None
        try:
            self._speech = SpeechDetector(detector)
        except DetectorUnavailable as err:
            log.warning("auto-mute off, the room stays audible: %s", err)
        self.probability = 0.0
        self.speechlike = 1.0  # share of quiet shut frames the detector calls speech
        self._quiet_frames = 0
        self._relaxed_run = 0
        self._seat_run = 0
        self._far_tail = 0
        self._frames = 0
        self._rings = (
            np.zeros((SMOOTH_FRAMES, BANDS.shape[0])),
            np.zeros((SMOOTH_FRAMES, BANDS.shape[0])),
        )
        self._ring_pos = [0, 0]
        self._last = GateFrame(0.0, GateState.AUTO_MUTED, 0.0, False, False, 0.0, 0.0, ("start",))
        self._given: npt.NDArray[np.complex128] | None = None
        self.trace: list[tuple[float, ...]] | None = None  # bench: per-frame cues when a list

    def process(
        self,
        block: npt.NDArray[np.floating],
        ref: npt.NDArray[np.floating] | None,
        t: float,
        *,
        veto: bool = False,
        faults: tuple[object, ...] = (),
    ) -> GateFrame:
        """Feed one block; return the verdict for the newest complete 10 ms frame."""
        mono = np.asarray(block, dtype=np.float64).reshape(-1)
        far = np.zeros_like(mono) if ref is None else np.asarray(ref, np.float64).reshape(-1)
        if far.size != mono.size:
            far = np.resize(far, mono.size) if far.size else np.zeros_like(mono)
        pair = np.stack([mono, far], axis=1)
        if self.config.sample_rate != RATE:
            pair = np.concatenate(
                [self._mic_dec.process(pair[:, :1]), self._ref_dec.process(pair[:, 1:])], axis=1
            )
        return self.process_16k(pair, t, veto=veto, faults=faults)

    def process_16k(
        self,
        pair: F64,
        t: float,
        *,
        veto: bool = False,
        noise_direction: bool = False,
        from_tv: bool | None = None,
        seat: bool = False,
        elsewhere: bool = False,
        faults: tuple[object, ...] = (),
        spectrum: npt.NDArray[np.complex128] | None = None,
    ) -> GateFrame:
        """Like ``process`` for already-decimated (n, 2) [mic, ref] samples at 16 kHz.

        ``noise_direction``: the sound comes from where point noise (a radio) was heard while
        nobody spoke; in fluctuating noise such a frame is no speech evidence (and no
        candidate) unless it clears the threshold by ``ONSET_BYPASS_DB``. ``from_tv``: the
        sound comes from the loudspeakers' direction (None: no such direction is configured);
        a young echo model learns at full speed only from such frames. ``seat``: the sound's
        direction has stayed in one seat zone; ``elsewhere``: it lies outside every seat zone
        (both False when no seats are configured). ``spectrum``: for exactly one 10 ms frame,
        the spectrum the level check and the speech detector hear instead of the mic column's
        (the newest ``NFFT`` window, as ``Framer`` makes it: a seat beam, see ``_beam``).
        """
        self._given = spectrum
        self._pending = np.concatenate([self._pending, pair], axis=0)
        while self._pending.shape[0] >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            where = (seat, elsewhere)
            self._last = self._frame(frame, t, veto, noise_direction, from_tv, where, faults)
        return self._last

    def _frame(
        self,
        frame: F64,
        t: float,
        veto: bool,
        noise_dir: bool,
        from_tv: bool | None,
        where: tuple[bool, bool],
        faults: tuple[object, ...],
    ) -> GateFrame:
        seat, elsewhere = where
        spectrum = (
            self._given if self._given is not None else self._mic_frames.push(frame[:, :1])[:, 0]
        )
        self._given = None
        power = self._smooth(0, BANDS @ (np.abs(spectrum) ** 2))
        ref_power = self._smooth(
            1, BANDS @ (np.abs(self._ref_frames.push(frame[:, 1:])[:, 0]) ** 2)
        )
        far = self._far_active(frame[:, 1])
        echo = self._echo.predict(ref_power)
        residual = np.maximum(power - 10 ** (self.config.echo_margin_db / 10) * echo, 0.0)
        levels = self._noise.levels_db(residual)
        vad = self._vad.is_speech(to_int16_bytes(frame[:, 0]), RATE)
        if self._speech is None:
            return self._undecided(t, vad, far, faults)
        try:
            prob = self._speech.push(
                self._suppressor.push(spectrum, power, echo if far else 0 * echo)
            )
        except DetectorUnavailable as err:
            return self._detector_lost(t, vad, far, faults, err)
        floors = self._floors(far)
        above = max(levels[0] - floors[0], levels[1] - floors[1])
        holding = self._hyst.holding
        cfg = self.config
        p_need = min(cfg.speech_hold, cfg.speech_threshold) if holding else cfg.speech_threshold
        speechy = prob >= p_need
        known = self._noise.frames >= KNOWN_FRAMES
        # no seat there: a shut gate opens only on a clearly louder sound, when the room's
        # noise is talk too (babble from a crowd at the door); the detector decides otherwise
        over = above
        if elsewhere and not holding and not far:
            over -= ELSEWHERE_DB * min(1.0, max(0.0, 2.0 * self.speechlike - 1.0))
        relaxed = speechy and known and not far and over >= -self._relax_db()
        self._relaxed_run = self._relaxed_run + 1 if relaxed else 0
        # below the floor, only a sustained run opens (a music onset is one chunk of "speech")
        relaxed = relaxed and (holding or self._relaxed_run >= RELAX_ATTACK_FRAMES)
        # speech from a seat under the floor: once the noise statistics are learned (babble from
        # the seats' side opened a start-up gate), and opening only on a sustained run
        seated = seat and speechy and self._noise.ready and above >= -SEAT_RELAX_DB and not far
        self._seat_run = self._seat_run + 1 if seated else 0
        seated = seated and (holding or self._seat_run >= SEAT_ATTACK_FRAMES)
        if far:
            # an echo model that has not heard ~1 s of the far end yet cannot tell its echo from
            # the room: the level must also clear the (echo-filled) noise statistics
            young = self._echo.updates < DT_TRAINED
            loud = self._over_echo(power, echo) and known and (above >= 0.0 or not young)
            # the far end's first sound ever: the echo path is still unknown, listen first
            loud = loud and self._echo.updates >= ECHO_LISTEN_FRAMES
        else:
            loud = (over >= 0.0 and known) or relaxed
            seated = seated and not loud
            loud = loud or seated
        pointed = noise_dir and above < ONSET_BYPASS_DB and not self.steady_noise
        evidence = bool(speechy and loud and not veto and not pointed)
        may_open = self._talk.may_open(
            levels[0], self._noise.stats[0].mean_db, above, evidence, far=far,
            babble=self.speechlike > BABBLE_LIKE, is_open=self._hyst.gain() > 0,
        )  # fmt: skip
        gain = self._hyst.step(evidence, may_open=may_open)
        # what that check held back is a voice of the crowd: no near speech for the camera either
        evidence = evidence and (may_open or gain > 0.0)
        if not far and known and gain == 0.0 and above < 0.0:
            self._learn_speechlike(prob)
        self._learn(power, residual, echo, far, from_tv, near=self._hyst.holding)
        state, reasons = self._state(gain, evidence, vad, far, veto, faults)
        gain = self._gain(state, gain)
        candidate = evidence or bool(
            prob >= CANDIDATE_PROB and above >= -CANDIDATE_DB and not far and not veto
            and not pointed
        )  # fmt: skip
        self.probability = prob
        if self.trace is not None:
            cues = (prob, *levels, *floors, loud, veto, pointed, far, evidence, seat, elsewhere)
            self.trace.append(tuple(float(c) for c in cues))
        return GateFrame(
            t, state, gain, evidence, far, levels[0], floors[0], reasons, candidate, vad,
            evidence and seated,
        )  # fmt: skip

    def _learn_speechlike(self, prob: float) -> None:
        """Feed a shut frame at or below the noise's typical level: what the detector says of
        the room's noise alone."""
        self._quiet_frames += 1
        step = 1.0 / min(self._quiet_frames, SPEECHLIKE_FRAMES)
        self.speechlike += (float(prob >= self.config.speech_threshold) - self.speechlike) * step

    def _relax_db(self) -> float:
        """How far below the level floor speech evidence may be: up to ``RELAX_DB`` when the
        detector hears no speech in the room's noise (traffic, rain, a fan, music), none when
        the noise itself is talk (babble), where the level is the only cue left."""
        return RELAX_DB * min(1.0, max(0.0, 1.0 - 2.0 * self.speechlike))

    def _over_echo(self, power: F64, echo: F64) -> bool:
        """While the far end plays: the heard power clears the predicted echo by
        ``DOUBLE_TALK_DB`` plus the noise by ``min_excess_db`` (the noise statistics, learned
        while the far end was quiet, would hold the echo's leftovers)."""
        floor = 10 ** (DOUBLE_TALK_DB / 10) * float(np.sum(echo))
        floor += 10 ** (self.config.min_excess_db / 10) * float(np.sum(self._noise.spectrum))
        return float(np.sum(power)) >= floor

    def _floors(self, far: bool) -> tuple[float, float]:
        extra = DOUBLE_TALK_DB if far else 0.0
        broad, mlog = self._noise.floors(self.config.min_excess_db)
        return broad + extra, mlog + extra

    def _undecided(self, t: float, vad: bool, far: bool, faults: tuple[object, ...]) -> GateFrame:
        reasons = tuple(str(f) for f in faults) + ("detector_unavailable",)
        return GateFrame(t, GateState.FAILSAFE_OPEN, 1.0, False, far, 0.0, 0.0, reasons, False, vad)

    def _detector_lost(
        self, t: float, vad: bool, far: bool, faults: tuple[object, ...], err: Exception
    ) -> GateFrame:
        log.warning("auto-mute off, the room stays audible: %s", err)
        self._speech = None
        return self._undecided(t, vad, far, faults)

    def _smooth(self, which: int, power: F64) -> F64:
        ring = self._rings[which]
        ring[self._ring_pos[which] % SMOOTH_FRAMES] = power
        self._ring_pos[which] += 1
        return np.asarray(np.mean(ring, axis=0))

    def failsafe(self, t: float, faults: tuple[object, ...]) -> GateFrame:
        """Verdict for a block that could not be analysed: open, with the faults as reasons."""
        reasons = tuple(str(f) for f in faults)
        self._last = GateFrame(t, GateState.FAILSAFE_OPEN, 1.0, False, False, 0.0, 0.0, reasons)
        return self._last

    def noise_bin_power(self) -> F64:
        """Noise power per FFT bin of the 16 kHz mono spectrum (bins outside the bands: 0)."""
        per_bin = self._noise.spectrum / np.maximum(BANDS.sum(axis=1), 1.0)
        return np.asarray(BANDS.T @ per_bin)

    @property
    def steady_noise(self) -> bool:
        """The noise level hardly fluctuates (fan, hum): the level cue alone is reliable."""
        return self._noise.stats[0].spread_db < STEADY_SPREAD_DB

    @property
    def far_end(self) -> bool:
        """The far end was audible in the last frame (including its echo tail)."""
        return self._far_tail > 0

    def _far_active(self, ref: F64) -> bool:
        level = 10 * np.log10(float(np.mean(ref**2)) + 1e-20)
        self._far_tail = FAR_TAIL_FRAMES if level > FAR_ACTIVE_DBFS else max(0, self._far_tail - 1)
        return self._far_tail > 0

    def _learn(
        self,
        power: F64,
        residual: F64,
        echo: F64,
        far: bool,
        from_tv: bool | None,
        near: bool = False,
    ) -> None:
        """The noise model learns while the far end is quiet, and from the echo-compensated
        power until it is ready: a far end that never pauses cannot keep the gate unready.
        ``near``: the gate holds open for near speech; the echo model then barely learns (a
        power-domain echo path with non-negative taps would absorb the talker as echo)."""
        self._frames += 1
        if self._frames <= WARMUP_FRAMES:
            return
        if not far:
            self._noise.learn(power)
        elif not self._noise.ready:  # a far end that never pauses: learn around its echo
            self._noise.learn(np.maximum(power - echo, LEARN_FLOOR * power))
        if far:
            target = np.maximum(power - self._noise.spectrum, 0.0)
            # a frame from the loudspeakers' direction is echo even while the gate holds open
            # (else a gate opened by echo would stop the model learning that very echo)
            near = near and from_tv is not True
            self._echo.adapt(target, echo, trusted=from_tv is not False and not near, near=near)

    def _state(
        self,
        gain: float,
        evidence: bool,
        vad: bool,
        far: bool,
        veto: bool,
        faults: tuple[object, ...],
    ) -> tuple[GateState, tuple[str, ...]]:
        if faults:
            return GateState.FAILSAFE_OPEN, tuple(str(f) for f in faults)
        reasons = [w for w, on in (("vad", vad), ("far_end", far), ("direction_veto", veto)) if on]
        if not self.config.enabled:
            return GateState.DISABLED, ("auto_mute_off", *reasons)
        if not self._noise.ready:
            reasons.append("learning_noise")
        if gain > 0:
            return GateState.OPEN, ("speech" if evidence else "hold", *reasons)
        return GateState.AUTO_MUTED, ("quiet", *reasons)

    @staticmethod
    def _gain(state: GateState, gain: float) -> float:
        return gain if state is GateState.OPEN else (0.0 if state is GateState.AUTO_MUTED else 1.0)

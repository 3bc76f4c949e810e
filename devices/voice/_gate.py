"""The auto-mute gate: webrtcvad plus an adaptive, echo-aware level cue, with attack/hold/release.

Per 10 ms frame (internally 16 kHz) a frame is *speech evidence* when
  * webrtcvad calls it speech, and
  * its echo-compensated, noise-whitened level rises ``threshold_db`` above the noise, where the
    threshold follows the recent noise (99th percentile of noise-frame levels + ``margin_db``,
    at least ``min_excess_db``), and
  * while the far end plays, the level also clears the echo prediction (double-talk rule), and
  * the caller did not veto it (e.g. the sound comes from the TV/loudspeaker direction), and
  * in fluctuating noise, the sound does not come from a learned noise direction (a radio;
    see ``_noisedir``) unless it clears the threshold by ``ONSET_BYPASS_DB``, and
  * to *open* a shut gate in fluctuating noise (babble, music), the level also rises
    ``ONSET_DB`` over its own mean of the last ~1 s: music that swells slowly never opens it.
    A gate that shut less than ``REOPEN_FRAMES`` ago is exempt: that mean still holds the
    talker's own last words, and a pause in a sentence must not need a louder restart.
Quiet-frame levels are learned 0.5 s late and dropped if the gate opens meanwhile, so a soft
speech onset the gate missed does not raise the threshold.
The gate opens after ``attack_ms`` of evidence, stays open ``hold_ms`` after the last evidence
(with a lower continuation threshold), then ramps the gain down over ``release_ms``.
Bad input never mutes: faults put the gate in FAILSAFE_OPEN with the fault as the reason.
"""

from __future__ import annotations

import enum
import logging
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import webrtcvad

from devices.voice._config import GateConfig
from devices.voice._dsp import F64, FRAME, RATE, Decimator, Framer, band_matrix, to_int16_bytes
from devices.voice._levels import EchoModel, NoiseModel

log = logging.getLogger(__name__)

BANDS = band_matrix(200.0, 6000.0, 16)
CONTINUE_DB = 4.0  # while open, evidence needs this much less level
CANDIDATE_DB = 4.0  # a frame this close to the threshold (with VAD) is a speech *candidate*
FAR_ACTIVE_DBFS = -60.0
FAR_TAIL_FRAMES = 40  # echo keeps ringing ~0.4 s after the reference stops
DOUBLE_TALK_DB = 6.0  # extra level needed while the far end plays
WARMUP_FRAMES = 10  # analysis window and smoothing still hold start-up zeros
SMOOTH_FRAMES = 6  # band powers are averaged over 60 ms: babble fluctuations average out
ONSET_DB = 3.0  # opening (not staying open) needs the level this far over the recent mean:
ONSET_TAU_FRAMES = 100.0  # ... an average over ~1 s (power, first-order) ...
ONSET_LAG_FRAMES = 10  # ... that ends 100 ms ago, so it does not yet hold the onset itself
ONSET_BYPASS_DB = 6.0  # ... unless the level clears the threshold by this much
ONSET_SPREAD_DB = 2.5  # ... or the noise is steady (fan, hum): only fluctuating noise swells
REOPEN_FRAMES = 100  # a gate shut less than this long ago reopens without the onset guard
QUIET_FRAMES = 400  # quiet levels over 4 s
QUIET_DELAY_FRAMES = 50  # quiet levels are learned 0.5 s late, dropped if the gate opens by then


class GateState(enum.Enum):
    """What the gate does with the room's audio."""

    OPEN = "open"
    AUTO_MUTED = "auto_muted"
    FAILSAFE_OPEN = "failsafe_open"
    DISABLED = "disabled"

    @property
    def passes_audio(self) -> bool:
        return self is not GateState.AUTO_MUTED


@dataclass(frozen=True)
class GateFrame:
    """The gate's verdict for one 10 ms block.

    gain: 0..1 to apply to this block of outgoing audio; speech: near-end speech evidence in
    this block (before hold); far_end: the far end is audible; level_db / threshold_db: the
    level cue; reasons: short machine-readable words explaining the state; candidate: webrtcvad
    calls it speech and the level is within ``CANDIDATE_DB`` of the threshold, with no far end
    and no veto: possibly the soft start of a turn the gate has not yet opened for (the
    direction finder gathers such frames early; they never open the gate); vad: webrtcvad
    called the frame speech (the look-ahead reaches back only over such frames).
    """

    t: float
    state: GateState
    gain: float
    speech: bool
    far_end: bool
    level_db: float
    threshold_db: float
    reasons: tuple[str, ...] = ()
    candidate: bool = False
    vad: bool = False

    @property
    def is_open(self) -> bool:
        return self.state.passes_audio


class _Hysteresis:
    """attack / hold / release in frames."""

    def __init__(self, cfg: GateConfig) -> None:
        self._attack = max(1, cfg.attack_ms // 10)
        self._hold = cfg.hold_ms // 10
        self._release = max(1, cfg.release_ms // 10)
        self._recent: deque[bool] = deque(maxlen=self._attack + 1)
        self._since_evidence = 10**9
        self.shut_frames = 10**9  # frames since the gain was last above zero

    def step(self, evidence: bool) -> float:
        self._recent.append(evidence)
        if self.gain() == 0.0 and sum(self._recent) < self._attack:
            evidence = False
        self._since_evidence = 0 if evidence else self._since_evidence + 1
        gain = self.gain()
        self.shut_frames = 0 if gain > 0 else self.shut_frames + 1
        return gain

    def gain(self) -> float:
        past_hold = self._since_evidence - self._hold
        if past_hold < 0:
            return 1.0
        return max(0.0, 1.0 - past_hold / self._release)

    @property
    def holding(self) -> bool:
        return self._since_evidence <= self._hold


class VoiceGate:
    """Decides, every 10 ms, whether the room's microphone audio goes out.

    Feed mono blocks (any length; 10 ms expected) at ``config.sample_rate`` with the matching
    playout reference block (what the loudspeakers play now, or ``None``).
    """

    def __init__(self, config: GateConfig | None = None) -> None:
        self.config = config or GateConfig()
        self._vad = webrtcvad.Vad(self.config.vad_mode)
        self._mic_dec = Decimator(1)
        self._ref_dec = Decimator(1)
        self._mic_frames = Framer(1)
        self._ref_frames = Framer(1)
        self._pending = np.zeros((0, 2))
        self._hyst = _Hysteresis(self.config)
        self._noise = NoiseModel(BANDS.shape[0], quiet_frames=QUIET_FRAMES)
        self._echo = EchoModel(BANDS.shape[0])
        self._quiet_wait: deque[tuple[float, float]] = deque()
        self._onset_mean = 0.0
        self._onset_lag: deque[float] = deque()
        self._far_tail = 0
        self._frames = 0
        self._rings = (
            np.zeros((SMOOTH_FRAMES, BANDS.shape[0])),
            np.zeros((SMOOTH_FRAMES, BANDS.shape[0])),
        )
        self._ring_pos = [0, 0]
        self._last = GateFrame(0.0, GateState.AUTO_MUTED, 0.0, False, False, 0.0, 0.0, ("start",))

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
        faults: tuple[object, ...] = (),
    ) -> GateFrame:
        """Like ``process`` for already-decimated (n, 2) [mic, ref] samples at 16 kHz.

        ``noise_direction``: the sound comes from where point noise (a radio) was heard while
        nobody spoke; in fluctuating noise such a frame is no speech evidence (and no
        candidate) unless it clears the threshold by ``ONSET_BYPASS_DB``.
        """
        self._pending = np.concatenate([self._pending, pair], axis=0)
        while self._pending.shape[0] >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            self._last = self._frame(frame, t, veto, noise_direction, faults)
        return self._last

    def _frame(
        self, frame: F64, t: float, veto: bool, noise_dir: bool, faults: tuple[object, ...]
    ) -> GateFrame:
        power = self._smooth(0, BANDS @ (np.abs(self._mic_frames.push(frame[:, :1])[:, 0]) ** 2))
        ref_power = self._smooth(
            1, BANDS @ (np.abs(self._ref_frames.push(frame[:, 1:])[:, 0]) ** 2)
        )
        far = self._far_active(frame[:, 1])
        echo = self._echo.predict(ref_power)
        residual = np.maximum(power - 10 ** (self.config.echo_margin_db / 10) * echo, 0.0)
        levels = self._noise.levels_db(residual)
        thresholds = self._thresholds(far)
        best = int(np.argmax(np.subtract(levels, thresholds)))
        loud = levels[best] >= thresholds[best]
        vad = self._vad.is_speech(to_int16_bytes(frame[:, 0]), RATE)
        onset = self._onset_db(residual, far)
        opening = self._hyst.gain() == 0.0 and not far
        evidence = bool(vad and loud and not veto and self._noise.ready)
        steady = self.steady_noise
        bypass = levels[best] - thresholds[best] >= ONSET_BYPASS_DB
        exempt = steady or bypass
        pointed = noise_dir and not exempt
        guarded = onset < ONSET_DB and not exempt and self._hyst.shut_frames >= REOPEN_FRAMES
        evidence = evidence and not pointed and not (opening and guarded)
        gain = self._hyst.step(evidence)
        self._learn(power, echo, far, evidence, levels)
        state, reasons = self._state(gain, evidence, vad, far, veto, faults)
        gain = self._gain(state, gain)
        near = levels[best] >= thresholds[best] - CANDIDATE_DB
        candidate = evidence or bool(
            vad and near and not far and not veto and not pointed and self._noise.ready
        )
        level, threshold = levels[best], thresholds[best]
        return GateFrame(t, state, gain, evidence, far, level, threshold, reasons, candidate, vad)

    def _onset_db(self, residual: F64, far: bool) -> float:
        """Level of this frame over the mean level ~0.1-1 s ago, dB.

        The mean follows music getting louder; it holds still while the far end plays (the
        echo model handles that time).
        """
        now = float(np.sum(residual))
        if not far:
            self._onset_lag.append(now)
        if len(self._onset_lag) > ONSET_LAG_FRAMES:
            old = self._onset_lag.popleft()
            self._onset_mean += (old - self._onset_mean) / ONSET_TAU_FRAMES
        return 10.0 * float(np.log10(max(now, 1e-14) / max(self._onset_mean, 1e-14)))

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
        return self._noise.stats[0].spread_db < ONSET_SPREAD_DB

    @property
    def far_end(self) -> bool:
        """The far end was audible in the last frame (including its echo tail)."""
        return self._far_tail > 0

    def _far_active(self, ref: F64) -> bool:
        level = 10 * np.log10(float(np.mean(ref**2)) + 1e-20)
        self._far_tail = FAR_TAIL_FRAMES if level > FAR_ACTIVE_DBFS else max(0, self._far_tail - 1)
        return self._far_tail > 0

    def _thresholds(self, far: bool) -> tuple[float, float]:
        cfg = self.config
        relax = CONTINUE_DB if self._hyst.holding else 0.0
        broad, mlog = self._noise.thresholds(cfg.margin_db, cfg.min_excess_db, relax)
        extra = DOUBLE_TALK_DB if far else 0.0
        return broad + extra, mlog + extra

    def _learn(
        self, power: F64, echo: F64, far: bool, evidence: bool, levels: tuple[float, float]
    ) -> None:
        self._frames += 1
        if not far and self._frames > WARMUP_FRAMES:
            self._noise.learn(power)
            self._learn_quiet(evidence, levels)
        elif far:
            self._echo.adapt(np.maximum(power - self._noise.spectrum, 0.0), echo)

    def _learn_quiet(self, evidence: bool, levels: tuple[float, float]) -> None:
        """Quiet levels wait a moment: a soft speech onset just before the gate opens is dropped."""
        if self._hyst.holding:
            self._quiet_wait.clear()
            return
        if not evidence:
            self._quiet_wait.append(levels)
        if len(self._quiet_wait) > QUIET_DELAY_FRAMES:
            self._noise.learn_quiet(self._quiet_wait.popleft())

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

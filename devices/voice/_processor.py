"""The voice pipeline for one microphone array: input checks -> 16 kHz -> gate + DOA.

Feed each capture block (frames x channels, float32 in [-1, 1], at ``gate.sample_rate``,
normally 48 kHz) with the playout reference block of the same duration. Internally the
gate and the direction finder run at 16 kHz on 10 ms frames; one ``VoiceFrame`` comes out
per block. Pure computation, no threads: call it from the audio callback's consumer.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.voice._beam import SeatBeams
from devices.voice._checks import NO_REFERENCE, InputChecker, InputFault
from devices.voice._config import VoiceConfig
from devices.voice._doa import DoaEstimate, DoaEstimator, FrameDirection
from devices.voice._dsp import FRAME, RATE, Decimator, Framer
from devices.voice._gate import VoiceGate
from devices.voice._noisedir import NoiseDirections
from devices.voice._verdict import GateFrame, GateState

log = logging.getLogger(__name__)

VETO_CONFIDENCE = 0.3
WEIGHT_OVERSUB = 2.0  # Wiener-like DOA bin weight 1 - k * noise / power
SEAT_FRAMES = 20  # of the coarse direction's last 200 ms ...
SEAT_SHARE = 0.6  # ... this share in one seat zone: someone there speaks (babble wanders)


@dataclass(frozen=True)
class VoiceFrame:
    """What the array heard in one block.

    gate: the auto-mute verdict; doa: a direction when a speech block completed in this
    block (else None); direction_deg / direction_conf: coarse direction of the last ~50 ms;
    faults: bad-input problems (the gate is then FAILSAFE_OPEN).
    """

    gate: GateFrame
    doa: DoaEstimate | None
    direction_deg: float
    direction_conf: float
    faults: tuple[InputFault, ...] = ()


class VoiceProcessor:
    """Gate + direction finder for one array; see the module docstring."""

    def __init__(self, config: VoiceConfig) -> None:
        self.config = config
        channels = config.array.channels
        self._checker = InputChecker(channels, config.gate.sample_rate)
        self._gate = VoiceGate(config.gate)
        self._doa = DoaEstimator(config.array, config.doa)
        self._direction = FrameDirection(config.array, config.doa)
        self.noise_directions = NoiseDirections()
        self._framer = Framer(channels)
        self._decimator = Decimator(channels + 1) if config.gate.sample_rate != RATE else None
        self._pending = np.zeros((0, channels + 1))
        self._seats: deque[int] = deque(maxlen=SEAT_FRAMES)
        self._beams = (
            SeatBeams(config.array, config.seats, config.exclusion) if config.seats else None
        )
        self._last = VoiceFrame(self._gate.failsafe(0.0, ("start",)), None, 0.0, 0.0)

    def process(
        self,
        block: npt.NDArray[np.floating],
        ref: npt.NDArray[np.floating] | None,
        t: float,
        rate: int | None = None,
        *,
        reference_missing: bool = False,
    ) -> VoiceFrame:
        """Feed one capture block taken at time ``t`` (seconds, monotonic clock).

        ``ref`` None means the far end is silent. ``reference_missing``: the kit has no
        playout reference at all (no loudspeaker ring wired), so echo cannot be told from the
        room: the block is analysed but the gate stays open with ``NO_REFERENCE`` as a fault.
        """
        rate = self.config.gate.sample_rate if rate is None else rate
        faults = self._checker.check(np.asarray(block), rate, t)
        if reference_missing:
            faults = (*faults, NO_REFERENCE)
        if faults and np.asarray(block).shape[-1:] != (self.config.array.channels,):
            self._last = VoiceFrame(self._gate.failsafe(t, faults), None, 0.0, 0.0, faults)
            return self._last
        if faults and faults[0].kind.value in ("sample_rate", "malformed"):
            self._last = VoiceFrame(self._gate.failsafe(t, faults), None, 0.0, 0.0, faults)
            return self._last
        self._feed(np.asarray(block, dtype=np.float64), ref, t, faults)
        return self._last

    def _feed(
        self,
        block: npt.NDArray[np.float64],
        ref: npt.NDArray[np.floating] | None,
        t: float,
        faults: tuple[InputFault, ...],
    ) -> None:
        far = np.zeros(block.shape[0]) if ref is None else np.asarray(ref, np.float64).reshape(-1)
        if far.size != block.shape[0]:
            far = np.resize(far, block.shape[0])
        both = np.concatenate([block, far[:, None]], axis=1)
        if self._decimator is not None:
            both = self._decimator.process(both)
        self._pending = np.concatenate([self._pending, both], axis=0)
        while self._pending.shape[0] >= FRAME:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            self._last = self._frame(frame, t, faults)

    def _frame(
        self, frame: npt.NDArray[np.float64], t: float, faults: tuple[InputFault, ...]
    ) -> VoiceFrame:
        mics = frame[:, :-1]
        spectra = self._framer.push(mics)
        angle, conf = self._direction.push(spectra)
        from_tv = conf >= VETO_CONFIDENCE and any(z.contains(angle) for z in self.config.exclusion)
        mono = np.mean(mics, axis=1)
        pair = np.stack([mono, frame[:, -1]], axis=1)
        noisy = self.noise_directions.matches(angle, conf)
        seat, elsewhere = self._seat(angle)
        heard = np.mean(spectra, axis=1) if self._beams is None else self._beams.push(spectra)
        gate = self._gate.process_16k(
            pair,
            t,
            veto=from_tv and self._gate.far_end,
            noise_direction=noisy,
            from_tv=from_tv if self.config.exclusion else None,
            seat=seat,
            elsewhere=elsewhere,
            faults=faults,
            spectrum=heard,
        )
        quiet = gate.state is GateState.AUTO_MUTED and not (gate.far_end or gate.candidate)
        if quiet and not faults:
            self.noise_directions.learn(angle, conf)  # nobody near speaks: what is heard is noise
            self._doa.learn_noise(spectra)
            if self._beams is not None:
                self._beams.learn(spectra)
        doa = None
        double_talk = not gate.speech and self._near_in_double_talk(gate, angle, conf)
        if not faults and (gate.candidate or double_talk):
            weights = self._snr_weights(heard)
            doa = self._doa.push(
                spectra, True, t, weights, double_talk=double_talk,
                confirmed=gate.speech and not gate.seated,
                steady_noise=self._gate.steady_noise and bool(self.noise_directions.directions),
            )  # fmt: skip
        elif not faults:
            doa = self._doa.push(spectra, False, t)
        if doa is not None and doa.candidates == doa.frames and not doa.double_talk:
            doa = None  # candidates only: the gate never heard near speech in this block
        return VoiceFrame(gate, doa, angle, conf, faults)

    def _seat(self, angle: float) -> tuple[bool, bool]:
        """(the direction stayed in one seat zone, it lies outside every seat zone) for the
        gate; (False, False) when no seats are configured."""
        if not self.config.seats:
            return False, False
        k = next((i for i, z in enumerate(self.config.seats) if z.contains(angle)), -1)
        self._seats.append(k)
        return k >= 0 and self._seats.count(k) >= SEAT_SHARE * SEAT_FRAMES, k < 0

    def _near_in_double_talk(self, gate: GateFrame, angle: float, conf: float) -> bool:
        """While the far end plays the gate gives few speech frames (echo-compensated level);
        a frame still counts for direction finding when the gate is open (a near talker just
        spoke) and the coarse frame direction is confidently outside the exclusion ranges."""
        cfg = self.config.doa
        return (
            cfg.double_talk
            and gate.far_end
            and gate.state is GateState.OPEN
            and conf >= cfg.double_talk_confidence
            and not any(z.contains(angle) for z in self.config.exclusion)
        )

    def _snr_weights(self, heard: npt.NDArray[np.complex128]) -> npt.NDArray[np.float64]:
        mono = np.abs(heard) ** 2
        noise = self._gate.noise_bin_power()
        return np.asarray(np.clip(1.0 - WEIGHT_OVERSUB * noise / np.maximum(mono, 1e-20), 0.0, 1.0))

    @property
    def gate_state(self) -> GateState:
        return self._last.gate.state

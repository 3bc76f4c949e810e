"""The gate's verdict per 10 ms frame (``GateState``, ``GateFrame``) and its attack / hold /
release timing (``Hysteresis``)."""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

from devices.voice._config import GateConfig


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
    called the frame speech (the look-ahead reaches back only over such frames); seated: the
    evidence came only from the seat relief, under the level floor (noise-dominated: the
    direction finder does not take it for confirmed speech).
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
    seated: bool = False

    @property
    def is_open(self) -> bool:
        return self.state.passes_audio


class Hysteresis:
    """attack / hold / release in frames."""

    def __init__(self, cfg: GateConfig) -> None:
        self._attack = max(1, cfg.attack_ms // 10)
        self._hold = cfg.hold_ms // 10
        self._release = max(1, cfg.release_ms // 10)
        self._recent: deque[bool] = deque(maxlen=self._attack + 1)
        self._since_evidence = 10**9
        self.shut_frames = 10**9  # frames since the gain was last above zero

    def step(self, evidence: bool, may_open: bool = True) -> float:
        """Feed one frame's evidence; return the gain. ``may_open`` False keeps a shut gate
        shut this frame (the evidence still counts toward the attack)."""
        self._recent.append(evidence)
        if self.gain() == 0.0 and (sum(self._recent) < self._attack or not may_open):
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

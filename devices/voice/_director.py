"""The director: pure policy turning timestamped voice observations into mute and camera decisions.

No audio, no threads, no sleeping: every input carries its time (seconds on one monotonic
clock) and the director answers with a ``Decision``. Manual actions take their time from the
injected ``clock``. Policy:

* Microphone: manual mute always wins; bad input gives OPEN_WARNING (never a silent mute);
  with auto-mute off in config the room is OPEN; otherwise the gate decides OPEN/AUTO_MUTED.
* Camera: each direction estimate (from speech-only blocks) whose angle lies in a zone, not in
  an exclusion range, with enough confidence, credits that zone with its speech time. The
  director cuts to the zone of the newest estimate once that zone has ``switch_after_s`` of
  speech within ``evidence_window_s`` and the last cut is ``min_dwell_s`` old; after
  ``overview_after_s`` without near speech it goes back to the overview. Estimates taken while
  only the far end plays are ignored (estimates the processor vetted as near speech during
  double talk count). A manual camera choice pauses all of this until ``reset_meeting``.
* Against flapping, evidence depends on confidence: on low-confidence evidence a zone needs
  ``min_estimates`` estimates in the window (one long, sparse, unsure block never cuts alone);
  an estimate below
  ``confident_doa`` credits only ``low_confidence_weight`` of its time; and within
  ``leave_guard_s`` of a cut, leaving needs ``leave_factor`` times the usual evidence unless the
  newest estimates are confident.
* A confirmed onset cuts at once: one whole estimate (``block_s`` of near speech) whose
  confidence is at least ``ONSET_CONFIDENCE``, from a zone not on screen, cuts to it when it
  arrives (``min_dwell_s`` still applies). The sum over the window needed two estimates,
  ~0.8 s after the onset. Estimates taken during double talk count too: the processor takes
  them only from frames whose direction is confidently outside the loudspeakers' (excluding
  them left talkers who spoke over the far end waiting 1-3 s).
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from devices.voice._config import CameraTarget, DirectorConfig, Zone
from devices.voice._doa import DoaEstimate
from devices.voice._verdict import GateState

log = logging.getLogger(__name__)

FRAME_CREDIT_S = 0.01
ONSET_CONFIDENCE = 0.5  # one estimate this sure (a full block of one talker) cuts alone


class MicState(enum.Enum):
    """What the panel and TV show for the room's microphone."""

    OPEN = "open"
    AUTO_MUTED = "auto_muted"
    MUTED = "muted"
    OPEN_WARNING = "open_warning"


@dataclass(frozen=True)
class Decision:
    """The director's answer at time ``t``.

    zone: the zone on screen, None for the overview (or a manual choice); auto_camera: False
    once a manual choice paused switching; changed: the camera target changed at this update;
    reason: a short word for logs and tests; warnings: bad-input messages to show.
    """

    t: float
    mic: MicState
    target: CameraTarget
    zone: str | None
    auto_camera: bool
    changed: bool
    reason: str
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Credit:
    t: float
    zone: str
    seconds: float
    confident: bool


class Director:
    """Mute and camera policy for one room; see the module docstring."""

    def __init__(self, config: DirectorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self._clock = clock
        self._credits: deque[_Credit] = deque()
        self._manual_mute = False
        self._manual_target: CameraTarget | None = None
        self._zone: Zone | None = None
        self._last_cut = -math.inf
        self._last_speech = -math.inf
        self._onset: str | None = None  # the zone of a confident estimate that just arrived
        self._changed = False
        self._reason = "start"

    # -- manual actions (panel) -------------------------------------------------------------

    def set_manual_mute(self, muted: bool) -> None:
        """The panel's mute button; wins over everything until switched off or meeting reset."""
        self._manual_mute = muted

    def choose_camera(self, target: CameraTarget) -> None:
        """A manual camera choice: shown at once, auto-switching paused until reset_meeting."""
        log.info("manual camera %s: auto-switching paused for this meeting", target.camera)
        self._manual_target = target
        self._zone = None
        self._last_cut = self._clock()
        self._changed = True
        self._reason = "manual"

    def reset_meeting(self) -> None:
        """Meeting ended: forget manual choices and evidence, back to the overview, unmuted."""
        self._credits.clear()
        self._manual_mute = False
        self._changed = self._manual_target is not None or self._zone is not None
        self._manual_target = None
        self._zone = None
        self._last_cut = -math.inf
        self._last_speech = -math.inf
        self._reason = "reset"

    # -- observations -------------------------------------------------------------------------

    def update(
        self,
        t: float,
        *,
        gate: GateState,
        speech: bool,
        far_end: bool = False,
        doa: DoaEstimate | None = None,
        warnings: tuple[str, ...] = (),
    ) -> Decision:
        """One observation (normally every 10 ms block); returns the decision in force at ``t``."""
        if speech:
            self._last_speech = t
        if doa is not None:
            self._credit(doa, speech or not far_end or doa.double_talk)
        if self._manual_target is None and self.config.auto_camera:
            self._steer(t)
        self._onset = None
        decision = Decision(
            t,
            self._mic(gate, warnings),
            self.target,
            self._zone.name if self._zone else None,
            self._manual_target is None and self.config.auto_camera,
            self._changed,
            self._reason,
            warnings,
        )
        self._changed = False
        return decision

    @property
    def target(self) -> CameraTarget:
        if self._manual_target is not None:
            return self._manual_target
        return self._zone.target if self._zone else self.config.overview

    def zone_at(self, angle_deg: float) -> Zone | None:
        """The zone containing ``angle_deg`` (None inside an exclusion range or no zone)."""
        if any(r.contains(angle_deg) for r in self.config.exclusion):
            return None
        return next((z for z in self.config.zones if z.angles.contains(angle_deg)), None)

    # -- policy ---------------------------------------------------------------------------------

    def _mic(self, gate: GateState, warnings: tuple[str, ...]) -> MicState:
        if self._manual_mute:
            return MicState.MUTED
        if warnings or gate is GateState.FAILSAFE_OPEN:
            return MicState.OPEN_WARNING
        if not self.config.auto_mute or gate is not GateState.AUTO_MUTED:
            return MicState.OPEN
        return MicState.AUTO_MUTED

    def _credit(self, doa: DoaEstimate, near_speech: bool) -> None:
        zone = self.zone_at(doa.angle_deg)
        if zone is None or doa.confidence < self.config.min_confidence or not near_speech:
            return
        seconds = doa.t_end - doa.t_start + FRAME_CREDIT_S
        if doa.confidence >= ONSET_CONFIDENCE:
            self._onset = zone.name
        confident = doa.confidence >= self.config.confident_doa
        if not confident:
            seconds *= self.config.low_confidence_weight
        self._credits.append(_Credit(doa.t_end, zone.name, seconds, confident))

    def _steer(self, t: float) -> None:
        while self._credits and self._credits[0].t < t - self.config.evidence_window_s:
            self._credits.popleft()
        if t - self._last_cut < self.config.min_dwell_s:
            return
        if self._zone is not None and t - self._last_speech >= self.config.overview_after_s:
            self._cut(t, None, "silence")
            return
        if not self._credits:
            return
        newest = self._credits[-1].zone
        if self._zone is not None and newest == self._zone.name:
            return
        if self._onset == newest:
            self._cut(t, next(z for z in self.config.zones if z.name == newest), "speech")
            return
        mine = [c for c in self._credits if c.zone == newest]
        confident = all(c.confident for c in mine[-self.config.min_estimates :])
        if len(mine) < self.config.min_estimates and not confident:
            return
        need = self.config.switch_after_s
        if t - self._last_cut < self.config.leave_guard_s and not confident:
            need *= self.config.leave_factor
        if sum(c.seconds for c in mine) >= need - 1e-9:
            self._cut(t, next(z for z in self.config.zones if z.name == newest), "speech")

    def _cut(self, t: float, zone: Zone | None, reason: str) -> None:
        log.debug("camera -> %s (%s)", zone.name if zone else "overview", reason)
        self._zone = zone
        self._last_cut = t
        self._changed = True
        self._reason = reason

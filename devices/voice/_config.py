"""Frozen, bounds-checked configuration for the voice gate, DOA and director.

Every check raises :class:`InvalidSetting` (a ``ValueError``) naming ``section.field``, the
value and the rule, so a TOML loader can turn it into its own report. ``LIMITS`` holds the
fixed bounds, so a loader checks its keys against the very numbers these classes enforce.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

SAMPLE_RATES = (16000, 48000)
ROUNDING = 1e-9  # 0.33 + 0.67 is 1.0000000000000002 in binary: within a rule's edge

LIMITS: Mapping[str, tuple[float, float]] = MappingProxyType(
    {
        "array.channels": (2, 16),
        "array.radius_m": (0.01, 0.25),
        "array.aperture_m": (0.02, 0.5),  # 0.5: two mics at the largest radius
        "gate.vad_mode": (0, 3),
        "gate.attack_ms": (10, 200),
        "gate.hold_ms": (100, 1500),
        "gate.release_ms": (10, 1000),
        "gate.margin_db": (0.0, 20.0),
        "gate.min_excess_db": (0.0, 30.0),
        "gate.echo_margin_db": (0.0, 30.0),
        "gate.lookahead_ms": (0, 300),
        "gate.speech_threshold": (0.05, 0.95),
        "gate.speech_hold": (0.05, 0.95),
        "doa.block_s": (0.25, 1.0),
        "doa.max_gap_s": (0.05, 2.0),
        "doa.min_freq_hz": (100.0, 2000.0),
        "doa.resolution_deg": (0.5, 10.0),
        "doa.double_talk_confidence": (0.0, 1.0),
        "angle.deg": (-360.0, 360.0),
        "crop.size": (0.05, 1.0),
        "director.switch_after_s": (0.1, 1.0),
        "director.evidence_window_s": (0.5, 10.0),
        "director.overview_after_s": (1.0, 120.0),
        "director.min_dwell_s": (0.0, 30.0),
        "director.min_confidence": (0.0, 1.0),
        "director.min_estimates": (1, 10),
        "director.confident_doa": (0.0, 1.0),
        "director.low_confidence_weight": (0.1, 1.0),
        "director.leave_guard_s": (0.0, 60.0),
        "director.leave_factor": (1.0, 4.0),
    }
)


class InvalidSetting(ValueError):
    """A setting broke a rule: ``where`` ("director.switch_after_s"), ``value`` and ``rule``."""

    def __init__(self, where: str, value: object, rule: str) -> None:
        super().__init__(f"{where} = {value!r}: {rule}")
        self.where, self.value, self.rule = where, value, rule


def check_range(where: str, value: float, lo: float, hi: float) -> None:
    """Raise :class:`InvalidSetting` unless ``lo <= value <= hi``."""
    if not (isinstance(value, int | float) and lo <= value <= hi):
        raise InvalidSetting(where, value, f"must be between {lo:g} and {hi:g}")


def check_limit(where: str, value: float, limit: str | None = None) -> None:
    """:func:`check_range` against ``LIMITS[limit or where]``."""
    check_range(where, value, *LIMITS[limit or where])


def check_choice(where: str, value: object, choices: tuple[object, ...]) -> None:
    if value not in choices:
        raise InvalidSetting(where, value, f"must be one of {', '.join(map(str, choices))}")


@dataclass(frozen=True)
class ArrayGeometry:
    """Microphone positions in metres in the table plane, relative to the array centre.

    Angles everywhere are degrees counter-clockwise from the +x axis (mic 0 of a circular array).
    """

    positions: tuple[tuple[float, float], ...]

    def __post_init__(self) -> None:
        check_limit("array.channels", len(self.positions))
        farthest = LIMITS["array.radius_m"][1] + ROUNDING
        for i, (x, y) in enumerate(self.positions):
            check_range(f"array.positions[{i}]", math.hypot(x, y), 0.0, farthest)
        lo = LIMITS["array.aperture_m"][0]
        if self.aperture_m() < lo:
            rule = f"the widest microphone pair must be at least {lo:g} m apart"
            raise InvalidSetting("array.aperture_m", round(self.aperture_m(), 4), rule)

    @classmethod
    def circular(cls, n: int, radius_m: float, first_deg: float = 0.0) -> ArrayGeometry:
        """``n`` mics evenly on a circle, mic 0 at ``first_deg``, counter-clockwise."""
        check_limit("array.radius_m", radius_m)
        check_limit("array.channels", n)
        angles = [math.radians(first_deg + 360.0 * i / n) for i in range(n)]
        return cls(tuple((radius_m * math.cos(a), radius_m * math.sin(a)) for a in angles))

    @property
    def channels(self) -> int:
        return len(self.positions)

    def aperture_m(self) -> float:
        return max(
            math.dist(a, b) for i, a in enumerate(self.positions) for b in self.positions[i + 1 :]
        )


@dataclass(frozen=True)
class GateConfig:
    """Auto-mute gate. Internally everything runs at 16 kHz on 10 ms frames.

    attack_ms: speech evidence needed before opening; hold_ms: time kept open after the last
    evidence (so word endings are not clipped); release_ms: gain ramp down after the hold.
    speech_threshold / speech_hold: the learned detector's speech probability needed to open /
    to stay open (the lower of the two applies);
    min_excess_db: how far the (echo-compensated) level must rise over the noise's
    typical level; margin_db: no longer used by the gate (kept so configs still load);
    vad_mode: webrtcvad aggressiveness 0-3 (marks voiced blocks for the look-ahead).
    lookahead_ms: the outgoing audio waits this long, and the gate's opening reaches back over
    it (``PreRoll``), so the soft start of a turn is not clipped; 0 turns it off.
    """

    enabled: bool = True
    sample_rate: int = 48000
    vad_mode: int = 2
    attack_ms: int = 20
    hold_ms: int = 400
    release_ms: int = 100
    margin_db: float = 3.0
    min_excess_db: float = 5.0
    echo_margin_db: float = 6.0
    lookahead_ms: int = 100
    speech_threshold: float = 0.5
    speech_hold: float = 0.35

    def __post_init__(self) -> None:
        check_choice("gate.sample_rate", self.sample_rate, SAMPLE_RATES)
        check_limit("gate.vad_mode", self.vad_mode)
        check_limit("gate.attack_ms", self.attack_ms)
        check_limit("gate.hold_ms", self.hold_ms)
        check_limit("gate.release_ms", self.release_ms)
        check_limit("gate.margin_db", self.margin_db)
        check_limit("gate.min_excess_db", self.min_excess_db)
        check_limit("gate.echo_margin_db", self.echo_margin_db)
        check_limit("gate.lookahead_ms", self.lookahead_ms)
        check_limit("gate.speech_threshold", self.speech_threshold)
        check_limit("gate.speech_hold", self.speech_hold)


@dataclass(frozen=True)
class DoaConfig:
    """Direction of arrival: SRP-PHAT over all mic pairs on speech-only blocks.

    block_s: speech time gathered per estimate (0.25-1 s); max_gap_s: a silence longer than this
    starts a new block, so one estimate never mixes two turns. double_talk: while the far end
    plays, also use frames where the gate is open and the coarse frame direction (confidence at
    least double_talk_confidence) lies outside the exclusion ranges, so a talker interrupting
    the far end is still followed.
    """

    block_s: float = 0.25
    max_gap_s: float = 0.3
    min_freq_hz: float = 300.0
    max_freq_hz: float = 4000.0
    resolution_deg: float = 1.0
    double_talk: bool = True
    double_talk_confidence: float = 0.5

    def __post_init__(self) -> None:
        check_limit("doa.block_s", self.block_s)
        check_limit("doa.max_gap_s", self.max_gap_s)
        check_limit("doa.min_freq_hz", self.min_freq_hz)
        check_range("doa.max_freq_hz", self.max_freq_hz, self.min_freq_hz + 500.0, 7900.0)
        check_limit("doa.resolution_deg", self.resolution_deg)
        check_limit("doa.double_talk_confidence", self.double_talk_confidence)


@dataclass(frozen=True)
class AngleRange:
    """Degrees from ``start_deg`` counter-clockwise to ``end_deg`` (may wrap through 0)."""

    start_deg: float
    end_deg: float

    def __post_init__(self) -> None:
        check_limit("zone.start_deg", self.start_deg, "angle.deg")
        check_limit("zone.end_deg", self.end_deg, "angle.deg")

    def contains(self, angle_deg: float) -> bool:
        span = (self.end_deg - self.start_deg) % 360.0 or 360.0
        return (angle_deg - self.start_deg) % 360.0 <= span


@dataclass(frozen=True)
class CropRect:
    """Crop of a wide camera in normalised coordinates (0..1), for digital pan/zoom."""

    x: float
    y: float
    w: float
    h: float

    def __post_init__(self) -> None:
        for name in ("x", "y", "w", "h"):
            check_range(f"crop.{name}", getattr(self, name), 0.0, 1.0)
        lo = LIMITS["crop.size"][0]
        check_range("crop.w", self.w, lo, 1.0 - self.x + ROUNDING)
        check_range("crop.h", self.h, lo, 1.0 - self.y + ROUNDING)


@dataclass(frozen=True)
class CameraTarget:
    """What the outgoing picture shows: a camera, optionally cropped."""

    camera: str
    crop: CropRect | None = None

    def __post_init__(self) -> None:
        if not self.camera:
            raise InvalidSetting("camera", self.camera, "name must not be empty")


@dataclass(frozen=True)
class Zone:
    """A seating area: talkers whose direction falls in ``angles`` are shown with ``target``."""

    name: str
    angles: AngleRange
    target: CameraTarget


@dataclass(frozen=True)
class DirectorConfig:
    """Camera switching policy. Times in seconds.

    switch_after_s: speech from a zone needed before cutting to it (within evidence_window_s);
    overview_after_s: silence before going back to the overview; min_dwell_s: no cut sooner
    than this after the previous one; exclusion: directions never followed (TV, loudspeakers).
    Against flapping (noisy rooms, low DOA confidence): min_estimates: direction estimates a zone
    needs in the window before a cut unless its newest estimates are confident; an estimate
    below confident_doa credits only low_confidence_weight of its time; within leave_guard_s of
    a cut, leaving the zone needs leave_factor times switch_after_s unless the zone's newest
    estimates are all confident.
    """

    overview: CameraTarget
    zones: tuple[Zone, ...] = ()
    exclusion: tuple[AngleRange, ...] = ()
    auto_mute: bool = True
    auto_camera: bool = True
    switch_after_s: float = 0.5
    evidence_window_s: float = 2.0
    overview_after_s: float = 10.0
    min_dwell_s: float = 2.5
    min_confidence: float = 0.2
    min_estimates: int = 2
    confident_doa: float = 0.4
    low_confidence_weight: float = 0.5
    leave_guard_s: float = 5.0
    leave_factor: float = 1.5

    def __post_init__(self) -> None:
        check_limit("director.switch_after_s", self.switch_after_s)
        check_limit("director.evidence_window_s", self.evidence_window_s)
        if self.evidence_window_s < self.switch_after_s:
            rule = f"must be at least director.switch_after_s ({self.switch_after_s!r})"
            raise InvalidSetting("director.evidence_window_s", self.evidence_window_s, rule)
        check_limit("director.overview_after_s", self.overview_after_s)
        check_limit("director.min_dwell_s", self.min_dwell_s)
        check_limit("director.min_confidence", self.min_confidence)
        check_limit("director.min_estimates", self.min_estimates)
        check_limit("director.confident_doa", self.confident_doa)
        check_limit("director.low_confidence_weight", self.low_confidence_weight)
        check_limit("director.leave_guard_s", self.leave_guard_s)
        check_limit("director.leave_factor", self.leave_factor)
        verify_zone_names([z.name for z in self.zones])


def verify_zone_names(names: Sequence[str]) -> None:
    """Zone names must be unique and non-empty (they label the panel's shot buttons)."""
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes or "" in names:
        raise InvalidSetting(
            "director.zones", list(names), "zone names must be unique and non-empty"
        )


@dataclass(frozen=True)
class VoiceConfig:
    """Everything the voice pipeline needs, in one object.

    exclusion: the loudspeakers' directions; seats: the directions people sit in (the
    director's zones, as the installer drew them; empty: no spatial prior, see ``_gate``).
    """

    array: ArrayGeometry
    gate: GateConfig = field(default_factory=GateConfig)
    doa: DoaConfig = field(default_factory=DoaConfig)
    exclusion: tuple[AngleRange, ...] = ()
    seats: tuple[AngleRange, ...] = ()

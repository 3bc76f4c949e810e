"""The [voice] section: its dataclass and converters (booleans, angle ranges, seating zones).

Bounds are not written here: they are ``devices.voice.LIMITS``, and angles, crops and zone
names are checked by the runtime's own ``AngleRange`` / ``CropRect`` / ``verify_zone_names``,
so the file is held to exactly the rules the voice pipeline enforces when it starts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from devices.voice import LIMITS, AngleRange, CropRect, InvalidSetting, verify_zone_names
from kiosk import _config_fields as f

ZONE_KEYS = ("name", "angles", "crop")
_ANGLES = "{:g} to {:g}".format(*LIMITS["angle.deg"])
_MIN_CROP = LIMITS["crop.size"][0]


@dataclass(frozen=True)
class ZoneSpec:
    """A seating area: talkers in ``angles`` (degrees) are shown as ``crop`` of the camera."""

    name: str
    angles: tuple[float, float]
    crop: tuple[float, float, float, float] | None = None


@dataclass(frozen=True)
class VoiceSection:
    """The microphone array: auto-mute and voice-driven camera (off unless enabled).

    With ``enabled``, [microphone] device names the array (``mics`` channels), or is
    "synthetic" and ``script_wav`` holds a multichannel recording played as the array.
    """

    enabled: bool = False
    auto_mute: bool = True
    lookahead_ms: int = 100
    auto_camera: bool = True
    mics: int = 4
    radius_m: float = 0.045
    speaker_angles: tuple[float, float] | None = None
    zones: tuple[ZoneSpec, ...] = ()
    switch_after_s: float = 0.5
    overview_after_s: float = 10.0
    min_dwell_s: float = 2.5
    script_wav: Path | None = None


def bounded_int(limit: str) -> f.Convert:
    """An integer within the voice pipeline's ``LIMITS[limit]``."""
    lo, hi = LIMITS[limit]
    return f.integer(int(lo), int(hi))


def bounded_number(limit: str) -> f.Convert:
    """A number within the voice pipeline's ``LIMITS[limit]``."""
    return f.number(*LIMITS[limit])


def boolean(raw: object, ctx: f.Context) -> bool:
    if not isinstance(raw, bool):
        raise f.Invalid("must be true or false")
    return raw


def _numbers(raw: object, count: int, rule: str) -> tuple[float, ...]:
    if not isinstance(raw, list) or len(raw) != count:
        raise f.Invalid(rule)
    if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in raw):
        raise f.Invalid(rule)
    return tuple(float(a) for a in raw)


def angle_pair(raw: object, ctx: f.Context) -> tuple[float, float]:
    """[from, to] in degrees counter-clockwise (may wrap through 0)."""
    rule = f"must be [from, to] in degrees, each {_ANGLES}"
    start, end = _numbers(raw, 2, rule)
    try:
        AngleRange(start, end)
    except ValueError as err:
        raise f.Invalid(rule) from err
    return start, end


def crop(raw: object, ctx: f.Context) -> tuple[float, float, float, float]:
    """[x, y, w, h] as fractions of the picture (0..1), the region inside it."""
    rule = f"must be [x, y, w, h], fractions 0..1 with w, h >= {_MIN_CROP:g} and x+w, y+h <= 1"
    x, y, w, h = _numbers(raw, 4, rule)
    try:
        CropRect(x, y, w, h)
    except ValueError as err:
        raise f.Invalid(rule) from err
    return x, y, w, h


def zone(raw: object, ctx: f.Context) -> ZoneSpec:
    if not isinstance(raw, dict):
        raise f.Invalid('must be a table: { name = "…", angles = [from, to], crop = [x, y, w, h] }')
    unknown = sorted(set(raw) - set(ZONE_KEYS))
    if unknown:
        raise f.Invalid(f"unknown key {unknown[0]!r}; zone keys are {', '.join(ZONE_KEYS)}")
    if "name" not in raw or "angles" not in raw:
        raise f.Invalid("needs name and angles")
    box = crop(raw["crop"], ctx) if "crop" in raw else None
    return ZoneSpec(f.label(32)(raw["name"], ctx), angle_pair(raw["angles"], ctx), box)


def zones(raw: object, ctx: f.Context) -> tuple[ZoneSpec, ...]:
    """Seating zones, each valid, with distinct names (the director's own rule)."""
    specs: tuple[ZoneSpec, ...] = f.list_of(zone)(raw, ctx)
    names = [spec.name for spec in specs]
    try:
        verify_zone_names(names)
    except InvalidSetting as err:
        raise f.Invalid(f"{err.rule}; the names are {names}") from err
    return specs

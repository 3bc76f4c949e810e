"""Converters for the [voice] section: booleans, angle ranges and seating zones."""

from __future__ import annotations

from dataclasses import dataclass

from kiosk import _config_fields as f

ZONE_KEYS = ("name", "angles", "crop")


@dataclass(frozen=True)
class ZoneSpec:
    """A seating area: talkers in ``angles`` (degrees) are shown as ``crop`` of the camera."""

    name: str
    angles: tuple[float, float]
    crop: tuple[float, float, float, float] | None = None


def boolean(raw: object, ctx: f.Context) -> bool:
    if not isinstance(raw, bool):
        raise f.Invalid("must be true or false")
    return raw


def angle_pair(raw: object, ctx: f.Context) -> tuple[float, float]:
    """[from, to] in degrees counter-clockwise (may wrap through 0)."""
    rule = "must be [from, to] in degrees, each between -360 and 360"
    if not isinstance(raw, list) or len(raw) != 2:
        raise f.Invalid(rule)
    if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in raw):
        raise f.Invalid(rule)
    if not all(-360 <= a <= 360 for a in raw):
        raise f.Invalid(rule)
    return float(raw[0]), float(raw[1])


def crop(raw: object, ctx: f.Context) -> tuple[float, float, float, float]:
    """[x, y, w, h] as fractions of the picture (0..1), the region inside it."""
    rule = "must be [x, y, w, h], fractions 0..1 with w, h >= 0.05 and x+w, y+h <= 1"
    if not isinstance(raw, list) or len(raw) != 4:
        raise f.Invalid(rule)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in raw):
        raise f.Invalid(rule)
    x, y, w, h = (float(v) for v in raw)
    if not (x >= 0 and y >= 0 and w >= 0.05 and h >= 0.05 and x + w <= 1 and y + h <= 1):
        raise f.Invalid(rule)
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

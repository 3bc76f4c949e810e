"""The [schedule] section: meetings the room joins by itself, and equipment checks it runs.

A broken entry is reported and left out; the other entries and the room's own meetings go on
(``Config.schedule_issues``), as with [voice].
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from kiosk import _config_fields as f
from kiosk.checkplan import ScheduledCheck
from kiosk.schedule import DAYS, ScheduledMeeting, clock_time

MEETING_KEYS = ("title", "room", "start", "end", "days")
CHECK_KEYS = ("start", "days")
LISTS = ("meetings", "checks")


@dataclass(frozen=True)
class ScheduleSection:
    """``countdown_s``: how long before a start the panel counts down (and can cancel)."""

    countdown_s: float = 120.0
    meetings: tuple[ScheduledMeeting, ...] = ()
    checks: tuple[ScheduledCheck, ...] = ()


def _hhmm(raw: object, ctx: f.Context) -> str:
    if not isinstance(raw, str):
        raise f.Invalid('must be a time of day as "HH:MM", e.g. "08:30"')
    try:
        clock_time(raw)
    except ValueError as err:
        raise f.Invalid(str(err)) from err
    return raw


def _days(raw: object, ctx: f.Context) -> tuple[str, ...]:
    rule = f"must be a non-empty list of days from {', '.join(DAYS)}"
    if not isinstance(raw, list) or not raw or not all(d in DAYS for d in raw):
        raise f.Invalid(rule)
    return tuple(d for d in DAYS if d in raw)


def meeting(raw: object, ctx: f.Context) -> ScheduledMeeting:
    if not isinstance(raw, dict):
        raise f.Invalid('must be a table: { title = "…", room = 1234, start = "08:00", … }')
    unknown = sorted(set(raw) - set(MEETING_KEYS))
    if unknown:
        raise f.Invalid(f"unknown key {unknown[0]!r}; keys are {', '.join(MEETING_KEYS)}")
    missing = [key for key in ("title", "room", "start", "end") if key not in raw]
    if missing:
        raise f.Invalid(f"needs {', '.join(missing)}")
    start, end = _hhmm(raw["start"], ctx), _hhmm(raw["end"], ctx)
    if start == end:
        raise f.Invalid("start and end must differ (an end before the start runs past midnight)")
    days = _days(raw["days"], ctx) if "days" in raw else DAYS
    room = f.integer(1, 2**63 - 1)(raw["room"], ctx)
    return ScheduledMeeting(f.label(64)(raw["title"], ctx), room, start, end, days)


meetings = f.list_of(meeting)


def check(raw: object, ctx: f.Context) -> ScheduledCheck:
    """``{ start = "07:30", days = ["mon"] }``; each broken key is reported in its place
    (``schedule.checks[1].start``)."""
    if not isinstance(raw, dict):
        raise f.Invalid('must be a table: { start = "07:30", days = ["mon", "thu"] }')
    bad = [(f".{key}", None, f.Invalid(_unknown(key))) for key in raw if key not in CHECK_KEYS]
    if "start" not in raw:
        bad.append((".start", None, f.Invalid('missing — required, e.g. "07:30"')))
    values = {}
    for key, convert in (("start", _hhmm), ("days", _days)):
        try:
            values[key] = convert(raw[key], ctx) if key in raw else None
        except f.Invalid as err:
            bad.append((f".{key}", raw[key], err))
    if bad:
        raise f.Invalid("is not a valid check", parts=bad)
    return ScheduledCheck(str(values["start"]), tuple(values["days"] or DAYS))


def _unknown(key: object) -> str:
    close = difflib.get_close_matches(str(key), CHECK_KEYS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"keys are {', '.join(CHECK_KEYS)}"
    return f"unknown key; {hint}"


checks = f.list_of(check)

FIELDS: dict[str, tuple[f.Convert, str]] = {
    "countdown_s": (f.number(0.0, 3600.0), "countdown before a scheduled join, s"),
    "meetings": (meetings, "meetings joined by themselves: title, room, …"),
    "checks": (checks, "equipment self-tests run by themselves: start, days"),
}


def without_bad_entries(raw: object, bad_keys: list[str]) -> object:
    """[schedule] without the keys and entries that broke a rule (``schedule.meetings[2]``,
    ``schedule.checks[1].start``)."""
    if not isinstance(raw, dict):
        return {}
    kept = {k: v for k, v in raw.items() if f"schedule.{k}" not in bad_keys}
    for name in LISTS:
        entries = kept.get(name)
        if isinstance(entries, list):
            prefix = f"schedule.{name}["
            bad = {int(k[len(prefix) :].split("]")[0]) for k in bad_keys if k.startswith(prefix)}
            kept[name] = [e for i, e in enumerate(entries) if i not in bad]
    return kept

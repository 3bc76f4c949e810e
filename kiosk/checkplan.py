"""Scheduled equipment checks: when the kiosk runs its self-test by itself (pure policy).

A check repeats on some weekdays at ``start`` (local wall-clock "HH:MM").  :class:`CheckPlanner`
is stepped with the wall clock (injected, so tests step it) and says which check is due now:

- due from its start until ``GRACE`` after it (a kiosk switched on at 07:40 still runs the
  07:30 check); a clock that jumps past that window misses it;
- each occurrence at most once: it is marked done when it runs or is skipped, and the done
  keys are saved, so a restart or a clock jumping back never runs it twice;
- several due at once (a late start) run once, for the latest; the others count as done.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiosk.schedule import DAYS, Occurrence, ScheduledMeeting, clock_time, occurrences

GRACE = timedelta(hours=1)


@dataclass(frozen=True)
class ScheduledCheck:
    """One entry of [schedule] checks (validated by the configuration)."""

    start: str  # "HH:MM"
    days: tuple[str, ...] = DAYS


def check_key(start: datetime) -> str:
    """The occurrence's name in the saved state: one per day and start time."""
    return f"check@{start:%Y-%m-%dT%H:%M}"


def check_starts(checks: Sequence[ScheduledCheck], around: datetime) -> list[datetime]:
    """Every check start the day before or on ``around``'s date, oldest first."""
    starts = set()
    for offset in (-1, 0):
        day = around.date() + timedelta(days=offset)
        for check in checks:
            if DAYS[day.weekday()] in check.days:
                starts.add(datetime.combine(day, clock_time(check.start)))
    return sorted(starts)


def meeting_near(
    meetings: Sequence[ScheduledMeeting], now: datetime, within_s: float
) -> Occurrence | None:
    """A scheduled meeting on now, or starting within ``within_s`` seconds."""
    soon = now + timedelta(seconds=within_s)
    near = [o for o in occurrences(meetings, now) if o.start <= soon and now < o.end]
    return near[0] if near else None


class CheckPlanner:
    """Which scheduled check is due now; ``done`` holds the keys already run or skipped."""

    def __init__(self, checks: Sequence[ScheduledCheck], done: Iterable[str] = ()) -> None:
        self.checks = tuple(checks)
        self.done: set[str] = set(done)

    def due(self, now: datetime) -> datetime | None:
        """The start of the check to run now (None: nothing due); marks it done."""
        waiting = [
            start
            for start in check_starts(self.checks, now)
            if start <= now < start + GRACE and check_key(start) not in self.done
        ]
        self.done.update(check_key(start) for start in waiting)
        return waiting[-1] if waiting else None

    def recent_done(self, now: datetime) -> tuple[str, ...]:
        """The done keys still worth saving (checks of yesterday and today)."""
        near = {check_key(start) for start in check_starts(self.checks, now)}
        return tuple(sorted(self.done & near))

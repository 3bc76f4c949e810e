"""Scheduled meetings: when the room joins by itself, counts down, and leaves (pure policy).

A meeting repeats on some weekdays from ``start`` to ``end`` (local wall-clock "HH:MM"); an
``end`` at or before ``start`` runs past midnight into the next day.  :class:`Planner` is
stepped with the wall clock (injected, so tests step it) and says what to do now:

- a countdown in the last ``countdown_s`` seconds before a start (the panel can cancel it);
- join at the start, also late (a kiosk switched on, or a clock that jumped, mid-meeting);
- leave at the end, only a meeting it joined itself or found the room already in;
- a meeting cancelled, left by hand, or over is skipped: never joined again, even when the
  clock jumps back.  A join that failed is asked again every ``RETRY_S`` seconds.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # datetime.weekday() order
RETRY_S = 30.0


@dataclass(frozen=True)
class ScheduledMeeting:
    """One entry of [schedule] meetings (validated by the configuration)."""

    title: str
    room: int
    start: str  # "HH:MM"
    end: str
    days: tuple[str, ...] = DAYS


def clock_time(text: str) -> time:
    """ "08:30" → 08:30; anything else (8:30 included, 24:00 excluded) raises ValueError."""
    if len(text) != 5 or text[2] != ":" or not (text[:2] + text[3:]).isdigit():
        raise ValueError("must be a time of day as HH:MM, e.g. 08:30")
    return time(int(text[:2]), int(text[3:]))


@dataclass(frozen=True)
class Occurrence:
    """One meeting on one day; ``key`` names it in the saved state."""

    index: int
    meeting: ScheduledMeeting
    start: datetime
    end: datetime

    @property
    def key(self) -> str:
        return f"{self.index}@{self.start:%Y-%m-%dT%H:%M}"


def occurrences(meetings: Sequence[ScheduledMeeting], around: datetime) -> list[Occurrence]:
    """Every occurrence starting the day before, on, or the day after ``around``'s date."""
    found = []
    for offset in (-1, 0, 1):
        day = around.date() + timedelta(days=offset)
        for index, meeting in enumerate(meetings):
            if DAYS[day.weekday()] in meeting.days:
                start = datetime.combine(day, clock_time(meeting.start))
                end = datetime.combine(day, clock_time(meeting.end))
                end += timedelta(days=1) if end <= start else timedelta()
                found.append(Occurrence(index, meeting, start, end))
    return sorted(found, key=lambda o: o.start)


class Action(enum.Enum):
    NONE = "none"
    COUNTDOWN = "countdown"
    JOIN = "join"
    LEAVE = "leave"


@dataclass(frozen=True)
class Plan:
    action: Action
    occurrence: Occurrence | None = None
    seconds_left: float = 0.0


NOTHING = Plan(Action.NONE)


class Planner:
    """What the schedule wants now, given the wall clock and the room the call is in."""

    def __init__(
        self,
        meetings: Sequence[ScheduledMeeting],
        countdown_s: float = 120.0,
        skipped: Iterable[str] = (),
    ) -> None:
        self.meetings = tuple(meetings)
        self.countdown = timedelta(seconds=countdown_s)
        self.skipped: set[str] = set(skipped)
        self.joined: Occurrence | None = None
        self._asked: datetime | None = None

    def step(self, now: datetime, room: int | None) -> Plan:
        """``room``: the room the call is in or joining (None when idle or failed)."""
        if self.joined is not None:
            return self._while_joined(now, room)
        found = [o for o in occurrences(self.meetings, now) if o.key not in self.skipped]
        active = [o for o in found if o.start <= now < o.end]
        if active:
            return self._active(active[-1], now, room)
        upcoming = [o for o in found if timedelta() < o.start - now <= self.countdown]
        if upcoming and room is None:
            first = upcoming[0]
            return Plan(Action.COUNTDOWN, first, (first.start - now).total_seconds())
        return NOTHING

    def _active(self, occurrence: Occurrence, now: datetime, room: int | None) -> Plan:
        if room == occurrence.meeting.room:  # already there (by hand, or before a restart)
            self.joined = occurrence
            return NOTHING
        if room is not None:  # another meeting is on: not interrupted
            return NOTHING
        return self._join(occurrence, now)

    def _join(self, occurrence: Occurrence, now: datetime) -> Plan:
        self.joined, self._asked = occurrence, now
        return Plan(Action.JOIN, occurrence)

    def _while_joined(self, now: datetime, room: int | None) -> Plan:
        joined = self.joined
        assert joined is not None
        if now >= joined.end:  # over (or the clock jumped past its end)
            self._skip(joined)
            return Plan(Action.LEAVE, joined) if room == joined.meeting.room else NOTHING
        waited = abs((now - (self._asked or now)).total_seconds())
        if room is None and waited >= RETRY_S:
            return self._join(joined, now)  # the join failed: ask again
        return NOTHING

    def _skip(self, occurrence: Occurrence) -> None:
        self.skipped.add(occurrence.key)
        self.joined, self._asked = None, None

    def cancel(self, occurrence: Occurrence) -> None:
        """The panel's cancel: this occurrence is not joined (nor left: it never began)."""
        self.skipped.add(occurrence.key)
        if self.joined == occurrence:
            self.joined, self._asked = None, None

    def left_by_hand(self) -> None:
        """The room left its scheduled meeting: it is not joined again."""
        if self.joined is not None:
            self._skip(self.joined)

    def recent_skips(self, now: datetime) -> tuple[str, ...]:
        """The skipped keys still worth saving (occurrences around ``now``)."""
        near = {o.key for o in occurrences(self.meetings, now)}
        return tuple(sorted(self.skipped & near))

"""Scheduled meetings, stepped with an injected wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from kiosk.checkplan import CheckPlanner, ScheduledCheck, meeting_near
from kiosk.config import dump_config, parse_config
from kiosk.schedule import RETRY_S, Action, Planner, ScheduledMeeting, clock_time, occurrences

MONDAY = datetime(2025, 3, 3)  # a Monday
BRIEFING = ScheduledMeeting("Giao ban", 1234, "08:00", "10:00", ("mon", "wed"))
NIGHT = ScheduledMeeting("Trực lũ", 99, "23:30", "01:00", ("mon",))


def at(hh: int, mm: int, ss: int = 0, day: datetime = MONDAY) -> datetime:
    return day.replace(hour=hh, minute=mm, second=ss)


def test_countdown_then_join_then_leave_at_the_end() -> None:
    planner = Planner([BRIEFING], countdown_s=120)
    assert planner.step(at(7, 57), None).action is Action.NONE
    plan = planner.step(at(7, 58, 30), None)
    assert plan.action is Action.COUNTDOWN and plan.seconds_left == 90
    plan = planner.step(at(8, 0), None)
    assert plan.action is Action.JOIN and plan.occurrence is not None
    assert plan.occurrence.meeting.room == 1234
    assert planner.step(at(8, 0, 1), 1234).action is Action.NONE
    assert planner.step(at(9, 59, 59), 1234).action is Action.NONE
    assert planner.step(at(10, 0), 1234).action is Action.LEAVE
    assert planner.step(at(10, 0, 1), None).action is Action.NONE


def test_only_on_its_days() -> None:
    planner = Planner([BRIEFING])
    tuesday = MONDAY + timedelta(days=1)
    assert planner.step(at(8, 30, day=tuesday), None).action is Action.NONE
    assert planner.step(at(8, 30, day=tuesday + timedelta(days=1)), None).action is Action.JOIN


def test_cancel_in_the_countdown_skips_that_day_only() -> None:
    planner = Planner([BRIEFING])
    plan = planner.step(at(7, 59), None)
    assert plan.occurrence is not None
    planner.cancel(plan.occurrence)
    assert planner.step(at(7, 59, 30), None).action is Action.NONE
    assert planner.step(at(8, 0), None).action is Action.NONE
    assert planner.step(at(9, 0), None).action is Action.NONE
    wednesday = MONDAY + timedelta(days=2)
    assert planner.step(at(8, 0, day=wednesday), None).action is Action.JOIN


def test_a_meeting_over_midnight() -> None:
    planner = Planner([NIGHT], countdown_s=60)
    assert planner.step(at(23, 29, 30), None).action is Action.COUNTDOWN
    assert planner.step(at(23, 30), None).action is Action.JOIN
    tuesday = MONDAY + timedelta(days=1)
    assert planner.step(at(0, 59, day=tuesday), 99).action is Action.NONE
    assert planner.step(at(1, 0, day=tuesday), 99).action is Action.LEAVE
    # Started after midnight (the kiosk was switched on late): still Monday's meeting.
    late = Planner([NIGHT])
    plan = late.step(at(0, 30, day=tuesday), None)
    assert plan.action is Action.JOIN and plan.occurrence is not None
    assert plan.occurrence.start == at(23, 30)


def test_clock_jumps() -> None:
    planner = Planner([BRIEFING])
    assert planner.step(at(8, 5), None).action is Action.JOIN  # jumped into the meeting: late join
    assert planner.step(at(7, 0), 1234).action is Action.NONE  # jumped back: stays
    assert planner.step(at(12, 0), 1234).action is Action.LEAVE  # jumped past the end
    assert planner.step(at(8, 30), None).action is Action.NONE  # back again: not rejoined
    skipper = Planner([BRIEFING])
    assert skipper.step(at(7, 0), None).action is Action.NONE
    assert skipper.step(at(11, 0), None).action is Action.NONE  # jumped over it: missed


def test_left_by_hand_is_not_rejoined_and_a_failed_join_is_retried() -> None:
    planner = Planner([BRIEFING])
    assert planner.step(at(8, 0), None).action is Action.JOIN
    assert planner.step(at(8, 0, 10), None).action is Action.NONE  # joining failed
    assert planner.step(at(8, 0, int(RETRY_S)), None).action is Action.JOIN
    planner.left_by_hand()
    assert planner.step(at(8, 10), None).action is Action.NONE
    assert planner.step(at(10, 0), None).action is Action.NONE


def test_a_meeting_on_in_the_same_room_is_taken_over_and_another_is_not_interrupted() -> None:
    planner = Planner([BRIEFING])
    assert planner.step(at(8, 0), 1234).action is Action.NONE  # rejoined after a restart
    assert planner.step(at(10, 0), 1234).action is Action.LEAVE
    busy = Planner([BRIEFING])
    assert busy.step(at(7, 59), 77).action is Action.NONE  # no countdown over a meeting
    assert busy.step(at(8, 0), 77).action is Action.NONE
    assert busy.step(at(10, 0), 77).action is Action.NONE


def test_skips_survive_a_restart() -> None:
    planner = Planner([BRIEFING])
    planner.step(at(8, 0), None)
    planner.left_by_hand()
    saved = planner.recent_skips(at(8, 1))
    assert saved == ("0@2025-03-03T08:00",)
    assert Planner([BRIEFING], skipped=saved).step(at(8, 2), None).action is Action.NONE


def test_occurrences_and_times() -> None:
    found = occurrences([BRIEFING, NIGHT], at(12, 0))
    assert [(o.index, o.start.day) for o in found] == [(0, 3), (1, 3)]
    assert clock_time("08:30").minute == 30
    for bad in ("8:30", "24:00", "08:60", "0830", "ab:cd"):
        try:
            clock_time(bad)
        except ValueError:
            continue
        raise AssertionError(bad)


# --- [schedule] in the configuration ----------------------------------------------------------

BASE = '[site]\nname = "A"\n[hub]\nurl = "wss://h/j"\nroom = 1\n[schedule]\n'


def test_schedule_config_keeps_good_entries_and_reports_bad_ones() -> None:
    text = BASE + (
        "countdown_s = -5\n"
        '[[schedule.meetings]]\ntitle = "Giao ban"\nroom = 7\nstart = "07:30"\nend = "09:00"\n'
        'days = ["fri", "mon"]\n'
        '[[schedule.meetings]]\ntitle = "Sai"\nroom = 7\nstart = "07:30"\nend = "07:30"\n'
        '[[schedule.meetings]]\ntitle = "Thừa"\nroom = 7\nstart = "07:30"\nend = "08:00"\n'
        "location = 1\n"
    )
    config = parse_config(text)
    assert config.schedule.meetings == (
        ScheduledMeeting("Giao ban", 7, "07:30", "09:00", ("mon", "fri")),
    )
    assert config.schedule.countdown_s == 120.0  # the bad value is left out: the default
    keys = [issue.key for issue in config.schedule_issues]
    assert keys == ["schedule.countdown_s", "schedule.meetings[1]", "schedule.meetings[2]"]
    assert "did you mean" not in str(config.schedule_issues[2]) and "location" in str(
        config.schedule_issues[2]
    )
    assert parse_config(dump_config(config)).schedule == config.schedule


def test_a_good_schedule_has_no_issues() -> None:
    config = parse_config(BASE + "meetings = []\n")
    assert config.schedule_issues == () and config.schedule.meetings == ()


# --- scheduled equipment checks ---------------------------------------------------------------

MORNING = ScheduledCheck("07:30", ("mon", "tue"))


def test_a_check_is_due_once_at_its_time() -> None:
    planner = CheckPlanner([MORNING])
    assert planner.due(at(7, 29, 59)) is None
    assert planner.due(at(7, 30)) == at(7, 30)
    assert planner.due(at(7, 30, 1)) is None  # done: not twice
    assert planner.due(at(7, 29)) is None and planner.due(at(7, 30)) is None  # clock jumped back
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    assert planner.due(at(7, 30, day=tuesday)) == at(7, 30, day=tuesday)
    assert planner.due(at(7, 30, day=wednesday)) is None  # not one of its days


def test_a_late_start_runs_within_the_hour_and_a_restart_does_not_run_it_again() -> None:
    planner = CheckPlanner([MORNING, ScheduledCheck("08:00", ("mon",))])
    assert planner.due(at(8, 10)) == at(8, 0)  # both due: once, for the latest
    assert planner.due(at(8, 11)) is None
    saved = planner.recent_done(at(8, 11))
    assert saved == ("check@2025-03-03T07:30", "check@2025-03-03T08:00")
    assert CheckPlanner([MORNING], saved).due(at(8, 20)) is None  # restarted after it ran
    assert CheckPlanner([MORNING]).due(at(8, 30)) is None  # an hour late: missed
    assert CheckPlanner([MORNING]).due(at(8, 29, 59)) == at(7, 30)


def test_a_meeting_near_a_check() -> None:
    assert meeting_near([BRIEFING], at(7, 59, 40), 30.0) is not None  # starts in 20 s
    assert meeting_near([BRIEFING], at(7, 59), 30.0) is None
    assert meeting_near([BRIEFING], at(9, 0), 30.0) is not None  # on
    assert meeting_near([BRIEFING], at(10, 0), 30.0) is None  # over


def test_checks_in_the_config_report_each_broken_key_in_its_place() -> None:
    text = BASE + (
        '[[schedule.checks]]\nstart = "07:30"\ndays = ["tue", "mon"]\n'
        '[[schedule.checks]]\nstart = "7:30"\n'
        '[[schedule.checks]]\nstat = "06:00"\ndays = []\n'
        '[[schedule.checks]]\nstart = "12:00"\n'
    )
    config = parse_config(text)
    assert config.schedule.checks == (
        ScheduledCheck("07:30", ("mon", "tue")),
        ScheduledCheck("12:00"),
    )
    issues = {issue.key: str(issue) for issue in config.schedule_issues}
    assert list(issues) == [
        "schedule.checks[1].start",
        "schedule.checks[2].stat",
        "schedule.checks[2].start",
        "schedule.checks[2].days",
    ]
    assert "'7:30'" in issues["schedule.checks[1].start"]
    assert "did you mean 'start'?" in issues["schedule.checks[2].stat"]
    assert parse_config(dump_config(config)).schedule == config.schedule

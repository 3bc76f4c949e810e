"""Scheduled equipment checks on the running kiosk (real PyQt6 offscreen, injected wall clock):
the self-test runs at its time, once, in the background; never during a meeting; its result
is one line on the Join screen and its report the last one; a crash is a failed verdict; a
broken entry is reported and left out."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from devices import Verdict, check_title
from endpoint import CallState
from kiosk.app import KioskApp
from kiosk.autocheck import RECORD, SETTLE_S, AutoCheck, CheckLine
from kiosk.config import load_config
from kiosk.report import LAST_HTML, LAST_JSON
from kiosk.selftest import Kit, demo_kit
from tests._util import wait_until
from tests.kiosk import restart_lab as lab
from ui import texts

MONDAY = datetime(2025, 3, 3)
PIN = "731902"
CHECK = '[[schedule.checks]]\nstart = "07:30"\ndays = ["mon", "tue"]\n'


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY.replace(hour=7)

    def set(self, hh: int, mm: int, ss: int = 0, day: datetime = MONDAY) -> None:
        self.now = day.replace(hour=hh, minute=mm, second=ss)

    def __call__(self) -> datetime:
        return self.now


class Kits:
    """Makes the synthetic kit (no hub: the network part fails at once) and counts runs."""

    def __init__(self, workdir: Path, broken: bool = False) -> None:
        self.workdir, self.broken, self.made = workdir, broken, 0

    def __call__(self) -> Kit:
        self.made += 1
        if self.broken:
            raise RuntimeError("Traceback (most recent call last): boom")
        kit = demo_kit("ws://127.0.0.1:9/", self.workdir)
        kit.hub = None
        return kit


def write_config(folder: Path, schedule: str, hub_url: str = "ws://127.0.0.1:9/") -> Path:
    pin = folder / "room.pin"
    pin.touch(mode=0o600)
    pin.write_text(PIN + "\n")
    path = folder / "diemcau.toml"
    path.write_text(
        f'[site]\nname = "Xã Thử"\n[hub]\nurl = "{hub_url}"\nroom = 1\npin_file = "{pin}"\n'
        f'[camera]\nwidth = 320\nheight = 180\n[state]\ndir = "{folder / "state"}"\n'
        f"[schedule]\n{schedule}"
    )
    return path


def checking_kiosk(
    path: Path, qtbot: Any, clock: Clock, kits: Kits, **options: Any
) -> tuple[AutoCheck, KioskApp]:
    kiosk = KioskApp(load_config(path))
    qtbot.addWidget(kiosk.window)
    kiosk.start()
    auto = AutoCheck(kiosk, clock, kit=kits, **{"settle_s": 0.0, **options})
    auto.start()
    return auto, kiosk


async def close(auto: AutoCheck, kiosk: KioskApp) -> None:
    await auto.stop()
    await kiosk.stop()


async def finished(auto: AutoCheck) -> None:
    await wait_until(lambda: not auto.running, timeout=60)


async def test_runs_at_its_time_once_and_shows_the_result(tmp_path: Path, qtbot: Any) -> None:
    broken = '[[schedule.checks]]\nstart = "7:45"\n'  # checks[1]: reported and left out
    path = write_config(tmp_path, CHECK + broken)
    clock, kits = Clock(), Kits(tmp_path)
    clock.set(7, 29, 59)
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    window = kiosk.window
    assert [i.key for i in kiosk.config.schedule_issues] == ["schedule.checks[1].start"]
    assert texts.SCHEDULE_CONFIG_BAD in window.notice.text()
    assert kits.made == 0 and window.check_note.isHidden()
    clock.set(7, 30)
    auto.tick()
    assert auto.running and window.check_note.text() == texts.check_running("07:30")
    await finished(auto)
    report = auto.reports[-1]
    fails = sum(r.verdict is Verdict.FAIL for r in report.results)
    warns = sum(r.verdict is Verdict.WARN for r in report.results)
    assert fails >= 5  # the five network steps: no hub in this kit
    assert window.check_note.isVisible()
    assert window.check_note.text() == texts.check_line("07:30", fails, warns)
    assert "gọi kỹ thuật viên" in window.check_note.text()
    kept = tmp_path / "state"
    for name in (LAST_JSON, LAST_HTML):
        assert (kept / name).stat().st_mode & 0o777 == 0o600
        assert PIN not in (kept / name).read_text()
    assert json.loads((kept / LAST_JSON).read_text())["started"] == report.started
    for hh, mm in ((7, 31), (8, 29), (7, 30)):  # later, and the clock jumping back
        clock.set(hh, mm)
        auto.tick()
    assert kits.made == 1 and not auto.running
    await close(auto, kiosk)
    # A restart after the time: not run again, the line still shown.
    clock.set(7, 40)
    again, kiosk = checking_kiosk(path, qtbot, clock, kits)
    assert kits.made == 1 and not again.running
    assert kiosk.window.check_note.text() == texts.check_line("07:30", fails, warns)
    again.dismiss()  # a technician opened the area
    assert kiosk.window.check_note.isHidden()
    await close(again, kiosk)
    # The next day's check runs again; the dismissed line stays gone after a restart.
    clock.set(7, 30, 5, day=MONDAY.replace(day=4))
    third, kiosk = checking_kiosk(path, qtbot, clock, kits)
    assert third.running
    await finished(third)
    assert kits.made == 2
    assert kiosk.window.check_note.text().startswith("Kiểm tra thiết bị 07:30:")
    await close(third, kiosk)


async def test_a_kiosk_switched_on_late_checks_within_the_hour_not_after(
    tmp_path: Path, qtbot: Any
) -> None:
    path = write_config(tmp_path, CHECK)
    clock, kits = Clock(), Kits(tmp_path)
    clock.set(8, 31)  # past the grace hour: missed
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    assert kits.made == 0 and not auto.running
    await close(auto, kiosk)
    clock.set(8, 15)  # switched on late, within the hour: runs
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    assert auto.running
    await finished(auto)
    assert kits.made == 1
    await close(auto, kiosk)


async def test_skipped_before_a_scheduled_meeting(
    tmp_path: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    meeting = 'meetings = [{ title = "Giao ban", room = 5, start = "07:30", end = "09:00" }]\n'
    path = write_config(tmp_path, meeting + CHECK)
    clock, kits = Clock(), Kits(tmp_path)
    clock.set(7, 29, 50)  # the meeting starts in 10 s: no time for a self-test
    caplog.set_level(logging.INFO, logger="kiosk.autocheck")
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    clock.set(7, 30)
    auto.tick()
    assert kits.made == 0 and not auto.running
    assert "scheduled self-test of 07:30 skipped: scheduled meeting 'Giao ban' at 07:30" in (
        caplog.text
    )
    clock.set(7, 31)
    auto.tick()  # skipped is done: not run later on either
    assert kits.made == 0 and kiosk.window.check_note.isHidden()
    await close(auto, kiosk)


async def test_a_kiosk_just_switched_on_lets_its_devices_settle_first(
    tmp_path: Path, qtbot: Any
) -> None:
    """Switched on at 07:35 (inside the 07:30 check's hour): the check waits until the
    kiosk has run SETTLE_S, then runs, once; it is not lost meanwhile."""
    path = write_config(tmp_path, CHECK)
    clock, kits, uptime = Clock(), Kits(tmp_path), [1000.0]
    clock.set(7, 35)
    auto, kiosk = checking_kiosk(
        path, qtbot, clock, kits, settle_s=SETTLE_S, monotonic=lambda: uptime[0]
    )
    uptime[0] += SETTLE_S - 1
    auto.tick()
    assert kits.made == 0 and not auto.running  # not yet, and not marked done
    uptime[0] += 2
    clock.set(7, 36, 30)
    auto.tick()
    await finished(auto)
    assert kits.made == 1
    auto.tick()
    assert kits.made == 1
    await close(auto, kiosk)


async def test_a_skipped_check_clears_the_last_result(tmp_path: Path, qtbot: Any) -> None:
    """Monday's result must not read as Tuesday's when Tuesday's check is skipped."""
    meeting = 'meetings = [{ title = "Giao ban", room = 5, start = "07:31", end = "09:00" }]\n'
    path = write_config(tmp_path, meeting + CHECK)
    clock, kits = Clock(), Kits(tmp_path)
    clock.set(6, 0)  # Monday, nothing due
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    auto.line = CheckLine("07:30", 0, 0)  # Monday's result, as a restart loads it
    auto.start()
    assert kiosk.window.check_note.text() == texts.check_line("07:30", 0, 0)
    clock.set(7, 30, 30, day=MONDAY.replace(day=4))  # Tuesday, the meeting 30 s away
    auto.tick()
    assert kits.made == 0 and auto.line is None
    assert kiosk.window.check_note.text() == ""
    await close(auto, kiosk)


async def test_skipped_while_the_room_is_in_a_meeting(
    hub: Any, tmp_path: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = lab.write_config(tmp_path, hub)
    path.write_text(path.read_text() + "[schedule]\n" + CHECK)
    clock, kits = Clock(), Kits(tmp_path)
    caplog.set_level(logging.INFO, logger="kiosk.autocheck")
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    kiosk.model.join()
    await wait_until(lambda: kiosk.call.state is CallState.IN_MEETING, timeout=30)
    clock.set(7, 30)
    auto.tick()
    assert kits.made == 0 and not auto.running
    assert "skipped: the room is in a meeting (in-meeting)" in caplog.text
    await close(auto, kiosk)


async def test_a_selftest_that_crashes_is_a_failed_verdict(
    tmp_path: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, CHECK)
    clock, kits = Clock(), Kits(tmp_path, broken=True)
    clock.set(7, 30)
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    await finished(auto)
    assert kits.made == 1
    assert kiosk.window.check_note.text() == texts.check_line("07:30", 1, 0)
    assert "Traceback" not in kiosk.window.check_note.text()
    assert "the scheduled self-test crashed" in caplog.text
    kept = json.loads((tmp_path / "state" / LAST_JSON).read_text())
    assert kept["verdict"] == "fail" and kept["checks"][0]["key"] == "selftest"
    assert check_title("selftest") == "Tự kiểm tra"  # what the technician's list shows
    assert kiosk.window.isVisible()  # the kiosk goes on
    await close(auto, kiosk)


async def test_a_damaged_record_is_ignored(
    tmp_path: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, CHECK)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / RECORD).write_text('{"version": 1, "done": "oops"')
    clock, kits = Clock(), Kits(tmp_path)
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    assert "damaged and ignored" in caplog.text and kiosk.window.check_note.isHidden()
    await close(auto, kiosk)


async def test_a_meeting_that_begins_stops_a_running_check(
    tmp_path: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, CHECK)
    clock, kits = Clock(), Kits(tmp_path)
    clock.set(7, 30)
    caplog.set_level(logging.INFO, logger="kiosk.autocheck")
    auto, kiosk = checking_kiosk(path, qtbot, clock, kits)
    assert auto.running
    kiosk.model.join()  # a tap on «Tham gia họp» (this hub is unreachable: it fails later)
    await wait_until(lambda: not auto.running, timeout=10)
    assert "scheduled self-test stopped: the room joins a meeting" in caplog.text
    assert not (tmp_path / "state" / LAST_JSON).exists() and not auto.reports
    assert kiosk.window.check_note.isHidden()
    await close(auto, kiosk)

"""Scheduled equipment checks on the running kiosk: the :class:`checkplan.CheckPlanner` stepped
once a second with the wall clock; a due check runs the technician area's self-test in the
background, never while a meeting is on or about to start, keeps its report as the last one
(JSON and HTML in the state folder) and shows one line on the Join screen until the next
check or until a technician opens the area.

What has run (or was skipped) and the line on screen are saved (``checks.json``), so a
restart neither runs a check twice nor loses its result.  A self-test that crashes is a
failed verdict and a log line, never a crash of the kiosk.

A kiosk switched on inside a check's hour waits ``SETTLE_S`` before it checks: a USB camera
still opening and a network still coming up would otherwise be reported as faults. A check
that is skipped or stopped clears the line, so yesterday's result never reads as today's.
A technician's own self-test and a scheduled one never run at once (the technician's lock).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from PyQt6.QtCore import QTimer

from devices import Verdict
from endpoint import CallEvent, CallState, StateChanged, Tasks
from kiosk import state
from kiosk.app import KioskApp
from kiosk.checkplan import CheckPlanner, meeting_near
from kiosk.report import save_last
from kiosk.selftest import MAX_SECONDS, Kit, Report, config_kit, failed_report, run_selftest
from ui import texts

log = logging.getLogger(__name__)

TICK_MS = 1000
RECORD = "checks.json"
FREE = (CallState.IDLE, CallState.FAILED)
MARGIN_S = 10.0  # a meeting starting this soon after the longest run still counts as near
SETTLE_S = 90.0  # s after the kiosk starts before a due check runs (devices, network)


@dataclass(frozen=True)
class CheckLine:
    """What the Join screen says about the last scheduled check."""

    at: str  # "07:30"
    fails: int
    warns: int

    def text(self) -> str:
        return texts.check_line(self.at, self.fails, self.warns)


@dataclass(frozen=True)
class Saved:
    done: tuple[str, ...] = ()
    line: CheckLine | None = None


def _saved_from(data: dict[str, Any]) -> Saved:
    done, line = data.get("done", []), data.get("line")
    if not isinstance(done, list) or not all(isinstance(key, str) for key in done):
        raise ValueError("done must be a list of strings")
    if line is None:
        return Saved(tuple(done))
    if not isinstance(line, dict) or set(line) != {"at", "fails", "warns"}:
        raise ValueError("line must hold at, fails and warns")
    if not isinstance(line["at"], str) or not all(
        type(line[k]) is int and line[k] >= 0 for k in ("fails", "warns")
    ):
        raise ValueError("line has the wrong types")
    return Saved(tuple(done), CheckLine(**line))


def line_of(report: Report, at: str) -> CheckLine:
    verdicts = [result.verdict for result in report.results]
    return CheckLine(at, verdicts.count(Verdict.FAIL), verdicts.count(Verdict.WARN))


class AutoCheck:
    """Runs [schedule] checks on ``kiosk``; ``clock`` is the local wall clock (injected),
    ``kit`` makes the kit to test (default: the one the configuration describes),
    ``technician`` (a :class:`kiosk.technician.KioskTechnician`) hears of each report."""

    def __init__(
        self,
        kiosk: KioskApp,
        clock: Callable[[], datetime] = datetime.now,
        kit: Callable[[], Kit] | None = None,
        technician: Any = None,
        *,
        settle_s: float = SETTLE_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.kiosk, self.clock, self.technician = kiosk, clock, technician
        self._monotonic, self._settle_s = monotonic, settle_s
        self._ready_at = monotonic() + settle_s
        running = (kiosk.config.camera.device, kiosk.devices.camera)  # checked, not reopened
        self._kit = kit or (lambda: config_kit(kiosk.config, running))
        self.state_dir = kiosk.config.state.dir
        saved = state.load_record(self.state_dir, RECORD, _saved_from, Saved())
        self.planner = CheckPlanner(kiosk.config.schedule.checks, saved.done)
        self.line = saved.line
        self.reports: deque[Report] = deque(maxlen=3)  # the latest scheduled ones, newest last
        self._tasks = Tasks("autocheck")
        self._unlisten = kiosk.call.listen(self._on_call)
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.tick)

    @property
    def running(self) -> bool:
        return self._tasks.running("selftest")

    def start(self) -> None:
        self._ready_at = self._monotonic() + self._settle_s
        self._show()
        if self.planner.checks:
            self._timer.start()
            self.tick()

    def tick(self) -> None:
        if self._monotonic() < self._ready_at:
            return  # just started: a due check waits (still within its hour)
        now = self.clock()
        start = self.planner.due(now)
        if start is None:
            return
        at = f"{start:%H:%M}"
        why = self._busy(now)
        if why:
            log.info("scheduled self-test of %s skipped: %s", at, why)
            self.line = None  # an older result must not pass for this one
            self._show()
        else:
            log.info("scheduled self-test of %s: running", at)
            self.kiosk.window.show_check(texts.check_running(at))
            self._tasks.spawn("selftest", self._run(at))
        self._save(now)

    def _busy(self, now: datetime) -> str:
        """Why a check cannot run now ("" when it can)."""
        call = self.kiosk.call
        lock = getattr(self.technician, "lock", None)
        if self.running or (lock is not None and lock.locked()):
            return "a self-test is already running"
        if call.state not in FREE:
            return f"the room is in a meeting ({call.state.value})"
        near = meeting_near(self.kiosk.config.schedule.meetings, now, MAX_SECONDS + MARGIN_S)
        if near is not None:
            return f"scheduled meeting {near.meeting.title!r} at {near.start:%H:%M}"
        return ""

    async def _run(self, at: str) -> None:
        lock = getattr(self.technician, "lock", None)
        async with lock if lock is not None else contextlib.nullcontext():
            report = await self._selftest()
        save_last(report, self.state_dir, self.kiosk.config.hub.url)
        if self.technician is not None:
            self.technician.keep(report)
        self.reports.append(report)
        self.line = line_of(report, at)
        log.info("scheduled self-test of %s: %s", at, report.verdict.value)
        self._show()
        self._save(self.clock())

    async def _selftest(self) -> Report:
        try:
            return await run_selftest(self._kit())
        except Exception as err:  # a broken self-test is a failed verdict, never a crash
            log.error("the scheduled self-test crashed: %s", err, exc_info=True)
            return failed_report(self.kiosk.config.site.name, err)

    def _on_call(self, event: CallEvent) -> None:
        """A meeting that begins (a tap, a schedule) stops a check that is running."""
        if isinstance(event, StateChanged) and event.state not in FREE and self.running:
            log.info("scheduled self-test stopped: the room joins a meeting")
            self._tasks.cancel("selftest")
            self.line = None
            self._show()
            self._save(self.clock())

    def dismiss(self) -> None:
        """A technician opened the area: the line has been seen."""
        if self.line is not None:
            self.line = None
            if not self.running:  # «Đang kiểm tra…» stays until the result
                self._show()
            self._save(self.clock())

    def _show(self) -> None:
        self.kiosk.window.show_check(self.line.text() if self.line else "")

    def _save(self, now: datetime) -> None:
        line = asdict(self.line) if self.line else None
        data = {"done": list(self.planner.recent_done(now)), "line": line}
        state.save_record(self.state_dir, RECORD, data)

    async def stop(self) -> None:
        self._timer.stop()
        self._unlisten()
        await self._tasks.close()

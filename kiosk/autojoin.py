"""Scheduled meetings on the running kiosk: the :class:`schedule.Planner` stepped once a
second with the wall clock, its countdown on the panel, its joins and leaves on the call."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from PyQt6.QtCore import QTimer

from endpoint import CallEvent, CallState, StateChanged
from kiosk.schedule import NOTHING, Action, Plan, Planner
from kiosk.service import Service

log = logging.getLogger(__name__)

TICK_MS = 1000
BUSY = (CallState.CONNECTING, CallState.IN_MEETING, CallState.RECONNECTING)


class AutoJoin:
    """Drives the kiosk from [schedule]; ``clock`` is the local wall clock (injected)."""

    def __init__(self, service: Service, clock: Callable[[], datetime] = datetime.now) -> None:
        self.service, self.clock = service, clock
        kiosk = service.kiosk
        schedule = kiosk.config.schedule
        self.planner = Planner(schedule.meetings, schedule.countdown_s, service.memory.skipped)
        self.plan = NOTHING
        self._leaving = False  # the schedule asked for this leave (not a tap)
        self._unlisten = kiosk.call.listen(self._on_call)
        self.banner = kiosk.window.countdown
        self.banner.cancelled.connect(self.cancel)
        self._timer = QTimer()
        self._timer.setInterval(TICK_MS)
        self._timer.timeout.connect(self.tick)

    def start(self) -> None:
        if self.planner.meetings and self.service.kiosk.join_allowed:
            self._timer.start()
            self.tick()

    def _room(self) -> int | None:
        call = self.service.kiosk.call
        return call.settings.room if call.state in BUSY else None

    def tick(self) -> None:
        now = self.clock()
        self.plan = plan = self.planner.step(now, self._room())
        if plan.action is Action.COUNTDOWN and plan.occurrence is not None:
            self.banner.show_countdown(plan.occurrence.meeting.title, plan.seconds_left)
        else:
            self.banner.clear()
        if plan.action is Action.JOIN:
            self._join(plan)
        elif plan.action is Action.LEAVE:
            log.info("scheduled meeting over: leaving")
            self._leaving = True
            self.service.kiosk.model.leave()
        self._save(now)

    def _join(self, plan: Plan) -> None:
        assert plan.occurrence is not None
        meeting = plan.occurrence.meeting
        log.info("scheduled meeting %r (room %d): joining", meeting.title, meeting.room)
        self.service.use_room(meeting.room)
        self.service.kiosk.model.join()

    def cancel(self) -> None:
        """The panel's «Không vào họp lần này» during the countdown."""
        if self.plan.action is Action.COUNTDOWN and self.plan.occurrence is not None:
            log.info("scheduled meeting %r cancelled on the panel", self.plan.occurrence.key)
            self.planner.cancel(self.plan.occurrence)
            self.plan = NOTHING
            self.banner.clear()
            self._save(self.clock())

    def _on_call(self, event: CallEvent) -> None:
        if not isinstance(event, StateChanged) or event.state is not CallState.LEAVING:
            return
        if not self._leaving:
            self.planner.left_by_hand()
            self._save(self.clock())
        self._leaving = False

    def _save(self, now: datetime) -> None:
        self.service.remember_skips(self.planner.recent_skips(now))

    def stop(self) -> None:
        """Before the kiosk leaves for a stop: that leave is not a tap, nothing is skipped."""
        self._timer.stop()
        self._unlisten()

"""The running kiosk follows [schedule] with an injected wall clock: a countdown on the panel,
the join at the start, the leave at the end; the panel's cancel skips the meeting, and a
broken entry is reported and left out."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt

from endpoint import CallState
from kiosk import state
from kiosk.app import KioskApp
from kiosk.autojoin import AutoJoin
from kiosk.config import load_config
from kiosk.notify import Notifier
from kiosk.service import Service
from tests._util import wait_until
from tests.kiosk import restart_lab as lab
from ui import texts

MONDAY = datetime(2025, 3, 3)


class Clock:
    def __init__(self) -> None:
        self.now = MONDAY.replace(hour=7)

    def set(self, hh: int, mm: int, ss: int = 0) -> None:
        self.now = MONDAY.replace(hour=hh, minute=mm, second=ss)

    def __call__(self) -> datetime:
        return self.now


def scheduled_kiosk(
    tmp_path: Path, hub: Any, qtbot: Any, clock: Clock, extra: str = ""
) -> tuple[AutoJoin, Service]:
    path = lab.write_config(tmp_path, hub)
    meeting = f'{{ title = "Giao ban", room = {hub.room.room}, start = "08:00", end = "10:00" }}'
    path.write_text(
        path.read_text() + f"[schedule]\ncountdown_s = 90\nmeetings = [{meeting}{extra}]\n"
    )
    kiosk = KioskApp(load_config(path))
    qtbot.addWidget(kiosk.window)
    service = Service(kiosk, Notifier({}))
    kiosk.start()
    service.started()
    auto = AutoJoin(service, clock)
    auto.start()
    return auto, service


async def close(auto: AutoJoin, service: Service) -> None:
    auto.stop()
    await service.stop()
    await service.kiosk.stop()
    await asyncio.sleep(0)


async def test_countdown_join_and_leave_at_the_end(hub: Any, tmp_path: Path, qtbot: Any) -> None:
    clock = Clock()
    clock.set(7, 58, 45)
    auto, service = scheduled_kiosk(tmp_path, hub, qtbot, clock)
    call, window = service.kiosk.call, service.kiosk.window
    assert not window.countdown.isHidden()
    assert window.countdown.label.text() == "Cuộc họp «Giao ban» sẽ tự động bắt đầu sau 1:15"
    clock.set(8, 0)
    auto.tick()
    assert window.countdown.isHidden()
    await wait_until(lambda: call.state is CallState.IN_MEETING, timeout=30)
    assert state.load_memory(tmp_path / "state").in_meeting
    clock.set(9, 0)
    auto.tick()
    assert call.state is CallState.IN_MEETING
    clock.set(10, 0)
    auto.tick()
    await wait_until(lambda: call.state is CallState.IDLE, timeout=15)
    clock.set(10, 0, 5)
    auto.tick()
    assert call.state is CallState.IDLE
    assert state.load_memory(tmp_path / "state").skipped == ("0@2025-03-03T08:00",)
    await close(auto, service)


async def test_cancel_on_the_panel_and_a_broken_entry(hub: Any, tmp_path: Path, qtbot: Any) -> None:
    clock = Clock()
    clock.set(7, 59)
    broken = ', { title = "Hỏng", room = 5, start = "8h", end = "09:00" }'
    auto, service = scheduled_kiosk(tmp_path, hub, qtbot, clock, broken)
    window = service.kiosk.window
    assert texts.SCHEDULE_CONFIG_BAD in window.notice.text()
    assert [m.title for m in service.kiosk.config.schedule.meetings] == ["Giao ban"]
    assert window.countdown.isVisible()
    qtbot.mouseClick(window.countdown.cancel_button, Qt.MouseButton.LeftButton)
    assert window.countdown.isHidden()
    clock.set(8, 0)
    auto.tick()
    await asyncio.sleep(0.2)
    assert service.kiosk.call.state is CallState.IDLE and window.countdown.isHidden()
    assert state.load_memory(tmp_path / "state").skipped == ("0@2025-03-03T08:00",)
    await close(auto, service)
    # After a restart the cancelled meeting stays cancelled.
    again, service = scheduled_kiosk(tmp_path, hub, qtbot, clock)
    await asyncio.sleep(0.2)
    assert again.plan.action.value == "none" and service.kiosk.call.state is CallState.IDLE
    await close(again, service)

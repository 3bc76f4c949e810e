"""The panel with a microphone array: auto-muted vs muted, manual shots pause auto-switching."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtCore import Qt

from endpoint import CallState
from kiosk.app import KioskApp
from kiosk.demo import DEMO_ZONE, demo_config
from tests._util import wait_until
from ui import texts


def test_mic_badge_and_camera_choice(qtbot: Any, run: Any, hub: Any, tmp_path: Path) -> None:
    async def scenario() -> None:
        kiosk = KioskApp(demo_config(hub, tmp_path, voice=True))
        qtbot.addWidget(kiosk.window)
        window, model = kiosk.window, kiosk.model
        kiosk.start()
        try:
            qtbot.mouseClick(window.join_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: kiosk.call.state is CallState.IN_MEETING)
            # Nobody speaks yet: auto-muted, shown differently from a manual mute.
            await wait_until(lambda: model.mic_state == "auto_muted", timeout=3)
            assert window.badge.text() == texts.MIC_BADGE["auto_muted"] != texts.MUTED_BADGE
            # The recorded talker in the left row speaks: open, and the picture cuts to the row.
            await wait_until(lambda: model.mic_state == "open", timeout=5)
            assert not window.badge.isVisibleTo(window)
            await wait_until(lambda: model.camera_shot == (DEMO_ZONE["name"], True), timeout=3)
            assert kiosk.devices.camera.selected[1] is not None
            assert window.camera_note.text().endswith(texts.AUTO_CAMERA_ON)
            # Manual mute wins over the open gate.
            qtbot.mouseClick(window.mute_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: model.mic_state == "muted", timeout=2)
            assert window.badge.text() == texts.MUTED_BADGE
            await asyncio.sleep(0.3)  # what was captured before the tap has been sent by now
            assert np.abs(kiosk.devices.microphone.read(4800)).max() == 0.0
            # A manual shot: shown at once, auto-switching paused for the meeting.
            overview = next(b for b in window.shot_buttons if b.text() == texts.OVERVIEW)
            qtbot.mouseClick(overview, Qt.MouseButton.LeftButton)
            await wait_until(lambda: model.camera_shot == ("", False), timeout=2)
            await wait_until(lambda: kiosk.devices.camera.selected[1] is None, timeout=2)
            assert window.camera_note.text().endswith(texts.AUTO_CAMERA_PAUSED)
            # Leaving ends the meeting's manual choices.
            qtbot.mouseClick(window.leave_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: kiosk.call.state is CallState.IDLE)
            assert not kiosk.call.muted
            await wait_until(lambda: model.camera_shot[1], timeout=2)
        finally:
            await kiosk.stop()

    run(scenario())


def test_panel_fits_a_1280_wide_tv(qtbot: Any, tmp_path: Path) -> None:
    class NoHub:
        url = "ws://127.0.0.1:9/"

        class room:  # noqa: N801 - mirrors LocalHub.room
            room, pin = 1234, "2468"

    kiosk = KioskApp(demo_config(NoHub, tmp_path, voice=True))  # type: ignore[arg-type]
    qtbot.addWidget(kiosk.window)
    window = kiosk.window
    window._on_mic_state("open_warning")  # the longest texts the bar can show
    window._on_camera("Dãy trái", False)
    window.pages.setCurrentIndex(1)
    assert window.minimumSizeHint().width() <= 1280

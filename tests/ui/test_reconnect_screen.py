"""The TV while the hub is gone: «Đang kết nối lại…» with the time, tiles marked, then back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt

from endpoint import CallState
from kiosk.app import KioskApp
from kiosk.demo import demo_config, far_end
from kiosk.hub import LocalHub
from tests._util import wait_until
from ui import texts


def test_hub_restart_shows_reconnecting_then_the_meeting(
    qtbot: Any, run: Any, hub: Any, tmp_path: Path
) -> None:
    own = LocalHub().start()

    async def scenario() -> None:
        remote, camera = far_end(own)
        camera.start()
        await remote.join()
        kiosk = KioskApp(demo_config(own, tmp_path))
        qtbot.addWidget(kiosk.window)
        kiosk.start()
        window = kiosk.window
        try:
            qtbot.mouseClick(window.join_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: any(t.shown_seq > 3 for t in window.meeting.tiles.values()))
            qtbot.mouseClick(window.mute_button, Qt.MouseButton.LeftButton)
            own.kill()
            await wait_until(lambda: kiosk.call.state is CallState.RECONNECTING, timeout=5)
            assert window.pages.currentIndex() == 1, "the meeting stays on screen"
            assert window.leave_button.isVisibleTo(window)
            first = window.status.text()
            assert first.startswith(texts.STATE[CallState.RECONNECTING]), first
            await wait_until(lambda: window.status.text() != first, timeout=5)  # counting
            assert not window.retry_button.isVisibleTo(window), "no red failure while trying"
            tile = next(iter(window.meeting.tiles.values()))
            assert texts.STALE_TILE in tile.caption.text()
            own.start()
            await wait_until(lambda: kiosk.call.state is CallState.IN_MEETING, timeout=20)
            await wait_until(
                lambda: (
                    any(not t.property("stale") for t in window.meeting.tiles.values())
                    and any(t.shown_seq > 3 for t in window.meeting.tiles.values())
                ),
                timeout=15,
            )
            assert window.status.text() == texts.STATE[CallState.IN_MEETING]
            assert kiosk.call.muted and window.mute_button.text() == texts.UNMUTE, "mute kept"
        finally:
            await kiosk.stop()
            await remote.leave()
            camera.stop()

    try:
        run(scenario())
    finally:
        own.stop()

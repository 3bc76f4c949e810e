"""The real kiosk window (PyQt6 offscreen) on a qasync loop against a real hub."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage

from endpoint import CallState, FailReason
from kiosk.app import KioskApp
from kiosk.config import Config
from kiosk.demo import demo_config, far_end
from tests._util import wait_until
from ui import texts

SCREENSHOTS = Path(__file__).resolve().parents[2] / "out"


def pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = np.frombuffer(image.constBits().asarray(image.sizeInBytes()), np.uint8)
    return data.reshape(image.height(), image.bytesPerLine())[:, : image.width() * 3]


def with_hub(config: Config, **hub: Any) -> Config:
    raw = {
        "site": {"name": config.site.name},
        "hub": {"url": config.hub.url, "room": config.hub.room, **hub},
    }
    if config.hub.pin_file and "pin_file" not in hub:
        raw["hub"]["pin_file"] = str(config.hub.pin_file)
    return Config.from_dict(raw, source="<test>")


def test_tap_join_shows_the_other_room(qtbot: Any, run: Any, hub: Any, tmp_path: Path) -> None:
    async def scenario() -> None:
        remote, camera = far_end(hub)
        camera.start()
        await remote.join()
        kiosk = KioskApp(demo_config(hub, tmp_path))
        qtbot.addWidget(kiosk.window)
        kiosk.start()
        try:
            qtbot.mouseClick(kiosk.window.join_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: kiosk.call.state is CallState.IN_MEETING)
            window = kiosk.window
            assert window.status.text() == texts.STATE[CallState.IN_MEETING]
            await wait_until(lambda: any(t.shown_seq > 3 for t in window.meeting.tiles.values()))
            tile = next(iter(window.meeting.tiles.values()))
            assert tile.caption.text() == "Xã Nà Hỳ"
            shown = pixels(tile.picture.pixmap().toImage())
            assert shown.std() > 30, "the remote tile must show a picture, not a blank"
            assert window.meeting.self_view.shown_seq > 0
            SCREENSHOTS.mkdir(exist_ok=True)
            window.grab().save(str(SCREENSHOTS / "meeting-screen.png"))
            qtbot.mouseClick(window.mute_button, Qt.MouseButton.LeftButton)
            assert kiosk.call.muted and window.badge.isVisibleTo(window)
            assert window.mute_button.text() == texts.UNMUTE
            qtbot.mouseClick(window.leave_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: kiosk.call.state is CallState.IDLE)
            assert window.pages.currentIndex() == 0 and window.join_button.isEnabled()
        finally:
            await kiosk.stop()
            await remote.leave()
            camera.stop()

    run(scenario())


@pytest.mark.parametrize(
    ("hub_overrides", "reason"),
    [
        ({"url": "ws://127.0.0.1:9/", "connect_timeout": 1.0}, FailReason.HUB_UNREACHABLE),
        ({"room": 4321}, FailReason.NO_SUCH_ROOM),
    ],
)
def test_failure_shows_plain_message_and_retry(
    qtbot: Any,
    run: Any,
    hub: Any,
    tmp_path: Path,
    hub_overrides: dict[str, Any],
    reason: FailReason,
) -> None:
    async def scenario() -> None:
        kiosk = KioskApp(with_hub(demo_config(hub, tmp_path), **hub_overrides))
        qtbot.addWidget(kiosk.window)
        kiosk.start()
        try:
            qtbot.mouseClick(kiosk.window.join_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: kiosk.call.state is CallState.FAILED)
            assert kiosk.window.status.text() == texts.FAILURE[reason]
            assert kiosk.window.retry_button.isVisibleTo(kiosk.window)
            assert "Traceback" not in kiosk.window.status.text()
        finally:
            await kiosk.stop()

    run(scenario())


def test_wrong_pin_then_retry_with_right_pin(
    qtbot: Any, run: Any, hub: Any, tmp_path: Path
) -> None:
    bad_pin = tmp_path / "bad.pin"
    bad_pin.touch(mode=0o600)
    bad_pin.write_text("0000\n")

    async def scenario() -> None:
        kiosk = KioskApp(with_hub(demo_config(hub, tmp_path), pin_file=str(bad_pin)))
        qtbot.addWidget(kiosk.window)
        kiosk.start()
        try:
            qtbot.mouseClick(kiosk.window.join_button, Qt.MouseButton.LeftButton)
            await wait_until(lambda: kiosk.call.state is CallState.FAILED)
            assert kiosk.window.status.text() == texts.FAILURE[FailReason.WRONG_PIN]
        finally:
            await kiosk.stop()

    run(scenario())


def test_talking_room_is_framed(qtbot: Any, qapp: Any) -> None:
    from devices import LatestFrame
    from endpoint import Participant
    from ui import MeetingView

    view = MeetingView(LatestFrame())
    qtbot.addWidget(view)
    speaker, quiet = Participant(1, "Xã A", talking=True), Participant(2, "Xã B")
    view.set_participants([speaker, quiet])
    assert view.tiles[1].property("talking") is True
    assert view.tiles[2].property("talking") is False
    speaker.talking = False
    view.set_participants([speaker])
    assert set(view.tiles) == {1} and view.tiles[1].property("talking") is False


def test_config_notice_is_shown_and_join_disabled(qtbot: Any) -> None:
    from kiosk.run import placeholder_config

    kiosk = KioskApp(placeholder_config(), notice=texts.CONFIG_BAD_NO_FALLBACK, join_allowed=False)
    qtbot.addWidget(kiosk.window)
    kiosk.start()
    try:
        assert kiosk.window.notice.isVisibleTo(kiosk.window)
        assert kiosk.window.notice.text() == texts.CONFIG_BAD_NO_FALLBACK
        assert not kiosk.window.join_button.isEnabled()
    finally:
        kiosk.devices.stop()

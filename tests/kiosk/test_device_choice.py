"""The technician's device choice (real PyQt6 offscreen): chosen in the area, kept in the state
folder (atomic, 0600), applied at the next start over the configuration, shown as the current
choice, undone with «back to the configuration»; a damaged record is logged and ignored."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QPushButton

from devices import OpenCVCamera, SyntheticCamera
from kiosk import technician
from kiosk.app import KioskApp
from kiosk.config import load_config
from kiosk.device_choice import RECORD
from kiosk.pin import set_pin
from ui import texts
from ui.technician import TechnicianArea

CAMERA = "/dev/video7"  # listed by the (patched) scan; never opened: the kiosk is not started


def write_config(folder: Path) -> Path:
    path = folder / "diemcau.toml"
    path.write_text(
        '[site]\nname = "Xã Thử"\n[hub]\nurl = "ws://127.0.0.1:9/"\nroom = 1\n'
        f'[speaker]\nvolume = 70\n[state]\ndir = "{folder / "state"}"\n'
    )
    set_pin(folder / "tech.pin", "2468")
    return path


def open_area(app: KioskApp, folder: Path, qtbot: Any) -> TechnicianArea:
    area = technician.attach_technician(app, folder / "tech.pin")
    qtbot.addWidget(area)
    unlock(area, qtbot)
    return area


def unlock(area: TechnicianArea, qtbot: Any) -> None:
    buttons = {b.text(): b for b in area.pin_page.findChildren(QPushButton)}
    for key in [*"2468", texts.TECH_OK]:
        qtbot.mouseClick(buttons[key], Qt.MouseButton.LeftButton)
    assert area.unlocked


async def test_a_camera_plugged_in_later_is_listed_when_the_area_opens_again(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugged = [CAMERA]
    monkeypatch.setattr(technician, "_video_devices", lambda: list(plugged))
    app = start(write_config(tmp_path), qtbot)
    area = open_area(app, tmp_path, qtbot)
    box = area.devices.boxes["camera"]
    assert [box.itemText(i) for i in range(box.count())] == ["synthetic", CAMERA]
    area.lock()
    plugged.append("/dev/video9")  # the technician plugs in a second camera, then opens again
    unlock(area, qtbot)
    assert [box.itemText(i) for i in range(box.count())] == ["synthetic", CAMERA, "/dev/video9"]
    assert box.currentText() == "synthetic"
    assert not (tmp_path / "state" / RECORD).exists()  # listing chose nothing
    await app.stop()


def start(path: Path, qtbot: Any) -> KioskApp:
    app = KioskApp(load_config(path))
    qtbot.addWidget(app.window)
    return app


async def test_a_chosen_device_is_kept_across_a_restart(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(technician, "_video_devices", lambda: [CAMERA])
    path = write_config(tmp_path)
    app = start(path, qtbot)
    page = open_area(app, tmp_path, qtbot).devices
    assert page.notes["camera"].text() == texts.tech_device_current("synthetic", False)
    page.boxes["camera"].setCurrentText(CAMERA)
    assert page.message.text() == texts.TECH_DEVICE_SAVED
    assert page.notes["camera"].text() == texts.tech_device_current(CAMERA, True)
    record = tmp_path / "state" / RECORD
    assert record.stat().st_mode & 0o777 == 0o600
    assert json.loads(record.read_text()) == {
        "version": 1, "camera": CAMERA, "over": {"camera": "synthetic"},
    }  # fmt: skip
    await app.stop()
    # Restarted: the choice is applied over the configuration, and shown as current.
    again = start(path, qtbot)
    assert again.config.camera.device == CAMERA and again.file_config.camera.device == "synthetic"
    assert isinstance(again.devices.camera, OpenCVCamera) and again.config.speaker.volume == 70
    page = open_area(again, tmp_path, qtbot).devices
    assert page.boxes["camera"].currentText() == CAMERA
    assert page.notes["camera"].text() == texts.tech_device_current(CAMERA, True)
    qtbot.mouseClick(page.reset_button, Qt.MouseButton.LeftButton)
    assert page.message.text() == texts.TECH_DEVICE_RESET
    assert page.boxes["camera"].currentText() == "synthetic"
    assert page.notes["camera"].text() == texts.tech_device_current("synthetic", False)
    await again.stop()
    third = start(path, qtbot)
    assert isinstance(third.devices.camera, SyntheticCamera)
    await third.stop()


async def test_a_later_edit_of_the_configuration_wins_over_an_older_choice(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(technician, "_video_devices", lambda: [CAMERA, "/dev/video5"])
    path = write_config(tmp_path)
    app = start(path, qtbot)
    page = open_area(app, tmp_path, qtbot).devices
    page.boxes["camera"].setCurrentText(CAMERA)
    assert page.message.text() == texts.TECH_DEVICE_SAVED
    await app.stop()
    # The installer then names another camera in the file: the newer decision is the file's.
    path.write_text(path.read_text() + '[camera]\ndevice = "/dev/video5"\n')
    with caplog.at_level(logging.WARNING, logger="kiosk.device_choice"):
        again = start(path, qtbot)
    assert again.config.camera.device == "/dev/video5"
    assert "the configuration's camera is now '/dev/video5'" in caplog.text
    page = open_area(again, tmp_path, qtbot).devices
    assert page.boxes["camera"].currentText() == "/dev/video5"
    assert page.notes["camera"].text() == texts.tech_device_current("/dev/video5", False)
    await again.stop()


async def test_a_choice_recorded_without_the_configured_device_still_stands(
    tmp_path: Path, qtbot: Any
) -> None:
    path = write_config(tmp_path)
    path.write_text(path.read_text() + '[camera]\ndevice = "/dev/video5"\n')
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / RECORD).write_text(json.dumps({"version": 1, "camera": CAMERA}))
    app = start(path, qtbot)
    assert app.config.camera.device == CAMERA and app.file_config.camera.device == "/dev/video5"
    await app.stop()


@pytest.mark.parametrize(
    "text",
    [
        '{"version": 1, "camera": "/dev/vid',  # cut short by a power cut
        '{"version": 1, "camera": "video0"}',  # not a device path
        '{"version": 1, "camera": 7}',
        '{"version": 1, "toaster": "/dev/video0"}',
        '{"version": 1, "camera": "/dev/video0", "over": "synthetic"}',
        '{"version": 9, "camera": "/dev/video0"}',
        "[]",
    ],
)
async def test_a_damaged_choice_is_reported_and_ignored(
    text: str, tmp_path: Path, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path)
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / RECORD).write_text(text)
    with caplog.at_level(logging.ERROR, logger="kiosk.state"):
        app = start(path, qtbot)
    assert app.config == app.file_config
    assert isinstance(app.devices.camera, SyntheticCamera)
    assert f"{RECORD} is damaged and ignored" in caplog.text
    await app.stop()

"""The technician area (real PyQt6 offscreen): PIN entry, wrong PIN, lockout and its end,
the self-test run through to the verdicts, the snapshot and the export."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PyQt6.QtCore import Qt
from PyQt6.QtWidgets import QPushButton

from kiosk.config import Config
from kiosk.pin import LOCK_SECONDS, set_pin
from kiosk.selftest import demo_kit
from kiosk.technician import KioskTechnician
from tests._util import wait_until
from ui import texts
from ui.technician import TechnicianArea


class Clock:
    now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def config(url: str, tmp_path: Path) -> Config:
    token = tmp_path / "token"
    token.write_text("sekret-token-123\n")
    token.chmod(0o600)
    hub = {"url": url, "room": 1234, "token_file": str(token)}
    kept = {"dir": str(tmp_path / "state")}
    return Config.from_dict({"site": {"name": "Xã Thử"}, "hub": hub, "state": kept}, "<test>")


def area_for(qtbot: Any, tmp_path: Path, url: str, clock: Clock, **kw: Any) -> TechnicianArea:
    set_pin(tmp_path / "tech.pin", "2468")
    backend = KioskTechnician(config(url, tmp_path), pin_file=tmp_path / "tech.pin",
                              clock=clock, version="0.1.0", **kw)  # fmt: skip
    area = TechnicianArea(backend)
    qtbot.addWidget(area)
    area.show()
    return area


def press(qtbot: Any, area: TechnicianArea, keys: str) -> None:
    buttons = {b.text(): b for b in area.pin_page.findChildren(QPushButton)}
    for key in [*keys, texts.TECH_OK]:
        qtbot.mouseClick(buttons[key], Qt.MouseButton.LeftButton)


def test_pin_wrong_then_locked_then_open_after_the_lock(qtbot: Any, tmp_path: Path) -> None:
    clock = Clock()
    area = area_for(qtbot, tmp_path, "ws://127.0.0.1:9/", clock)
    press(qtbot, area, "1111")
    assert not area.unlocked and area.pin_page.message.text() == texts.tech_wrong_pin(4)
    assert area.pin_page.entry.text() == ""
    for _ in range(4):
        press(qtbot, area, "1111")
    assert area.pin_page.message.text() == texts.tech_locked(LOCK_SECONDS)  # 5:00
    press(qtbot, area, "2468")  # the right PIN, still locked
    assert not area.unlocked and "5:00" in area.pin_page.message.text()
    clock.now += LOCK_SECONDS + 1
    press(qtbot, area, "2468")
    assert area.unlocked
    shown = [label.text() for label in area.setting_labels.values()]
    assert texts.SECRET_SET in shown and not any("sekret" in text for text in shown)
    assert area.version.text() == texts.tech_version("0.1.0")


def test_the_selftest_runs_through_to_the_report(qtbot: Any, run: Any, hub: Any,
                                                 tmp_path: Path) -> None:  # fmt: skip
    usb = tmp_path / "usb"
    usb.mkdir()
    kit = demo_kit(hub.url, tmp_path)
    kit.media_step_s = 0.5
    area = area_for(qtbot, tmp_path, hub.url, Clock(), kit=kit, usb=lambda: usb)

    async def scenario() -> None:
        press(qtbot, area, "2468")
        assert area.unlocked
        page = area.selftest
        qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
        assert page.verdict.text() == texts.TECH_RUNNING and not page.run_button.isEnabled()
        await wait_until(lambda: page.run_button.isEnabled(), timeout=40)
        assert page.progress.value() == page.progress.maximum() == 14
        assert page.verdict.text() in (texts.TECH_VERDICT["pass"], texts.TECH_VERDICT["warn"])
        assert "Camera" in page.results.text() and "Loa → micro" in page.results.text()
        assert not page.snapshot.pixmap().isNull() and page.snapshot.pixmap().width() == 320
        qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
        exported = list(usb.glob("diemcau-selftest-*.html"))
        assert len(exported) == 1 and page.export_note.text() == texts.tech_exported(
            str(exported[0])
        )
        assert "sekret" not in exported[0].read_text()
        await area.close_tasks()

    run(scenario())


def test_a_selftest_that_breaks_shows_plain_words(qtbot: Any, run: Any, tmp_path: Path) -> None:
    area = area_for(qtbot, tmp_path, "ws://127.0.0.1:9/", Clock())

    async def broken(progress: Any) -> Any:
        raise RuntimeError("Traceback: boom")

    area.backend.run_selftest = broken  # type: ignore[method-assign]

    async def scenario() -> None:
        press(qtbot, area, "2468")
        qtbot.mouseClick(area.selftest.run_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: area.selftest.run_button.isEnabled())
        assert area.selftest.verdict.text() == texts.TECH_RUN_FAILED
        await area.close_tasks()

    run(scenario())


def test_the_window_entry_opens_the_area_behind_the_pin(qtbot: Any, tmp_path: Path) -> None:
    from kiosk.technician import attach_technician

    class App:  # what attach_technician needs of a KioskApp
        def __init__(self) -> None:
            from types import SimpleNamespace

            from devices import LatestFrame, SyntheticCamera
            from endpoint import Call, HubSettings
            from ui import CallViewModel, KioskWindow

            self.config = self.file_config = config("ws://127.0.0.1:9/", tmp_path)
            self.devices = SimpleNamespace(camera=SyntheticCamera("x"))  # the one it checks
            settings = HubSettings(url="ws://127.0.0.1:9/", room=1, display="x")
            self.call = Call(settings, None, None, None)  # type: ignore[arg-type]
            self.window = KioskWindow(CallViewModel(self.call, None, []), "x", LatestFrame())

    set_pin(tmp_path / "tech.pin", "2468")
    app = App()
    qtbot.addWidget(app.window)
    area = attach_technician(app, tmp_path / "tech.pin")
    qtbot.addWidget(area)
    qtbot.mouseClick(app.window.technician_button, Qt.MouseButton.LeftButton)
    assert area.isVisible() and not area.unlocked


def test_the_last_report_is_shown_on_opening_and_exported_after_a_restart(
    qtbot: Any, tmp_path: Path
) -> None:
    """A scheduled check's report (kept by the kiosk) is on the page when the area opens, and
    after a restart it is exported from the state folder; opening says so (``opened``)."""
    from devices import CheckResult, Hint, Verdict
    from kiosk.report import save_last
    from kiosk.selftest import Report

    usb = tmp_path / "usb"
    usb.mkdir()
    loop = CheckResult("loopback", Verdict.FAIL, "no chirp", Hint("Không nghe thấy loa", "x"))
    report = Report("Xã Thử", "2025-03-03T00:30:00+00:00", [loop])
    area = area_for(qtbot, tmp_path, "ws://127.0.0.1:9/", Clock(), usb=lambda: usb)
    area.backend.keep(report)  # as kiosk.autocheck does
    with qtbot.waitSignal(area.opened, timeout=5000):
        press(qtbot, area, "2468")
    page = area.selftest
    assert page.verdict.text() == texts.TECH_VERDICT["fail"]
    assert "Không nghe thấy loa" in page.results.text() and page.export_button.isEnabled()
    assert save_last(report, tmp_path / "state", "wss://user:pw@hub.example.vn/janus?t=sekret")
    restarted = area_for(qtbot, tmp_path, "ws://127.0.0.1:9/", Clock(), usb=lambda: usb)
    press(qtbot, restarted, "2468")
    assert restarted.selftest.export_button.isEnabled()
    qtbot.mouseClick(restarted.selftest.export_button, Qt.MouseButton.LeftButton)
    exported = usb / "diemcau-selftest-20250303T003000.html"
    assert restarted.selftest.export_note.text() == texts.tech_exported(str(exported))
    assert "no chirp" in exported.with_suffix(".json").read_text()
    assert "sekret" not in exported.read_text() and "pw@" not in exported.read_text()

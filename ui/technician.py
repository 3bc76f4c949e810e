"""The technician area: behind a PIN, the self-test with its progress, verdicts and pictures,
the device choice, the hub settings (secrets never shown), the last log lines, the version
and the export of the last report to a USB stick.

The area knows nothing of the kiosk: a :class:`TechnicianBackend` (built in ``kiosk/``)
checks PINs, runs the self-test and exports; the widgets only show what it answers, in the
words of ``ui.texts``. No exception text reaches the screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtGui import QPixmap
from PyQt6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from devices import CheckResult, Verdict, check_title
from endpoint import Tasks
from ui import texts

log = logging.getLogger(__name__)

COLOURS = {Verdict.PASS: "#3ddc84", Verdict.WARN: "#e0b000", Verdict.FAIL: "#ff6b5e"}


class PinAnswer(Protocol):
    @property
    def ok(self) -> bool: ...

    @property
    def tries_left(self) -> int: ...

    @property
    def locked_for(self) -> float: ...


class SelftestReport(Protocol):
    results: list[CheckResult]

    @property
    def verdict(self) -> Verdict: ...


Progress = Callable[[int, int, CheckResult], None]


class TechnicianBackend(Protocol):
    version: str

    def attempt(self, pin: str) -> PinAnswer: ...

    def run_selftest(self, progress: Progress) -> Coroutine[Any, Any, SelftestReport]: ...

    def export(self) -> str: ...

    def last_report(self) -> SelftestReport | None: ...

    def can_export(self) -> bool: ...

    def settings(self) -> list[tuple[str, str]]: ...

    def device_choices(self) -> dict[str, list[str]]: ...

    def current_device(self, kind: str) -> tuple[str, bool]: ...

    def choose_device(self, kind: str, name: str) -> bool: ...

    def reset_devices(self) -> bool: ...

    def log_lines(self) -> list[str]: ...


class PinPage(QWidget):
    """A keypad and a hidden entry; says how many tries are left or how long it is locked."""

    def __init__(self, on_pin: Callable[[str], None]) -> None:
        super().__init__()
        self._on_pin = on_pin
        self.entry = QLineEdit()
        self.entry.setEchoMode(QLineEdit.EchoMode.Password)
        self.entry.setPlaceholderText(texts.TECH_PIN_PROMPT)
        self.entry.returnPressed.connect(self.submit)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(texts.TECH_TITLE))
        layout.addWidget(self.entry)
        layout.addLayout(self._keypad())
        layout.addWidget(self.message)

    def _keypad(self) -> QGridLayout:
        grid = QGridLayout()
        keys = [*"123456789", texts.TECH_CLEAR, "0", texts.TECH_OK]
        for i, key in enumerate(keys):
            button = QPushButton(key)
            button.clicked.connect(self._key(key))
            grid.addWidget(button, i // 3, i % 3)
        return grid

    def _key(self, key: str) -> Callable[[], None]:
        def pressed() -> None:
            if key == texts.TECH_OK:
                self.submit()
            elif key == texts.TECH_CLEAR:
                self.entry.clear()
            else:
                self.entry.insert(key)

        return pressed

    def submit(self) -> None:
        pin = self.entry.text()
        self.entry.clear()
        self._on_pin(pin)

    def show_answer(self, answer: PinAnswer) -> None:
        if answer.locked_for > 0:
            self.message.setText(texts.tech_locked(answer.locked_for))
        else:
            self.message.setText(texts.tech_wrong_pin(answer.tries_left))


class SelftestPage(QWidget):
    """Run, progress, one line per check (verdict, what to do), the snapshot, export."""

    def __init__(self, backend: TechnicianBackend, tasks: Tasks) -> None:
        super().__init__()
        self.backend, self._tasks = backend, tasks
        self.run_button = QPushButton(texts.TECH_RUN)
        self.run_button.clicked.connect(self.start)
        self.progress = QProgressBar()
        self.verdict = QLabel("")
        self.results = QLabel("")
        self.results.setWordWrap(True)
        self.results.setTextFormat(Qt.TextFormat.RichText)
        self.snapshot = QLabel("")
        self.export_button = QPushButton(texts.TECH_EXPORT)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export)
        self.export_note = QLabel("")
        layout = QVBoxLayout(self)
        for widget in (self.run_button, self.progress, self.verdict, self.results,
                       self.snapshot, self.export_button, self.export_note):  # fmt: skip
            layout.addWidget(widget)
        self.report: SelftestReport | None = None

    def start(self) -> None:
        self.run_button.setEnabled(False)
        self.progress.setValue(0)
        self.verdict.setText(texts.TECH_RUNNING)
        self._tasks.spawn("selftest", self._run())

    def _progress(self, done: int, total: int, result: CheckResult) -> None:
        self.progress.setMaximum(total)
        self.progress.setValue(done)

    async def _run(self) -> None:
        try:
            self.report = await self.backend.run_selftest(self._progress)
        except Exception:  # never a traceback on screen: log it, say it plainly
            log.exception("self-test failed to run")
            self.verdict.setText(texts.TECH_RUN_FAILED)
        else:
            self._show(self.report)
        finally:
            self.run_button.setEnabled(True)

    def show_last(self) -> None:
        """The last report (a scheduled check's, or one kept from before a restart)."""
        report = self.backend.last_report()
        if report is not None and report is not self.report:
            self.report = report
            self._show(report)
        self.export_button.setEnabled(self.backend.can_export())

    def _show(self, report: SelftestReport) -> None:
        self.verdict.setText(texts.TECH_VERDICT[report.verdict.value])
        self.results.setText("<br>".join(_line(r) for r in report.results))
        picture = next((r.picture for r in report.results if r.picture), None)
        if picture:
            pixmap = QPixmap()
            pixmap.loadFromData(picture, "JPG")
            self.snapshot.setPixmap(pixmap)
        self.export_button.setEnabled(True)

    def export(self) -> None:
        try:
            where = self.backend.export()
        except OSError:
            log.exception("report export failed")
            self.export_note.setText(texts.TECH_EXPORT_FAILED)
            return
        self.export_note.setText(texts.tech_exported(where))


def _line(result: CheckResult) -> str:
    import html

    colour = COLOURS[result.verdict]
    word = texts.TECH_VERDICT_WORD[result.verdict.value]
    title = check_title(result.key)
    hint = f" — {html.escape(result.hint.vi)}" if result.hint.vi else ""
    return f'<span style="color:{colour}">■ {word}</span> {html.escape(title)}{hint}'


class DevicesPage(QWidget):
    """Per kind a list to choose from and the device in use; back to the configuration's."""

    def __init__(self, backend: TechnicianBackend) -> None:
        super().__init__()
        self.backend = backend
        form = QFormLayout(self)
        self.boxes: dict[str, QComboBox] = {}
        self.notes: dict[str, QLabel] = {}
        for kind in backend.device_choices():
            self.boxes[kind], self.notes[kind] = QComboBox(), QLabel("")
            self.boxes[kind].currentTextChanged.connect(lambda name, k=kind: self.choose(k, name))
            form.addRow(texts.TECH_DEVICE_KINDS.get(kind, kind), self.boxes[kind])
            form.addRow("", self.notes[kind])
        self.reset_button = QPushButton(texts.TECH_DEVICE_DEFAULTS)
        self.reset_button.clicked.connect(self.reset)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        form.addRow(self.reset_button)
        form.addRow(self.message)
        self.refresh()

    def refresh(self) -> None:
        """The lists and the notes as the backend has them (choosing nothing)."""
        for kind, names in self.backend.device_choices().items():
            box = self.boxes[kind]
            box.blockSignals(True)
            box.clear()
            box.addItems(names)
            box.blockSignals(False)
            name, chosen = self.backend.current_device(kind)
            self.notes[kind].setText(texts.tech_device_current(name, chosen))

    def choose(self, kind: str, name: str) -> None:
        saved = self.backend.choose_device(kind, name)
        self.message.setText(texts.TECH_DEVICE_SAVED if saved else texts.TECH_DEVICE_SAVE_FAILED)
        name, chosen = self.backend.current_device(kind)
        self.notes[kind].setText(texts.tech_device_current(name, chosen))

    def reset(self) -> None:
        saved = self.backend.reset_devices()
        self.refresh()
        self.message.setText(texts.TECH_DEVICE_RESET if saved else texts.TECH_DEVICE_SAVE_FAILED)


class TechnicianArea(QWidget):
    """PIN first; then the tabs. ``lock()`` (on leaving) asks for the PIN again;
    ``opened`` is emitted each time the right PIN opens it."""

    opened = pyqtSignal()

    def __init__(self, backend: TechnicianBackend) -> None:
        super().__init__()
        self.backend = backend
        self._tasks = Tasks("technician")
        self.pages = QStackedWidget()
        self.pin_page = PinPage(self._on_pin)
        self.tabs = QTabWidget()
        self.selftest = SelftestPage(backend, self._tasks)
        self.tabs.addTab(self.selftest, texts.TECH_TAB_SELFTEST)
        self.devices = DevicesPage(backend)
        self.device_boxes = self.devices.boxes
        self.tabs.addTab(self.devices, texts.TECH_TAB_DEVICES)
        self.tabs.addTab(self._settings(), texts.TECH_TAB_NETWORK)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.tabs.addTab(self.log_view, texts.TECH_TAB_LOG)
        self.version = QLabel(texts.tech_version(backend.version))
        area = QWidget()
        area_layout = QVBoxLayout(area)
        area_layout.addWidget(self.tabs)
        area_layout.addWidget(self.version)
        self.pages.addWidget(self.pin_page)
        self.pages.addWidget(area)
        QVBoxLayout(self).addWidget(self.pages)

    @property
    def unlocked(self) -> bool:
        return self.pages.currentIndex() == 1

    def _on_pin(self, pin: str) -> None:
        answer = self.backend.attempt(pin)
        if answer.ok:
            self.pin_page.message.clear()
            self.log_view.setPlainText("\n".join(self.backend.log_lines()))
            self.selftest.show_last()
            self.devices.refresh()  # a camera plugged in since the last visit is listed
            self.pages.setCurrentIndex(1)
            self.opened.emit()
        else:
            self.pin_page.show_answer(answer)

    def lock(self) -> None:
        self.pages.setCurrentIndex(0)

    def _settings(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        self.setting_labels = {}
        for name, value in self.backend.settings():
            label = QLabel(value)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.setting_labels[name] = label
            form.addRow(name, label)
        return page

    async def close_tasks(self) -> None:
        await self._tasks.close()

"""The kiosk window: one big join button, the meeting on the TV, leave and mute."""

from __future__ import annotations

from collections.abc import Callable

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from devices import LatestFrame
from endpoint import CallState, LinkQuality
from ui import texts
from ui.layout import DEFAULT_SLOTS
from ui.link import LinkIndicator
from ui.meeting import MeetingView
from ui.schedule import CountdownBanner
from ui.viewmodel import CallViewModel

STYLE = """
QWidget { background: #10151c; color: #f2f4f7; font-family: "Noto Sans", "DejaVu Sans"; }
QLabel#title { font-size: 30px; font-weight: bold; }
QLabel#status { font-size: 22px; color: #c9d4e3; }
QLabel#notice { background: #7a5b00; font-size: 18px; padding: 8px; }
QLabel#check { font-size: 20px; color: #f2f4f7; background: #2c3a4d; padding: 8px; }
QLabel#countdown { background: #1d4f91; font-size: 24px; padding: 10px; }
QLabel#waiting { color: #9fb0c6; }  /* tiles: ui.meeting.TV_STYLE; link: ui.link */
QLabel#badge { background: #b3261e; font-size: 20px; padding: 6px 12px; border-radius: 6px; }
QLabel#badge[mic="auto_muted"] { background: #37506e; }
QLabel#badge[mic="open_warning"] { background: #7a5b00; }
QLabel#camera { font-size: 18px; color: #c9d4e3; }
QPushButton#shot { font-size: 20px; padding: 10px 14px; }
QPushButton { font-size: 26px; padding: 16px 28px; border-radius: 10px; background: #2c3a4d; }
QPushButton#join { font-size: 44px; padding: 36px 72px; background: #1f7a3d; }
QPushButton#leave { background: #b3261e; }
QPushButton#technician { font-size: 14px; padding: 4px 10px; background: transparent;
                         color: #5d6b7e; }
"""
NOTE_MIN_W = 200  # the bar's wrapped notes: room for the rest of the bar on a 1024-wide panel


class KioskWindow(QMainWindow):
    """Full-screen window; everything it shows comes from the view-model."""

    technicianRequested = pyqtSignal()  # the discreet «Kỹ thuật» entry was tapped

    def __init__(
        self,
        model: CallViewModel,
        site_name: str,
        self_slot: LatestFrame[object],
        video_slots: int = DEFAULT_SLOTS,
    ) -> None:
        """*video_slots*: at most this many other rooms show video on the TV (the rest by name)."""
        super().__init__()
        self.model = model
        self.setWindowTitle(f"diemcau — {site_name}")
        self.setStyleSheet(STYLE)
        self.title = self._label(site_name, "title")
        self.status = self._label(model.status, "status")
        self.notice = self._label("", "notice")
        self.notice.setWordWrap(True)
        self.notice.hide()
        self.countdown = CountdownBanner()
        self.pages = QStackedWidget()
        self.pages.addWidget(self._home_page())
        self.meeting = MeetingView(self_slot, slots=video_slots)
        self.pages.addWidget(self._meeting_page())
        central = QWidget()
        layout = QVBoxLayout(central)
        for widget in (self.notice, self.countdown, self.title, self.status):
            layout.addWidget(widget)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        model.stateChanged.connect(self._on_state)
        model.participantsChanged.connect(self._on_participants)
        model.mutedChanged.connect(self._on_muted)
        model.micStateChanged.connect(self._on_mic_state)
        model.cameraChanged.connect(self._on_camera)
        model.linkChanged.connect(self._on_link)
        self._on_state(model.state, model.status)

    @staticmethod
    def _label(text: str, name: str) -> QLabel:
        label = QLabel(text)
        label.setObjectName(name)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label

    def _button(self, text: str, name: str, slot: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.clicked.connect(slot)
        return button

    def _home_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        self.join_button = self._button(texts.JOIN, "join", self.model.join)
        self.retry_button = self._button(texts.RETRY, "retry", self.model.join)
        self.check_note = self._label("", "check")  # the scheduled equipment check's result
        self.check_note.setWordWrap(True)
        self.check_note.hide()
        layout.addWidget(self.check_note)
        layout.addStretch(1)
        layout.addWidget(self.join_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(self.retry_button, 0, Qt.AlignmentFlag.AlignCenter)
        layout.addStretch(1)
        self.technician_button = self._button(
            texts.TECH_ENTRY, "technician", self.technicianRequested.emit
        )
        layout.addWidget(self.technician_button, 0, Qt.AlignmentFlag.AlignRight)
        return page

    def _meeting_page(self) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.meeting, 1)
        bar = QHBoxLayout()
        self.badge = self._label(texts.MUTED_BADGE, "badge")
        self.badge.hide()
        self.mute_button = self._button(texts.MUTE, "mute", self.model.toggle_mute)
        self.leave_button = self._button(texts.LEAVE, "leave", self.model.leave)
        bar.addWidget(self.badge)
        self.link_panel = LinkIndicator(figures=True)
        bar.addWidget(self.link_panel)
        bar.addStretch(1)
        self.camera_note = self._label("", "camera")
        self.camera_note.hide()  # until the voice pipeline says which shot (none without it)
        for label in (self.badge, self.camera_note):  # long Vietnamese phrases wrap, never widen
            label.setWordWrap(True)
            label.setMinimumWidth(NOTE_MIN_W)
            label.setMaximumWidth(300)
        self.shot_buttons = [
            self._button(label, "shot", self._shot_slot(i))
            for i, (label, _) in enumerate(self.model.camera_choices)
        ]
        for widget in (self.camera_note, *self.shot_buttons):
            bar.addWidget(widget)
        bar.addWidget(self.mute_button)
        bar.addWidget(self.leave_button)
        layout.addLayout(bar)
        return page

    def _shot_slot(self, index: int) -> Callable[[], None]:
        def chosen() -> None:
            self.model.choose_camera(index)

        return chosen

    def show_notice(self, text: str) -> None:
        """A standing banner (e.g. configuration errors) above everything else."""
        self.notice.setText(text)
        self.notice.setVisible(bool(text))

    def show_check(self, text: str) -> None:
        """The scheduled equipment check's one line on the Join screen ("" hides it)."""
        self.check_note.setText(text)
        self.check_note.setVisible(bool(text))

    def _on_state(self, state: CallState, status: str) -> None:
        self.status.setText(status)
        in_meeting = state in (CallState.IN_MEETING, CallState.RECONNECTING, CallState.LEAVING)
        self.pages.setCurrentIndex(1 if in_meeting else 0)
        self.join_button.setVisible(state in (CallState.IDLE, CallState.CONNECTING))
        self.join_button.setEnabled(state is CallState.IDLE)
        self.retry_button.setVisible(state is CallState.FAILED)
        self.leave_button.setEnabled(state is not CallState.LEAVING)
        if in_meeting:
            self.meeting.timer.start()
        else:
            self.meeting.timer.stop()

    def _on_participants(self) -> None:
        self.meeting.set_participants(self.model.participants)

    def _on_link(self, link: LinkQuality | None) -> None:
        """Bars and grade on the TV; on the panel the figures too."""
        self.meeting.set_link(link)
        self.link_panel.set_link(link)

    def _on_muted(self, muted: bool) -> None:
        self.mute_button.setText(texts.UNMUTE if muted else texts.MUTE)

    def _on_mic_state(self, state: str) -> None:
        """Muted (by hand) and auto-muted (nobody speaks) look different on purpose."""
        self.badge.setText(texts.MIC_BADGE.get(state, ""))
        self.badge.setProperty("mic", state)
        self.badge.style().unpolish(self.badge)  # type: ignore[union-attr]
        self.badge.style().polish(self.badge)  # type: ignore[union-attr]
        self.badge.setVisible(state in texts.MIC_BADGE)

    def _on_camera(self, zone: str, auto: bool) -> None:
        shot = zone or texts.OVERVIEW
        note = texts.AUTO_CAMERA_ON if auto else texts.AUTO_CAMERA_PAUSED
        self.camera_note.setText(f"{shot} · {note}")
        self.camera_note.show()

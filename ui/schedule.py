"""The scheduled meeting's countdown on the panel, with a button to skip it this time."""

from __future__ import annotations

from PyQt6.QtCore import Qt, pyqtSignal
from PyQt6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from ui import texts


class CountdownBanner(QWidget):
    """«Cuộc họp «…» sẽ tự động bắt đầu sau 1:30» and «Không vào họp lần này»."""

    cancelled = pyqtSignal()

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel("")
        self.label.setObjectName("countdown")
        self.label.setWordWrap(True)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.cancel_button = QPushButton(texts.SCHEDULE_CANCEL)
        self.cancel_button.setObjectName("cancel_schedule")
        self.cancel_button.clicked.connect(self.cancelled.emit)
        layout = QHBoxLayout(self)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.cancel_button)
        self.hide()

    def show_countdown(self, title: str, seconds: float) -> None:
        self.label.setText(texts.countdown_text(title, seconds))
        self.show()

    def clear(self) -> None:
        self.hide()

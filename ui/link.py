"""The link-quality indicator: signal bars with a plain label, and on the panel the figures."""

from __future__ import annotations

from PyQt6.QtCore import QRectF, Qt
from PyQt6.QtGui import QColor, QPainter
from PyQt6.QtWidgets import QFrame, QGridLayout, QLabel, QWidget

from endpoint import LinkGrade, LinkQuality
from ui import texts

LIT = {LinkGrade.GOOD: 3, LinkGrade.FAIR: 2, LinkGrade.POOR: 1}
COLOR = {LinkGrade.GOOD: "#3ddc84", LinkGrade.FAIR: "#e0b000", LinkGrade.POOR: "#e5533d"}
UNLIT = "#3a4656"
LINK_STYLE = """
LinkIndicator { background: #1b2430; border-radius: 6px; }
QLabel { background: transparent; }
QLabel#linkgrade { font-size: 20px; color: #f2f4f7; }
QLabel#linkgrade[grade="fair"] { color: #f0cc4a; }
QLabel#linkgrade[grade="poor"] { color: #ff8a75; }
QLabel#linkfigures { font-size: 16px; color: #c9d4e3; }
"""  # its own, set before its labels exist: the same look whatever window holds it


class SignalBars(QWidget):
    """Three rising bars; good lights three (green), fair two (yellow), poor one (red)."""

    def __init__(self, height: int = 24) -> None:
        super().__init__()
        self.grade: LinkGrade | None = None
        self.setFixedSize(height * 5 // 4, height)

    def set_grade(self, grade: LinkGrade) -> None:
        if grade is not self.grade:
            self.grade = grade
            self.update()

    def paintEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(Qt.PenStyle.NoPen)
        lit = LIT.get(self.grade, 0) if self.grade is not None else 0
        gap = self.width() / 10
        bar = (self.width() - 2 * gap) / 3
        for i in range(3):
            height = self.height() * (i + 1) / 3
            colour = COLOR[self.grade] if self.grade is not None and i < lit else UNLIT
            painter.setBrush(QColor(colour))
            rect = QRectF(i * (bar + gap), self.height() - height, bar, height)
            painter.drawRoundedRect(rect, 2, 2)
        painter.end()


class LinkIndicator(QFrame):
    """Bars and «Kết nối tốt / yếu / kém»; with *figures*, loss, delay and kbit/s under both
    (the panel: the box stays narrow enough for a 1024-wide bar), and a note while incoming
    video is paused. Hidden while unknown."""

    def __init__(self, figures: bool = False, bar_height: int = 24) -> None:
        super().__init__()
        self.setObjectName("link")
        self.setStyleSheet(LINK_STYLE)
        self.bars = SignalBars(bar_height)
        self.label = QLabel()
        self.label.setObjectName("linkgrade")
        self.figures = QLabel()
        self.figures.setObjectName("linkfigures")
        self.figures.setVisible(figures)
        self._with_figures = figures
        grid = self._grid = QGridLayout(self)
        grid.setContentsMargins(8, 4, 10, 4)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(0)
        grid.addWidget(self.bars, 0, 0, Qt.AlignmentFlag.AlignVCenter)
        grid.addWidget(self.label, 0, 1)
        grid.addWidget(self.figures, 1, 0, 1, 2)
        grid.setColumnStretch(1, 1)
        self.hide()

    def scale(self, font_px: int) -> None:
        """The grade in *font_px* pixels and bars to match (the TV: sized with the screen).
        The label's own style sheet wins over the window's fixed size."""
        self.bars.setFixedSize(font_px * 3 // 2, font_px * 6 // 5)
        self.label.setStyleSheet(f"font-size: {font_px}px;")
        margin = max(4, font_px // 4)
        self._grid.setContentsMargins(margin, margin // 2, margin, margin // 2)
        self._grid.setHorizontalSpacing(margin)
        self._settle()

    def set_link(self, link: LinkQuality | None) -> None:
        """Show *link* (None: not in a meeting, nothing to show)."""
        self.setVisible(link is not None)
        if link is None:
            return
        self.bars.set_grade(link.grade)
        self.label.setText(texts.LINK_GRADE[link.grade])
        if self.label.property("grade") != link.grade.value:
            self.label.setProperty("grade", link.grade.value)
            self.label.style().unpolish(self.label)  # type: ignore[union-attr]
            self.label.style().polish(self.label)  # type: ignore[union-attr]
        if self._with_figures:
            note = f"\n{texts.LINK_VIDEO_PAUSED}" if link.video_paused else ""
            self.figures.setText(texts.link_figures(link) + note)
        self._settle()

    def _settle(self) -> None:
        """Take the size the text needs now, not at the next event-loop turn: a longer grade
        or more figures grow the box (and the bar holding it), never cut off."""
        for label in (self.label, self.figures):
            label.ensurePolished()  # its font from the style sheet, before it is measured
        self._grid.invalidate()
        self._grid.activate()
        holder = self.parentWidget()
        outer = holder.layout() if holder is not None else None
        if outer is None:
            self.resize(self.sizeHint())  # placed by hand (the TV's corner)
        elif self.isVisible():
            outer.activate()

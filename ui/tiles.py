"""Room tiles on the TV: a picture (the newest decoded frame, scaled once per new frame) or,
without video, the room's name on a plain tile; a caption with the name and its marks."""

from __future__ import annotations

import time
from collections.abc import Sequence

import av
import cv2
import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QFont, QFontMetrics, QImage, QPixmap
from PyQt6.QtWidgets import QFrame, QLabel, QSizePolicy

from devices import LatestFrame
from ui import texts
from ui.layout import clean_name

MARK_SEPARATOR = " — "
ELLIPSIS = "…"
MIN_NAME_CHARS = 4  # a name is never shortened below its first four letters


def rgb_image(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of an RGB24 array."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    view = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)  # type: ignore[call-overload]
    return view.copy()  # type: ignore[no-any-return]


def frame_size(frame: object) -> tuple[int, int]:
    if isinstance(frame, av.VideoFrame):
        return frame.width, frame.height
    shape = np.asarray(frame).shape
    return int(shape[1]), int(shape[0])


def fitted(source: tuple[int, int], box: tuple[int, int]) -> tuple[int, int]:
    """The largest size of *source*'s aspect inside *box* (even, at least 2×2)."""
    scale = min(box[0] / max(1, source[0]), box[1] / max(1, source[1]))
    return max(2, int(source[0] * scale) & ~1), max(2, int(source[1] * scale) & ~1)


def scaled_image(frame: object, box: tuple[int, int]) -> QImage:
    """*frame* (a decoded av.VideoFrame or a BGR camera array) scaled into *box* keeping
    its aspect, converted and scaled in one pass (swscale / OpenCV)."""
    width, height = fitted(frame_size(frame), box)
    if isinstance(frame, av.VideoFrame):
        return rgb_image(
            frame.to_ndarray(width=width, height=height, format="rgb24", interpolation="AREA")
        )
    small = cv2.resize(np.asarray(frame), (width, height), interpolation=cv2.INTER_AREA)
    return rgb_image(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))


def image_of(frame: object) -> QImage:
    """*frame* at its own size."""
    return scaled_image(frame, frame_size(frame))


class ElidedLabel(QLabel):
    """One line: a name and its marks («mất kết nối», «video tạm dừng»…). The name is
    shortened with «…» first, down to its first few letters, so the marks stay whole; when
    even that is too wide the lesser marks go, and only the gravest one is ever shortened.
    Characters the font cannot draw are left out."""

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.name = name
        self.marks: tuple[str, ...] = ()
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self._shown_for: tuple[str, tuple[str, ...], int, str] | None = None

    def set_parts(self, name: str, marks: Sequence[str] = ()) -> None:
        self.name, self.marks = name, tuple(marks)
        self._elide()

    @property
    def full_text(self) -> str:
        return self.name + _tail(self.marks)

    def setFont(self, font: QFont) -> None:  # noqa: N802 - Qt override
        super().setFont(font)
        self._elide()

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._elide()

    def _elide(self) -> None:
        width = self.contentsRect().width() - 2
        key = (self.name, self.marks, width, self.font().key())
        if key == self._shown_for:
            return
        self._shown_for = key
        metrics = QFontMetrics(self.font())
        name = clean_name("".join(c for c in self.name if metrics.inFontUcs4(ord(c)) or c == " "))
        least = metrics.horizontalAdvance(_shortest(name))
        marks = list(self.marks)
        while len(marks) > 1 and least + metrics.horizontalAdvance(_tail(marks)) > width:
            marks.pop()  # the gravest first: the lesser ones give way
        room = max(least, width - metrics.horizontalAdvance(_tail(marks)))
        shown = _cut(name, metrics, room)
        left = max(0, width - metrics.horizontalAdvance(shown))
        tail = metrics.elidedText(_tail(marks), Qt.TextElideMode.ElideRight, left)
        self.setText(shown + tail)
        self.setToolTip(self.full_text)


def _tail(marks: Sequence[str]) -> str:
    return f"{MARK_SEPARATOR}{' · '.join(marks)}" if marks else ""


def _cut(name: str, metrics: QFontMetrics, room: int) -> str:
    """*name*, or its longest start with «…» within *room* pixels (never below _shortest)."""
    if metrics.horizontalAdvance(name) <= room:
        return name
    keep, longest = MIN_NAME_CHARS, len(name) - 1  # halving: a 10 kB name is measured ~14 times
    while keep < longest:
        middle = (keep + longest + 1) // 2
        if metrics.horizontalAdvance(name[:middle] + ELLIPSIS) <= room:
            keep = middle
        else:
            longest = middle - 1
    return name[:keep].rstrip() + ELLIPSIS


def _shortest(name: str) -> str:
    """What is left of a name at most: its first letters and «…»."""
    return name if len(name) <= MIN_NAME_CHARS else name[:MIN_NAME_CHARS] + ELLIPSIS


class VideoTile(QFrame):
    """One room: its newest frame with its name under it (video mode), or its name alone on
    a plain tile (name mode: beyond the video slots). A room whose video does not reach us
    shows its name and why in the picture area, never a black box."""

    def __init__(self, caption: str, slot: LatestFrame[object]) -> None:
        super().__init__()
        self.name = clean_name(caption)
        self.slot = slot
        self.shown_seq = 0
        self.video_mode = self.available = True
        self.caption_h = 40
        self.min_interval = 0.0  # seconds between two pictures (thumbnails: slower)
        self._drawn_at = -1.0
        self.picture = QLabel(self)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setObjectName("picture")
        self.picture.setWordWrap(True)
        self.stale = self.weak = self.paused = self.muted = False
        self.caption = ElidedLabel(self.name)
        self.caption.setParent(self)
        self.caption.setObjectName("caption")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setObjectName("tile")
        self._show_marks()

    def set_mode(self, video: bool, caption_h: int, available: bool = True) -> None:
        """Video (picture + caption *caption_h* high) or name only (the caption alone);
        a video tile whose video is not *available* shows the name in its picture area."""
        if (video, caption_h, available) != (self.video_mode, self.caption_h, self.available):
            self.video_mode, self.caption_h, self.available = video, caption_h, available
            self.picture.setVisible(video)
            self._set_flag("nameonly", not video)
            self._set_fonts()
            self._place()
            self._show_picture_text()
            self._show_marks()  # a paused room says so in its caption only in name mode
            self.shown_seq = -1  # back in a video slot: draw the next frame at its new size

    def _set_fonts(self) -> None:
        font = QFont(self.caption.font())
        font.setPixelSize(max(12, self.caption_h * 3 // 5))
        self.caption.setFont(font)
        self.picture.setFont(font)

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self._place()
        if self.picture.text():
            self._fit_picture_text()
        self.shown_seq = -1  # a new size: scale the next frame to it

    def _place(self) -> None:
        inner = self.contentsRect()
        if not self.video_mode:
            self.caption.setGeometry(inner)
            return
        caption_h = min(self.caption_h, inner.height())
        self.picture.setGeometry(inner.x(), inner.y(), inner.width(), inner.height() - caption_h)
        self.caption.setGeometry(
            inner.x(), inner.bottom() + 1 - caption_h, inner.width(), caption_h
        )

    def set_talking(self, talking: bool) -> None:
        """Frame the tile of a room whose people are speaking (hub's talking events)."""
        self._set_flag("talking", talking)

    def set_stale(self, stale: bool) -> None:
        """A room whose media stopped keeps its tile, captioned «… — mất kết nối»."""
        if stale != self.stale:
            self.stale = stale
            self._show_marks()

    def set_muted(self, muted: bool) -> None:
        """A room that muted its microphone: «… — tắt micro»."""
        if muted != self.muted:
            self.muted = muted
            self._show_marks()

    def set_link(self, weak: bool, paused: bool) -> None:
        """A room whose stream reaches us poorly: «… — đường truyền yếu»; one whose video
        we paused (our downlink) shows its name and «video tạm dừng — …» instead of a
        picture: it is still heard, so it is not «mất kết nối»."""
        if (weak, paused) == (self.weak, self.paused):
            return
        if paused != self.paused:
            self.shown_seq = -1  # the first frame after the pause is drawn again
        self.weak, self.paused = weak, paused
        self._show_picture_text()
        self._show_marks()

    def _show_picture_text(self) -> None:
        if self.video_mode and (self.paused or not self.available):
            self.picture.clear()
            why = f"\n{texts.PAUSED_TILE}" if self.paused else ""
            self.picture.setText(f"{self.name}{why}")
            self._fit_picture_text()
        elif self.picture.pixmap().isNull() and self.picture.text():
            self.picture.clear()

    def _fit_picture_text(self) -> None:
        """The words in the picture area, wrapped, in the largest font (up to the
        caption's) that fits it whole."""
        font = QFont(self.caption.font())
        box = self.picture.contentsRect().adjusted(4, 4, -4, -4)
        flags = int(Qt.TextFlag.TextWordWrap.value | Qt.AlignmentFlag.AlignCenter.value)
        for size in range(max(10, font.pixelSize()), 9, -2):
            font.setPixelSize(size)
            needed = QFontMetrics(font).boundingRect(box, flags, self.picture.text())
            if needed.width() <= box.width() and needed.height() <= box.height():
                break
        self.picture.setFont(font)

    def marks(self) -> list[str]:
        """The caption's marks, the gravest first: stale, then weak; then muted. A paused
        tile says why in its picture area (in name mode, in its caption)."""
        found = [texts.STALE_TILE] if self.stale else []
        if self.weak and not (self.stale or self.paused):
            found.append(texts.WEAK_TILE)
        if self.paused and not self.stale and not self.video_mode:
            found.append(texts.PAUSED_MARK)
        if self.muted:
            found.append(texts.MUTED_TILE)
        return found

    def _show_marks(self) -> None:
        self.caption.set_parts(self.name, self.marks())
        self._set_flag("stale", self.stale)
        self._set_flag("paused", self.paused and not self.stale)
        self._set_flag("weak", self.weak and not (self.stale or self.paused))

    def _set_flag(self, name: str, value: bool) -> None:
        if self.property(name) != value:
            self.setProperty(name, value)
            self.style().unpolish(self)  # type: ignore[union-attr]
            self.style().polish(self)  # type: ignore[union-attr]

    def refresh(self, now: float | None = None) -> bool:
        """Draw the newest frame if one arrived since the last one drawn (and the tile
        shows video); True if drawn. Each new frame is scaled once, to the picture's size."""
        if not (self.video_mode and self.available) or self.paused:
            return False
        frame, seq = self.slot.get()
        if frame is None or seq == self.shown_seq:
            return False
        now = time.monotonic() if now is None else now
        if now - self._drawn_at < self.min_interval:
            return False
        self.shown_seq, self._drawn_at = seq, now
        size = self.picture.size()
        image = scaled_image(frame, (max(2, size.width()), max(2, size.height())))
        self.picture.setPixmap(QPixmap.fromImage(image))
        return True

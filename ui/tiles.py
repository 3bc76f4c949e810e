"""Video tiles: a remote room (newest decoded frame + its name) and the self view."""

from __future__ import annotations

import av
import numpy as np
from PyQt6.QtCore import Qt
from PyQt6.QtGui import QImage, QPixmap
from PyQt6.QtWidgets import QFrame, QLabel, QVBoxLayout

from devices import LatestFrame
from ui import texts


def rgb_image(rgb: np.ndarray) -> QImage:
    """A QImage that owns a copy of an RGB24 array."""
    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    view = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888)  # type: ignore[call-overload]
    return view.copy()  # type: ignore[no-any-return]


def image_of(frame: object) -> QImage:
    if isinstance(frame, av.VideoFrame):
        return rgb_image(frame.to_ndarray(format="rgb24"))
    return rgb_image(np.asarray(frame)[:, :, ::-1])  # BGR camera picture


class VideoTile(QFrame):
    """Shows the newest frame of a newest-wins slot, with a caption under it."""

    def __init__(self, caption: str, slot: LatestFrame[object]) -> None:
        super().__init__()
        self.name = caption
        self.slot = slot
        self.shown_seq = 0
        self.picture = QLabel()
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.picture.setMinimumSize(160, 90)
        self.picture.setObjectName("picture")
        self.picture.setWordWrap(True)
        self.stale = self.weak = self.paused = False
        self.caption = QLabel(caption)
        self.caption.setObjectName("caption")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.picture, 1)
        layout.addWidget(self.caption)
        self.setObjectName("tile")

    def set_talking(self, talking: bool) -> None:
        """Frame the tile of a room whose people are speaking (hub's talking events)."""
        self._set_flag("talking", talking)

    def set_stale(self, stale: bool) -> None:
        """A room whose media stopped keeps its tile, captioned «… — mất kết nối»."""
        self.stale = stale
        self._show_marks()

    def set_link(self, weak: bool, paused: bool) -> None:
        """A room whose stream reaches us poorly: «… — đường truyền yếu»; one whose video
        we paused (our downlink) shows its name and «video tạm dừng — …» instead of a
        picture: it is still heard, so it is not «mất kết nối»."""
        if paused and not self.paused:
            self.picture.clear()
            self.picture.setText(f"{self.name}\n{texts.PAUSED_TILE}")
            self.shown_seq = -1  # the first frame after the pause is drawn again
        elif self.paused and not paused:
            self.picture.clear()
        self.weak, self.paused = weak, paused
        self._show_marks()

    def _show_marks(self) -> None:
        """One caption mark, the gravest first: stale, then weak. A paused tile says why
        in its picture area; its caption is its name."""
        mark = texts.STALE_TILE if self.stale else ""
        if not (self.stale or self.paused) and self.weak:
            mark = texts.WEAK_TILE
        self.caption.setText(f"{self.name} — {mark}" if mark else self.name)
        self._set_flag("stale", self.stale)
        self._set_flag("paused", self.paused and not self.stale)
        self._set_flag("weak", self.weak and not (self.stale or self.paused))

    def _set_flag(self, name: str, value: bool) -> None:
        if self.property(name) != value:
            self.setProperty(name, value)
            self.style().unpolish(self)  # type: ignore[union-attr]
            self.style().polish(self)  # type: ignore[union-attr]

    def refresh(self) -> bool:
        """Draw the newest frame if one arrived since the last call; True if drawn."""
        frame, seq = self.slot.get()
        if frame is None or seq == self.shown_seq or self.paused:
            return False
        self.shown_seq = seq
        image = image_of(frame).scaled(
            self.picture.size(),
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.picture.setPixmap(QPixmap.fromImage(image))
        return True

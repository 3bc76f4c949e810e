"""The meeting view on the TV: every other room with its name, and our own picture."""

from __future__ import annotations

import math

from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import QGridLayout, QLabel, QWidget

from devices import LatestFrame
from endpoint import LinkQuality, Participant
from ui import texts
from ui.link import LinkIndicator
from ui.tiles import VideoTile

REFRESH_FPS = 15


class MeetingView(QWidget):
    """A grid of remote tiles, a small self view in the bottom-right corner, and how good
    our link is (signal bars, «Kết nối tốt / yếu / kém») in the top-left corner."""

    def __init__(self, self_slot: LatestFrame[object]) -> None:
        super().__init__()
        self.tiles: dict[int, VideoTile] = {}
        self.grid = QGridLayout(self)
        self.grid.setSpacing(6)
        self.waiting = QLabel(texts.WAITING_FOR_ROOMS)
        self.waiting.setObjectName("waiting")
        self.grid.addWidget(self.waiting, 0, 0)
        self.self_view = VideoTile(texts.SELF_VIEW, self_slot)
        self.self_view.setParent(self)
        self.self_view.setObjectName("selfview")
        self.link = LinkIndicator(figures=False, bar_height=28)
        self.link.setParent(self)
        self.link.setObjectName("tvlink")
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // REFRESH_FPS)
        self.timer.timeout.connect(self.refresh)

    def set_participants(self, participants: list[Participant]) -> None:
        current = {p.feed: p for p in participants}
        for feed in [f for f in self.tiles if f not in current]:
            tile = self.tiles.pop(feed)
            self.grid.removeWidget(tile)
            tile.deleteLater()
        for feed, participant in current.items():
            if feed not in self.tiles:
                self.tiles[feed] = VideoTile(participant.display, participant.video)  # type: ignore[arg-type]
            self.tiles[feed].set_talking(participant.talking)
            self.tiles[feed].set_stale(participant.stale)
            self.tiles[feed].set_link(participant.weak, participant.video_paused)
        self._layout_tiles()

    def _layout_tiles(self) -> None:
        self.waiting.setVisible(not self.tiles)
        columns = max(1, math.ceil(math.sqrt(len(self.tiles))))
        for index, tile in enumerate(self.tiles.values()):
            self.grid.addWidget(tile, index // columns, index % columns)
        self.self_view.raise_()
        self.link.raise_()

    def set_link(self, link: LinkQuality | None) -> None:
        self.link.set_link(link)
        self.link.move(8, 8)
        self.link.raise_()

    def refresh(self) -> None:
        for tile in self.tiles.values():
            tile.refresh()
        self.self_view.refresh()

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        width = max(160, self.width() // 5)
        height = width * 9 // 16 + 30
        self.self_view.setGeometry(
            self.width() - width - 8, self.height() - height - 8, width, height
        )
        self.self_view.raise_()

"""The meeting view on the TV: the speaker large, other rooms as thumbnails or name tiles,
our own picture, and how good our link is. Where each goes is decided by ui.layout."""

from __future__ import annotations

import time
from collections.abc import Callable

from PyQt6.QtCore import Qt, QTimer
from PyQt6.QtGui import QFont
from PyQt6.QtWidgets import QLabel, QWidget

from devices import LatestFrame
from endpoint import LinkQuality, Participant
from ui import texts
from ui.layout import (
    DEFAULT_HOLD_S,
    DEFAULT_SLOTS,
    Layout,
    Metrics,
    Rect,
    Room,
    SpeakerHold,
    TalkBook,
)
from ui.layout import plan as plan_layout
from ui.link import LinkIndicator
from ui.tiles import VideoTile

REFRESH_FPS = 15
THUMB_INTERVAL_S = 0.09  # thumbnails drawn at most ~10 times a second
LINK_MIN_PX = 16  # the link badge's grade, on the smallest view (it scales like the captions)

TV_STYLE = """
MeetingView { background: #10151c; }
QFrame#tile { background: #000000; border: 4px solid #2c3a4d; }
QFrame#tile[nameonly="true"] { background: #1b2430; }
QFrame#tile[talking="true"] { border: 4px solid #3ddc84; }
QFrame#tile[stale="true"] { border: 4px dashed #e0a030; }
QFrame#tile[weak="true"] { border: 4px dotted #e5533d; }
QFrame#tile[paused="true"] { border: 4px solid #5b8bd0; }
QLabel#caption { background: #000000; color: #f2f4f7; padding: 0px 4px; }
QFrame#tile[nameonly="true"] QLabel#caption { background: #1b2430; }
QLabel#picture { color: #c9d4e3; background: #1b2430; }
QFrame#selfview { background: #000000; border: 4px solid #e0b000; }
QLabel#more { background: #1b2430; color: #c9d4e3; border: 4px solid #2c3a4d; }
"""


def video_available(participant: Participant) -> bool:
    """Whether a room's video reaches us now: it holds one of the call's video slots (the
    hub moves them between rooms as talkers change) and we have not paused it."""
    return participant.video_slot and not participant.video_paused


def room_muted(participant: Participant) -> bool:
    """Whether a room muted its microphone (``muted``, if the endpoint provides it)."""
    return bool(getattr(participant, "muted", False))


class MeetingView(QWidget):
    """The speaker large, up to *slots* rooms as video thumbnails and the rest by name,
    ordered by recent speech; a speaker change waits *hold* seconds after the last one."""

    def __init__(
        self,
        self_slot: LatestFrame[object],
        slots: int = DEFAULT_SLOTS,
        hold: float = DEFAULT_HOLD_S,
        clock: Callable[[], float] = time.monotonic,
        video_of: Callable[[Participant], bool] = video_available,
    ) -> None:
        super().__init__()
        self.setStyleSheet(TV_STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.slots, self.clock, self.video_of = slots, clock, video_of
        self.tiles: dict[int, VideoTile] = {}
        self.rooms: dict[int, Room] = {}
        self.book = TalkBook(clock)
        self.speaker = SpeakerHold(hold, clock)
        self.layout_plan: Layout | None = None
        self.waiting = self._label(texts.WAITING_FOR_ROOMS, "waiting")
        self.waiting.setWordWrap(True)
        self.more = self._label("", "more")
        self.self_view = VideoTile(texts.SELF_VIEW, self_slot)
        self.self_view.setParent(self)
        self.self_view.setObjectName("selfview")
        self.self_view.min_interval = 1.0 / REFRESH_FPS
        self.link = LinkIndicator(figures=False)
        self.link.setParent(self)
        self.link.setObjectName("tvlink")
        self.timer = QTimer(self)
        self.timer.setInterval(1000 // REFRESH_FPS)
        self.timer.timeout.connect(self.refresh)
        self.hold_timer = QTimer(self)
        self.hold_timer.setSingleShot(True)
        self.hold_timer.timeout.connect(self.relayout)

    def _label(self, text: str, name: str) -> QLabel:
        label = QLabel(text, self)
        label.setObjectName(name)
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        label.hide()
        return label

    def set_participants(self, participants: list[Participant]) -> None:
        """The rooms now in the meeting and their state (after any call event)."""
        current = {p.feed: p for p in participants}
        for feed in [f for f in self.tiles if f not in current]:
            self.tiles.pop(feed).deleteLater()
        for feed, participant in current.items():
            tile = self.tiles.get(feed)
            if tile is None:
                tile = self.tiles[feed] = VideoTile(participant.display, participant.video)  # type: ignore[arg-type]
                tile.setParent(self)
            tile.set_talking(participant.talking)
            tile.set_stale(participant.stale)
            tile.set_muted(room_muted(participant))
            tile.set_link(participant.weak, participant.video_paused)
        self.rooms = {feed: Room(feed, p.talking, self.video_of(p)) for feed, p in current.items()}
        self.book.update(self.rooms.values())
        self.relayout()

    def relayout(self) -> None:
        """Decide the layout again (after an event, a resize or a held speaker change);
        tiles move only if the decision changed."""
        feeds = list(self.rooms)
        large = self.speaker.choose(self.book, feeds)
        ranked = [self.rooms[f] for f in self.book.ranked(feeds)]
        layout = plan_layout(ranked, large, self.width(), self.height(), self.slots)
        if self.speaker.pending_until is not None:
            wait = max(0.0, self.speaker.pending_until - self.clock())
            self.hold_timer.start(int(wait * 1000) + 20)
        if layout != self.layout_plan:
            self.layout_plan = layout
            self._apply(layout)

    def _apply(self, layout: Layout) -> None:
        placed: set[int] = set()
        if layout.large is not None and layout.large_rect is not None:
            self._place(layout.large, layout.large_rect, True, 0.0, layout)
            placed.add(layout.large)
        for feed, rect in layout.thumbs:
            self._place(feed, rect, True, THUMB_INTERVAL_S, layout)
            placed.add(feed)
        for feed, rect in layout.names:
            self._place(feed, rect, False, 0.0, layout)
            placed.add(feed)
        for feed, tile in self.tiles.items():
            tile.setVisible(feed in placed)
        self.self_view.set_mode(True, layout.caption_h)
        self.self_view.setGeometry(*_box(layout.self_rect))
        self._show_notes(layout)
        self.self_view.raise_()
        self.link.scale(max(LINK_MIN_PX, layout.caption_h * 3 // 5))  # as the captions
        self._place_link()

    def _place(self, feed: int, rect: Rect, video: bool, interval: float, layout: Layout) -> None:
        tile = self.tiles[feed]
        tile.set_mode(video, layout.caption_h, feed not in layout.no_video)
        tile.min_interval = interval
        tile.setGeometry(*_box(rect))
        tile.show()

    def _show_notes(self, layout: Layout) -> None:
        """«Đang chờ…» while alone; «+ N điểm cầu khác» when names do not all fit."""
        font = QFont(self.waiting.font())
        font.setPixelSize(max(14, layout.caption_h * 3 // 5))
        for label in (self.waiting, self.more):
            label.setFont(font)
        self.waiting.setVisible(not self.tiles)
        self.waiting.setGeometry(0, 0, self.width(), max(1, layout.self_rect.y))
        self.more.setVisible(layout.overflow > 0)
        if layout.overflow_rect is not None:
            self.more.setText(texts.more_rooms(layout.overflow))
            self.more.setGeometry(*_box(layout.overflow_rect))

    def video_tiles(self) -> list[VideoTile]:
        """The tiles showing video now: the speaker and the thumbnails."""
        layout = self.layout_plan
        if layout is None:
            return []
        feeds = [f for f, _ in layout.thumbs]
        if layout.large is not None:
            feeds.insert(0, layout.large)
        return [self.tiles[f] for f in feeds if f in self.tiles]

    def set_link(self, link: LinkQuality | None) -> None:
        self.link.set_link(link)
        self._place_link()

    def _place_link(self) -> None:
        """A compact badge in the first screen corner where it covers no tile (top-left
        when every corner is taken)."""
        margin = Metrics.for_screen(self.width(), self.height()).margin
        size = self.link.size()
        right, bottom = self.width() - margin - size.width(), self.height() - margin - size.height()
        corners = [(margin, margin), (right, margin), (margin, bottom), (right, bottom)]
        taken = self.layout_plan.rects() if self.layout_plan is not None else []
        free = (
            c
            for c in corners
            if not any(Rect(*c, size.width(), size.height()).overlaps(r) for r in taken)
        )
        self.link.move(*next(free, corners[0]))
        self.link.raise_()

    def refresh(self) -> int:
        """Draw the frames that changed since the last tick; how many tiles were drawn."""
        now = time.monotonic()
        drawn = sum(tile.refresh(now) for tile in self.video_tiles())
        return drawn + self.self_view.refresh(now)

    def resizeEvent(self, event: object) -> None:  # noqa: N802 - Qt override
        self.relayout()


def _box(rect: Rect) -> tuple[int, int, int, int]:
    return rect.x, rect.y, rect.w, rect.h

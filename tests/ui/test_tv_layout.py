"""The TV meeting view (PyQt6 offscreen) at 1 to 25 rooms, 1080p and 720p: no label cut
off, none over another, every room by name, every tile on screen; held speaker changes;
only changed frames drawn. And 'diemcau render-layouts' writing its PNG files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PyQt6.QtCore import QRect
from PyQt6.QtGui import QFontMetrics, QImage
from PyQt6.QtWidgets import QLabel

from devices import LatestFrame
from endpoint import LinkGrade, LinkQuality, Participant
from kiosk.app import KioskApp
from kiosk.config import parse_config
from kiosk.render import COUNTS, StepClock, pattern_frame, stage, synthetic_rooms
from ui import MeetingView, texts
from ui.layout import clean_name
from ui.tiles import MARK_SEPARATOR, VideoTile
from ui.window import STYLE

SIZES = [(1920, 1080), (1280, 720)]
ELLIPSIS = "…"


def tv(qtbot: Any, size: tuple[int, int], clock: Any = None, slots: int = 8) -> MeetingView:
    self_slot: LatestFrame[object] = LatestFrame()
    view = MeetingView(self_slot, slots=slots, clock=clock or StepClock())
    view.setStyleSheet(STYLE + view.styleSheet())
    qtbot.addWidget(view)
    view.resize(*size)
    view.show()
    qtbot.waitExposed(view)
    return view


def on_screen(label: QLabel, view: MeetingView) -> QRect:
    return QRect(label.mapTo(view, label.rect().topLeft()), label.size())


def text_fits(label: QLabel) -> None:
    """The text shown is no wider than the label's inside (it was shortened if needed)."""
    metrics = QFontMetrics(label.font())
    assert metrics.horizontalAdvance(label.text()) <= label.contentsRect().width(), label.text()
    assert metrics.height() <= label.contentsRect().height(), label.text()


def shown_name(tile: VideoTile) -> str:
    return tile.caption.text().split(MARK_SEPARATOR)[0].removesuffix(ELLIPSIS)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("count", COUNTS)
def test_no_label_cut_off(qtbot: Any, size: tuple[int, int], count: int) -> None:
    view = tv(qtbot, size)
    rooms = synthetic_rooms(count - 1)
    stage(rooms, view.set_participants)
    qtbot.wait(10)
    screen = view.rect()
    labels = [view.self_view.caption]
    for room in rooms:
        tile = view.tiles[room.feed]
        assert tile.isVisible(), f"{room.display!r} is not on screen"
        assert screen.contains(QRect(tile.mapTo(view, tile.rect().topLeft()), tile.size()))
        name = clean_name(room.display)
        assert len(shown_name(tile)) >= min(len(name), 4), tile.caption.text()
        assert name.startswith(shown_name(tile)) or "🎉" in name, tile.caption.text()
        labels.append(tile.caption)
        if tile.picture.isVisible() and tile.picture.text():
            labels.append(tile.picture)
            bound = QFontMetrics(tile.picture.font()).boundingRect(
                tile.picture.contentsRect(), 0x1000 | 0x84, tile.picture.text()
            )
            assert tile.picture.contentsRect().contains(bound), tile.picture.text()
    for label in labels:
        if label.objectName() == "caption":
            text_fits(label)
    boxes = [on_screen(label, view) for label in labels if label.isVisible()]
    for i, a in enumerate(boxes):
        assert screen.contains(a)
        for b in boxes[i + 1 :]:
            assert not a.intersects(b), (a, b)
    assert view.waiting.isVisible() == (count == 1)
    if count > 1:
        large = view.layout_plan.large if view.layout_plan else None
        speaker = rooms[1] if len(rooms) > 1 else rooms[0]  # TALKERS end with room 1
        assert large == speaker.feed, "the last of the talkers is large"


def test_long_and_strange_names(qtbot: Any) -> None:
    view = tv(qtbot, (1280, 720))
    long_name = "Ủy ban nhân dân xã Đức Phong Đông, huyện Mộ Đức, tỉnh Quảng Ngãi — PH2"
    rooms = [
        Participant(1, long_name[:60]),
        Participant(2, "\x00\x07\x1b[2J"),
        Participant(3, "Xã 🎉🎉🎉 Lý Sơn\u202e"),
    ]
    rooms[0].weak = True
    view.set_participants(rooms)
    first, second, third = (view.tiles[f] for f in (1, 2, 3))
    for tile in (first, second, third):
        text_fits(tile.caption)
    assert second.caption.text() == texts.NO_NAME
    assert "\x1b" not in third.caption.text() and "\u202e" not in third.caption.text()
    assert third.caption.text().startswith("Xã") and third.caption.text().endswith("Lý Sơn")
    assert first.caption.text().endswith(texts.WEAK_TILE) or ELLIPSIS in first.caption.text()
    view.resize(400, 300)
    qtbot.wait(10)
    for tile in (first, second, third):
        text_fits(tile.caption)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_speaker_change_waits_for_the_hold(qtbot: Any) -> None:
    clock = Clock()
    view = tv(qtbot, (1280, 720), clock=clock)
    rooms = [Participant(f, f"Xã {f}") for f in (1, 2, 3)]
    rooms[1].talking = True
    view.set_participants(rooms)
    assert view.layout_plan is not None and view.layout_plan.large == 2
    clock.now += 0.5
    rooms[1].talking, rooms[2].talking = False, True
    view.set_participants(rooms)
    assert view.layout_plan.large == 2, "0.5 s after the last change: held"
    assert view.hold_timer.isActive()
    big = view.tiles[2].width()
    clock.now += 1.6
    view.relayout()  # what the hold timer does when it fires
    assert view.layout_plan.large == 3 and view.tiles[3].width() == big
    assert view.tiles[2].width() < big


def test_only_changed_frames_are_drawn(qtbot: Any) -> None:
    view = tv(qtbot, (1920, 1080), slots=2)
    rooms = synthetic_rooms(6)  # 1 large + 2 thumbnails with video, 3 by name
    for room in rooms:
        room.video_paused = False
    view.set_participants(rooms)
    assert view.refresh() == 3, "each video tile draws its first frame"
    assert view.refresh() == 0, "nothing new: nothing drawn"
    for room in rooms:
        room.video.put(pattern_frame("again", 99))
    assert view.refresh() == 1, "thumbnails wait ~0.1 s; names never draw"
    qtbot.wait(120)
    assert view.refresh() == 2
    names = [view.tiles[f] for f, _ in view.layout_plan.names] if view.layout_plan else []
    assert len(names) == 3 and all(t.picture.pixmap().isNull() for t in names)
    large = view.tiles[rooms[0].feed]
    image: QImage = large.picture.pixmap().toImage()
    assert image.width() <= large.picture.width() and image.height() <= large.picture.height()
    assert (
        image.width() >= large.picture.width() - 2 or image.height() >= large.picture.height() - 2
    )


def test_render_layouts_command(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "render-layouts", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    files = sorted(p.name for p in tmp_path.glob("*.png"))
    assert len(files) == 3 * len(COUNTS), files
    assert "tv-25-1920x1080.png" in files and "panel-25.png" in files
    image = QImage(str(tmp_path / "tv-25-1920x1080.png"))
    assert (image.width(), image.height()) == (1920, 1080)
    assert QImage(str(tmp_path / "tv-09-1280x720.png")).width() == 1280


@pytest.mark.parametrize("count", [2, 9, 25])
@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_link_badge_reads_from_the_room(qtbot: Any, size: tuple[int, int], count: int) -> None:
    """«Kết nối tốt» is as large as the captions (at least 28 px at 1080p, to be read from
    5 m), whole, on screen, and a compact corner badge, not a banner over the speaker."""
    view = tv(qtbot, size)
    stage(synthetic_rooms(count - 1), view.set_participants)
    view.set_link(LinkQuality(LinkGrade.GOOD, 0.3, 0.0, 42.0, 900.0, 300.0))
    qtbot.wait(10)
    badge, label = view.link, view.link.label
    assert label.text() == texts.LINK_GRADE[LinkGrade.GOOD]
    line = QFontMetrics(label.font())
    assert line.height() >= 28 * size[1] / 1080, line.height()
    assert line.capHeight() >= 20 * size[1] / 1080, line.capHeight()
    text_fits(label)
    assert badge.bars.height() >= line.capHeight()
    box = QRect(badge.mapTo(view, badge.rect().topLeft()), badge.size())
    assert view.rect().contains(box)
    assert box.contains(on_screen(label, view)), "the label runs off its badge"
    assert box.width() <= size[0] // 5 and box.height() <= size[1] // 12, box
    assert view.layout_plan is not None
    covered = [r for r in view.layout_plan.rects() if box.intersects(QRect(r.x, r.y, r.w, r.h))]
    if count < 25:
        assert not covered, f"{box} covers {covered}"


LONG = "Phòng họp trực tuyến Ủy ban nhân dân xã Đức Nhuận, huyện Mộ Đức, tỉnh Quảng Ngãi"


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_paused_name_tile_keeps_its_mark(qtbot: Any, size: tuple[int, int]) -> None:
    """A paused room beyond the video slots says «video tạm dừng» whole on its name tile,
    however long its name (the name is shortened first); a muted one keeps «tắt micro»."""
    view = tv(qtbot, size)
    rooms = synthetic_rooms(24)
    rooms[9].display = LONG  # paused (kiosk.render.PAUSED)
    rooms[12].display = LONG  # muted
    rooms[12].video_paused = True  # paused and muted: the pause is the graver mark
    stage(rooms, view.set_participants)
    qtbot.wait(10)
    assert view.layout_plan is not None
    named = {feed for feed, _ in view.layout_plan.names}
    for room in (rooms[4], rooms[9], rooms[12]):
        tile = view.tiles[room.feed]
        assert room.feed in named and tile.isVisible(), room.display
        text = tile.caption.text()
        assert text.endswith(MARK_SEPARATOR + texts.PAUSED_MARK) or (
            room is rooms[12] and f"{MARK_SEPARATOR}{texts.PAUSED_MARK} · " in text
        ), text
        text_fits(tile.caption)
        assert len(shown_name(tile)) >= 4 and clean_name(room.display).startswith(
            shown_name(tile).removesuffix(ELLIPSIS)
        ), text
    assert ELLIPSIS in view.tiles[rooms[9].feed].caption.text(), "the long name was shortened"


def test_video_slots_come_from_the_config(qtbot: Any, tmp_path: Path) -> None:
    """[meeting] video_slots = 4: the kiosk's TV shows 4 rooms as video at 9 rooms, the
    other 4 by name."""
    text = '[site]\nname = "Xã Thử"\n[hub]\nurl = "ws://127.0.0.1:9/"\nroom = 1234\n'
    config = parse_config(text + f'[state]\ndir = "{tmp_path}"\n[meeting]\nvideo_slots = 4\n')
    kiosk = KioskApp(config)
    qtbot.addWidget(kiosk.window)
    view = kiosk.window.meeting
    view.resize(1920, 1080)
    view.clock = view.speaker.clock = view.book.clock = StepClock()
    rooms = synthetic_rooms(8)
    for room in rooms:
        room.video_paused = False  # every room's video reaches us: only the slots limit it
    stage(rooms, view.set_participants)
    assert view.layout_plan is not None
    assert len(view.layout_plan.thumbs) == 4 and len(view.layout_plan.names) == 3
    thumbs = [t for t in view.video_tiles() if t is not view.tiles.get(view.layout_plan.large)]
    assert len(thumbs) == 4 and all(t.video_mode for t in thumbs)

"""``diemcau render-layouts``: the TV and the panel at 1 to 25 rooms, as PNG files to review.

Synthetic rooms (test-pattern frames from SyntheticCamera.render, long Vietnamese names, an
empty one, one with emoji and control characters), some talking, muted, weak or paused.
Rendered offscreen; nothing connects to a hub.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import av

from devices import LatestFrame, Playout, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, CallState, HubSettings, LinkGrade, LinkQuality, Participant

COUNTS = (1, 2, 4, 9, 16, 25)
TV_SIZES = ((1920, 1080), (1280, 720))
PANEL_SIZE = (1280, 800)
SITE = "Xã Đức Tân"
NAMES = (
    "Xã Đức Phong",
    "Thị trấn Mộ Đức — Điểm cầu Ủy ban nhân dân thị trấn, phòng họp số 2",
    "Xã Đức Lân",
    "",
    "Xã Đức Hòa 🎉🎉 phòng họp\x07\x1b[31m mới",
    "Xã Nghĩa Phương Đông Bắc",
    "Xã Đức Chánh",
    "Xã Đức Thạnh",
    "Phòng họp trực tuyến Ủy ban nhân dân xã Đức Minh, huyện Mộ Đức",
    "Xã Đức Nhuận",
    "Xã Đức Lợi",
    "Xã Đức Thắng",
    "Xã Đức Hiệp",
    "Xã Đức Phú",
    "Xã Đức Tân Tây",
    "Xã Phổ Phong",
    "Xã Hành Thịnh",
    "Xã Nghĩa Hà",
    "Xã Trà Bồng",
    "Xã Sơn Kỳ",
    "Xã Ba Tơ",
    "Xã Minh Long",
    "Xã Lý Sơn",
    "Huyện ủy Mộ Đức — hội trường lớn tầng 3",
)
TALKERS = (6, 3, 1)  # they speak in turn, the last one still speaking
MUTED, WEAK, PAUSED = (2, 7, 12), (5, 14), (4, 9)


def pattern_frame(label: str, counter: int) -> av.VideoFrame:
    """A decoded-looking frame (yuv420p, 640×360) of the synthetic test pattern."""
    camera = SyntheticCamera(label, 640, 360, 15)
    picture = camera.render(counter, 1_700_000_000.0 + counter)
    return av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p")


def synthetic_rooms(count: int) -> list[Participant]:
    """*count* other rooms, with frames in their slots and marks set (see module doc)."""
    rooms = []
    for i in range(count):
        name = NAMES[i % len(NAMES)] if i < len(NAMES) else f"Xã số {i + 1}"
        room = Participant(100 + i, name)
        room.video.put(pattern_frame(f"room {i + 1}", 10 * i))
        room.weak, room.video_paused = i in WEAK, i in PAUSED
        setattr(room, "muted", i in MUTED)  # noqa: B010 - the endpoint's coming field
        rooms.append(room)
    return rooms


def stage(rooms: list[Participant], show: Callable[[list[Participant]], None]) -> None:
    """Let TALKERS speak in turn (one view update each), the last one still speaking."""
    for i in TALKERS:
        if i < len(rooms):
            for room in rooms:
                room.talking = room is rooms[i]
            show(rooms)
    show(rooms)


class StepClock:
    """A clock that moves 3 s per reading: every speaker change passes the hold."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 3.0
        return self.now


def render_tv(rooms: list[Participant], size: tuple[int, int], path: Path) -> list[str]:
    from ui import MeetingView
    from ui.window import STYLE

    self_slot: LatestFrame[object] = LatestFrame()
    self_slot.put(SyntheticCamera(SITE, 640, 360).render(1, 1_700_000_000.0))
    view = MeetingView(self_slot, clock=StepClock())
    view.setStyleSheet(STYLE + view.styleSheet())  # as inside the kiosk window
    view.resize(*size)
    view.show()
    stage(rooms, view.set_participants)
    view.set_link(LinkQuality(LinkGrade.GOOD, 0.3, 0.0, 42.0, 900.0, 300.0))
    view.refresh()
    view.grab().save(str(path))
    shown = [t.caption.text() for t in view.tiles.values() if t.isVisible()]
    view.close()
    view.deleteLater()
    return shown


def render_panel(rooms: list[Participant], path: Path) -> None:
    from ui import CallViewModel, KioskWindow, texts

    settings = HubSettings(url="ws://127.0.0.1:9/", room=1234, display=SITE)
    call = Call(settings, SyntheticCamera(SITE, 320, 180, 15), SyntheticMicrophone(), Playout())
    model = CallViewModel(call)
    self_slot: LatestFrame[object] = LatestFrame()
    self_slot.put(SyntheticCamera(SITE, 640, 360).render(1, 1_700_000_000.0))
    window = KioskWindow(model, SITE, self_slot)
    window.resize(*PANEL_SIZE)
    window.show()
    model.stateChanged.emit(CallState.IN_MEETING, texts.STATE[CallState.IN_MEETING])
    model.micStateChanged.emit("auto_muted")
    model.linkChanged.emit(LinkQuality(LinkGrade.FAIR, 3.1, 0.4, 180.0, 850.0, 310.0))
    window.meeting.clock = window.meeting.speaker.clock = window.meeting.book.clock = StepClock()
    stage(rooms, window.meeting.set_participants)
    window.meeting.refresh()
    window.grab().save(str(path))
    window.close()
    window.deleteLater()


def render_layouts(
    out: Path, counts: Sequence[int] = COUNTS, sizes: Sequence[tuple[int, int]] = TV_SIZES
) -> list[Path]:
    """Write tv-<rooms>-<w>x<h>.png and panel-<rooms>.png for each meeting size (rooms
    counts ours); returns the files written."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for count in counts:
        for width, height in sizes:
            path = out / f"tv-{count:02d}-{width}x{height}.png"
            render_tv(synthetic_rooms(count - 1), (width, height), path)
            written.append(path)
        path = out / f"panel-{count:02d}.png"
        render_panel(synthetic_rooms(count - 1), path)
        written.append(path)
        app.processEvents()
    return written


def render_command(out: str) -> int:
    for path in render_layouts(Path(out)):
        print(path)
    return 0

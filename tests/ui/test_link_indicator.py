"""The link indicator on the TV and the panel, and the weak / paused marks on tiles.

A real kiosk window (PyQt6 offscreen) over a real Call that is not connected: the call's
own events (LinkQuality from its LinkWatch, the roster's MediaChanged) are raised as the
call would raise them, and the screen must follow. Screenshots go to the test's tmp_path.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PyQt6.QtCore import QRect
from PyQt6.QtWidgets import QLabel, QWidget

from devices import LatestFrame, Playout, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, CallState, HubSettings, LinkGrade, LinkQuality
from endpoint._videoroom import Feed
from ui import CallViewModel, KioskWindow, texts

FAR = "Xã Nà Hỳ"


@pytest.fixture
def kiosk(qtbot: Any) -> tuple[Call, KioskWindow]:
    settings = HubSettings(url="ws://127.0.0.1:9/", room=1234, display="Xã Thử")
    call = Call(settings, SyntheticCamera("Xã Thử", 320, 180, 15), SyntheticMicrophone(), Playout())
    window = KioskWindow(CallViewModel(call), "Xã Thử", LatestFrame())
    qtbot.addWidget(window)
    window.resize(1280, 720)
    window.show()
    qtbot.waitExposed(window)
    call._set_state(CallState.IN_MEETING)
    return call, window


def fits(label: QLabel, within: QWidget) -> None:
    """The whole text is drawn: the label is as large as its text, and inside *within*."""
    assert label.isVisibleTo(within), label.text()
    hint = label.sizeHint()
    assert label.width() >= hint.width() and label.height() >= hint.height(), label.text()
    corner = label.mapTo(within, label.rect().bottomRight())
    assert within.rect().contains(corner), f"{label.text()!r} runs off {within.objectName()}"


def test_indicator_follows_the_link(qtbot: Any, kiosk: Any, tmp_path: Path) -> None:
    call, window = kiosk
    tv, panel = window.meeting.link, window.link_panel
    assert not tv.isVisibleTo(window) and not panel.isVisibleTo(window), "nothing known yet"
    call._link(LinkQuality(LinkGrade.GOOD, 0.2, 0.0, 45.0, 420.0, 38.0))
    qtbot.waitUntil(lambda: tv.isVisibleTo(window))
    assert tv.label.text() == panel.label.text() == texts.LINK_GRADE[LinkGrade.GOOD]
    assert tv.bars.grade is LinkGrade.GOOD and not tv.figures.isVisibleTo(window)
    assert panel.figures.text() == "Mất gói 0,2 % · Trễ 45 ms\n↓ 420 ↑ 38 kbit/s"
    window.grab().save(str(tmp_path / "link-good.png"))
    call._link(LinkQuality(LinkGrade.FAIR, 3.4, 0.5, 310.0, 380.0, 38.0))
    assert tv.label.text() == texts.LINK_GRADE[LinkGrade.FAIR] and tv.bars.grade is LinkGrade.FAIR
    worst = LinkQuality(LinkGrade.POOR, 38.5, 12.0, 1250.0, 1480.0, 512.0, video_paused=True)
    call._link(worst)
    assert panel.label.text() == texts.LINK_GRADE[LinkGrade.POOR]
    assert panel.figures.text().endswith(texts.LINK_VIDEO_PAUSED)
    assert "38,5 %" in panel.figures.text() and "1250 ms" in panel.figures.text()
    qtbot.wait(50)  # the layout settles
    for label in (tv.label, panel.label, panel.figures):
        fits(label, window)
    fits(tv.label, window.meeting)
    window.grab().save(str(tmp_path / "link-poor-paused.png"))
    call.link = None  # the connection is gone (as Call._disconnect does)
    call._set_state(CallState.RECONNECTING, since=call.clock())
    assert not tv.isVisibleTo(window) and not panel.isVisibleTo(window)
    call._set_state(CallState.IN_MEETING)
    assert not tv.isVisibleTo(window), "a new connection: nothing known yet"


def screen_rect(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, widget.rect().topLeft()), widget.size())


def whole(widget: QWidget) -> None:
    """As large as its content asks (a wrapped label: as tall as its lines at its width)."""
    hint = widget.minimumSizeHint() if isinstance(widget, QLabel) else widget.sizeHint()
    assert widget.width() >= hint.width(), widget.objectName()
    needed = widget.heightForWidth(widget.width()) if widget.hasHeightForWidth() else hint.height()
    assert widget.height() >= needed, widget.objectName()


PANELS = [(1280, 800), (1024, 600)]
FAIR = LinkQuality(LinkGrade.FAIR, 3.1, 0.4, 180.0, 850.0, 310.0)
POOR_PAUSED = LinkQuality(LinkGrade.POOR, 38.5, 12.0, 1250.0, 1480.0, 512.0, video_paused=True)


@pytest.mark.parametrize("link", [FAIR, POOR_PAUSED], ids=["fair", "poor-paused"])
@pytest.mark.parametrize("camera", [False, True], ids=["", "camera-note"])
@pytest.mark.parametrize("size", PANELS, ids=lambda s: f"{s[0]}x{s[1]}")
def test_panel_bar_shows_every_figure(
    qtbot: Any, kiosk: Any, size: tuple[int, int], camera: bool, link: LinkQuality, tmp_path: Path
) -> None:
    """The moment the figures arrive (no event-loop turn in between, as a screenshot is
    taken), every line of the link box is drawn and the rest of the bar is still whole."""
    call, window = kiosk
    window.resize(*size)
    qtbot.wait(20)
    window.model.micStateChanged.emit("auto_muted")
    if camera:
        window.model.cameraChanged.emit("Bàn chủ tọa", False)
    call._link(link)
    window.grab().save(str(tmp_path / "panel.png"))
    screen = QRect(0, 0, *size)
    panel = window.link_panel
    bar = [window.badge, panel, window.mute_button, window.leave_button]
    bar += [window.camera_note] if camera else []
    for label in (panel.label, panel.figures):
        whole(label)
        assert screen.contains(screen_rect(label, window)), label.text()
        assert screen_rect(panel, window).contains(screen_rect(label, window)), label.text()
    for widget in bar:
        assert widget.isVisibleTo(window), widget.objectName()
        whole(widget)
        assert screen.contains(screen_rect(widget, window)), widget.objectName()
    for i, widget in enumerate(bar):
        for other in bar[i + 1 :]:
            overlap = screen_rect(widget, window).intersects(screen_rect(other, window))
            assert not overlap, (widget.objectName(), other.objectName())


def frame(level: int) -> av.VideoFrame:
    picture = np.full((180, 320, 3), level, np.uint8)
    picture[::8] = 255 - level  # stripes: not a blank
    return av.VideoFrame.from_ndarray(picture, format="rgb24")


def test_weak_and_paused_tiles(qtbot: Any, kiosk: Any, tmp_path: Path) -> None:
    call, window = kiosk
    call.roster.arrive([Feed(7, FAR), Feed(9, "Xã Bản Lầu")])
    tile = window.meeting.tiles[7]
    room = call.participants[7]
    room.video.put(frame(40))
    window.meeting.refresh()
    assert tile.picture.pixmap() is not None and not tile.picture.pixmap().isNull()
    call.roster.set_link(7, weak=True, video_paused=False)
    assert tile.caption.text() == f"{FAR} — {texts.WEAK_TILE}" and tile.property("weak")
    assert texts.STALE_TILE not in tile.caption.text()
    qtbot.wait(50)
    fits(tile.caption, tile)
    window.grab().save(str(tmp_path / "tile-weak.png"))
    call.roster.set_link(7, weak=True, video_paused=True)
    call.roster.set_link(9, weak=False, video_paused=True)
    assert tile.picture.text() == f"{FAR}\n{texts.PAUSED_TILE}" and tile.property("paused")
    assert tile.caption.text() == FAR and not tile.property("weak")
    assert not room.stale, "a paused video is not a dead room"
    room.video.put(frame(80))
    assert not window.meeting.tiles[7].refresh(), "no picture drawn while paused"
    qtbot.wait(50)
    fits(tile.picture, tile)
    window.grab().save(str(tmp_path / "tile-paused.png"))
    call.roster.mark_stale([7])
    assert tile.caption.text() == f"{FAR} — {texts.STALE_TILE}" and tile.property("stale")
    call.roster.set_link(7, weak=False, video_paused=False)
    room.media.arrived(call.clock())
    call.roster.check()
    room.video.put(frame(120))
    assert tile.refresh(), "the first frame after the pause is drawn"
    assert tile.picture.text() == "" and not tile.property("paused")

"""The TV meeting view's own CPU at a 25-room meeting (offscreen, no network, no decoding).

24 synthetic rooms: the speaker's slot gets a new decoded-like frame (yuv420p) 15 times a
second, the 8 thumbnails' slots 10 times a second, the other 15 rooms show by name; the
speaker changes every 4 s. Frames are made before the run, so the figure is the UI's work:
polling slots, scaling each new frame once, painting. Prints ``tv.<metric>: value unit``.

    .venv/bin/python bench/tv.py [--seconds 20] [--size 1920x1080] [--thumb 320x180]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import av  # noqa: E402
from PyQt6.QtCore import QTimer  # noqa: E402
from PyQt6.QtWidgets import QApplication  # noqa: E402

from devices import LatestFrame, SyntheticCamera  # noqa: E402
from kiosk.render import synthetic_rooms  # noqa: E402
from ui import MeetingView  # noqa: E402
from ui.window import STYLE  # noqa: E402


def frames(width: int, height: int, count: int = 30) -> list[av.VideoFrame]:
    camera = SyntheticCamera("bench", width, height)
    made = []
    for i in range(count):
        picture = camera.render(i, 1_700_000_000.0 + i)
        made.append(av.VideoFrame.from_ndarray(picture, format="bgr24").reformat(format="yuv420p"))
    return made


def size(text: str) -> tuple[int, int]:
    width, height = text.split("x")
    return int(width), int(height)


def main() -> int:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--seconds", type=float, default=20.0)
    args.add_argument("--size", type=size, default=(1920, 1080))
    args.add_argument("--large", type=size, default=(640, 360), help="speaker's frames")
    args.add_argument("--thumb", type=size, default=(320, 180), help="thumbnails' frames")
    opts = args.parse_args()
    app = QApplication.instance() or QApplication([])
    rooms = synthetic_rooms(24)
    for room in rooms:
        room.weak = room.video_paused = False
    self_slot: LatestFrame[object] = LatestFrame()
    view = MeetingView(self_slot)
    view.setStyleSheet(STYLE + view.styleSheet())
    view.resize(*opts.size)
    view.show()
    view.set_participants(rooms)
    large_frames, thumb_frames = frames(*opts.large), frames(*opts.thumb)
    camera = frames(640, 360, 10)
    ticks = {"large": 0, "thumb": 0, "talk": 0}

    def feed_large() -> None:
        ticks["large"] += 1
        plan = view.layout_plan
        if plan is not None and plan.large is not None:
            view.tiles[plan.large].slot.put(large_frames[ticks["large"] % 30])
        self_slot.put(camera[ticks["large"] % 10].to_ndarray(format="bgr24"))

    def feed_thumbs() -> None:
        ticks["thumb"] += 1
        for feed, _ in view.layout_plan.thumbs if view.layout_plan else ():
            view.tiles[feed].slot.put(thumb_frames[(ticks["thumb"] + feed) % 30])

    def next_talker() -> None:
        ticks["talk"] += 1
        for i, room in enumerate(rooms):
            room.talking = i == (ticks["talk"] * 7) % len(rooms)
        view.set_participants(rooms)

    timers = []
    for interval, callback in ((1000 // 15, feed_large), (100, feed_thumbs), (4000, next_talker)):
        timer = QTimer()
        timer.setInterval(interval)
        timer.timeout.connect(callback)
        timer.start()
        timers.append(timer)
    drawn = {"n": 0}

    def refresh() -> None:
        drawn["n"] += view.refresh()

    view.timer.timeout.disconnect()
    view.timer.timeout.connect(refresh)
    view.timer.start()
    warm = time.monotonic() + 2.0
    while time.monotonic() < warm:
        app.processEvents()
        time.sleep(0.002)
    cpu0, wall0 = time.process_time(), time.monotonic()
    drawn0 = drawn["n"]
    end = wall0 + opts.seconds
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.002)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    print(f"tv.rooms: {len(rooms) + 1} rooms")
    print(f"tv.screen: {opts.size[0]}x{opts.size[1]} px")
    print(f"tv.video_tiles: {len(view.video_tiles())} tiles")
    print(f"tv.cpu_pct: {100 * cpu / wall:.1f} % of one core")
    print(f"tv.frames_in_per_s: {(ticks['large'] + ticks['thumb'] * 8) / (wall + 2):.0f}")
    print(f"tv.drawn_per_s: {(drawn['n'] - drawn0) / wall:.0f} pictures (incl. self view)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

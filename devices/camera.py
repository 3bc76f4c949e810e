"""Cameras: a V4L2 camera through OpenCV and its synthetic stand-in.

Both run one named capture thread that puts BGR frames into a newest-wins slot
(``camera.frames``); the outgoing video track and the self-view read from it.
"""

from __future__ import annotations

import logging
import threading
import time
import unicodedata
from typing import Protocol

import cv2
import numpy as np

from devices import framecode
from devices._latest import LatestFrame
from devices.framecode import FrameCode, Image

log = logging.getLogger(__name__)


class Camera(Protocol):
    """What the call and the UI need from any camera."""

    name: str
    width: int
    height: int
    fps: int
    frames: LatestFrame[Image]

    @property
    def error(self) -> str | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...


class _CaptureThread:
    """A named daemon thread running ``_run`` until ``stop``."""

    name = "camera"

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"capture:{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError


def ascii_label(text: str) -> str:
    """OpenCV's fonts are ASCII only: 'Xã Bản Vẽ' becomes 'Xa Ban Ve'."""
    text = text.replace("Đ", "D").replace("đ", "d")
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return plain or "?"


class SyntheticCamera(_CaptureThread):
    """A moving test pattern with the room's name, a clock and an encoded frame code.

    Deterministic apart from the wall-clock stamp; the demo, the self-test and the
    tests use it wherever no real camera exists.
    """

    def __init__(self, label: str, width: int = 640, height: int = 360, fps: int = 15) -> None:
        super().__init__()
        self.name = "synthetic"
        self.label = ascii_label(label)
        self.width, self.height, self.fps = width, height, fps
        self.frames: LatestFrame[Image] = LatestFrame()
        self.counter = 0
        self._base = self._make_base()

    @property
    def error(self) -> str | None:
        return None

    def _make_base(self) -> Image:
        bars = np.array(
            [
                [192, 192, 192],
                [0, 192, 192],
                [192, 192, 0],
                [0, 192, 0],
                [192, 0, 192],
                [0, 0, 192],
                [192, 0, 0],
                [40, 40, 40],
            ],
            dtype=np.uint8,
        )
        columns = (np.arange(self.width) * len(bars) // self.width).astype(np.intp)
        return np.repeat(bars[columns][np.newaxis], self.height, axis=0)

    def render(self, counter: int, wall: float) -> Image:
        """One frame: scrolling bars, a bouncing box, texts and the frame code."""
        w, h = self.width, self.height
        image = np.roll(self._base, (counter * 4) % w, axis=1)
        x = int((w - 80) * (0.5 + 0.5 * np.sin(counter / 15)))
        cv2.rectangle(image, (x, h // 2 - 40), (x + 80, h // 2 + 40), (255, 255, 255), -1)
        scale = max(0.5, w / 640)
        text = (self.label, time.strftime("%H:%M:%S", time.localtime(wall)), f"#{counter}")
        for i, line in enumerate(text):
            y = int(h - (len(text) - i) * 32 * scale)
            cv2.putText(image, line, (12, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 5)
            cv2.putText(image, line, (12, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 2)
        framecode.encode(image, FrameCode(counter, int(wall * 1000)))
        return image

    def _run(self) -> None:
        period = 1.0 / self.fps
        deadline = time.monotonic()
        while not self._stop.is_set():
            self.frames.put(self.render(self.counter, time.time()), time.monotonic())
            self.counter += 1
            deadline = max(deadline + period, time.monotonic() - period)
            self._stop.wait(max(0.0, deadline - time.monotonic()))


class OpenCVCamera(_CaptureThread):
    """A V4L2 camera by device path; reopens by itself after unplug or errors."""

    RETRY_SECONDS = 2.0

    def __init__(self, path: str, width: int = 640, height: int = 360, fps: int = 15) -> None:
        super().__init__()
        self.path = path
        self.name = path.rsplit("/", 1)[-1]
        self.width, self.height, self.fps = width, height, fps
        self.frames: LatestFrame[Image] = LatestFrame()
        self._error: str | None = None

    @property
    def error(self) -> str | None:
        """Why no frames arrive now (None while capturing)."""
        return self._error

    def _open(self) -> cv2.VideoCapture | None:
        capture = cv2.VideoCapture(self.path, cv2.CAP_V4L2)
        if not capture.isOpened():
            self._error = f"cannot open camera {self.path}"
            return None
        capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        return capture

    def _run(self) -> None:
        while not self._stop.is_set():
            capture = self._open()
            if capture is not None:
                self._capture(capture)
                capture.release()
            if self._error:
                log.warning("camera %s: %s", self.path, self._error)
            self._stop.wait(self.RETRY_SECONDS)

    def _capture(self, capture: cv2.VideoCapture) -> None:
        while not self._stop.is_set():
            ok, raw = capture.read()
            if not ok or raw is None:
                self._error = f"camera {self.path} stopped delivering frames"
                return
            self._error = None
            if raw.shape[1] != self.width or raw.shape[0] != self.height:
                raw = cv2.resize(raw, (self.width, self.height))
            image: Image = np.asarray(raw, np.uint8)
            self.frames.put(image, time.monotonic())


def open_camera(device: str, label: str, width: int, height: int, fps: int) -> Camera:
    """The camera a config names: ``synthetic`` or a V4L2 device path."""
    if device == "synthetic":
        return SyntheticCamera(label, width, height, fps)
    return OpenCVCamera(device, width, height, fps)

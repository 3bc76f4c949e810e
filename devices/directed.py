"""The outgoing picture chosen by the director: one of the room's cameras, whole or cropped.

A crop of a wide camera is digital pan/zoom: the region is cut out and scaled back to
the output size in the source camera's capture thread (about a millisecond at 640×360),
so switching needs no new stream and no renegotiation.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

from devices._latest import LatestFrame
from devices.camera import Camera
from devices.framecode import Image

log = logging.getLogger(__name__)


class Crop(Protocol):
    """A region in normalised coordinates (0..1) of the source picture."""

    @property
    def x(self) -> float: ...
    @property
    def y(self) -> float: ...
    @property
    def w(self) -> float: ...
    @property
    def h(self) -> float: ...


def cut(image: Image, crop: Crop | None, width: int, height: int) -> Image:
    """*image* cropped to *crop* (whole when None) and scaled to width × height."""
    if crop is not None:
        rows, cols = image.shape[:2]
        top, left = int(crop.y * rows), int(crop.x * cols)
        bottom = max(top + 2, int((crop.y + crop.h) * rows))
        right = max(left + 2, int((crop.x + crop.w) * cols))
        image = image[top:bottom, left:right]
    if image.shape[1] != width or image.shape[0] != height:
        image = np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_LINEAR))
    return np.ascontiguousarray(image, dtype=np.uint8)


class DirectedCamera:
    """A Camera whose frames come from the currently chosen camera and crop."""

    name = "directed"

    def __init__(self, cameras: dict[str, Camera], first: str) -> None:
        if first not in cameras:
            raise ValueError(f"camera {first!r} is not one of {sorted(cameras)}")
        main = cameras[first]
        self.cameras = cameras
        self.width, self.height, self.fps = main.width, main.height, main.fps
        self.frames: LatestFrame[Image] = LatestFrame()
        self._lock = threading.Lock()
        self._selected: str = first
        self._crop: Crop | None = None
        self._undo: list[Callable[[], None]] = []

    @property
    def selected(self) -> tuple[str, Crop | None]:
        return self._selected, self._crop

    @property
    def error(self) -> str | None:
        return self.cameras[self._selected].error

    def point(self, camera: str, crop: Crop | None = None) -> None:
        """Show *camera* (cropped to *crop*) from its next frame on."""
        if camera not in self.cameras:
            log.warning("director chose unknown camera %r; keeping %r", camera, self._selected)
            return
        with self._lock:
            self._selected, self._crop = camera, crop

    def start(self) -> None:
        for name, camera in self.cameras.items():
            self._undo.append(camera.frames.listen(self._forwarder(name, camera)))
            camera.start()

    def _forwarder(self, name: str, camera: Camera) -> Callable[[], None]:
        def forward() -> None:  # runs in that camera's capture thread
            with self._lock:
                selected, crop = self._selected, self._crop
            if selected != name:
                return
            image, _ = camera.frames.get()
            if image is not None:
                self.frames.put(cut(image, crop, self.width, self.height), camera.frames.stamp)

        return forward

    def stop(self) -> None:
        for undo in self._undo:
            undo()
        self._undo.clear()
        for camera in self.cameras.values():
            camera.stop()

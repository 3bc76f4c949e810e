"""The directed camera: switching cameras and digital pan/zoom crops."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np

from devices import LatestFrame
from devices.directed import DirectedCamera, cut


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float


class StillCamera:
    """A camera that shows one fixed picture, put once per start and on demand."""

    def __init__(self, picture: np.ndarray) -> None:
        self.picture = picture
        self.height, self.width = picture.shape[:2]
        self.fps = 15
        self.frames: LatestFrame[np.ndarray] = LatestFrame()
        self.error: str | None = None

    def start(self) -> None:
        threading.Thread(target=self.shoot).start()

    def shoot(self) -> None:
        self.frames.put(self.picture, time.monotonic())

    def stop(self) -> None:
        pass


def quadrants(width: int = 64, height: int = 36) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[: height // 2, : width // 2] = (255, 0, 0)
    image[: height // 2, width // 2 :] = (0, 255, 0)
    image[height // 2 :, : width // 2] = (0, 0, 255)
    image[height // 2 :, width // 2 :] = (255, 255, 255)
    return image


def test_cut_whole_picture_passes_through() -> None:
    image = quadrants()
    assert np.array_equal(cut(image, None, 64, 36), image)


def test_cut_crop_zooms_into_the_region() -> None:
    zoomed = cut(quadrants(), Box(0.5, 0.0, 0.5, 0.5), 64, 36)
    assert zoomed.shape == (36, 64, 3)
    assert (zoomed.reshape(-1, 3) == (0, 255, 0)).all()


def test_directed_camera_follows_the_chosen_camera_and_crop() -> None:
    wide, door = StillCamera(quadrants()), StillCamera(np.full((36, 64, 3), 77, np.uint8))
    directed = DirectedCamera({"wide": wide, "door": door}, "wide")
    directed.start()
    wide.shoot()
    image, _ = directed.frames.get()
    assert image is not None and np.array_equal(image, wide.picture)
    directed.point("door")
    door.shoot()
    wide.shoot()  # frames of the camera not shown are ignored
    image, _ = directed.frames.get()
    assert image is not None and (image == 77).all()
    directed.point("wide", Box(0.0, 0.5, 0.5, 0.5))
    wide.shoot()
    image, _ = directed.frames.get()
    assert image is not None and (image.reshape(-1, 3) == (0, 0, 255)).all()
    directed.point("nowhere")
    assert directed.selected[0] == "wide"
    directed.stop()


def test_playout_keeps_what_went_to_the_speakers() -> None:
    from devices import Playout

    playout = Playout(target_ms=20)
    tone = np.sin(np.arange(960) / 10).astype(np.float32) * 0.5
    playout.write("far", tone)
    playout.read(480)
    assert np.allclose(playout.reference.read(480), tone[:480])

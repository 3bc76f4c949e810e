"""Outgoing media tracks fed by the devices layer.

The video track sends each new camera frame once (newest wins, capped at the
camera's frame rate). Given a quality tier (``_adapt.Tier``; set by the uplink while the
adaptive layers are on) it also caps the frame rate at the tier's, scales the picture to
fit the tier's size (never up) and tags each frame with its tier for the VP8 encoder's bit
rate (``_vp8.TieredVp8Encoder``). A camera that stalls, or never gives a picture, has its
last picture (or a black one) sent again every ``STALL_SECONDS``: a kit with a dead camera
is seen black, never taken for gone. The still-picture tier is a fresh frame once a second,
so the other rooms keep seeing the room and never take it for gone. The audio track sends
20 ms frames paced by the clock and sends silence while muted, so the stream stays up and
unmuting is instant.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections.abc import Callable

import av
import numpy as np
from aiortc import MediaStreamTrack

from devices import Camera, Microphone
from endpoint._adapt import Tier

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020
STALL_SECONDS = 1.0
SHAPE_SLACK = 0.02  # a picture may be stretched this much to fill a tier's size


class CameraTrack(MediaStreamTrack):
    """Video from a camera's newest-wins slot."""

    kind = "video"

    def __init__(self, camera: Camera, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.camera = camera
        self._clock = clock
        self._start = clock()
        self._sent_seq = 0
        self._next = clock()
        self._fresh = asyncio.Event()
        loop = asyncio.get_running_loop()

        def wake() -> None:  # in the capture thread
            with contextlib.suppress(RuntimeError):  # the loop is closing
                loop.call_soon_threadsafe(self._fresh.set)

        self._unlisten = camera.frames.listen(wake)
        self.frames_sent = 0
        self.tier: Tier | None = None  # None: the camera's own size and rate, as aiortc gets it

    async def recv(self) -> av.VideoFrame:
        await self._pace()
        image, seq = self.camera.frames.get()
        while image is None or seq == self._sent_seq:
            self._fresh.clear()
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow the
                # cancellation aiortc uses to stop the sender, and close() then never returns.
                async with asyncio.timeout(STALL_SECONDS):
                    await self._fresh.wait()
            except TimeoutError:
                break  # camera stalled: the last picture again (black if none) so we stay seen
            image, seq = self.camera.frames.get()
        if image is None:  # a camera that never gave a picture: black, once per stall
            image = np.zeros((self.camera.height, self.camera.width, 3), np.uint8)
        self._sent_seq = seq
        return self._frame(image)

    async def _pace(self) -> None:
        delay = self._next - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)
        fps = self.camera.fps if self.tier is None else min(self.camera.fps, self.tier.fps)
        # Behind (loop busy, camera late): at most one frame's time is made up, so the
        # rate never bursts above the cap.
        self._next = max(self._next, self._clock() - 1.0 / fps) + 1.0 / fps

    def _frame(self, image: np.ndarray) -> av.VideoFrame:
        frame = av.VideoFrame.from_ndarray(image, format="bgr24")
        if (tier := self.tier) is not None:
            frame = _scaled(frame, fitted(frame.width, frame.height, tier))
            frame.opaque = tier
        frame.pts = int((self._clock() - self._start) * VIDEO_CLOCK)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.frames_sent += 1
        return frame

    def stop(self) -> None:
        if self.readyState != "ended":
            self._unlisten()
        super().stop()


def fitted(width: int, height: int, tier: Tier) -> tuple[int, int]:
    """The picture's size within *tier*'s box, never larger: its shape kept, or the box
    filled when the shapes differ by at most ``SHAPE_SLACK`` (424x240 is not quite 16:9)."""
    sx, sy = min(1.0, tier.width / width), min(1.0, tier.height / height)
    if max(sx, sy) > min(sx, sy) * (1 + SHAPE_SLACK):
        sx = sy = min(sx, sy)
    return max(2, round(width * sx / 2) * 2), max(2, round(height * sy / 2) * 2)


def _scaled(frame: av.VideoFrame, size: tuple[int, int]) -> av.VideoFrame:
    if size == (frame.width, frame.height):
        return frame  # the encoder converts it, off the loop
    return frame.reformat(width=size[0], height=size[1], format="yuv420p")


class MicrophoneTrack(MediaStreamTrack):
    """Audio from a microphone, 20 ms frames, silence while muted."""

    kind = "audio"

    def __init__(self, microphone: Microphone, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.microphone = microphone
        self.muted = False
        self._clock = clock
        self._samples = int(AUDIO_RATE * AUDIO_PTIME)
        self._pts = 0
        self._start: float | None = None

    async def recv(self) -> av.AudioFrame:
        if self._start is None:
            self._start = self._clock()
        due = self._start + self._pts / AUDIO_RATE
        if due - self._clock() > 0:
            await asyncio.sleep(due - self._clock())
        elif self._clock() - due > 0.5:  # we fell far behind (suspend, overload): resync
            self._start = self._clock() - self._pts / AUDIO_RATE
        block = self.microphone.read(self._samples)
        if self.muted:
            block = np.zeros_like(block)
        pcm = (np.clip(block, -1.0, 1.0) * 32767).astype("<i2").reshape(1, -1)
        frame = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = self._pts
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        self._pts += self._samples
        return frame

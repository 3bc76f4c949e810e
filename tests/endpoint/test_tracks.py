"""Outgoing tracks: pacing, newest-wins, and stopping cleanly."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import numpy as np
import pytest

from devices import LatestFrame, SyntheticCamera, SyntheticMicrophone
from endpoint import _tracks
from endpoint._adapt import TIERS, Tier
from endpoint._tracks import CameraTrack, MicrophoneTrack, fitted


class SlotCamera:
    name, width, height, fps, error = "slot", 64, 36, 30, None

    def __init__(self) -> None:
        self.frames: LatestFrame[np.ndarray] = LatestFrame()

    def put(self) -> None:
        self.frames.put(np.zeros((36, 64, 3), np.uint8), time.monotonic())


async def test_cancel_wins_over_a_frame_arriving_at_the_same_time() -> None:
    """aiortc stops a sender by cancelling it; a frame arriving around the same loop turn
    must not swallow that cancellation (else RTCPeerConnection.close() never returns)."""
    accepted = 0
    for turns in range(4):
        camera = SlotCamera()
        camera.put()
        track = CameraTrack(camera)
        await track.recv()  # the first frame goes out; the next recv waits for a new one
        task = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.01)
        camera.put()
        for _ in range(turns):
            await asyncio.sleep(0)
        if task.cancel():  # still running: the cancellation must win
            accepted += 1
            with pytest.raises(asyncio.CancelledError):
                await task
        track.stop()
    assert accepted >= 2, "the race was not exercised"


async def test_camera_track_sends_each_new_frame_once() -> None:
    camera = SlotCamera()
    track = CameraTrack(camera)
    sent = []
    for _ in range(3):
        camera.put()
        sent.append((await track.recv()).pts)
    assert sent == sorted(set(sent)) and track.frames_sent == 3
    track.stop()


async def test_a_camera_that_gives_no_picture_sends_black(monkeypatch: Any) -> None:
    """A dead camera must not stop our video: the far end would call the room gone."""
    monkeypatch.setattr(_tracks, "STALL_SECONDS", 0.05)
    camera = SlotCamera()
    track = CameraTrack(camera)
    try:
        frames = [await asyncio.wait_for(track.recv(), 5.0) for _ in range(2)]
        camera.put()  # the camera comes back: its picture, then black no more
        frames.append(await asyncio.wait_for(track.recv(), 5.0))
    finally:
        track.stop()
    assert [(f.width, f.height) for f in frames] == [(64, 36)] * 3
    assert all(not f.to_ndarray().any() for f in frames[:2])
    assert track.frames_sent == 3


async def test_microphone_track_paces_20_ms_frames_and_mutes() -> None:
    track = MicrophoneTrack(SyntheticMicrophone(440.0))
    start = time.monotonic()
    frames = [await track.recv() for _ in range(10)]
    assert time.monotonic() - start >= 0.17  # ten 20 ms frames are paced, not bursted
    assert [f.pts for f in frames] == [i * 960 for i in range(10)]
    assert np.abs(frames[-1].to_ndarray()).max() > 1000
    track.muted = True
    assert np.abs((await track.recv()).to_ndarray()).max() == 0


@pytest.mark.parametrize("tier", TIERS, ids=[t.name for t in TIERS])
async def test_camera_track_sends_each_tier_s_size_and_rate(tier: Tier) -> None:
    """Real frames from the synthetic camera (640x360 at 15 fps): scaled to the tier's
    size, paced at its rate, tagged with it for the encoder."""
    camera = SyntheticCamera("tiers", 640, 360, 15)
    camera.start()
    track = CameraTrack(camera)
    track.tier = tier
    try:
        await track.recv()  # the first frame goes out at once
        count = 3 if tier.fps < 5 else 12
        start = time.monotonic()
        frames = [await track.recv() for _ in range(count)]
        rate = count / (time.monotonic() - start)
    finally:
        track.stop()
        camera.stop()
    assert {(f.width, f.height) for f in frames} == {(tier.width, tier.height)}
    assert {f.opaque for f in frames} == {tier}
    assert tier.fps * 0.5 <= rate <= tier.fps * 1.1, f"{rate:.1f} frames/s"  # never above


async def test_camera_track_without_a_tier_sends_the_camera_as_it_is() -> None:
    camera = SyntheticCamera("plain", 640, 360, 15)
    camera.start()
    track = CameraTrack(camera)
    try:
        frame = await track.recv()
    finally:
        track.stop()
        camera.stop()
    assert (frame.width, frame.height, frame.format.name) == (640, 360, "bgr24")
    assert frame.opaque is None


def test_a_picture_is_fitted_into_the_tier_never_enlarged() -> None:
    assert fitted(640, 480, TIERS[-1]) == (480, 360)  # a 4:3 camera keeps its shape
    assert fitted(1280, 720, TIERS[2]) == (424, 240)  # 16:9 fills 424x240 (1 % off)
    assert fitted(1000, 1000, TIERS[2]) == (240, 240)  # even sizes for yuv420p
    assert fitted(320, 180, TIERS[-1]) == (320, 180)

"""Outgoing tracks: pacing, newest-wins, and stopping cleanly."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from devices import LatestFrame, SyntheticMicrophone
from endpoint._tracks import CameraTrack, MicrophoneTrack


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


async def test_microphone_track_paces_20_ms_frames_and_mutes() -> None:
    track = MicrophoneTrack(SyntheticMicrophone(440.0))
    start = time.monotonic()
    frames = [await track.recv() for _ in range(10)]
    assert time.monotonic() - start >= 0.17  # ten 20 ms frames are paced, not bursted
    assert [f.pts for f in frames] == [i * 960 for i in range(10)]
    assert np.abs(frames[-1].to_ndarray()).max() > 1000
    track.muted = True
    assert np.abs((await track.recv()).to_ndarray()).max() == 0

"""Real capture and playout through the audio server, and devices that are not there."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from devices import OpenCVCamera, Playout, SoundDeviceMicrophone, SoundDeviceSpeaker
from devices.room_voice import ArrayCapture, VoiceMicrophone
from devices.voice import (
    ArrayGeometry,
    CameraTarget,
    Director,
    DirectorConfig,
    MicState,
    ScriptedMicArray,
    VoiceConfig,
    VoiceProcessor,
)
from tests._audio_server import RATE, dominant_frequency, rms


def tone(hz: float, seconds: float, level: float = 0.3) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * hz * t) * level).astype(np.float32)


def test_microphone_captures_what_the_room_plays(audio_server: Any) -> None:
    mic = SoundDeviceMicrophone("pulse:mic_feed.monitor")
    mic.start()
    assert mic.error is None
    player = audio_server.play("mic_feed", tone(1000.0, 1.5))
    time.sleep(0.8)
    heard = mic.read(RATE // 4)
    mic.stop()
    player.wait(timeout=5)
    assert rms(heard) > 0.1 and abs(dominant_frequency(heard) - 1000.0) < 10


def test_array_capture_delivers_blocks_of_every_channel(audio_server: Any) -> None:
    array = ArrayCapture("pulse:mic_feed.monitor", 4)
    array.start()
    assert array.error is None
    player = audio_server.play("mic_feed", tone(700.0, 1.5))
    time.sleep(0.6)
    blocks = []
    for block in array.blocks():
        blocks.append(block)
        if len(blocks) == 30:
            break
    array.stop()
    player.wait(timeout=5)
    mics = np.concatenate([b.mics for b in blocks])
    assert mics.shape[1] == 4 and all(b.mics.shape == (480, 4) for b in blocks)
    assert all(rms(mics[:, c]) > 0.05 for c in range(4))


def test_missing_devices_report_errors_and_keep_running() -> None:
    mic = SoundDeviceMicrophone("Micro USB không có")
    mic.start()
    assert mic.error is not None and "not found" in mic.error
    assert np.all(mic.read(480) == 0)
    speaker = SoundDeviceSpeaker("Loa không có", Playout())
    speaker.start()
    assert speaker.error is not None
    camera = OpenCVCamera("/dev/video-diemcau-missing")
    camera.start()
    deadline = time.monotonic() + 5
    while camera.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    camera.stop()
    assert camera.error is not None and "cannot open" in camera.error


def test_wrong_channel_count_fails_safe_open_with_warning() -> None:
    """A 2-channel recording where the config says 4 microphones: the room stays audible."""
    speech_like = tone(300.0, 1.0, 0.2)
    source = ScriptedMicArray(np.column_stack([speech_like, speech_like]), RATE)
    processor = VoiceProcessor(VoiceConfig(array=ArrayGeometry.circular(4, 0.045)))
    director = Director(DirectorConfig(overview=CameraTarget("main")))
    voice = VoiceMicrophone(source, processor, director)
    voice.start()
    time.sleep(0.5)
    decision = voice.decisions.get()[0]
    audio = voice.read(RATE // 10)
    voice.stop()
    assert decision is not None and decision.mic is MicState.OPEN_WARNING
    assert decision.warnings and rms(audio) > 0.05

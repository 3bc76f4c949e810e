"""The microphone array in a real meeting: auto-mute, far-end immunity, camera to the talker.

A recorded room (speech from 67.5°, later the far end out of the TV loudspeaker at 270°)
plays as the array; another room listens on a real audio sink and watches the picture.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices import Playout, SoundDeviceSpeaker, SyntheticCamera, SyntheticMicrophone, framecode
from devices.scene import Sound, render, speech
from devices.voice import MicState, write_wav
from endpoint import Call, CallState, HubSettings
from kiosk.app import hub_settings, open_devices
from kiosk.config import Config
from tests._audio_server import rms
from tests._util import wait_until

SPEECH_AT, ECHO_AT, LENGTH = 1.0, 7.5, 11.5


@pytest.fixture(scope="module")
def room_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    talk = speech("Xin chào các đồng chí, xã Bản Vẽ xin báo cáo tình hình mưa lũ trong tuần.")
    far = speech("Đây là điểm cầu huyện, đề nghị các xã báo cáo ngắn gọn.") * 0.5
    mics, ref = render(
        [Sound(talk, 67.5, SPEECH_AT), Sound(far, 270.0, ECHO_AT, far_end=True)], LENGTH
    )
    path = tmp_path_factory.mktemp("room") / "room.wav"
    write_wav(path, np.column_stack([mics, ref]), 48000)
    return path


def kiosk_config(hub: Any, tmp_path: Path, recording: Path) -> Config:
    pin = tmp_path / "pin"
    pin.touch(mode=0o600)
    pin.write_text(hub.room.pin)
    return Config.from_dict(
        {
            "site": {"name": "Xã Bản Vẽ"},
            "hub": {"url": hub.url, "room": hub.room.room, "pin_file": str(pin)},
            "camera": {"width": 320, "height": 180},
            "voice": {
                "enabled": True, "script_wav": str(recording), "speaker_angles": [225, 315],
                "zones": [{"name": "Dãy trái", "angles": [30, 110], "crop": [0.5, 0.5, 0.5, 0.5]}],
            },
        }
    )  # fmt: skip


def decodable(frame: Any) -> bool:
    return frame is not None and framecode.decode(frame.to_ndarray(format="gray")) is not None


async def test_array_gates_audio_and_points_camera(
    hub: Any, audio_server: Any, tmp_path: Path, room_recording: Path
) -> None:
    config = kiosk_config(hub, tmp_path, room_recording)
    devices = open_devices(config)
    assert devices.voice is not None
    kiosk = Call(hub_settings(config), devices.camera, devices.microphone, devices.playout)
    listener_playout = Playout()
    listener_speaker = SoundDeviceSpeaker("pulse:room_b", listener_playout, volume=100)
    listener_cam = SyntheticCamera("Xã Nghe", 320, 180, 15)
    listener = Call(
        HubSettings(hub.url, hub.room.room, "Xã Nghe", pin=hub.room.pin),
        listener_cam, SyntheticMicrophone(), listener_playout,
    )  # fmt: skip
    states: list[tuple[float, MicState, str | None]] = []
    listener_cam.start()
    listener_speaker.start()
    await listener.join()
    await kiosk.join()
    assert kiosk.state is CallState.IN_MEETING
    devices.voice.decisions.listen(lambda: states.append(_now(devices.voice)))
    try:
        devices.start()
        await _check_timeline(devices, listener, kiosk.settings.display, audio_server, states)
    finally:
        await kiosk.leave()
        await listener.leave()
        devices.stop()
        listener_cam.stop()
        listener_speaker.stop()


def _now(voice: Any) -> tuple[float, MicState, str | None]:
    decision = voice.decisions.get()[0]
    return decision.t, decision.mic, decision.zone


async def _check_timeline(
    devices: Any, listener: Call, name: str, audio: Any, states: list[Any]
) -> None:
    # The kiosk by its name, and by its picture: the shared hub may still list a room of
    # that name an earlier test left behind (a killed kiosk stays until the hub's timeout).
    def kiosk_seen() -> list[Any]:
        return [
            p for p in list(listener.participants.values())
            if p.display == name and p.video.get()[0] is not None
        ]  # fmt: skip

    await wait_until(lambda: bool(states))
    start = states[0][0]
    # Before anyone speaks: auto-muted, the far room hears nothing, the picture is the overview.
    await asyncio.sleep(0.3)
    assert states[-1][1] is MicState.AUTO_MUTED
    assert rms(await asyncio.to_thread(audio.record, "room_b", 0.4)) < 0.002
    # The far room sees the kiosk's picture. (Its frame code is not always readable in the
    # full suite, where the send tier may start lower: the overview is proven by the code
    # only when it is readable, below.)
    await wait_until(lambda: bool(kiosk_seen()), timeout=10)
    seen = kiosk_seen()[-1]
    overview_read = decodable(seen.video.get()[0])
    # Speech from the left row: the microphone opens and the camera cuts to that zone.
    await wait_until(lambda: states[-1][2] == "Dãy trái", timeout=SPEECH_AT + 3)
    onset = next(t for t, mic, _ in states if mic is MicState.OPEN) - start
    cut = next(t for t, _, zone in states if zone == "Dãy trái") - start
    assert SPEECH_AT <= onset < SPEECH_AT + 0.3 and cut - SPEECH_AT <= 1.0
    assert devices.camera.selected[1] is not None  # the crop is applied to the outgoing picture
    heard = await asyncio.to_thread(audio.record, "room_b", 0.8)
    assert rms(heard) > 0.01
    await asyncio.sleep(0.5)
    if overview_read:  # the code in the overview's top band is cropped away by the zoom
        assert not decodable(seen.video.get()[0]), "the far room must see the zoomed zone"
    # The far end out of the TV loudspeaker (from 270°, in the exclusion zone) never opens it.
    await wait_until(lambda: states[-1][0] - start > LENGTH - 0.5, timeout=LENGTH + 2)
    during_echo = [mic for t, mic, _ in states if ECHO_AT + 0.5 < t - start < LENGTH - 0.5]
    assert during_echo and MicState.OPEN not in during_echo

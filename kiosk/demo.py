"""The embedded demo: a local hub, a synthetic far-end commune and this kiosk, joined.

Runs inside a private network namespace when it can (the hub needs a non-loopback
interface for media and the demo must reach nothing outside this machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtWidgets import QApplication

from devices import Playout, SyntheticCamera, SyntheticMicrophone
from devices.scene import Sound, render, speech
from devices.voice import write_wav
from endpoint import Call, CallState, HubSettings
from kiosk import netns
from kiosk.app import KioskApp, headless_wanted, run_qt
from kiosk.config import Config
from kiosk.hub import LocalHub

log = logging.getLogger(__name__)

FAR_END_NAME = "Xã Nà Hỳ"
DEMO_SITE_NAME = "Xã Bản Vẽ"


SCENE_SPEECH_AT, SCENE_ECHO_AT, SCENE_SECONDS = 1.0, 7.5, 11.5
DECODING_WINDOW = 2.0  # s at the end over which the far end's frame counters must move
DEMO_ZONE = {"name": "Dãy trái", "angles": [30, 110], "crop": [0.5, 0.45, 0.5, 0.55]}


def demo_scene(workdir: Path) -> Path:
    """A recorded room for the array stand-in: a local talker from the left row (67.5°),
    then the far end out of the TV loudspeaker (270°). Last channel: the playout reference."""
    talk = speech("Xin chào các đồng chí, xã Bản Vẽ xin báo cáo tình hình mưa lũ trong tuần.")
    far = speech("Đây là điểm cầu huyện, đề nghị các xã báo cáo ngắn gọn.") * 0.5
    sounds = [Sound(talk, 67.5, SCENE_SPEECH_AT), Sound(far, 270.0, SCENE_ECHO_AT, far_end=True)]
    mics, ref = render(sounds, SCENE_SECONDS)
    path = workdir / "room.wav"
    write_wav(path, np.column_stack([mics, ref]), 48000)
    return path


def demo_config(hub: LocalHub, workdir: Path, voice: bool = False) -> Config:
    """The kiosk's configuration for the demo; the room PIN goes in a 0600 file."""
    pin_file = workdir / "room.pin"
    pin_file.touch(mode=0o600)
    pin_file.write_text(hub.room.pin + "\n")
    raw: dict[str, Any] = {
        "site": {"name": DEMO_SITE_NAME},
        "hub": {"url": hub.url, "room": hub.room.room, "pin_file": str(pin_file)},
        "state": {"dir": str(workdir / "state")},
    }
    if voice:
        raw["voice"] = {
            "enabled": True, "script_wav": str(demo_scene(workdir)),
            "speaker_angles": [225, 315], "zones": [DEMO_ZONE],
        }  # fmt: skip
    return Config.from_dict(raw, source="<demo>")


def far_end(hub: LocalHub) -> tuple[Call, SyntheticCamera]:
    """A second, headless endpoint: test pattern and a voice-like signal."""
    camera = SyntheticCamera(FAR_END_NAME, 640, 360, 15)
    settings = HubSettings(url=hub.url, room=hub.room.room, display=FAR_END_NAME, pin=hub.room.pin)
    return Call(settings, camera, SyntheticMicrophone(voice=True), Playout()), camera


async def _demo(app: QApplication, hub: LocalHub, seconds: float | None, shot: Path | None) -> int:
    remote, remote_camera = far_end(hub)
    remote_camera.start()
    await remote.join()
    with tempfile.TemporaryDirectory(prefix="diemcau-demo-") as workdir:
        kiosk = KioskApp(demo_config(hub, Path(workdir), voice=True))
        kiosk.start()
        kiosk.window.join_button.click()  # the officer's tap
        return await _show(app, kiosk, remote, remote_camera, seconds, shot)


async def _show(
    app: QApplication,
    kiosk: KioskApp,
    remote: Call,
    remote_camera: SyntheticCamera,
    seconds: float | None,
    shot: Path | None,
) -> int:
    try:
        await _run_for(app, kiosk, seconds)
        decoding = await _still_decoding(kiosk.call)
        ok = kiosk.call.state is CallState.IN_MEETING and decoding
        if shot is not None:
            kiosk.window.grab().save(str(shot))
            print(f"screenshot: {shot}")
        _report(kiosk)
        return 0 if ok else 1
    finally:
        await kiosk.stop()
        await remote.leave()
        remote_camera.stop()


async def _run_for(app: QApplication, kiosk: KioskApp, seconds: float | None) -> None:
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await closed.wait()


async def _still_decoding(call: Call) -> bool:
    """Whether the far end's frames are still being decoded at the end: every remote
    room's frame counter moves over the last DECODING_WINDOW seconds."""
    before = _frame_counts(call)
    await asyncio.sleep(DECODING_WINDOW)
    after = _frame_counts(call)
    moved = {name: after.get(name, seq) - seq for name, seq in before.items()}
    for name, frames in moved.items():
        print(f"remote room {name!r}: {frames} new frames in the last {DECODING_WINDOW:.0f} s")
    decoding = bool(moved) and all(moved.values())
    print(f"far-end video still decoding: {'yes' if decoding else 'no'}")
    return decoding


def _frame_counts(call: Call) -> dict[str, int]:
    return {p.display: p.video.seq for p in call.participants.values()}


def _report(kiosk: KioskApp) -> None:
    call = kiosk.call
    print(f"call state: {call.state.value}")
    shot = kiosk.model.camera_shot[0] or "overview"
    print(f"microphone: {kiosk.model.mic_state}; camera: {shot}")
    for participant in call.participants.values():
        print(f"remote room {participant.display!r}: {participant.video.seq} frames decoded")


def demo(headless: bool, seconds: float | None, screenshot: str | None) -> int:
    if not netns.inside() and netns.probe():
        netns.exec_inside([sys.executable, "-m", "kiosk.cli", *sys.argv[1:]])
    headless = headless_wanted(headless)
    if headless and seconds is None:
        seconds = 10.0
    shot = Path(screenshot).resolve() if screenshot else None
    interface = netns.INTERFACE if netns.inside() else ""
    with LocalHub(interface=interface) as hub:
        return run_qt(lambda app: _demo(app, hub, seconds, shot), headless)

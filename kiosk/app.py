"""Wiring: configuration → devices → call → view-model → window, on one qasync loop."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from PyQt6.QtCore import QTimer, QtMsgType, qInstallMessageHandler
from PyQt6.QtWidgets import QApplication

from devices import (
    Camera,
    Microphone,
    Playout,
    Speaker,
    open_camera,
    open_microphone,
    open_speaker,
)
from devices.room_voice import VoiceMicrophone
from endpoint import Call, HubSettings
from kiosk import device_choice, display, voice
from kiosk.config import Config, ConfigError
from ui import CallViewModel, KioskWindow, texts

log = logging.getLogger(__name__)

DEVICE_CHECK_MS = 2000


def hub_settings(config: Config) -> HubSettings:
    """The call's settings; secrets are read from their files now, never logged."""
    hub = config.hub
    return HubSettings(
        url=hub.url,
        room=hub.room,
        display=config.site.name,
        pin=hub.read_pin(),
        token=hub.read_token(),
        ca_file=str(hub.ca_file) if hub.ca_file else None,
        ice_servers=tuple(hub.ice_servers),
        connect_timeout=hub.connect_timeout,
        video_slots=config.meeting.video_slots + 1,  # the speaker, and the thumbnails
    )


@dataclass
class Devices:
    """The room's devices; ``voice_off`` when [voice] was wanted but could not be used."""

    camera: Camera
    microphone: Microphone
    playout: Playout
    speaker: Speaker
    voice: VoiceMicrophone | None = None
    voice_off: bool = False

    def start(self) -> None:
        for device in (self.camera, self.microphone, self.speaker):
            device.start()

    def stop(self) -> None:
        for device in (self.camera, self.microphone, self.speaker):
            device.stop()

    def problems(self) -> list[str]:
        pairs = (
            (self.camera, texts.CAMERA_MISSING),
            (self.microphone, texts.MIC_MISSING),
            (self.speaker, texts.SPEAKER_MISSING),
        )
        missing = [text for device, text in pairs if device.error]
        return [texts.VOICE_CONFIG_OFF, *missing] if self.voice_off else missing


def _voice_microphone(config: Config, playout: Playout) -> VoiceMicrophone | None:
    """The array as the room's microphone, or None when it cannot be built: voice is an
    extra, and a recording that cannot be read or a pipeline that refuses to start must
    never keep the room out of its meeting (the plain microphone takes over)."""
    try:
        return voice.voice_microphone(config, playout)
    except Exception as err:  # any failure here costs only the voice features
        log.error("voice off, using the plain microphone: %s", err, exc_info=True)
        return None


def open_devices(config: Config) -> Devices:
    cam, mic, spk = config.camera, config.microphone, config.speaker
    playout = Playout()
    camera: Camera = open_camera(cam.device, config.site.name, cam.width, cam.height, cam.fps)
    microphone: Microphone
    voice_mic = _voice_microphone(config, playout) if config.voice.enabled else None
    if voice_mic is not None:
        microphone, camera = voice_mic, voice.directed_camera(camera, voice_mic)
    else:
        wav = str(mic.wav_file) if mic.wav_file else None
        microphone = open_microphone(mic.device, mic.tone_hz, wav)
    speaker = open_speaker(spk.device, playout, spk.volume)
    voice_off = bool(config.voice_issues) or (config.voice.enabled and voice_mic is None)
    return Devices(camera, microphone, playout, speaker, voice_mic, voice_off)


def _with_choice(config: Config) -> Config:
    """``config`` with the devices the technician chose (logged: the file says otherwise)."""
    choice = device_choice.load_choice(config.state.dir, config)
    if choice:
        log.info("devices chosen in the technician area: %s", choice)
    return device_choice.apply_choice(config, choice)


class KioskApp:
    """The running kiosk: devices, the call and the window, started and stopped together."""

    def __init__(self, config: Config, notice: str = "", join_allowed: bool = True) -> None:
        """``file_config``: as given; ``config``: the same with the technician's device
        choice (kept in the state folder) in place of the configured devices."""
        self.file_config = config
        self.config = _with_choice(config)
        self._notice, self._join_allowed = notice, join_allowed
        self.devices = open_devices(self.config)
        self.call = Call(
            self._settings(), self.devices.camera, self.devices.microphone, self.devices.playout
        )
        choices = voice.camera_choices(config) if self.devices.voice else []
        self.model = CallViewModel(self.call, self.devices.voice, choices)
        self.window = KioskWindow(
            self.model,
            config.site.name,
            self.devices.camera.frames,  # type: ignore[arg-type]
            video_slots=config.meeting.video_slots,
        )
        self.window.join_button.setEnabled(self._join_allowed)
        self._timer = QTimer()
        self._timer.setInterval(DEVICE_CHECK_MS)
        self._timer.timeout.connect(self._check_devices)

    def _settings(self) -> HubSettings:
        try:
            return hub_settings(self.config)
        except ConfigError as err:  # a secret file became unreadable after validation
            log.error("%s", err)
            self._notice, self._join_allowed = texts.CONFIG_BAD_NO_FALLBACK, False
            return HubSettings(
                url=self.config.hub.url, room=self.config.hub.room, display=self.config.site.name
            )

    @property
    def join_allowed(self) -> bool:
        """False for the placeholder configuration: there is no meeting to join."""
        return self._join_allowed

    def start(self, full_screen: bool = False) -> None:
        self.devices.start()
        self._check_devices()
        self._timer.start()
        if full_screen:
            self.window.showFullScreen()
        else:
            self.window.resize(1280, 720)
            self.window.show()

    def _check_devices(self) -> None:
        schedule = texts.SCHEDULE_CONFIG_BAD if self.config.schedule_issues else ""
        lines = [self._notice, schedule, *self.devices.problems()]
        self.window.show_notice("\n".join(filter(None, lines)))

    async def stop(self) -> None:
        self._timer.stop()
        await self.model.close()
        await self.call.leave()
        self.devices.stop()
        self.window.close()


def _qt_message(kind: QtMsgType, context: object, message: str | None) -> None:
    """Qt's own chatter goes to the log (debug), its warnings stay warnings."""
    level = (
        logging.WARNING
        if kind in (QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg)
        else logging.DEBUG
    )
    logging.getLogger("qt").log(level, "%s", message)


def headless_wanted(flag: bool) -> bool:
    """Offscreen when asked, or when nothing names a display (no ``DISPLAY``, no
    ``WAYLAND_DISPLAY``, no ``QT_QPA_PLATFORM``: a developer's terminal, a test)."""
    env = os.environ
    return flag or not (
        env.get("DISPLAY") or env.get("WAYLAND_DISPLAY") or env.get("QT_QPA_PLATFORM")
    )


def _fatal_is_no_display(kind: QtMsgType, context: object, message: str | None) -> None:
    """While the QApplication is being made, Qt's one fatal message is a platform that cannot
    start: say so in one line and exit 78 instead of Qt's abort (a core dump, a restart)."""
    if kind == QtMsgType.QtFatalMsg:
        lines = (message or "").strip().splitlines() or ["no reason given"]
        first = lines[0].split(". ")[0].rstrip(".")  # not Qt's "Reinstalling … may fix this"
        where = display.platform(os.environ)
        os._exit(display.say_no_display(f"Qt cannot open its {where} platform: {first}"))
    _qt_message(kind, context, message)


def run_qt(main: Callable[[QApplication], Coroutine[Any, Any, int]], headless: bool) -> int:
    """Run coroutine function *main(app)* on a qasync loop inside a QApplication."""
    import qasync

    if headless:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    qInstallMessageHandler(_fatal_is_no_display)
    app = QApplication.instance() or QApplication(["diemcau"])
    qInstallMessageHandler(_qt_message)
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # the coroutine decides when the app ends
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    with loop:
        return int(loop.run_until_complete(main(app)) or 0)

"""``diemcau run`` picks its configuration: a bad file never stops the kiosk.

The kiosk is built for real (offscreen Qt, synthetic devices, no hub needed: nobody joins).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from devices.voice import write_wav
from kiosk import app as kiosk_app
from kiosk import run, state
from kiosk.app import KioskApp
from kiosk.config import Config, load_config
from ui import texts

GOOD = '[site]\nname = "Xã Bản Vẽ"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 7\n'
PIN = "2468"


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setattr(run, "FALLBACK_STATE", folder)
    return folder


@pytest.fixture
def opened(qtbot: Any) -> Iterator[Callable[[str], KioskApp]]:
    """``run.open_kiosk`` + start, stopped again after the test."""
    kiosks: list[KioskApp] = []

    def open_and_start(path: str) -> KioskApp:
        kiosk = run.open_kiosk(path)
        qtbot.addWidget(kiosk.window)
        kiosk.start()
        kiosks.append(kiosk)
        return kiosk

    yield open_and_start
    for kiosk in kiosks:
        asyncio.run(kiosk.stop())


def write(path: Path, text: str, state_dir: Path) -> Path:
    path.write_text(text + f'[state]\ndir = "{state_dir}"\n')
    return path


def notice(kiosk: KioskApp) -> str:
    return kiosk.window.notice.text()


@pytest.mark.parametrize("text", [None, "[hub\nurl=", '[site]\nname = "X"\n[hub]\nroom = "7"\n'])
def test_bad_config_without_fallback_gives_notice(
    tmp_path: Path, state_dir: Path, text: str | None
) -> None:
    path = tmp_path / "diemcau.toml"
    if text is not None:
        path.write_text(text)
    [only] = run.choices(str(path))
    assert only.config == run.placeholder_config() and not only.join_allowed
    assert only.notice.startswith(texts.CONFIG_BAD_NO_FALLBACK)


def test_bad_config_falls_back_to_last_good(
    tmp_path: Path, state_dir: Path, opened: Callable[[str], KioskApp]
) -> None:
    path = write(tmp_path / "diemcau.toml", GOOD, state_dir)
    first = opened(str(path))
    assert notice(first) == "" and first.window.join_button.isEnabled()
    saved = state_dir / state.LAST_GOOD
    assert saved.is_file() and saved.stat().st_mode & 0o077 == 0
    path.write_text(GOOD.replace("room = 7", 'room = "bảy"'))
    kiosk = opened(str(path))
    assert kiosk.config == first.config and kiosk.config.site.name == "Xã Bản Vẽ"
    assert notice(kiosk).startswith(texts.CONFIG_BAD) and "hub.room" in notice(kiosk)
    assert kiosk.window.join_button.isEnabled()


def test_fallback_keeps_relative_paths_working(
    tmp_path: Path, state_dir: Path, opened: Callable[[str], KioskApp]
) -> None:
    """The saved copy lives in another folder: its paths must not be read relative to it."""
    (tmp_path / "room.pin").write_text(PIN + "\n")
    (tmp_path / "room.pin").chmod(0o600)
    write_wav(tmp_path / "room.wav", np.zeros((4800, 5)), 48000)
    text = GOOD + 'pin_file = "room.pin"\n[voice]\nenabled = true\nscript_wav = "room.wav"\n'
    path = write(tmp_path / "diemcau.toml", text, state_dir)
    good = opened(str(path)).config
    path.write_text("[site\n")  # broken
    kiosk = opened(str(path))
    assert kiosk.config == good and kiosk.window.join_button.isEnabled()
    assert kiosk.config.hub.read_pin() == PIN and kiosk.devices.voice is not None


def test_an_error_while_starting_falls_back_to_last_good(
    tmp_path: Path, state_dir: Path, opened: Callable[[str], KioskApp], monkeypatch: Any
) -> None:
    path = write(tmp_path / "diemcau.toml", GOOD, state_dir)
    good = opened(str(path)).config
    real = kiosk_app.open_devices

    def broken_for_new_room(config: Config) -> Any:
        if config.hub.room == 8:
            raise ValueError("something the validator did not foresee")
        return real(config)

    monkeypatch.setattr(kiosk_app, "open_devices", broken_for_new_room)
    write(path, GOOD.replace("room = 7", "room = 8"), state_dir)
    kiosk = opened(str(path))
    assert kiosk.config == good and notice(kiosk).startswith(texts.CONFIG_BAD)
    assert state.last_good(state_dir) == good  # a config that did not start is not kept


def test_an_error_while_starting_without_fallback_shows_the_placeholder(
    tmp_path: Path, state_dir: Path, opened: Callable[[str], KioskApp], monkeypatch: Any
) -> None:
    real = kiosk_app.open_devices
    monkeypatch.setattr(kiosk_app, "open_devices", lambda c: real(c) if c.hub.room == 1 else 1 / 0)
    kiosk = opened(str(write(tmp_path / "diemcau.toml", GOOD, state_dir)))
    assert kiosk.config == run.placeholder_config()
    assert notice(kiosk).startswith(texts.CONFIG_BAD_NO_FALLBACK)
    assert not kiosk.window.join_button.isEnabled()


def test_broken_voice_turns_voice_off_and_the_room_still_joins(
    tmp_path: Path, state_dir: Path, opened: Callable[[str], KioskApp]
) -> None:
    """switch_after_s = 3.0 passed check-config, then ``run`` died on a ValueError."""
    text = GOOD + '[microphone]\ndevice = "USB Array"\n[voice]\nenabled = true\n'
    path = write(tmp_path / "diemcau.toml", text + "switch_after_s = 3.0\n", state_dir)
    kiosk = opened(str(path))
    assert kiosk.config.hub.room == 7 and kiosk.devices.voice is None
    assert texts.VOICE_CONFIG_OFF in notice(kiosk).splitlines()
    assert not notice(kiosk).startswith(texts.CONFIG_BAD)  # the file itself is in use
    assert kiosk.window.join_button.isEnabled()
    assert not (state_dir / state.LAST_GOOD).exists()  # not a good config to fall back to


def test_voice_pipeline_failing_at_start_falls_back_to_the_plain_microphone(
    tmp_path: Path, state_dir: Path, qtbot: Any
) -> None:
    wav = tmp_path / "room.wav"
    write_wav(wav, np.zeros((4800, 5)), 48000)
    text = GOOD + f'[voice]\nenabled = true\nscript_wav = "{wav}"\n'
    config = load_config(write(tmp_path / "diemcau.toml", text, state_dir))
    wav.write_bytes(b"RIFF")  # damaged after validation
    kiosk = KioskApp(config)
    qtbot.addWidget(kiosk.window)
    assert kiosk.devices.voice is None
    assert kiosk.devices.problems() == [texts.VOICE_CONFIG_OFF]
    assert kiosk.window.join_button.isEnabled()


def test_placeholder_config_is_valid() -> None:
    assert run.placeholder_config().hub.room == 1

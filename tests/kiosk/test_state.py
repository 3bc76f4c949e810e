"""The last good configuration: saved self-contained (absolute paths), private and whole."""

from __future__ import annotations

import logging
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from devices.voice import write_wav
from kiosk import _config_toml as toml
from kiosk import state
from kiosk.config import Config, dump_config, load_config, parse_config

PIN = "482916"
RELATIVE = """
[site]
name = "Xã \\"Bản\\" Vẽ\\\\Tây"
[hub]
url = "wss://hub.example.vn/janus"
room = 9001
pin_file = "room.pin"
ca_file = "../shared/ca.pem"
ice_servers = ["stun:stun.example.vn:3478"]
[microphone]
wav_file = "sounds/test.wav"
[state]
dir = "state"
[voice]
enabled = true
script_wav = "room.wav"
speaker_angles = [225, 315.5]
switch_after_s = 0.25
zones = [{ name = "Bàn chủ tọa", angles = [330, 30], crop = [0.3, 0.05, 0.4, 0.55] },
         { name = "Cửa", angles = [90, 120] }]
"""


@pytest.fixture
def relative_config(tmp_path: Path) -> Path:
    """A config naming its files relative to its own folder (tmp/etc/diemcau.toml)."""
    etc = tmp_path / "etc"
    (etc / "sounds").mkdir(parents=True)
    (tmp_path / "shared").mkdir()
    (etc / "room.pin").write_text(PIN + "\n")
    (etc / "room.pin").chmod(0o600)
    (tmp_path / "shared" / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    write_wav(etc / "sounds" / "test.wav", np.zeros((480, 1)), 48000)
    write_wav(etc / "room.wav", np.zeros((4800, 5)), 48000)
    path = etc / "diemcau.toml"
    path.write_text(RELATIVE, encoding="utf-8")
    return path


def test_relative_paths_survive_the_saved_copy(
    relative_config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = load_config(relative_config)
    assert config.voice.enabled and config.voice_issues == ()
    state_dir = tmp_path / "var" / "state"
    state.remember_good(config, state_dir)
    monkeypatch.chdir(tmp_path / "shared")  # neither the config's folder nor the state's
    saved = state.last_good(state_dir)
    assert saved == config
    assert saved.hub.pin_file == relative_config.parent / "room.pin"
    assert saved.hub.read_pin() == PIN and saved.voice.script_wav is not None
    assert saved.voice.script_wav.is_file()


def test_saved_copy_is_private_and_holds_no_secret(relative_config: Path, tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    leftover = tmp_path / "state" / (state.LAST_GOOD + ".tmp")
    leftover.write_text("half a file")
    leftover.chmod(0o644)
    state.remember_good(load_config(relative_config), tmp_path / "state")
    saved = tmp_path / "state" / state.LAST_GOOD
    assert saved.stat().st_mode & 0o777 == 0o600
    assert not leftover.exists()
    text = saved.read_text(encoding="utf-8")
    assert PIN not in text and f'pin_file = "{relative_config.parent / "room.pin"}"' in text


def test_a_config_that_does_not_read_back_is_not_saved(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = parse_config('[site]\nname = "A"\n[hub]\nurl = "wss://h/j"\nroom = 1\n')
    state.remember_good(good, tmp_path)
    voice_off = parse_config(
        '[site]\nname = "B"\n[hub]\nurl = "wss://h/j"\nroom = 2\n[voice]\nmics = 1\n'
    )
    with caplog.at_level(logging.WARNING, logger="kiosk.state"):
        state.remember_good(voice_off, tmp_path)  # its [voice] was dropped: not a good config
    assert "does not read back" in caplog.text
    assert state.last_good(tmp_path) == good


def test_unwritable_state_folder_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    config = parse_config('[site]\nname = "A"\n[hub]\nurl = "wss://h/j"\nroom = 1\n')
    with caplog.at_level(logging.WARNING, logger="kiosk.state"):
        state.remember_good(config, blocker / "state")
    assert "cannot keep the good configuration" in caplog.text
    assert state.last_good(blocker / "state") is None


# --- the TOML writer -------------------------------------------------------------------------


def test_dump_writes_every_section_and_leaves_out_unset_paths() -> None:
    config = parse_config('[site]\nname = "A"\n[hub]\nurl = "wss://h/j"\nroom = 1\n')
    text = dump_config(config)
    assert [line for line in text.splitlines() if line.startswith("[")] == [
        "[site]", "[hub]", "[camera]", "[microphone]", "[speaker]", "[state]", "[meeting]",
        "[voice]", "[schedule]",
    ]  # fmt: skip
    assert "pin_file" not in text and "script_wav" not in text
    assert parse_config(text) == config


def test_dump_refuses_a_relative_path() -> None:
    config = Config.from_dict({"site": {"name": "A"}, "hub": {"url": "wss://h/j", "room": 1}})
    relative = Config(config.site, config.hub, state=type(config.state)(Path("state")))
    with pytest.raises(ValueError, match="relative"):
        dump_config(relative)


TOML_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=200, deadline=None)
@given(TOML_TEXT)
@example('quote " back \\ tab \t nl \n del \x7f nul \x00 bell \x07 é Việt')
def test_strings_read_back_unchanged(text: str) -> None:
    assert tomllib.loads(f"a = {toml.string(text)}")["a"] == text


@settings(max_examples=200, deadline=None)
@given(st.floats() | st.integers(-(2**63), 2**63 - 1))
@example(1e16)
@example(1e-5)
@example(-0.0)
def test_numbers_read_back_unchanged(number: float) -> None:
    back = tomllib.loads(f"a = {toml.value(number)}")["a"]
    assert back == number or (math.isnan(back) and math.isnan(number))
    assert type(back) is type(number)


# --- the meeting memory ------------------------------------------------------------------------


def test_memory_round_trip_private(tmp_path: Path) -> None:
    memory = state.Memory(True, 1234, True, "Bàn chủ tọa", ("0@2025-03-03T08:00",), 2**52 + 7)
    assert state.save_memory(memory, tmp_path / "state")
    assert state.load_memory(tmp_path / "state") == memory
    assert (tmp_path / "state" / state.MEMORY).stat().st_mode & 0o777 == 0o600


def test_no_memory_is_a_fresh_start(tmp_path: Path) -> None:
    assert state.load_memory(tmp_path) == state.Memory()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\xff\xfe garbage",
        b'{"version": 1, "in_meeting": tru',  # cut short by a power failure on a bad disk
        b'{"version": 1, "in_meeting": "yes"}',
        b'{"version": 1, "room": true}',
        b'{"version": 1, "skipped": [1]}',
        b'{"version": 1, "session": "1234"}',
        b'{"version": 1, "session": false}',
        b'{"version": 2, "in_meeting": true}',
        b"[1, 2]",
    ],
)
def test_damaged_memory_is_reported_and_ignored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes
) -> None:
    (tmp_path / state.MEMORY).write_bytes(content)
    with caplog.at_level(logging.ERROR, logger="kiosk.state"):
        assert state.load_memory(tmp_path) == state.Memory()
    assert "damaged and ignored" in caplog.text


def test_memory_in_an_unwritable_place_is_only_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "file").write_text("")
    with caplog.at_level(logging.WARNING, logger="kiosk.state"):
        assert not state.save_memory(state.Memory(in_meeting=True), tmp_path / "file" / "x")
    assert "cannot keep the meeting state" in caplog.text

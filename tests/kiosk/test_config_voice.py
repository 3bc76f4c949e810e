"""The [voice] section: array, loudspeaker directions and seating zones.

One validator: what ``check-config`` accepts is exactly what the voice pipeline starts with,
and a [voice] it would refuse turns voice off instead of keeping the room out of its meeting.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices import Playout
from devices.voice import LIMITS, write_wav
from kiosk import voice as wiring
from kiosk._voice_plan import plan_voice
from kiosk.app import open_devices
from kiosk.check import check_config_command
from kiosk.config import Config, ConfigError, load_config, parse_config
from ui import texts

BASE = '[site]\nname = "Xã A"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 1\n'
ARRAY = '[microphone]\ndevice = "USB Array"\n'  # a real array: nothing read when validating


def voice(text: str) -> str:
    return BASE + "[voice]\n" + text


def issues(text: str) -> dict[str, str]:
    """Every problem: those that reject the file, or those that only turn voice off."""
    try:
        found = parse_config(text).voice_issues
    except ConfigError as err:
        found = tuple(err.issues)
    return {issue.key: issue.rule for issue in found}


def test_defaults_leave_voice_off() -> None:
    assert parse_config(BASE).voice.enabled is False


def recording(path: Path, channels: int = 5, rate: int = 48000, seconds: float = 0.1) -> Path:
    write_wav(path, np.zeros((int(rate * seconds), channels)), rate)
    return path


def test_full_voice_section(tmp_path: Path) -> None:
    wav = recording(tmp_path / "room.wav", channels=7)
    config = parse_config(
        voice(
            "enabled = true\nmics = 6\nradius_m = 0.05\nspeaker_angles = [225, 315]\n"
            f'script_wav = "{wav}"\n'
            'zones = [{ name = "Bàn chủ tọa", angles = [330, 30], crop = [0.3, 0.05, 0.4, 0.55] },'
            ' { name = "Cửa", angles = [90, 120] }]\n'
        )
    )
    v = config.voice
    assert v.enabled and v.mics == 6 and v.speaker_angles == (225.0, 315.0)
    assert v.lookahead_ms == 100  # the default: onsets pass, about the camera's own delay
    assert [z.name for z in v.zones] == ["Bàn chủ tọa", "Cửa"]
    assert v.zones[0].crop == (0.3, 0.05, 0.4, 0.55) and v.zones[1].crop is None
    plan = plan_voice(v, 16000)  # the zones are where people sit: the gate's seats too
    seats = [(a.start_deg, a.end_deg) for a in plan.processor.seats]
    assert seats == [(330.0, 30.0), (90.0, 120.0)]
    assert [z.angles for z in plan.director.zones] == list(plan.processor.seats)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('enabled = "yes"', "voice.enabled", "true or false"),
        ("mics = 1", "voice.mics", "between 2 and 16"),
        ("lookahead_ms = 500", "voice.lookahead_ms", "between 0 and 300"),
        ("speaker_angles = [225]", "voice.speaker_angles", "[from, to]"),
        ("speaker_angles = [0, 400]", "voice.speaker_angles", "[from, to]"),
        (
            'zones = [{ name = "A", angles = [0, 10], crop = [0.8, 0, 0.5, 0.5] }]',
            "voice.zones[0]",
            "x+w",
        ),
        ('zones = [{ name = "A" }]', "voice.zones[0]", "needs name and angles"),
        (
            'zones = [{ name = "A", angles = [0, 10], zoom = 2 }]',
            "voice.zones[0]",
            "unknown key 'zoom'",
        ),
        ("zones = [5]", "voice.zones[0]", "must be a table"),
        ("enabled = true", "voice.script_wav", "synthetic"),
    ],
)
def test_bad_voice_values_name_key_and_rule(text: str, key: str, words: str) -> None:
    found = issues(voice(text))
    assert key in found, found
    assert words in found[key]


def test_real_array_needs_no_recording() -> None:
    config = parse_config(
        voice("enabled = true").replace("[voice]", '[microphone]\ndevice = "USB Array"\n[voice]')
    )
    assert config.voice.enabled and config.microphone.device == "USB Array"


# --- one validator: check-config and run agree -----------------------------------------------

TWO_A = 'zones = [{ name = "A", angles = [0, 10] }, { name = "A", angles = [20, 30] }]'


def room_file(tmp_path: Path, text: str, wav: Path | None = None) -> Path:
    wav = wav or recording(tmp_path / "room.wav")
    path = tmp_path / "diemcau.toml"
    path.write_text(voice(f'enabled = true\nscript_wav = "{wav.name}"\n{text}\n'))
    return path


# Each of these passed check-config but crashed `run` with a ValueError (or EOFError);
# the last one is a new rule: a recording that does not fit the array (it ran, with a fault).
RUNTIME_REFUSED = [
    ("switch_after_s = 3.0", None, "voice.switch_after_s"),
    (TWO_A, None, "voice.zones"),
    ("mics = 3\nradius_m = 0.01", (48000, 4), "voice.radius_m"),
    ("", (44100, 5), "voice.script_wav"),  # the gate runs at 16 or 48 kHz only
    ("", "RIFF", "voice.script_wav"),  # not a WAV file at all
    ("", (48000, 3), "voice.script_wav"),  # 3 channels for a 4-microphone array
]


def make_wav(tmp_path: Path, spec: Any) -> Path | None:
    if isinstance(spec, str):
        (tmp_path / "room.wav").write_text(spec)
        return tmp_path / "room.wav"
    return None if spec is None else recording(tmp_path / "room.wav", spec[1], spec[0])


@pytest.mark.parametrize(("text", "wav", "key"), RUNTIME_REFUSED)
def test_what_run_refuses_check_config_refuses(
    tmp_path: Path, text: str, wav: Any, key: str
) -> None:
    path = room_file(tmp_path, text, make_wav(tmp_path, wav))
    out = io.StringIO()
    assert check_config_command(str(path), out) == 2, out.getvalue()
    assert f"{path}: {key} = " in out.getvalue()
    assert "would still run and join meetings, with voice off" in out.getvalue()
    config = load_config(path)  # voice problems alone never reject the file ...
    devices = open_devices(config)  # ... and the room starts, with the plain microphone
    assert devices.voice is None and not config.voice.enabled
    assert key in [issue.key for issue in config.voice_issues]
    assert devices.problems() == [texts.VOICE_CONFIG_OFF]


RUNTIME_ACCEPTED = [
    "switch_after_s = 1.0",
    'zones = [{ name = "A", angles = [0, 10], crop = [0.33, 0.05, 0.67, 0.95] }]',
    "mics = 3\nradius_m = 0.012",
    "mics = 16\nradius_m = 0.25",
]


@pytest.mark.parametrize("text", RUNTIME_ACCEPTED)
def test_what_check_config_accepts_run_starts(tmp_path: Path, text: str) -> None:
    mics = 3 if "mics = 3" in text else 16 if "mics = 16" in text else 4
    path = room_file(tmp_path, text, recording(tmp_path / "room.wav", mics + 1))
    out = io.StringIO()
    assert check_config_command(str(path), out) == 0, out.getvalue()
    devices = open_devices(load_config(path))
    assert devices.voice is not None and devices.problems() == []


def test_a_recording_at_16_khz_is_accepted(tmp_path: Path) -> None:
    path = room_file(tmp_path, "", recording(tmp_path / "room.wav", 4, 16000))
    config = load_config(path)
    assert config.voice_issues == () and config.voice.enabled
    assert open_devices(config).voice is not None


def test_duplicate_zone_names_are_reported_with_the_other_problems() -> None:
    found = issues(voice(f"switch_after_s = 3.0\n{TWO_A}"))
    assert set(found) == {"voice.zones", "voice.switch_after_s"}
    assert found["voice.zones"].endswith("must be unique and non-empty; the names are ['A', 'A']")


def test_every_voice_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = f"switch_after_s = 3.0\n{TWO_A}\nmics = 3\nradius_m = 0.01\nlookahead_ms = -1"
    path = room_file(tmp_path, text, recording(tmp_path / "room.wav", channels=2))
    found = {i.key for i in load_config(path).voice_issues}
    assert found == {
        "voice.switch_after_s", "voice.zones", "voice.lookahead_ms",  # each key's own rule
        "voice.radius_m", "voice.script_wav",  # rules across keys, on the valid ones
    }  # fmt: skip


def test_a_rule_reading_an_invalid_key_is_not_run_on_its_default(tmp_path: Path) -> None:
    path = room_file(tmp_path, "mics = 20", recording(tmp_path / "room.wav", channels=21))
    assert [i.key for i in load_config(path).voice_issues] == ["voice.mics"]


def test_voice_problems_are_reported_even_with_voice_disabled() -> None:
    config = parse_config(voice(f"enabled = false\n{TWO_A}"))
    assert [i.key for i in config.voice_issues] == ["voice.zones"]


def test_schema_bounds_are_the_runtime_limits() -> None:
    found = issues(BASE + "[hub.extra]\n" + "[voice]\nswitch_after_s = 3.0\n")
    assert "hub.extra" in found  # a file-level problem: rejected, voice listed too
    hi = LIMITS["director.switch_after_s"][1]
    assert found["voice.switch_after_s"] == f"must be between 0.1 and {hi}"


FAST = settings(max_examples=30, deadline=None)
ZONE = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["A", "B", "C"]),
        "angles": st.lists(st.floats(-400, 400), min_size=2, max_size=2),
        "crop": st.lists(st.floats(-0.1, 1.1), min_size=4, max_size=4),
    }
)
VOICE = st.fixed_dictionaries(
    {"enabled": st.just(True)},
    optional={
        "switch_after_s": st.floats(0.0, 6.0),
        "overview_after_s": st.floats(0.0, 130.0),
        "min_dwell_s": st.floats(-1.0, 31.0),
        "lookahead_ms": st.integers(-10, 310),
        "mics": st.integers(0, 8),
        "radius_m": st.floats(0.0, 0.3),
        "speaker_angles": st.lists(st.floats(-400, 400), min_size=2, max_size=2),
        "zones": st.lists(ZONE, max_size=3),
    },
)


@FAST
@given(VOICE)
def test_any_voice_section_is_either_started_or_turned_off(raw: dict[str, Any]) -> None:
    data = {"site": {"name": "Xã A"}, "hub": {"url": "wss://h/j", "room": 1}}
    config = Config.from_dict({**data, "microphone": {"device": "USB Array"}, "voice": raw})
    if config.voice.enabled:
        wiring.voice_microphone(config, Playout())  # must not raise
    else:
        assert config.voice_issues


def test_example_file_documents_the_runtime_bounds() -> None:
    example = (Path(__file__).parents[2] / "packaging" / "diemcau.toml.example").read_text()
    voice_part = example[example.index("[voice]") :]
    for limit in (
        "gate.lookahead_ms",
        "array.channels",
        "array.radius_m",
        "director.switch_after_s",
        "director.overview_after_s",
        "director.min_dwell_s",
    ):
        assert "{:g} .. {:g}".format(*LIMITS[limit]) in voice_part, limit

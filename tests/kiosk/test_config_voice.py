"""The [voice] section: array, loudspeaker directions and seating zones."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.config import ConfigError, parse_config

BASE = '[site]\nname = "Xã A"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 1\n'


def voice(text: str) -> str:
    return BASE + "[voice]\n" + text


def issues(text: str) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text)
    return {issue.key: issue.rule for issue in caught.value.issues}


def test_defaults_leave_voice_off() -> None:
    assert parse_config(BASE).voice.enabled is False


def test_full_voice_section(tmp_path: Path) -> None:
    wav = tmp_path / "room.wav"
    wav.write_bytes(b"RIFF")
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

"""Tests for kiosk.config: parsing, validation rules, error reporting, secrets, check-config."""

from __future__ import annotations

import io
import math
import pickle
import re
import unicodedata
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kiosk import config as cfg
from kiosk.check import check_config_command
from kiosk.config import (
    DEFAULT_CONFIG_PATH,
    CameraConfig,
    Config,
    ConfigError,
    ConfigIssue,
    MicrophoneConfig,
    SpeakerConfig,
    StateConfig,
    load_config,
    parse_config,
)

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "packaging" / "diemcau.toml.example"
SITE = "Xã Bản Vẽ"
URL = "wss://hub.example.vn/janus"
MINIMAL = f'[site]\nname = "{SITE}"\n[hub]\nurl = "{URL}"\nroom = 1234\n'
PIN = "482916"
TOKEN = "tok-Zq8w1xVb"
WS_RULE = "ws:// is unencrypted; use wss:// (ws:// is allowed only to localhost)"
FAST = settings(max_examples=60, deadline=None)


def minimal(**sections: dict[str, Any]) -> dict[str, Any]:
    """A valid TOML-shaped dict, with ``sections`` merged in key by key."""
    data: dict[str, Any] = {"site": {"name": SITE}, "hub": {"url": URL, "room": 1234}}
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


def issues(data: dict[str, Any], base_dir: Path | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as exc:
        Config.from_dict(data, base_dir=base_dir)
    return exc.value.issues


def one_issue(section: str, key: str, value: object, base_dir: Path | None = None) -> ConfigIssue:
    found = issues(minimal(**{section: {key: value}}), base_dir)
    assert len(found) == 1, found
    return found[0]


def secret_file(path: Path, content: str, mode: int = 0o600) -> Path:
    path.write_text(content + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def write_config(directory: Path, text: str) -> Path:
    path = directory / "diemcau.toml"
    path.write_text(text, encoding="utf-8")
    return path


FULL = f"""
[site]
name = "{SITE}"

[hub]
url = "wss://hub.example.vn:8989/janus"
room = 9001
pin_file = "pin"
token_file = "secrets/token"
ca_file = "ca.pem"
ice_servers = ["stun:stun.example.vn:3478", "turns:turn.example.vn:5349"]
connect_timeout = 2.5

[camera]
device = "/dev/v4l/by-id/usb-cam-video-index0"
width = 1280
height = 720
fps = 30

[microphone]
device = "USB PnP Audio Device"
tone_hz = 1000
wav_file = "/usr/share/sounds/test.wav"

[speaker]
device = "USB PnP Audio Device"
volume = 65

[state]
dir = "state"
"""


@pytest.fixture
def full_dir(tmp_path: Path) -> Path:
    secret_file(tmp_path / "pin", PIN)
    (tmp_path / "secrets").mkdir()
    secret_file(tmp_path / "secrets" / "token", TOKEN)
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    return tmp_path


# --- valid files -----------------------------------------------------------------------------


def test_full_valid_file(full_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wav = full_dir / "test.wav"
    wav.write_bytes(b"RIFF")
    path = write_config(full_dir, FULL.replace("/usr/share/sounds/test.wav", str(wav)))
    monkeypatch.chdir("/")  # relative paths must follow the config file, not the cwd
    config = load_config(path)
    assert config.site.name == SITE
    hub = config.hub
    assert (hub.url, hub.room, hub.connect_timeout) == (
        "wss://hub.example.vn:8989/janus",
        9001,
        2.5,
    )
    assert hub.pin_file == full_dir / "pin"
    assert hub.token_file == full_dir / "secrets" / "token"
    assert hub.ca_file == full_dir / "ca.pem"
    assert hub.ice_servers == ("stun:stun.example.vn:3478", "turns:turn.example.vn:5349")
    assert config.camera == CameraConfig("/dev/v4l/by-id/usb-cam-video-index0", 1280, 720, 30)
    assert config.microphone == MicrophoneConfig("USB PnP Audio Device", 1000.0, wav)
    assert isinstance(config.microphone.tone_hz, float)
    assert config.speaker == SpeakerConfig("USB PnP Audio Device", 65)
    assert config.state.dir == full_dir / "state"
    assert (hub.read_pin(), hub.read_token()) == (PIN, TOKEN)


def test_defaults() -> None:
    config = parse_config(MINIMAL)
    hub = config.hub
    assert (hub.pin_file, hub.token_file, hub.ca_file) == (None, None, None)
    assert (hub.ice_servers, hub.connect_timeout) == ((), 5.0)
    assert (hub.read_pin(), hub.read_token()) == (None, None)
    assert config.camera == CameraConfig("synthetic", 640, 360, 15)
    assert config.microphone == MicrophoneConfig("synthetic", 440.0, None)
    assert config.speaker == SpeakerConfig("synthetic", 80)
    assert config.state == StateConfig(Path("/var/lib/diemcau"))
    assert config.camera.synthetic and config.microphone.synthetic and config.speaker.synthetic
    assert DEFAULT_CONFIG_PATH == "/etc/diemcau/diemcau.toml"


def test_config_is_frozen() -> None:
    config = parse_config(MINIMAL)
    with pytest.raises(AttributeError):
        config.hub.room = 1  # type: ignore[misc]


def test_site_name_is_stripped_and_nfc_normalised() -> None:
    decomposed = unicodedata.normalize("NFD", SITE)
    assert decomposed != SITE
    config = Config.from_dict(minimal(site={"name": f"  {decomposed}\t"}))
    assert config.site.name == SITE


def test_device_names_accept_synthetic_in_any_case() -> None:
    config = Config.from_dict(minimal(camera={"device": "Synthetic"}, speaker={"device": "Loa"}))
    assert config.camera.synthetic
    assert (config.speaker.device, config.speaker.synthetic) == ("Loa", False)


@pytest.mark.parametrize(
    "url",
    [
        "wss://hub.example.vn",
        "wss://hub.example.vn:8989/janus",
        "wss://10.20.30.40/janus",
        "ws://localhost:8188/janus",
        "ws://127.0.0.1:8188/janus",
        "ws://127.9.9.9/janus",
        "ws://[::1]:8188/janus",
    ],
)
def test_hub_url_accepted(url: str) -> None:
    assert Config.from_dict(minimal(hub={"url": url})).hub.url == url


def test_ice_servers_accepted() -> None:
    servers = ["stun:a.vn:3478", "turn:b.vn:3478?transport=udp", "turns:c.vn:5349"]
    assert Config.from_dict(minimal(hub={"ice_servers": servers})).hub.ice_servers == tuple(servers)


# --- bad values ------------------------------------------------------------------------------

BAD = [
    ("site", "name", "", "1 to 64 characters"),
    ("site", "name", "   ", "1 to 64 characters"),
    ("site", "name", "x" * 65, "1 to 64 characters"),
    ("site", "name", "Xã\nBản", "control characters"),
    ("site", "name", 7, "must be a string"),
    ("hub", "url", "https://hub.example.vn/janus", "must start with wss://"),
    ("hub", "url", "hub.example.vn/janus", "must start with wss://"),
    ("hub", "url", "wss:/hub.example.vn", "must start with wss://"),
    ("hub", "url", "wss:///janus", "must include a host"),
    ("hub", "url", "ws://hub.example.vn/janus", WS_RULE),
    ("hub", "url", "ws://10.0.0.1:8188/janus", WS_RULE),
    ("hub", "url", "ws://localhost.example.vn/janus", WS_RULE),
    ("hub", "url", "wss://hub.example.vn:99999/janus", "not a valid URL"),
    ("hub", "url", "wss://hub.example.vn:0/janus", "port must be"),
    ("hub", "url", "wss://hub example.vn/janus", "must not contain spaces"),
    ("hub", "url", 42, "must be a string"),
    ("hub", "room", "abc", "must be an integer"),
    ("hub", "room", 0, "between 1 and 9223372036854775807"),
    ("hub", "room", -5, "between 1 and"),
    ("hub", "room", 2**63, "between 1 and"),
    ("hub", "room", True, "must be an integer"),
    ("hub", "room", 12.0, "must be an integer"),
    ("hub", "connect_timeout", 0.4, "between 0.5 and 60"),
    ("hub", "connect_timeout", 61, "between 0.5 and 60"),
    ("hub", "connect_timeout", math.inf, "between 0.5 and 60"),
    ("hub", "connect_timeout", "5", "must be a number"),
    ("hub", "connect_timeout", False, "must be a number"),
    ("hub", "ice_servers", "stun:a.vn", "must be a list"),
    ("camera", "device", "video0", "device path under /dev/"),
    ("camera", "device", "/dev/", "device path under /dev/"),
    ("camera", "device", "/home/dev/video0", "device path under /dev/"),
    ("camera", "device", 0, "device path under /dev/"),
    ("camera", "width", 159, "between 160 and 1920"),
    ("camera", "width", 1921, "between 160 and 1920"),
    ("camera", "width", "640", "must be an integer"),
    ("camera", "height", 119, "between 120 and 1080"),
    ("camera", "height", 1081, "between 120 and 1080"),
    ("camera", "fps", 4, "between 5 and 30"),
    ("camera", "fps", 31, "between 5 and 30"),
    ("camera", "fps", 15.5, "must be an integer"),
    ("microphone", "device", "", 'must be "synthetic" or a device name'),
    ("microphone", "device", "  ", 'must be "synthetic" or a device name'),
    ("microphone", "device", ["hw:1"], 'must be "synthetic" or a device name'),
    ("microphone", "tone_hz", 49.9, "between 50.0 and 8000.0"),
    ("microphone", "tone_hz", 8000.5, "between 50.0 and 8000.0"),
    ("microphone", "tone_hz", "440", "must be a number"),
    ("microphone", "wav_file", "/nonexistent/loop.wav", "does not exist"),
    ("microphone", "wav_file", "", "non-empty path"),
    ("speaker", "device", "", 'must be "synthetic" or a device name'),
    ("speaker", "volume", -1, "between 0 and 100"),
    ("speaker", "volume", 101, "between 0 and 100"),
    ("speaker", "volume", 50.5, "must be an integer"),
    ("state", "dir", "", "non-empty path"),
    ("state", "dir", 5, "non-empty path"),
    ("meeting", "video_slots", 0, "between 1 and 24"),
    ("meeting", "video_slots", 25, "between 1 and 24"),
    ("meeting", "video_slots", 4.0, "must be an integer"),
    ("meeting", "video_slots", "8", "must be an integer"),
    ("hub", "ca_file", "/nonexistent/ca.pem", "does not exist"),
    ("hub", "ca_file", "/", "must be a regular file"),
]


@pytest.mark.parametrize(("section", "key", "value", "rule"), BAD)
def test_bad_value_names_key_value_and_rule(section: str, key: str, value: Any, rule: str) -> None:
    issue = one_issue(section, key, value)
    assert issue.key == f"{section}.{key}"
    assert issue.value == value and type(issue.value) is type(value)
    assert rule in issue.rule
    assert str(issue).startswith(f"{section}.{key} = ")


def test_room_type_error_reads_well() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(MINIMAL.replace("1234", '"abc"'))
    assert str(exc.value) == "<string>: hub.room = 'abc': must be an integer"


def test_ws_rule_text_explains_the_fix() -> None:
    rule = one_issue("hub", "url", "ws://hub.example.vn/janus").rule
    assert "unencrypted" in rule and "wss://" in rule and "localhost" in rule


def test_every_bad_ice_server_is_reported_with_its_index() -> None:
    servers = ["stun:ok.vn", "http://x.vn", "stun:", 5, "turn:ok.vn"]
    found = issues(minimal(hub={"ice_servers": servers}))
    assert [(i.key, i.value) for i in found] == [
        ("hub.ice_servers[1]", "http://x.vn"),
        ("hub.ice_servers[2]", "stun:"),
        ("hub.ice_servers[3]", 5),
    ]
    assert all('"stun:", "turn:" or "turns:"' in i.rule for i in found)


# --- secret files ----------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["pin_file", "token_file"])
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o700 | 0o010])
def test_secret_file_open_to_others_is_rejected(tmp_path: Path, key: str, mode: int) -> None:
    path = secret_file(tmp_path / "secret", PIN, mode)
    issue = one_issue("hub", key, str(path))
    assert issue.key == f"hub.{key}" and issue.value == str(path)
    assert f"must have mode 0600 (chmod 600 {path})" in issue.rule
    assert PIN not in str(issue)


@pytest.mark.parametrize("key", ["pin_file", "token_file"])
@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_private_secret_file_is_accepted(tmp_path: Path, key: str, mode: int) -> None:
    path = secret_file(tmp_path / "secret", PIN, mode)
    hub = Config.from_dict(minimal(hub={key: str(path)})).hub
    assert getattr(hub, key) == path
    read = hub.read_pin if key == "pin_file" else hub.read_token
    assert read() == PIN  # trailing newline stripped


def test_secret_file_relative_path_resolves_against_base_dir(tmp_path: Path) -> None:
    secret_file(tmp_path / "pin", PIN)
    hub = Config.from_dict(minimal(hub={"pin_file": "pin"}), base_dir=tmp_path).hub
    assert hub.pin_file == tmp_path / "pin"


def test_missing_secret_file_with_a_path_is_shown(tmp_path: Path) -> None:
    issue = one_issue("hub", "pin_file", str(tmp_path / "pin"))
    assert (issue.value, issue.rule) == (str(tmp_path / "pin"), "does not exist")


def test_missing_secret_file_that_may_be_the_secret_is_hidden(tmp_path: Path) -> None:
    issue = one_issue("hub", "pin_file", PIN, base_dir=tmp_path)
    assert issue.value is None and "does not exist" in issue.rule
    issue = one_issue("hub", "token_file", 918273)
    assert issue.value is None and "918273" not in str(issue)


def test_secret_file_must_be_a_regular_file(tmp_path: Path) -> None:
    assert one_issue("hub", "pin_file", str(tmp_path)).rule == "must be a regular file"


def test_read_pin_rechecks_mode_and_never_shows_content(tmp_path: Path) -> None:
    path = secret_file(tmp_path / "pin", PIN)
    hub = Config.from_dict(minimal(hub={"pin_file": str(path)})).hub
    path.chmod(0o644)
    with pytest.raises(ConfigError) as exc:
        hub.read_pin()
    assert "chmod 600" in str(exc.value) and PIN not in str(exc.value)
    assert exc.value.issues[0].key == "hub.pin_file"


def test_read_secret_reports_empty_and_vanished_files(tmp_path: Path) -> None:
    path = secret_file(tmp_path / "token", "")
    hub = Config.from_dict(minimal(hub={"token_file": str(path)})).hub
    with pytest.raises(ConfigError, match="is empty"):
        hub.read_token()
    path.unlink()
    with pytest.raises(ConfigError, match="cannot read"):
        hub.read_token()


# --- unknown keys, sections, structure ------------------------------------------------------


def test_unknown_key_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(MINIMAL.replace("room = 1234", "rom = 1"))
    assert [str(i) for i in exc.value.issues] == [
        "hub.rom: unknown key; did you mean 'room'?",
        "hub.room: missing — required",
    ]


def test_unknown_key_without_close_match_lists_valid_keys() -> None:
    (issue,) = issues(minimal(speaker={"zzz": 1}))
    assert issue.key == "speaker.zzz"
    assert "did you mean" not in issue.rule and "device, volume" in issue.rule


def test_unknown_key_value_is_never_shown() -> None:
    (issue,) = issues(minimal(hub={"pin": PIN}))
    assert "did you mean 'pin_file'?" in issue.rule
    assert issue.value is None and PIN not in str(issue)


def test_unknown_section_suggests_the_close_one() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(MINIMAL + "[camra]\nwidth = 640\n")
    assert [str(i) for i in exc.value.issues] == ["camra: unknown section; did you mean 'camera'?"]


def test_non_string_keys_are_reported_not_crashed_on() -> None:
    found = issues({**minimal(), 5: {}, "hub": {**minimal()["hub"], 7: 1}})  # type: ignore[dict-item]
    assert [i.key for i in found] == ["5", "hub.7"]


def test_section_must_be_a_table() -> None:
    (issue,) = issues({**minimal(), "camera": 5})
    assert (issue.key, issue.value, issue.rule) == ("camera", 5, "must be a table ([camera])")


def test_empty_file_reports_every_required_key() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config("")
    assert [(i.key, i.rule) for i in exc.value.issues] == [
        ("site.name", "missing — required"),
        ("hub.url", "missing — required"),
        ("hub.room", "missing — required"),
    ]


def test_all_errors_are_collected_before_reporting() -> None:
    text = """
    [site]
    name = ""
    [hub]
    url = "http://hub.example.vn"
    room = -1
    colour = "red"
    [camera]
    fps = 100
    [speaker]
    volume = "loud"
    [extra]
    """
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "/etc/diemcau/diemcau.toml")
    keys = {i.key for i in exc.value.issues}
    assert keys == {"extra", "site.name", "hub.url", "hub.room", "hub.colour", "camera.fps",
                    "speaker.volume"}  # fmt: skip
    lines = str(exc.value).splitlines()
    assert len(lines) == 7
    assert all(line.startswith("/etc/diemcau/diemcau.toml: ") for line in lines)


def test_toml_syntax_error_reports_line_and_column() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config(MINIMAL + "[camera\nfps = 5\n", "x.toml")
    (issue,) = exc.value.issues
    assert issue.key == "" and issue.value is None
    assert issue.rule.startswith("TOML syntax error: ")
    assert re.search(r"line 6, column \d+", issue.rule)
    assert str(exc.value) == f"x.toml: {issue.rule}"


def test_from_dict_rejects_a_non_mapping() -> None:
    with pytest.raises(ConfigError, match="table of sections"):
        Config.from_dict([1, 2])  # type: ignore[arg-type]


# --- secrets in reprs and messages ----------------------------------------------------------


def test_secrets_never_appear_in_repr_or_errors(full_dir: Path) -> None:
    (full_dir / "test.wav").write_bytes(b"RIFF")
    text = FULL.replace("/usr/share/sounds/test.wav", "test.wav")
    config = load_config(write_config(full_dir, text))
    assert PIN not in repr(config) and TOKEN not in repr(config)
    (full_dir / "pin").chmod(0o644)
    bad = text.replace("room = 9001", 'room = "x"\npassword = "hunter2"')
    bad = bad.replace('"stun:stun.example.vn:3478"', '"turn:user:s3cr3t@turn.example.vn"')
    bad = bad.replace("wss://hub.example.vn:8989", "wss://admin:pa55@hub.example.vn")
    with pytest.raises(ConfigError) as exc:
        load_config(write_config(full_dir, bad))
    message = str(exc.value)
    assert len(exc.value.issues) == 5, message
    for secret in (PIN, TOKEN, "hunter2", "s3cr3t", "pa55"):
        assert secret not in message


def test_url_with_credentials_is_rejected_without_echo() -> None:
    issue = one_issue("hub", "url", "wss://kiosk:pa55word@hub.example.vn/janus")
    assert issue.value is None and "user name or password" in issue.rule
    assert "pa55word" not in str(issue)


# --- files and ConfigError -------------------------------------------------------------------


def test_load_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert exc.value.source == str(path)
    assert [(i.key, i.rule) for i in exc.value.issues] == [
        ("", "cannot read: No such file or directory")
    ]


def test_load_directory_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path)


def test_load_rejects_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "diemcau.toml"
    path.write_bytes(MINIMAL.encode("utf-8") + b'\n# "X\xe3 B\xe1n"\n')
    with pytest.raises(ConfigError, match=r"not valid UTF-8 \(byte \d+\)"):
        load_config(path)


def test_load_tolerates_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "diemcau.toml"
    path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode("utf-8"))
    assert load_config(path).site.name == SITE


def test_issue_str_formats() -> None:
    assert str(ConfigIssue("camera.fps", 40, "must be between 5 and 30")) == (
        "camera.fps = 40: must be between 5 and 30"
    )
    assert str(ConfigIssue("speaker.volume", True, "must be an integer")) == (
        "speaker.volume = true: must be an integer"
    )
    assert str(ConfigIssue("hub.url", None, "missing — required")) == "hub.url: missing — required"
    assert str(ConfigIssue("", None, "cannot read")) == "cannot read"
    assert len(str(ConfigIssue("site.name", "x" * 500, "too long"))) < 120


def test_config_error_lists_issues_and_pickles() -> None:
    err = ConfigError([ConfigIssue("a.b", 1, "r1"), ConfigIssue("c.d", None, "r2")], "f.toml")
    assert str(err) == "f.toml: a.b = 1: r1\nf.toml: c.d: r2"
    copy = pickle.loads(pickle.dumps(err))
    assert (copy.issues, copy.source, str(copy)) == (err.issues, err.source, str(err))


# --- check-config ----------------------------------------------------------------------------


def test_check_config_ok(full_dir: Path) -> None:
    (full_dir / "test.wav").write_bytes(b"RIFF")
    path = write_config(full_dir, FULL.replace("/usr/share/sounds/test.wav", "test.wav"))
    out = io.StringIO()
    assert check_config_command(str(path), out) == 0
    text = out.getvalue()
    assert text.splitlines()[0] == f"OK: {path} is valid"
    assert SITE in text and "wss://hub.example.vn:8989/janus" in text and "room 9001" in text
    assert PIN not in text and TOKEN not in text


def test_check_config_invalid_prints_every_issue(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL.replace("1234", "0") + "[camera]\nfsp = 5\n")
    out = io.StringIO()
    assert check_config_command(str(path), out) == 2
    lines = out.getvalue().splitlines()
    assert lines == [
        f"{path}: hub.room = 0: must be between 1 and 9223372036854775807",
        f"{path}: camera.fsp: unknown key; did you mean 'fps'?",
        f"2 problems: {path} is not valid",
    ]


def test_video_slots_default_and_set() -> None:
    assert parse_config(MINIMAL).meeting == cfg.MeetingConfig(8)
    assert parse_config(MINIMAL + "[meeting]\nvideo_slots = 4\n").meeting.video_slots == 4


def test_check_config_names_a_bad_video_slots(tmp_path: Path) -> None:
    path = write_config(tmp_path, MINIMAL + "[meeting]\nvideo_slots = 30\n")
    out = io.StringIO()
    assert check_config_command(str(path), out) == 2
    assert out.getvalue().splitlines()[0] == (
        f"{path}: meeting.video_slots = 30: must be between 1 and 24"
    )


def test_check_config_voice_only_problems_say_the_room_still_runs(tmp_path: Path) -> None:
    zones = '[{ name = "A", angles = [0, 10] }, { name = "A", angles = [20, 30] }]'
    voice = f"[voice]\nmics = 3\nradius_m = 0.01\nzones = {zones}\n"
    path = write_config(tmp_path, MINIMAL + voice)
    out = io.StringIO()
    assert check_config_command(str(path), out) == 2
    lines = out.getvalue().splitlines()
    assert lines[:4] == [
        f"{path}: voice.zones = [{{'name': 'A', 'angles': [0, 10]}}, {{'name': 'A', 'angles':"
        " [20, 30]}]: zone names must be unique and non-empty; the names are ['A', 'A']",
        f"{path}: voice.radius_m = 0.01: the widest microphone pair must be at least 0.02 m"
        " apart (array.aperture_m = 0.0173)",
        f"2 problems: {path} is not valid",
        "The room would still run and join meetings, with voice off:",
    ]
    assert f"  site        {SITE}" in lines
    assert "  voice       off: [voice] has problems (listed above)" in lines


def test_problems_outside_voice_still_reject_the_file_and_list_voice_too() -> None:
    found = issues(minimal(hub={"room": 0}, voice={"mics": 1}))
    assert [i.key for i in found] == ["hub.room", "voice.mics"]


def test_voice_problems_turn_voice_off_and_are_kept() -> None:
    config = Config.from_dict(minimal(voice={"enabled": True, "mics": 1, "zoom": 2}))
    assert config.voice == cfg.VoiceSection() and not config.voice.enabled
    assert [i.key for i in config.voice_issues] == ["voice.zoom", "voice.mics"]
    assert config.site.name == SITE and config.hub.room == 1234


def test_check_config_missing_file(tmp_path: Path) -> None:
    out = io.StringIO()
    assert check_config_command(str(tmp_path / "nope.toml"), out) == 2
    assert "cannot read" in out.getvalue() and "OK" not in out.getvalue()


# --- schema and example ----------------------------------------------------------------------


def test_schema_has_a_spec_for_every_dataclass_field() -> None:
    assert [f.name for f in fields(Config)] == [*cfg._SCHEMA, "voice_issues", "schedule_issues"]
    for cls, specs in cfg._SCHEMA.values():
        assert [f.name for f in fields(cls)] == list(specs)


def test_example_file_is_valid_and_documents_every_key() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    config = parse_config(text, str(EXAMPLE))
    assert config.site.name == SITE and config.hub.url.startswith("wss://")
    for section, (_cls, specs) in cfg._SCHEMA.items():
        assert f"[{section}]" in text
        for key in specs:
            assert re.search(rf"^(# )?{key} = ", text, re.MULTILINE), f"{section}.{key}"


# --- properties ------------------------------------------------------------------------------

INT_BOUNDS = {
    ("hub", "room"): (1, 2**63 - 1),
    ("camera", "width"): (160, 1920),
    ("camera", "height"): (120, 1080),
    ("camera", "fps"): (5, 30),
    ("speaker", "volume"): (0, 100),
}
FLOAT_BOUNDS = {
    ("hub", "connect_timeout"): (0.5, 60.0),
    ("microphone", "tone_hz"): (50.0, 8000.0),
}


def accepted(section: str, key: str, value: object) -> bool:
    try:
        config = Config.from_dict(minimal(**{section: {key: value}}))
    except ConfigError as err:
        assert [i.key for i in err.issues] == [f"{section}.{key}"]
        return False
    assert getattr(getattr(config, section), key) == value
    return True


@FAST
@given(st.sampled_from(sorted(INT_BOUNDS)), st.integers(min_value=-(2**70), max_value=2**70))
@example(("hub", "room"), 2**63 - 1)
@example(("hub", "room"), 2**63)
@example(("camera", "fps"), 5)
@example(("camera", "fps"), 4)
def test_int_fields_accept_exactly_their_bounds(field: tuple[str, str], value: int) -> None:
    lo, hi = INT_BOUNDS[field]
    assert accepted(*field, value) == (lo <= value <= hi)


@FAST
@given(st.sampled_from(sorted(FLOAT_BOUNDS)), st.floats() | st.integers(-(10**6), 10**6))
@example(("hub", "connect_timeout"), 0.5)
@example(("hub", "connect_timeout"), math.nan)
def test_float_fields_accept_exactly_their_bounds(field: tuple[str, str], value: float) -> None:
    lo, hi = FLOAT_BOUNDS[field]
    assert accepted(*field, value) == (lo <= value <= hi)


@FAST
@given(st.text(min_size=1, max_size=70))
def test_site_name_accepted_iff_printable_and_short(raw: str) -> None:
    name = unicodedata.normalize("NFC", raw.strip())
    ok = 1 <= len(name) <= 64 and not any(unicodedata.category(c) in ("Cc", "Cs") for c in name)
    try:
        config = Config.from_dict(minimal(site={"name": raw}))
    except ConfigError as err:
        assert not ok and err.issues[0].key == "site.name"
    else:
        assert ok and config.site.name == name


@FAST
@given(st.text(max_size=200))
@example('[site]\nname = "A"\n[hub]\nurl = "wss://h"\nroom = 1\n')
@example("a = " + "[" * 5000)
def test_random_text_only_ever_raises_config_error(text: str) -> None:
    try:
        parse_config(text)
    except ConfigError as err:
        assert err.issues and str(err)


TOML_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
SECTION_NAMES = st.sampled_from([*cfg._SCHEMA, "camra", ""])
KEY_NAMES = st.sampled_from(sorted({k for _c, s in cfg._SCHEMA.values() for k in s} | {"rom"}))


@FAST
@given(
    st.dictionaries(
        SECTION_NAMES, st.dictionaries(KEY_NAMES, TOML_VALUES, max_size=4) | TOML_VALUES
    )
)
def test_random_structures_only_ever_raise_config_error(data: dict[str, Any]) -> None:
    try:
        Config.from_dict(data)
    except ConfigError as err:
        assert err.issues and all(str(i) for i in err.issues)

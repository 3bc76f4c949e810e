"""Kiosk configuration: one TOML file (default /etc/diemcau/diemcau.toml) → frozen dataclasses.

Validation is table-driven (``_SCHEMA``: one converter per key) and collects *every* problem
before raising :class:`ConfigError`; each problem names ``section.key``, the value and the rule.
Problems confined to [voice] only turn voice off (``Config.voice_issues``), and [voice] is
checked by building the voice pipeline's own settings (``_voice_plan``).
Secrets (room PIN, Janus token) are never in the file itself: it names files with mode 0600 that
are read only when needed (:meth:`HubConfig.read_pin`), so they never reach a repr or a log.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from kiosk import _config_fields as f
from kiosk import _config_schedule as sc
from kiosk import _config_toml as toml
from kiosk import _config_voice as vc
from kiosk._config_issues import ConfigError, ConfigIssue
from kiosk._config_schedule import ScheduleSection
from kiosk._config_voice import VoiceSection, ZoneSpec
from kiosk._voice_plan import verify_voice

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "SYNTHETIC",
    "CameraConfig",
    "Config",
    "ConfigError",
    "ConfigIssue",
    "HubConfig",
    "MeetingConfig",
    "ScheduleSection",
    "MicrophoneConfig",
    "SiteConfig",
    "SpeakerConfig",
    "StateConfig",
    "VoiceSection",
    "ZoneSpec",
    "dump_config",
    "load_config",
    "parse_config",
]

DEFAULT_CONFIG_PATH = "/etc/diemcau/diemcau.toml"
SYNTHETIC = f.SYNTHETIC
_HIDDEN_NOTE = " (value not shown: it may be a secret)"


# --- sections --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SiteConfig:
    """The meeting room: ``name`` is the commune's display name, e.g. "Xã Bản Vẽ"."""

    name: str


@dataclass(frozen=True)
class HubConfig:
    """The district Janus hub and the room to join.  Holds secret *paths*, never secrets."""

    url: str
    room: int
    pin_file: Path | None = None
    token_file: Path | None = None
    ca_file: Path | None = None
    ice_servers: tuple[str, ...] = ()
    connect_timeout: float = 5.0

    def read_pin(self) -> str | None:
        """The room PIN, read now from ``pin_file`` (None when no PIN is configured)."""
        return None if self.pin_file is None else f.read_secret(self.pin_file, "hub.pin_file")

    def read_token(self) -> str | None:
        """The Janus token, read now from ``token_file`` (None when not configured)."""
        return None if self.token_file is None else f.read_secret(self.token_file, "hub.token_file")


@dataclass(frozen=True)
class CameraConfig:
    """``device`` is "synthetic" or a /dev/ path; its existence is checked when opened."""

    device: str = SYNTHETIC
    width: int = 640
    height: int = 360
    fps: int = 15

    @property
    def synthetic(self) -> bool:
        return self.device == SYNTHETIC


@dataclass(frozen=True)
class MicrophoneConfig:
    """``tone_hz`` / ``wav_file`` only matter for the synthetic microphone."""

    device: str = SYNTHETIC
    tone_hz: float = 440.0
    wav_file: Path | None = None

    @property
    def synthetic(self) -> bool:
        return self.device == SYNTHETIC


@dataclass(frozen=True)
class SpeakerConfig:
    device: str = SYNTHETIC
    volume: int = 80

    @property
    def synthetic(self) -> bool:
        return self.device == SYNTHETIC


@dataclass(frozen=True)
class StateConfig:
    """Where persisted state (last good config, current meeting) lives."""

    dir: Path = Path("/var/lib/diemcau")


@dataclass(frozen=True)
class MeetingConfig:
    """How the meeting looks on the TV: ``video_slots`` other rooms at most show their video
    as thumbnails (the rest by name), so a small PC decodes and draws only so many."""

    video_slots: int = 8


@dataclass(frozen=True)
class _Spec:
    convert: f.Convert
    help: str


_SCHEMA: dict[str, tuple[type[Any], dict[str, _Spec]]] = {
    "site": (SiteConfig, {"name": _Spec(f.label(64), "commune display name")}),
    "hub": (
        HubConfig,
        {
            "url": _Spec(f.hub_url, "Janus WebSocket URL, wss://host[:port]/path"),
            "room": _Spec(f.integer(1, 2**63 - 1), "Janus VideoRoom room number"),
            "pin_file": _Spec(f.existing_file(private=True), "file holding the room PIN (0600)"),
            "token_file": _Spec(f.existing_file(private=True), "file holding the token (0600)"),
            "ca_file": _Spec(f.existing_file(), "extra CA bundle for verifying wss://"),
            "ice_servers": _Spec(f.list_of(f.ice_server), "stun:/turn:/turns: URIs"),
            "connect_timeout": _Spec(f.number(0.5, 60.0), "seconds to reach the hub"),
        },
    ),
    "camera": (
        CameraConfig,
        {
            "device": _Spec(f.camera_device, '"synthetic" or /dev/video…'),
            "width": _Spec(f.integer(160, 1920), "capture width, pixels"),
            "height": _Spec(f.integer(120, 1080), "capture height, pixels"),
            "fps": _Spec(f.integer(5, 30), "frames per second"),
        },
    ),
    "microphone": (
        MicrophoneConfig,
        {
            "device": _Spec(f.audio_device, '"synthetic" or a device name'),
            "tone_hz": _Spec(f.number(50.0, 8000.0), "synthetic microphone tone, Hz"),
            "wav_file": _Spec(f.existing_file(), "synthetic microphone plays this WAV, looped"),
        },
    ),
    "speaker": (
        SpeakerConfig,
        {
            "device": _Spec(f.audio_device, '"synthetic" or a device name'),
            "volume": _Spec(f.integer(0, 100), "volume, percent"),
        },
    ),
    "state": (StateConfig, {"dir": _Spec(f.any_path, "directory for persisted state")}),
    "meeting": (
        MeetingConfig,
        {"video_slots": _Spec(f.integer(1, 24), "rooms shown as video thumbnails on the TV")},
    ),
    "voice": (
        VoiceSection,
        {
            "enabled": _Spec(vc.boolean, "use the microphone array (true/false)"),
            "auto_mute": _Spec(vc.boolean, "mute the room while nobody speaks"),
            "lookahead_ms": _Spec(
                vc.bounded_int("gate.lookahead_ms"), "outgoing audio delay so onsets pass, ms"
            ),
            "auto_camera": _Spec(vc.boolean, "show the zone of whoever talks"),
            "mics": _Spec(vc.bounded_int("array.channels"), "microphones in the circular array"),
            "radius_m": _Spec(vc.bounded_number("array.radius_m"), "array radius, metres"),
            "speaker_angles": _Spec(vc.angle_pair, "[from, to]: directions of TV/loudspeakers"),
            "zones": _Spec(vc.zones, "seating zones: name, angles, crop"),
            "switch_after_s": _Spec(
                vc.bounded_number("director.switch_after_s"), "speech needed before a cut, s"
            ),
            "overview_after_s": _Spec(
                vc.bounded_number("director.overview_after_s"), "silence before the overview, s"
            ),
            "min_dwell_s": _Spec(
                vc.bounded_number("director.min_dwell_s"), "shortest time on one shot, s"
            ),
            "script_wav": _Spec(f.existing_file(), "WAV for a synthetic array (+1 ch: reference)"),
        },
    ),
    "schedule": (ScheduleSection, {k: _Spec(*spec) for k, spec in sc.FIELDS.items()}),
}


# --- validation ------------------------------------------------------------------------------


def _closest(name: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if close:
        return close[0]
    partial = [c for c in choices if name.lower() in c.split("_")]  # "pin" → "pin_file"
    return partial[0] if len(partial) == 1 else None


def _suggest(name: object, choices: Iterable[str], kind: str) -> str:
    name, choices = str(name), list(choices)
    close = _closest(name, choices)
    if close is not None:
        return f"unknown {kind}; did you mean {close!r}?"
    return f"unknown {kind}; expected one of: {', '.join(choices)}"


_Converted = tuple[dict[str, Any], list[ConfigIssue]]


def _issues_from(key: str, raw: object, err: f.Invalid) -> list[ConfigIssue]:
    if err.parts:
        return [i for sfx, item, sub in err.parts for i in _issues_from(key + sfx, item, sub)]
    if err.hide:
        return [ConfigIssue(key, None, err.rule + _HIDDEN_NOTE)]
    return [ConfigIssue(key, raw, err.rule)]


def _convert_fields(name: str, raw: Mapping[str, object], ctx: f.Context) -> _Converted:
    cls, specs = _SCHEMA[name]
    values: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for fld in fields(cls):
        key = f"{name}.{fld.name}"
        if fld.name in raw:
            try:
                values[fld.name] = specs[fld.name].convert(raw[fld.name], ctx)
            except f.Invalid as err:
                issues.extend(_issues_from(key, raw[fld.name], err))
        elif fld.default is MISSING and fld.default_factory is MISSING:
            issues.append(ConfigIssue(key, None, "missing — required"))
    return values, issues


def _build_section(name: str, raw: object, ctx: f.Context, issues: list[ConfigIssue]) -> Any:
    """The section's dataclass, or None after appending its problems to ``issues``."""
    if not isinstance(raw, Mapping):
        issues.append(ConfigIssue(name, raw, f"must be a table ([{name}])"))
        return None
    cls, specs = _SCHEMA[name]
    unknown = [
        ConfigIssue(f"{name}.{k}", None, _suggest(k, specs, "key")) for k in raw if k not in specs
    ]
    values, problems = _convert_fields(name, raw, ctx)
    issues.extend(unknown + problems)
    return None if unknown or problems else cls(**values)


def _base_dir(source: str, base_dir: str | os.PathLike[str] | None) -> Path:
    if base_dir is not None:
        return Path(base_dir).absolute()
    if source.startswith("<"):
        return Path.cwd()
    return Path(source).absolute().parent


def _from_dict(cls: type[Config], data: Mapping[str, Any], source: str, ctx: f.Context) -> Config:
    issues = [
        ConfigIssue(str(k), None, _suggest(k, _SCHEMA, "section")) for k in data if k not in _SCHEMA
    ]
    sections = {name: _build_section(name, data.get(name, {}), ctx, issues) for name in _SCHEMA}
    schedule_issues = [i for i in issues if _in_section(i, "schedule")]
    voice_issues = [i for i in issues if _in_section(i, "voice")]
    issues = [i for i in issues if i not in voice_issues and i not in schedule_issues]
    voice_issues += _cross_voice(data.get("voice", {}), ctx, voice_issues, sections["microphone"])
    if issues:
        raise ConfigError(issues + voice_issues, source)
    if voice_issues:  # a broken [voice] turns voice off; the room still joins its meeting
        sections["voice"] = VoiceSection()
    if schedule_issues:  # a broken meeting entry is left out; the others still run
        sections["schedule"] = _good_schedule(data.get("schedule", {}), ctx, schedule_issues)
    return cls(**sections, voice_issues=tuple(voice_issues), schedule_issues=tuple(schedule_issues))


def _in_section(issue: ConfigIssue, name: str) -> bool:
    return issue.key == name or issue.key.startswith((f"{name}.", f"{name}["))


def _good_schedule(raw: object, ctx: f.Context, found: list[ConfigIssue]) -> ScheduleSection:
    kept = sc.without_bad_entries(raw, [issue.key for issue in found])
    section = _build_section("schedule", kept, ctx, [])
    return section if section is not None else ScheduleSection()


def _cross_voice(
    raw: object, ctx: f.Context, found: list[ConfigIssue], mic: MicrophoneConfig | None
) -> list[ConfigIssue]:
    """[voice]'s cross-field and runtime rules, over the keys that passed their own rules."""
    if mic is None or not isinstance(raw, Mapping):
        return []
    values, _ = _convert_fields("voice", raw, ctx)
    invalid = frozenset(re.split(r"[.\[]", i.key)[1] for i in found if "." in i.key)
    return verify_voice(VoiceSection(**values), mic.synthetic, invalid)


@dataclass(frozen=True)
class Config:
    """The whole, validated kiosk configuration.

    ``schedule_issues``: the problems found in [schedule]; the broken entries were left out.
    ``voice_issues``: the problems found in [voice], which was then turned off (``voice`` is
    the default, disabled section); empty when the file is valid.
    """

    site: SiteConfig
    hub: HubConfig
    camera: CameraConfig = field(default_factory=CameraConfig)
    microphone: MicrophoneConfig = field(default_factory=MicrophoneConfig)
    speaker: SpeakerConfig = field(default_factory=SpeakerConfig)
    state: StateConfig = field(default_factory=StateConfig)
    meeting: MeetingConfig = field(default_factory=MeetingConfig)
    voice: VoiceSection = field(default_factory=VoiceSection)
    schedule: ScheduleSection = field(default_factory=ScheduleSection)
    voice_issues: tuple[ConfigIssue, ...] = ()
    schedule_issues: tuple[ConfigIssue, ...] = ()

    @classmethod
    def from_dict(
        cls,
        data: Mapping[str, Any],
        source: str = "<dict>",
        *,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> Config:
        """Validate a TOML-shaped mapping ({"site": {...}, "hub": {...}}); raise ConfigError.

        Problems confined to [voice] do not raise: the Config comes back with voice off and
        the problems in ``voice_issues`` (the room joins; the panel says voice is off).

        Relative paths resolve against ``base_dir``, else ``source``'s directory (or the
        working directory when ``source`` is a placeholder like "<dict>").
        """
        if not isinstance(data, Mapping):
            raise ConfigError([ConfigIssue("", None, "must be a table of sections")], source)
        return _from_dict(cls, data, source, f.Context(_base_dir(source, base_dir)))


# --- entry points ----------------------------------------------------------------------------


def parse_config(
    text: str, source: str = "<string>", *, base_dir: str | os.PathLike[str] | None = None
) -> Config:
    """Parse TOML text into a Config; raise ConfigError listing every problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError([ConfigIssue("", None, f"TOML syntax error: {err}")], source) from err
    except RecursionError as err:
        raise ConfigError([ConfigIssue("", None, "TOML nested too deeply")], source) from err
    return Config.from_dict(data, source, base_dir=base_dir)


def load_config(path: str | os.PathLike[str] = DEFAULT_CONFIG_PATH) -> Config:
    """Read and validate the config file at ``path``; raise ConfigError on any problem
    outside [voice] (see :meth:`Config.from_dict`)."""
    source = os.fspath(path)
    try:
        data = Path(source).read_bytes()
    except OSError as err:
        raise ConfigError([ConfigIssue("", None, f"cannot read: {err.strerror}")], source) from err
    try:
        text = data.decode("utf-8-sig")  # tolerate the BOM some editors add
    except UnicodeDecodeError as err:
        rule = f"not valid UTF-8 (byte {err.start}); save the file as UTF-8"
        raise ConfigError([ConfigIssue("", None, rule)], source) from err
    return parse_config(text, source)


def dump_config(config: Config) -> str:
    """``config`` as TOML that :func:`parse_config` reads back equal, from any directory:
    every path is absolute.  Secrets stay in their files; only the file names are written."""
    return toml.dump_sections({name: getattr(config, name) for name in _SCHEMA})

"""[voice] → the runtime voice objects, built by validation and again by the wiring.

``check-config`` and ``run`` both call :func:`plan_voice`, so a [voice] section that
validates is one the voice pipeline accepts when the kiosk starts: every ``ValueError`` the
runtime objects raise becomes a :class:`ConfigIssue` naming the ``voice.`` key behind it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

from devices.voice import (
    AngleRange,
    ArrayGeometry,
    CameraTarget,
    CropRect,
    DirectorConfig,
    GateConfig,
    InvalidSetting,
    VoiceConfig,
    Zone,
    wav_format,
)
from kiosk._config_issues import ConfigIssue
from kiosk._config_voice import VoiceSection

MAIN = "main"  # the room's one camera, as the director names it
ARRAY_RATE = 48000  # the real array's capture rate
_KEYS = frozenset(f.name for f in fields(VoiceSection))
_DIRECTOR_KEYS = {"zones", "speaker_angles", "switch_after_s", "overview_after_s", "min_dwell_s"}
_SOURCE_KEY = {  # runtime settings that are not named after the [voice] key they come from
    "array.channels": "mics",
    "array.aperture_m": "radius_m",
    "gate.sample_rate": "script_wav",
    "director.evidence_window_s": "switch_after_s",
}


@dataclass(frozen=True)
class VoicePlan:
    """Everything the voice pipeline is built from: the processor's and the director's config."""

    processor: VoiceConfig
    director: DirectorConfig


def zones(voice: VoiceSection) -> tuple[Zone, ...]:
    return tuple(
        Zone(
            z.name, AngleRange(*z.angles), CameraTarget(MAIN, CropRect(*z.crop) if z.crop else None)
        )
        for z in voice.zones
    )


def director_config(voice: VoiceSection) -> DirectorConfig:
    exclusion = (AngleRange(*voice.speaker_angles),) if voice.speaker_angles else ()
    return DirectorConfig(
        overview=CameraTarget(MAIN), zones=zones(voice), exclusion=exclusion,
        auto_mute=voice.auto_mute, auto_camera=voice.auto_camera,
        switch_after_s=voice.switch_after_s, overview_after_s=voice.overview_after_s,
        min_dwell_s=voice.min_dwell_s,
    )  # fmt: skip


def geometry(voice: VoiceSection) -> ArrayGeometry:
    return ArrayGeometry.circular(voice.mics, voice.radius_m)


def gate_config(voice: VoiceSection, rate: int) -> GateConfig:
    return GateConfig(enabled=voice.auto_mute, sample_rate=rate, lookahead_ms=voice.lookahead_ms)


def plan_voice(voice: VoiceSection, rate: int) -> VoicePlan:
    """The runtime configs for ``voice`` with audio captured at ``rate`` Hz (ValueError if bad)."""
    director = director_config(voice)
    seats = tuple(zone.angles for zone in director.zones)  # where people sit: the gate's prior
    processor = VoiceConfig(
        array=geometry(voice), gate=gate_config(voice, rate), exclusion=director.exclusion,
        seats=seats,
    )  # fmt: skip
    return VoicePlan(processor, director)


# --- validation ------------------------------------------------------------------------------


def verify_voice(
    voice: VoiceSection, synthetic_mic: bool, invalid: frozenset[str] = frozenset()
) -> list[ConfigIssue]:
    """Cross-field rules: a synthetic array plays a recording that fits it, and the runtime
    objects build from the section.  ``invalid`` names keys that broke their own rule (their
    defaults stand in): rules that read them are skipped, the others still run, so every
    problem is reported at once."""
    rate: int | None = ARRAY_RATE
    issues: list[ConfigIssue] = []
    if voice.enabled and synthetic_mic:
        rate, issues = _recording_rate(voice, invalid)
    return issues + _plan_issues(voice, rate, invalid)


def _recording_rate(
    voice: VoiceSection, invalid: frozenset[str]
) -> tuple[int | None, list[ConfigIssue]]:
    """The rate the synthetic array plays at (None: unknown), or what is wrong with it."""
    if invalid & {"script_wav", "mics"}:
        return None, []
    if voice.script_wav is None:
        rule = 'needed when voice.enabled and microphone.device = "synthetic"'
        return None, [ConfigIssue("voice.script_wav", None, rule)]
    recording = _recording(voice.script_wav, voice.mics)
    if isinstance(recording, ConfigIssue):
        return None, [recording]
    return recording, []


def _recording(path: Path, mics: int) -> int | ConfigIssue:
    """The recording's sample rate, or what makes it unplayable as this array."""
    try:
        found = wav_format(path)
    except ValueError as err:
        return ConfigIssue("voice.script_wav", str(path), f"cannot be played: {err}")
    if found.channels not in (mics, mics + 1):
        rule = f"has {found.channels} channels; needs voice.mics ({mics}), or one more"
        return ConfigIssue("voice.script_wav", str(path), rule + " (loudspeaker reference)")
    if found.frames < found.rate // 100:
        return ConfigIssue("voice.script_wav", str(path), "holds no audio (under 10 ms)")
    return found.rate


def _plan_issues(
    voice: VoiceSection, rate: int | None, invalid: frozenset[str]
) -> list[ConfigIssue]:
    """Each part of the plan whose keys are all valid, then (if all are) the whole plan."""
    parts: list[tuple[set[str], Callable[[], object]]] = [
        (_DIRECTOR_KEYS, lambda: director_config(voice)),
        ({"mics", "radius_m"}, lambda: geometry(voice)),
    ]
    if rate is not None:
        parts.append(({"lookahead_ms"}, lambda: gate_config(voice, rate)))
    issues = [i for keys, part in parts if not keys & invalid for i in _caught(voice, part)]
    if issues or invalid or rate is None:
        return issues
    return _caught(voice, lambda: plan_voice(voice, rate))


def _caught(voice: VoiceSection, build: Callable[[], object]) -> list[ConfigIssue]:
    try:
        build()
    except InvalidSetting as err:
        return [_issue(voice, err)]
    except ValueError as err:  # a runtime check without structured details
        return [ConfigIssue("voice", None, str(err))]
    return []


def _issue(voice: VoiceSection, err: InvalidSetting) -> ConfigIssue:
    """``err`` restated for the [voice] key it comes from, with that key's value."""
    name = _SOURCE_KEY.get(err.where, err.where.rpartition(".")[2])
    if name not in _KEYS:
        return ConfigIssue("voice", None, str(err))
    value = getattr(voice, name)
    if name == "zones":
        value = [z.name for z in voice.zones]
    elif name == "script_wav":
        value = str(value)
    same = err.where.endswith(f".{name}") and err.value == value
    return ConfigIssue(
        f"voice.{name}", value, err.rule if same else f"{err.rule} ({err.where} = {err.value!r})"
    )

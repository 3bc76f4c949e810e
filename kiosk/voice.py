"""Wiring of the [voice] section: microphone array → voice pipeline → mute and camera."""

from __future__ import annotations

import logging

from devices import Camera, Playout
from devices.directed import DirectedCamera
from devices.room_voice import ArrayCapture, VoiceMicrophone
from devices.voice import (
    AngleRange,
    ArrayGeometry,
    CameraTarget,
    CropRect,
    Decision,
    Director,
    DirectorConfig,
    GateConfig,
    MicArraySource,
    ScriptedMicArray,
    VoiceConfig,
    VoiceProcessor,
    Zone,
    read_wav,
)
from kiosk.config import Config, VoiceSection
from ui import texts

log = logging.getLogger(__name__)

MAIN = "main"


def zones(voice: VoiceSection) -> tuple[Zone, ...]:
    return tuple(
        Zone(
            z.name, AngleRange(*z.angles), CameraTarget(MAIN, CropRect(*z.crop) if z.crop else None)
        )
        for z in voice.zones
    )


def camera_choices(config: Config) -> list[tuple[str, CameraTarget]]:
    """The panel's shot buttons: the whole room, then each seating zone."""
    overview = (texts.OVERVIEW, CameraTarget(MAIN))
    return [overview, *((zone.name, zone.target) for zone in zones(config.voice))]


def director_config(voice: VoiceSection) -> DirectorConfig:
    exclusion = (AngleRange(*voice.speaker_angles),) if voice.speaker_angles else ()
    return DirectorConfig(
        overview=CameraTarget(MAIN), zones=zones(voice), exclusion=exclusion,
        auto_mute=voice.auto_mute, auto_camera=voice.auto_camera,
        switch_after_s=voice.switch_after_s, overview_after_s=voice.overview_after_s,
        min_dwell_s=voice.min_dwell_s,
    )  # fmt: skip


def array_source(config: Config) -> MicArraySource:
    """The real array, or a recording of one; a recording with one channel more than the
    array carries the loudspeaker playout (echo reference) in that last channel."""
    voice = config.voice
    if not config.microphone.synthetic:
        return ArrayCapture(config.microphone.device, voice.mics)
    assert voice.script_wav is not None  # guaranteed by config.verify_voice
    data, rate = read_wav(voice.script_wav)
    if data.shape[1] == voice.mics + 1:
        return ScriptedMicArray(data[:, :-1], rate, data[:, -1])
    return ScriptedMicArray(data, rate)


def voice_microphone(config: Config, playout: Playout) -> VoiceMicrophone:
    """The array as the call's microphone; a recording brings its own echo reference."""
    voice = config.voice
    source = array_source(config)
    policy = director_config(voice)
    processor = VoiceProcessor(
        VoiceConfig(
            array=ArrayGeometry.circular(voice.mics, voice.radius_m),
            gate=GateConfig(
                enabled=voice.auto_mute, sample_rate=source.rate, lookahead_ms=voice.lookahead_ms
            ),
            exclusion=policy.exclusion,
        )
    )
    reference = None if isinstance(source, ScriptedMicArray) else playout.reference
    return VoiceMicrophone(source, processor, Director(policy), reference)


def directed_camera(camera: Camera, microphone: VoiceMicrophone) -> DirectedCamera:
    """The outgoing picture follows the director's decisions (in the voice thread)."""
    directed = DirectedCamera({MAIN: camera}, MAIN)
    shown = [CameraTarget(MAIN)]  # what the camera was last pointed at

    def follow() -> None:
        decision: Decision | None = microphone.decisions.get()[0]
        if decision is not None and decision.target != shown[0]:
            log.info("camera → %s (%s)", decision.zone or "overview", decision.reason)
            directed.point(decision.target.camera, decision.target.crop)
            shown[0] = decision.target

    microphone.decisions.listen(follow)
    return directed

"""Wiring of the [voice] section: microphone array → voice pipeline → mute and camera."""

from __future__ import annotations

import logging

from devices import Camera, Playout
from devices.directed import DirectedCamera
from devices.room_voice import ArrayCapture, VoiceMicrophone
from devices.voice import (
    CameraTarget,
    Decision,
    Director,
    MicArraySource,
    ScriptedMicArray,
    VoiceProcessor,
    read_wav,
)
from kiosk._voice_plan import ARRAY_RATE, MAIN, plan_voice, zones
from kiosk.config import Config
from ui import texts

log = logging.getLogger(__name__)


def camera_choices(config: Config) -> list[tuple[str, CameraTarget]]:
    """The panel's shot buttons: the whole room, then each seating zone."""
    overview = (texts.OVERVIEW, CameraTarget(MAIN))
    return [overview, *((zone.name, zone.target) for zone in zones(config.voice))]


def array_source(config: Config) -> MicArraySource:
    """The real array, or a recording of one; a recording with one channel more than the
    array carries the loudspeaker playout (echo reference) in that last channel."""
    voice = config.voice
    if not config.microphone.synthetic:
        return ArrayCapture(config.microphone.device, voice.mics, ARRAY_RATE)
    assert voice.script_wav is not None  # guaranteed by the config's verify_voice
    data, rate = read_wav(voice.script_wav)
    if data.shape[1] == voice.mics + 1:
        return ScriptedMicArray(data[:, :-1], rate, data[:, -1])
    return ScriptedMicArray(data, rate)


def voice_microphone(config: Config, playout: Playout) -> VoiceMicrophone:
    """The array as the call's microphone; a recording brings its own echo reference.

    Built from the same :func:`plan_voice` that validated the section.
    """
    source = array_source(config)
    plan = plan_voice(config.voice, source.rate)
    reference = None if isinstance(source, ScriptedMicArray) else playout.reference
    return VoiceMicrophone(
        source, VoiceProcessor(plan.processor), Director(plan.director), reference
    )


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

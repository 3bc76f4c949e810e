"""Voice director: auto-mute gate, direction of arrival and camera/mute policy for the mic array.

Typical wiring (one array, 48 kHz capture, 10 ms blocks)::

    processor = VoiceProcessor(VoiceConfig(array=ArrayGeometry.circular(4, 0.045),
                                           exclusion=(AngleRange(225, 315),)))
    director = Director(DirectorConfig(overview=CameraTarget("wide"), zones=..., exclusion=...))
    for block in source.blocks():                       # MicArraySource (real or scripted)
        frame = processor.process(block.mics, block.ref, block.t, block.rate)
        decision = director.update(block.t, gate=frame.gate.state, speech=frame.gate.speech,
                                   far_end=frame.gate.far_end, doa=frame.doa,
                                   warnings=tuple(map(str, frame.faults)))
        # delay the outgoing audio through PreRoll(gate.lookahead_ms / 1000) with
        # frame.gate.gain, and silence it while decision.mic is MUTED;
        # show decision.mic (AUTO_MUTED differs from MUTED); frame decision.target.

The gate and the DOA work internally at 16 kHz on 10 ms frames; capture may be 48 or 16 kHz.
Angles are degrees counter-clockwise from mic 0's axis, in the table plane.
"""

from devices.voice._checks import FaultKind, InputChecker, InputFault
from devices.voice._config import (
    LIMITS,
    AngleRange,
    ArrayGeometry,
    CameraTarget,
    CropRect,
    DirectorConfig,
    DoaConfig,
    GateConfig,
    InvalidSetting,
    VoiceConfig,
    Zone,
    verify_zone_names,
)
from devices.voice._director import Decision, Director, MicState
from devices.voice._doa import DoaEstimate, DoaEstimator, angle_diff
from devices.voice._gate import VoiceGate
from devices.voice._micarray import (
    MicArraySource,
    MicBlock,
    ScriptedMicArray,
    WavFormat,
    read_wav,
    wav_format,
    write_wav,
)
from devices.voice._preroll import PreRoll
from devices.voice._processor import VoiceFrame, VoiceProcessor
from devices.voice._verdict import GateFrame, GateState

__all__ = [
    "LIMITS",
    "AngleRange",
    "ArrayGeometry",
    "CameraTarget",
    "CropRect",
    "Decision",
    "Director",
    "DirectorConfig",
    "DoaConfig",
    "DoaEstimate",
    "DoaEstimator",
    "FaultKind",
    "GateConfig",
    "GateFrame",
    "GateState",
    "InputChecker",
    "InputFault",
    "InvalidSetting",
    "MicArraySource",
    "MicBlock",
    "MicState",
    "PreRoll",
    "ScriptedMicArray",
    "VoiceConfig",
    "VoiceFrame",
    "VoiceGate",
    "VoiceProcessor",
    "WavFormat",
    "Zone",
    "angle_diff",
    "read_wav",
    "verify_zone_names",
    "wav_format",
    "write_wav",
]

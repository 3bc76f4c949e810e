"""diemcau devices layer: cameras, microphones, speakers and their stand-ins.

No Qt and no aiortc here; other layers import only the names below.
"""

from devices._latest import LatestFrame
from devices._ring import AudioRing
from devices._verdict import CheckResult, Hint, Verdict, check_title, worst
from devices.camera import Camera, OpenCVCamera, SyntheticCamera, ascii_label, open_camera
from devices.framecode import FrameCode
from devices.microphone import (
    Microphone,
    SoundDeviceMicrophone,
    SyntheticMicrophone,
    load_wav,
    open_microphone,
)
from devices.speaker import (
    Playout,
    SoundDeviceSpeaker,
    Speaker,
    SyntheticSpeaker,
    open_speaker,
)

__all__ = [
    "AudioRing",
    "Camera",
    "CheckResult",
    "check_title",
    "Hint",
    "FrameCode",
    "LatestFrame",
    "Microphone",
    "OpenCVCamera",
    "Playout",
    "SoundDeviceMicrophone",
    "SoundDeviceSpeaker",
    "Speaker",
    "SyntheticCamera",
    "SyntheticMicrophone",
    "SyntheticSpeaker",
    "Verdict",
    "ascii_label",
    "load_wav",
    "open_camera",
    "open_microphone",
    "open_speaker",
    "worst",
]

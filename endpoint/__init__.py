"""diemcau endpoint layer: hub signaling, the call, media tracks. asyncio + aiortc, no Qt."""

from endpoint import _audio_jitter, _first_report, _jitter, _nack, _opus, _seams, _vp8
from endpoint._tasks import Tasks
from endpoint.call import Call
from endpoint.errors import EndpointError, FailReason
from endpoint.events import (
    CallEvent,
    CallState,
    HubSettings,
    LinkGrade,
    LinkQuality,
    MediaChanged,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    StateChanged,
    TalkingChanged,
)

__all__ = [
    "Call",
    "CallEvent",
    "CallState",
    "EndpointError",
    "FailReason",
    "HubSettings",
    "LinkGrade",
    "LinkQuality",
    "MediaChanged",
    "Participant",
    "ParticipantJoined",
    "ParticipantLeft",
    "StateChanged",
    "TalkingChanged",
    "Tasks",
    "plain_aiortc",
]

# Where diemcau replaces a piece of aiortc 1.16 (see _seams.py); installed on import.
_seams.register(_seams.Seam("opus-send", _opus.install, _opus.uninstall))  # mono ~28 kbit/s, FEC
_seams.register(_seams.Seam("video-jitter", _jitter.install, _jitter.uninstall))  # time-bounded
_seams.register(_seams.Seam("video-nack", _nack.install, _nack.uninstall))  # re-NACK, timed PLI
_seams.register(_seams.Seam("first-report", _first_report.install, _first_report.uninstall))
_seams.register(_seams.Seam("audio-receive", _audio_jitter.install, _audio_jitter.uninstall))
_seams.register(_seams.Seam("vp8-send", _vp8.install, _vp8.uninstall))  # tiers, PLI limit
_seams.install_all()
plain_aiortc = _seams.plain_aiortc  # the links benchmark's baseline

"""diemcau endpoint layer: hub signaling, the call, media tracks. asyncio + aiortc, no Qt."""

from endpoint import _opus
from endpoint._jitter import install as _install_video_jitter
from endpoint._tasks import Tasks
from endpoint.call import Call
from endpoint.errors import EndpointError, FailReason
from endpoint.events import (
    CallEvent,
    CallState,
    HubSettings,
    MediaChanged,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    StateChanged,
    TalkingChanged,
)

_opus.install()  # mono ~28 kbit/s Opus with in-band FEC for every sender (see _opus.py)

__all__ = [
    "Call",
    "CallEvent",
    "CallState",
    "EndpointError",
    "FailReason",
    "HubSettings",
    "MediaChanged",
    "Participant",
    "ParticipantJoined",
    "ParticipantLeft",
    "StateChanged",
    "TalkingChanged",
    "Tasks",
]

_install_video_jitter()  # aiortc's receivers get our time-bounded video jitter buffer

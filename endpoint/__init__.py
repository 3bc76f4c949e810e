"""diemcau endpoint layer: hub signaling, the call, media tracks. asyncio + aiortc, no Qt."""

from endpoint._tasks import Tasks
from endpoint.call import (
    Call,
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
from endpoint.errors import EndpointError, FailReason

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

"""diemcau endpoint layer: hub signaling, the call, media tracks. asyncio + aiortc, no Qt."""

from endpoint.call import (
    Call,
    CallEvent,
    CallState,
    HubSettings,
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
    "Participant",
    "ParticipantJoined",
    "ParticipantLeft",
    "StateChanged",
    "TalkingChanged",
]

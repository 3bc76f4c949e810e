"""What the call tells its listeners: its state, and the rooms in the meeting."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import Enum

import av

from devices import LatestFrame
from endpoint._liveness import MediaClock
from endpoint.errors import FailReason


class CallState(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    IN_MEETING = "in-meeting"
    RECONNECTING = "reconnecting"
    LEAVING = "leaving"
    FAILED = "failed"


@dataclass(frozen=True)
class HubSettings:
    """Where and how to join (secrets already read from their files)."""

    url: str
    room: int
    display: str
    pin: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    ice_servers: tuple[str, ...] = ()
    connect_timeout: float = 5.0


@dataclass
class Participant:
    """Another room in the meeting, with its newest decoded video frame."""

    feed: int
    display: str
    video: LatestFrame[av.VideoFrame] = field(default_factory=LatestFrame)
    talking: bool = False
    media: MediaClock = field(default_factory=lambda: MediaClock(time.monotonic()))

    @property
    def stale(self) -> bool:
        """No media from this room for a while: its tile says «mất kết nối»."""
        return self.media.stale


@dataclass(frozen=True)
class StateChanged:
    """A new call state; while reconnecting, *attempt* counts tries since *since*
    (the call's clock), and *reason* says what broke or what the last try hit."""

    state: CallState
    reason: FailReason | None = None
    detail: str = ""
    attempt: int = 0
    since: float | None = None


@dataclass(frozen=True)
class ParticipantJoined:
    participant: Participant


@dataclass(frozen=True)
class ParticipantLeft:
    participant: Participant


@dataclass(frozen=True)
class TalkingChanged:
    participant: Participant


@dataclass(frozen=True)
class MediaChanged:
    """A room's media stopped arriving (``participant.stale``) or came back."""

    participant: Participant


CallEvent = StateChanged | ParticipantJoined | ParticipantLeft | TalkingChanged | MediaChanged

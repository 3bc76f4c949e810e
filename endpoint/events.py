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
    video_slots: int = 9  # rooms whose video we receive at most: the speaker and 8 thumbnails


@dataclass
class Participant:
    """Another room in the meeting, with its newest decoded video frame."""

    feed: int
    display: str
    video: LatestFrame[av.VideoFrame] = field(default_factory=LatestFrame)
    talking: bool = False
    media: MediaClock = field(default_factory=lambda: MediaClock(time.monotonic()))
    weak: bool = False  # its stream reaches us poorly (loss, frame rate): «đường truyền yếu»
    video_paused: bool = False  # we asked the hub to hold its video back (our downlink)
    video_slot: bool = True  # its video holds one of our slots (bounded video, ``_slots``)

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
    """A room's media stopped arriving (``participant.stale``) or came back, or its
    stream turned weak or fine again, or its video was paused or resumed."""

    participant: Participant


class LinkGrade(Enum):
    """How well a link carries the meeting, in three plain steps (thresholds: _linkstats)."""

    GOOD = "good"
    FAIR = "fair"
    POOR = "poor"


@dataclass(frozen=True)
class LinkQuality:
    """Our own link to the hub, from the call's statistics over the last few seconds:
    loss in % each way, round trip in ms (None until the hub has reported one), kbit/s
    each way, its grade, and whether incoming video is paused to keep the audio."""

    grade: LinkGrade
    loss_down: float = 0.0
    loss_up: float = 0.0
    rtt_ms: float | None = None
    kbps_down: float = 0.0
    kbps_up: float = 0.0
    video_paused: bool = False


CallEvent = (
    StateChanged | ParticipantJoined | ParticipantLeft | TalkingChanged | MediaChanged | LinkQuality
)

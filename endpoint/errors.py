"""Errors of the endpoint layer; library exceptions are translated to these."""

from __future__ import annotations

from enum import Enum


class FailReason(Enum):
    """Why a call failed; the UI turns each into a plain Vietnamese message."""

    HUB_UNREACHABLE = "hub-unreachable"
    TLS = "tls"
    WRONG_PIN = "wrong-pin"
    NO_SUCH_ROOM = "no-such-room"
    ROOM_FULL = "room-full"
    UNAUTHORIZED = "unauthorized"
    HUB_ERROR = "hub-error"
    PROTOCOL = "protocol"
    MEDIA = "media"
    CONNECTION_LOST = "connection-lost"


class EndpointError(Exception):
    """Base of the endpoint layer's errors; carries a reason the UI can show."""

    reason = FailReason.HUB_ERROR

    def __init__(self, message: str, reason: FailReason | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class HubUnreachable(EndpointError):
    reason = FailReason.HUB_UNREACHABLE


class HubProtocolError(EndpointError):
    """The hub sent something that does not follow the Janus protocol."""

    reason = FailReason.PROTOCOL


class HubRequestError(EndpointError):
    """The hub (Janus or the VideoRoom plugin) refused a request."""

    def __init__(self, message: str, code: int, reason: FailReason) -> None:
        super().__init__(message, reason)
        self.code = code


class ConnectionLost(EndpointError):
    reason = FailReason.CONNECTION_LOST

"""Janus AudioBridge: the meeting's voice, mixed by the hub.

Each room joins the AudioBridge room that has the VideoRoom room's number and PIN, sends
its one Opus stream (our microphone track, mono with in-band FEC) and receives one mix of
every other room, whatever the meeting size: 25 rooms cost one stream down, not 24.

A room joins both plugins under the same participant id (our VideoRoom publisher id), so
the AudioBridge's talking events name the room whose tile they concern. A client that
joins without that id (a browser on Janus' own ``janus.js``) is matched by display name.

The AudioBridge keeps its list of members; a member stays listed while its PeerConnection
lasts, which tells that a room is still in the meeting while we see none of its video.

Mute (manual, or the automatic one at every pause in speech) stays in our microphone
track, which then sends silence; the bridge's ``configure`` with ``muted`` is not used.
Auto-mute opens at a speech onset and must do so within a frame, while a request over a
lossy link's WebSocket can wait seconds behind TCP retransmissions (the first words would
be lost), and a hub-side mute whose "unmute" got lost would silence the room with nothing
on our screen to show it. Our silent frames carry audio level 127 (RFC 6464), which the
AudioBridge neither mixes nor counts as talking. Our own uplink is watched through the
hub's ``media`` events on this handle (we always send, silence included).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import MediaStreamTrack
from aiortc import RTCSessionDescription as SDP

from endpoint import _seams
from endpoint._janus_ws import Handle, Json
from endpoint._opus import opus_send_fmtp
from endpoint._videoroom import RoomAccess, peer_connection, set_remote
from endpoint.errors import EndpointError, FailReason, HubProtocolError, HubRequestError

log = logging.getLogger(__name__)

PLUGIN = "janus.plugin.audiobridge"
# JANUS_AUDIOBRIDGE_ERROR_ID_EXISTS: another member of the room has the id we asked for
# (1.1.2: "User ID ... already exists"; 491, ALREADY_JOINED, is this handle joined twice).
# Only a taken-back session rejoins under an id used before, so the other member is ours,
# from the lost connection: still leaving, or a handle a failed attempt left behind.
ID_EXISTS = 490
JOIN_WAITS = (0.2, 0.5, 1.0, None)  # s between tries while our old member leaves; None: give up
# AudioBridge error codes → reasons the user can act on (the VideoRoom's are in _janus_ws).
_REASONS = {
    485: FailReason.NO_SUCH_ROOM,  # JANUS_AUDIOBRIDGE_ERROR_NO_SUCH_ROOM
    489: FailReason.WRONG_PIN,  # JANUS_AUDIOBRIDGE_ERROR_UNAUTHORIZED
    # a leftover of our lost connection: part of the break, retried soon (the call gives
    # the claimed session up, and its members with it), not a hub refusing us
    ID_EXISTS: FailReason.CONNECTION_LOST,
}


@dataclass(frozen=True)
class Member:
    """A room in the AudioBridge (its id is its VideoRoom feed id when it is one of ours);
    *talking* as the hub listed it (join replies), not kept up to date."""

    id: int
    display: str
    talking: bool = False


@dataclass(frozen=True)
class BridgeEvent:
    """What an AudioBridge event says: members present (joined, or changed), one that
    left, one that started or stopped talking, or why the bridge is gone for us."""

    present: tuple[Member, ...] = ()
    left: int | None = None
    talking: tuple[int, bool] | None = None
    gone: str | None = None


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def members_of(data: Json) -> list[Member]:
    """The members listed under ``participants``; a malformed list is a protocol error."""
    entries = data.get("participants")
    if entries is None:
        return []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise HubProtocolError(f"malformed AudioBridge participants: {str(entries)[:100]}")
    members = []
    for entry in entries:
        if not _is_id(entry.get("id")):
            raise HubProtocolError(f"malformed AudioBridge participant: {str(entry)[:100]}")
        display = str(entry.get("display") or entry["id"])
        members.append(Member(entry["id"], display, entry.get("talking") is True))
    return members


def bridge_event(data: Json, own: int) -> BridgeEvent:
    """Parse an AudioBridge event's data (*own*: our member id); malformed: HubProtocolError."""
    kind = data.get("audiobridge")
    if kind in ("talking", "stopped-talking") and _is_id(data.get("id")):
        return BridgeEvent(talking=(data["id"], kind == "talking"))
    if kind == "destroyed":
        return BridgeEvent(gone="the hub closed the meeting's audio room")
    if data.get("kicked") == own or (kind == "left" and data.get("id") == own):
        return BridgeEvent(gone="the hub removed this room from the meeting's audio")
    left = data.get("leaving", data.get("kicked"))
    present = tuple(m for m in members_of(data) if m.id != own)
    return BridgeEvent(present, left if _is_id(left) else None)


def _translated(err: HubRequestError) -> HubRequestError:
    reason = _REASONS.get(err.code)
    return HubRequestError(str(err), err.code, reason) if reason is not None else err


class AudioBridge:
    """Our member in the AudioBridge room: one PeerConnection sending our microphone and
    receiving the hub's mix (handed to *on_mix* once negotiated)."""

    def __init__(
        self, handle: Handle, access: RoomAccess, on_mix: Callable[[MediaStreamTrack], None]
    ) -> None:
        self.handle = handle
        self.access = access
        self.pc = peer_connection(access)
        self.id = 0
        self.members: dict[int, str] = {}  # the other rooms in the bridge: id -> display
        self._on_mix = on_mix
        self.on_talking: Callable[[Member, bool], None] = lambda member, talking: None
        self.on_joined: Callable[[list[Member]], None] = lambda members: None
        self.on_uplink: Callable[[bool], None] = lambda receiving: None
        self.on_lost: Callable[[str], None] = lambda why: None
        handle.listener = self._hub_event

    async def join(self, track: MediaStreamTrack, member: int) -> None:
        """Join as *member* (our VideoRoom id) sending *track*; the mix starts flowing."""
        self.id = member
        offer = await self._offer(track)
        body = self.access.body(request="join", id=member, display=self.access.display)
        body.update(muted=False, codec="opus")
        for wait in JOIN_WAITS:  # a member of a session we took back may still be leaving
            try:
                reply = await self.handle.request(body, offer)
                break
            except HubRequestError as err:
                if err.code != ID_EXISTS or wait is None:
                    raise _translated(err) from err
                await asyncio.sleep(wait)
        if reply.data.get("audiobridge") != "joined" or reply.jsep is None:
            raise HubProtocolError(f"unexpected AudioBridge join reply: {str(reply.data)[:200]}")
        others = [m for m in members_of(reply.data) if m.id != member]
        self.members = {m.id: m.display for m in others}
        self.on_joined(others)  # who talks now: the hub sent no stopped-talking while we were away
        await set_remote(self.pc, reply.jsep)
        for transceiver in self.pc.getTransceivers():
            if transceiver.receiver.track is not None:
                self._on_mix(transceiver.receiver.track)

    async def _offer(self, track: MediaStreamTrack) -> Json:
        self.pc.addTransceiver(track, direction="sendrecv")
        offer = await self.pc.createOffer()
        sdp = opus_send_fmtp(offer.sdp) if _seams.enabled() else offer.sdp
        await self.pc.setLocalDescription(SDP(sdp, offer.type))
        return {"type": "offer", "sdp": self.pc.localDescription.sdp}

    def hears(self, member: int, display: str) -> bool:
        """Whether the room is in the bridge (by id, or by name for a foreign client)."""
        return member in self.members or display in self.members.values()

    def _hub_event(self, message: Json) -> None:
        kind = message.get("janus")
        if kind == "hangup":
            self.on_lost(f"hub hung up the meeting's audio: {message.get('reason')}")
        elif kind == "media" and message.get("type") == "audio":
            self.on_uplink(bool(message.get("receiving")))
        elif kind == "event":
            data = (message.get("plugindata") or {}).get("data")
            try:
                self._apply(bridge_event(data if isinstance(data, dict) else {}, self.id))
            except EndpointError as err:
                log.warning("ignoring malformed AudioBridge event: %s", err)

    def _apply(self, event: BridgeEvent) -> None:
        if event.gone is not None:
            self.on_lost(event.gone)
            return
        self.members.update((m.id, m.display) for m in event.present)
        if event.left is not None and (display := self.members.pop(event.left, None)):
            self.on_talking(Member(event.left, display), False)  # the hub does not say so
        if event.talking is not None:
            member, talking = event.talking
            display = self.members.get(member)
            if member != self.id and display is not None:
                self.on_talking(Member(member, display), talking)

    async def leave(self) -> None:
        """Say goodbye to the bridge (best effort; destroying the session does it too)."""
        with contextlib.suppress(EndpointError):
            await self.handle.request({"request": "leave"})

    async def close(self) -> None:
        await self.pc.close()

"""VideoRoom roles: the publisher (our camera) and one multistream subscriber that
receives every other room's video over a single connection.

The VideoRoom carries video only: the meeting's audio goes through the AudioBridge
(``_audiobridge.py``), which mixes it on the hub, so a room receives one audio stream
whatever the meeting size. Our publisher offers no audio, and a subscription asks for a
room's video m-lines only (a foreign client that publishes audio here too is not heard
twice).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc import RTCSessionDescription as SDP

from endpoint import _seams
from endpoint._janus_ws import Handle, Json
from endpoint._opus import opus_send_fmtp
from endpoint.errors import HubProtocolError, HubRequestError

log = logging.getLogger(__name__)

PLUGIN = "janus.plugin.videoroom"
REPUBLISH_WAITS = (0.2, 0.5, 1.0, None)  # seconds between tries; None: give up
UNPUBLISH_SECONDS = 2.0  # the longest wait for the hub to close the old PeerConnection
ALREADY_JOINED = 425  # JANUS_VIDEOROOM_ERROR_ALREADY_JOINED


@dataclass(frozen=True)
class RoomAccess:
    room: int
    pin: str | None
    display: str
    ice_servers: tuple[str, ...] = ()

    def body(self, **fields: Any) -> Json:
        body: Json = {"room": self.room, **fields}
        if self.pin:
            body["pin"] = self.pin
        return body


@dataclass(frozen=True)
class Feed:
    """Another room publishing in the meeting."""

    id: int
    display: str
    video: tuple[str, ...] = ()  # its video m-lines (mids); () when the hub did not say


def peer_connection(access: RoomAccess) -> RTCPeerConnection:
    """A peer connection with explicitly configured ICE servers (never a public default)."""
    servers = [RTCIceServer(urls=url) for url in access.ice_servers]
    return RTCPeerConnection(RTCConfiguration(iceServers=servers))


def entries_of(data: Json, key: str) -> list[Json]:
    """The list of objects under *key* (empty if absent); anything else is a protocol error."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise HubProtocolError(f"malformed {key!r} list from hub: {str(value)[:100]}")
    return value


def is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def feeds_of(data: Json) -> list[Feed]:
    """Publishers listed in a VideoRoom event (only those actually sending streams)."""
    feeds = []
    for entry in entries_of(data, "publishers"):
        if not is_id(entry.get("id")):
            raise HubProtocolError(f"malformed publisher entry: {str(entry)[:100]}")
        if entry.get("streams", [1]) and not entry.get("dummy"):
            display = str(entry.get("display") or entry["id"])
            feeds.append(Feed(entry["id"], display, _video_mids(entry)))
    return feeds


def _video_mids(entry: Json) -> tuple[str, ...]:
    """The mids of a publisher's live video streams."""
    return tuple(
        str(s["mid"])
        for s in entries_of(entry, "streams")
        if s.get("type") == "video" and "mid" in s and not s.get("disabled")
    )


def wanted(feed: Feed) -> list[Json]:
    """What to subscribe to of *feed*: its video m-lines (all its streams if unknown)."""
    return [{"feed": feed.id, "mid": mid} for mid in feed.video] or [{"feed": feed.id}]


@dataclass(frozen=True)
class RoomEvent:
    """What a VideoRoom event says happened: rooms (re)publishing, one that stopped
    publishing (it may come back), one that left, one that started or stopped talking."""

    published: list[Feed]
    unpublished: int | None = None
    left: int | None = None
    talking: tuple[int, bool] | None = None


def room_event(data: Json) -> RoomEvent:
    """Parse a VideoRoom event's data; a malformed one raises HubProtocolError."""
    talking = None
    if data.get("videoroom") in ("talking", "stopped-talking") and is_id(data.get("id")):
        talking = (data["id"], data["videoroom"] == "talking")
    return RoomEvent(
        feeds_of(data) if data.get("publishers") else [],
        _id_or_none(data.get("unpublished")),
        _id_or_none(data.get("leaving")),
        talking,
    )


def _id_or_none(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def publishing_of(data: Json, own: int) -> list[Feed]:
    """Other rooms that publish, from a ``listparticipants`` answer."""
    feeds = []
    for entry in entries_of(data, "participants"):
        if not is_id(entry.get("id")):
            raise HubProtocolError(f"malformed participant entry: {str(entry)[:100]}")
        if entry.get("publisher") and entry["id"] != own:
            feeds.append(Feed(entry["id"], str(entry.get("display") or entry["id"])))
    return feeds


async def set_remote(pc: RTCPeerConnection, jsep: Json) -> None:
    """Apply the hub's SDP; one that cannot be parsed or applied is the hub's protocol fault."""
    try:
        await pc.setRemoteDescription(SDP(str(jsep["sdp"]), str(jsep["type"])))
    except asyncio.CancelledError:
        raise
    except Exception as err:  # noqa: BLE001 - aiortc raises many kinds for a bad SDP
        raise HubProtocolError(f"malformed SDP from hub: {err!r}"[:300]) from err


def answerer_is_dtls_server(offer_sdp: str) -> str:
    """Make us the DTLS server when answering the hub.

    aiortc answers an ``actpass`` offer as the DTLS client, and its first handshake
    flight toward Janus is sometimes lost and retried only after a second. Telling
    aiortc the hub will be the client makes Janus start the handshake instead.
    """
    return offer_sdp.replace("a=setup:actpass", "a=setup:active")


class Publisher:
    """Joins the room and publishes our tracks with one offer (``joinandconfigure``)."""

    def __init__(self, handle: Handle, access: RoomAccess) -> None:
        self.handle = handle
        self.access = access
        self.pc = peer_connection(access)
        self.id = 0
        self.private_id: int | None = None

    async def _offer(self, tracks: list[MediaStreamTrack]) -> Json:
        for track in tracks:
            self.pc.addTransceiver(track, direction="sendonly")
        offer = await self.pc.createOffer()
        sdp = opus_send_fmtp(offer.sdp) if _seams.enabled() else offer.sdp
        await self.pc.setLocalDescription(SDP(sdp, offer.type))
        return {"type": "offer", "sdp": self.pc.localDescription.sdp}

    async def join(self, tracks: list[MediaStreamTrack], member: int) -> list[Feed]:
        """Join as publisher *member* and publish; returns the rooms already publishing."""
        offer = await self._offer(tracks)
        body = self.access.body(
            request="joinandconfigure",
            ptype="publisher",
            id=member,
            display=self.access.display,
            video=True,
        )
        reply = await self.handle.request(body, offer)
        if reply.data.get("videoroom") != "joined" or reply.jsep is None:
            raise HubProtocolError(f"unexpected join reply: {str(reply.data)[:200]}")
        self.id = int(reply.data.get("id", 0))
        self.private_id = reply.data.get("private_id")
        await set_remote(self.pc, reply.jsep)
        return feeds_of(reply.data)

    async def republish(
        self, tracks: list[MediaStreamTrack], feed: int, private_id: int | None
    ) -> list[Feed]:
        """Publish again from a claimed session's handle: still the same room member
        (feed *feed*) to the others, with a new PeerConnection. Returns who publishes."""
        self.id, self.private_id = feed, private_id
        await self._unpublish()
        offer = await self._offer(tracks)
        body = {"request": "publish", "video": True}
        for wait in REPUBLISH_WAITS:  # the old PeerConnection may still be closing
            try:
                reply = await self.handle.request(body, offer)
                break
            except HubRequestError:
                if wait is None:
                    raise
                await asyncio.sleep(wait)
        if reply.jsep is None:
            raise HubProtocolError(f"unexpected publish reply: {str(reply.data)[:200]}")
        await set_remote(self.pc, reply.jsep)
        listing = await self.handle.request(self.access.body(request="listparticipants"))
        return publishing_of(listing.data, feed)

    async def _unpublish(self) -> None:
        """End the old PeerConnection on the hub and wait until it is gone; its
        ``hangup`` is swallowed so the call does not take it for the new one's."""
        listener, gone = self.handle.listener, asyncio.Event()

        def watch(message: Json) -> None:
            if message.get("janus") == "hangup":
                gone.set()
            else:
                listener(message)

        self.handle.listener = watch
        try:
            await self.handle.request({"request": "unpublish"})
            async with asyncio.timeout(UNPUBLISH_SECONDS):
                await gone.wait()
        except (HubRequestError, TimeoutError):
            pass  # the hub had hung up already (nothing to unpublish), or never says
        finally:
            self.handle.listener = listener

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
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import MediaStreamTrack, RTCConfiguration, RTCIceServer, RTCPeerConnection
from aiortc import RTCSessionDescription as SDP

from endpoint import _seams
from endpoint._janus_ws import Handle, Json, Reply
from endpoint._opus import opus_send_fmtp
from endpoint._tasks import Tasks
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


def _entries(data: Json, key: str) -> list[Json]:
    """The list of objects under *key* (empty if absent); anything else is a protocol error."""
    value = data.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise HubProtocolError(f"malformed {key!r} list from hub: {str(value)[:100]}")
    return value


def _is_id(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def feeds_of(data: Json) -> list[Feed]:
    """Publishers listed in a VideoRoom event (only those actually sending streams)."""
    feeds = []
    for entry in _entries(data, "publishers"):
        if not _is_id(entry.get("id")):
            raise HubProtocolError(f"malformed publisher entry: {str(entry)[:100]}")
        if entry.get("streams", [1]) and not entry.get("dummy"):
            display = str(entry.get("display") or entry["id"])
            feeds.append(Feed(entry["id"], display, _video_mids(entry)))
    return feeds


def _video_mids(entry: Json) -> tuple[str, ...]:
    """The mids of a publisher's live video streams."""
    return tuple(
        str(s["mid"])
        for s in _entries(entry, "streams")
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
    if data.get("videoroom") in ("talking", "stopped-talking") and _is_id(data.get("id")):
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
    for entry in _entries(data, "participants"):
        if not _is_id(entry.get("id")):
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


@dataclass
class Subscription:
    """Which remote stream (by mid) belongs to which feed."""

    mids: dict[str, tuple[int, str]] = field(default_factory=dict)  # mid -> (feed, kind)

    def update(self, data: Json) -> bool:
        """Take the hub's list of our streams, if *data* has one (True then)."""
        if data.get("streams") is None:
            return False
        self.mids = {
            str(s["mid"]): (s["feed_id"], str(s.get("type")))
            for s in _entries(data, "streams")
            if "mid" in s and _is_id(s.get("feed_id")) and s.get("active", True)
        }
        return True

    def video_feeds(self) -> dict[int, str]:
        """The rooms whose video the hub sends us: feed -> our m-line (mid)."""
        return {feed: mid for mid, (feed, kind) in self.mids.items() if kind == "video"}


TrackCallback = Callable[[str, MediaStreamTrack, int], None]  # (mid, track, feed)


class Subscriber:
    """One multistream subscription; each change of feeds renegotiates in place.

    Janus reuses a freed m-line (mid) for the next feed, and aiortc then keeps the old
    receiving track instead of announcing a new one, so after every negotiation the
    tracks are matched to feeds by mid again and every changed pairing is announced.
    """

    def __init__(self, handle: Handle, access: RoomAccess, on_track: TrackCallback) -> None:
        self.handle = handle
        self.access = access
        self.pc = peer_connection(access)
        self.subscription = Subscription()
        self.feeds: set[int] = set()
        self._on_track = on_track
        self._announced: dict[str, tuple[int, MediaStreamTrack]] = {}
        self._lock = asyncio.Lock()
        self._joined = False
        self._tasks = Tasks("subscriber")
        self._offers = 0
        self.video_held = False  # the hub relays no video to us (our downlink is too weak)
        self.on_hangup: Callable[[str], None] = lambda why: None
        self.on_streams: Callable[[], None] = lambda: None  # the hub's list of them changed
        handle.listener = self._hub_event

    async def add(self, feeds: list[Feed], private_id: int | None) -> None:
        """Subscribe to *feeds* (the first call joins, later ones update); a feed the hub
        refuses is forgotten, so a later announcement of it subscribes again."""
        async with self._lock:
            new = [f for f in feeds if f.id not in self.feeds]  # decided under the lock
            if not new:
                return
            self.feeds.update(f.id for f in new)
            try:
                await self._subscribe([s for feed in new for s in wanted(feed)], private_id)
            except BaseException:
                self.feeds.difference_update(f.id for f in new)
                raise

    async def _subscribe(self, streams: list[Json], private_id: int | None) -> None:
        update = {"request": "update", "subscribe": streams}
        if self._joined:
            reply = await self.handle.request(update)
        else:
            body = self.access.body(request="join", ptype="subscriber", streams=streams)
            if private_id is not None:
                body["private_id"] = private_id
            try:
                reply = await self.handle.request(body)
            except HubRequestError as err:
                # An earlier join whose reply never reached us (a timeout) joined after all:
                # the hub has us as a subscriber already, so this is an update.
                if err.code != ALREADY_JOINED:
                    raise
                log.info("the subscription had joined after all: updating it")
                reply = await self.handle.request(update)
            self._joined = True
        await self._negotiate(reply)

    def forget(self, feed: int) -> None:
        """The hub dropped *feed*'s streams itself (it stopped publishing)."""
        self.feeds.discard(feed)

    async def remove(self, feed: int) -> None:
        async with self._lock:
            if feed not in self.feeds:
                return
            self.feeds.discard(feed)
            if self.feeds:
                with contextlib.suppress(HubRequestError):  # already gone on the hub
                    reply = await self.handle.request(
                        {"request": "update", "unsubscribe": [{"feed": feed}]}
                    )
                    await self._negotiate(reply)

    async def _negotiate(self, reply: Reply) -> None:
        self._streams(reply.data)
        if reply.jsep is None or reply.jsep.get("type") != "offer":
            return
        offer = {"type": "offer", "sdp": answerer_is_dtls_server(str(reply.jsep.get("sdp")))}
        await set_remote(self.pc, offer)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = {"type": "answer", "sdp": self.pc.localDescription.sdp}
        self._announce()
        await self.handle.request({"request": "start"}, answer)
        if self.video_held:  # a room subscribed meanwhile is held back too
            await self._send_video()

    async def switch(self, moves: list[tuple[int, Feed]]) -> list[tuple[int, Feed]]:
        """Give the m-line of each held room to another room (``(held, newcomer)``), with
        one ``switch`` and no renegotiation; returns the moves the hub made. A newcomer
        whose video mid the hub never told us is swapped in with an ``update`` instead
        (one renegotiation). A room that vanished meanwhile is left out by the hub."""
        async with self._lock:
            video = self.subscription.video_feeds()
            direct = [(o, n) for o, n in moves if o in video and n.video and n.id not in self.feeds]
            swaps = [
                (o, n) for o, n in moves if o in video and not n.video and n.id not in self.feeds
            ]
            if direct:
                streams = [
                    {"feed": n.id, "mid": n.video[0], "sub_mid": video[o]} for o, n in direct
                ]
                try:
                    reply = await self.handle.request({"request": "switch", "streams": streams})
                except HubRequestError as err:
                    log.warning("the hub refused to switch video slots: %s", err)
                else:
                    self._streams(reply.data)
            for old, new in swaps:
                request = {"request": "update", "subscribe": wanted(new)}
                request["unsubscribe"] = [{"feed": old}]
                with contextlib.suppress(HubRequestError):  # one of them gone on the hub
                    await self._negotiate(await self.handle.request(request))
            carried = self.subscription.video_feeds()
            done = [(o, n) for o, n in [*direct, *swaps] if n.id in carried and o not in carried]
            if len(done) < len(moves):
                made = {new.id for _, new in done}
                left = [new.id for _, new in moves if new.id not in made]
                log.info("video slots: the hub did not move feeds %s (gone meanwhile?)", left)
            self._announce()  # the moved m-lines' tracks now carry the newcomers
            if self.video_held:  # a switched stream is sent again: keep it held
                await self._send_video()
            return done

    def _streams(self, data: Json) -> None:
        """The hub's list of our streams is the truth about whom we receive: a request it
        answered "updating" (an offer of its own was pending) is carried out later, in
        one of its own offers, and a lost reply is made up for the same way."""
        if self.subscription.update(data):
            self.feeds = {feed for feed, _ in self.subscription.mids.values()}
            self.on_streams()

    async def hold_video(self, hold: bool) -> None:
        """Ask the hub to stop (or resume) relaying every room's video to us; audio keeps
        flowing (through the AudioBridge). Janus pauses a subscribed stream without
        renegotiation (``configure`` with ``send`` per m-line), and asks the publisher for
        a keyframe on resume."""
        async with self._lock:
            self.video_held = hold
            await self._send_video()

    async def _send_video(self) -> None:
        mids = [mid for mid, (_, kind) in self.subscription.mids.items() if kind == "video"]
        if mids:
            streams = [{"mid": mid, "send": not self.video_held} for mid in mids]
            await self.handle.request({"request": "configure", "streams": streams})

    def _announce(self) -> None:
        """Tell the call which track now carries which feed (only what changed)."""
        for transceiver in self.pc.getTransceivers():
            mid, track = transceiver.mid, transceiver.receiver.track
            entry = self.subscription.mids.get(mid) if mid is not None else None
            if mid is None or track is None or entry is None:
                if mid is not None:
                    self._announced.pop(mid, None)
                continue
            pairing = (entry[0], track)
            if self._announced.get(mid) != pairing:
                self._announced[mid] = pairing
                self._on_track(mid, track, entry[0])

    def _hub_event(self, message: Json) -> None:
        """Offers the hub sends on its own (a publisher left) are answered too."""
        if message.get("janus") == "hangup":
            self.on_hangup(f"hub hung up the subscription: {message.get('reason')}")
            return
        jsep = message.get("jsep")
        data = (message.get("plugindata") or {}).get("data") or {}
        if isinstance(jsep, dict) and jsep.get("type") == "offer" and isinstance(data, dict):
            self._offers += 1
            self._tasks.spawn(f"offer:{self._offers}", self._renegotiate(Reply(data, jsep)))

    async def _renegotiate(self, reply: Reply) -> None:
        async with self._lock:
            try:
                await self._negotiate(reply)
            except Exception:  # noqa: BLE001 - a failed renegotiation must not kill the call
                log.exception("renegotiation with the hub failed")

    async def close(self) -> None:
        await self._tasks.close()
        await self.pc.close()

"""One connection of the call to the hub: a Janus session, a VideoRoom publisher and
subscriber (video), and our member of the AudioBridge (our voice out, the mix in).

We join both plugins under one participant id, chosen by us, so the rooms can match an
AudioBridge member to its VideoRoom feed; the two joins run side by side.

A call that loses its link makes a new connection; if the hub still holds the old
session, the new connection claims it, publishes again as the same room member and
joins the AudioBridge again under the same id, so the other rooms see a short gap in
its media, never a leave and a join.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from aiortc import MediaStreamTrack, RTCPeerConnection

from endpoint._audiobridge import PLUGIN as AUDIO_PLUGIN
from endpoint._audiobridge import AudioBridge, Member
from endpoint._janus_ws import SESSION_NOT_FOUND, EventListener, Handle, JanusClient
from endpoint._rtcstats import receiver_counts
from endpoint._subscriber import Subscriber, TrackCallback
from endpoint._videoroom import PLUGIN, Feed, Publisher, RoomAccess
from endpoint.errors import EndpointError, HubRequestError

log = logging.getLogger(__name__)

DISCARD_SECONDS = 2.0
MEMBER_IDS = 2**52  # our participant ids stay below this: exact in JavaScript (janus.js)
T = TypeVar("T")


def _received(transport: Any) -> int:
    try:
        stats = transport._get_stats().values()
    except AttributeError:  # not started, or an aiortc without it: no evidence
        return 0
    return sum(int(getattr(s, "packetsReceived", 0) or 0) for s in stats)


@dataclass(frozen=True)
class Resume:
    """What a later connection needs to take this one's place on the hub."""

    session: int
    publisher: int
    subscriber: int | None
    feed: int
    private_id: int | None
    audio: int | None = None  # the AudioBridge handle
    # Handles a failed claim attempt attached (and the old ones it could not detach):
    # the next claim detaches them, or one would hold our AudioBridge member id.
    leftovers: tuple[int, ...] = ()

    def old_handles(self) -> list[int]:
        """Our handles on the session besides the publisher: detached at a claim."""
        return [h for h in (self.subscriber, self.audio, *self.leftovers) if h is not None]


@dataclass(frozen=True)
class Wiring:
    """The call's hooks for hub events."""

    on_track: TrackCallback
    on_room_event: EventListener
    on_lost: Callable[[str], None]
    on_mix: Callable[[MediaStreamTrack], None] = lambda track: None
    on_talking: Callable[[Member, bool], None] = lambda member, talking: None
    on_uplink: Callable[[bool], None] = lambda receiving: None  # the hub hears our audio
    on_bridge_joined: Callable[[list[Member]], None] = lambda members: None  # who talks now


class Connection:
    """Joins (or takes back) the meeting; ``close`` ends it, destroying the session or not."""

    def __init__(self, url: str, access: RoomAccess, wiring: Wiring, **client: str | None):
        self.access = access
        self.wiring = wiring
        self._url, self._client_args = url, client
        self.client = self._new_client()
        self.client.on_lost = wiring.on_lost
        self.publisher: Publisher | None = None
        self.subscriber: Subscriber | None = None
        self.audio: AudioBridge | None = None
        self.claimed = False
        self._attached: list[int] = []  # handles attached on a claimed session
        self._detached: set[int] = set()  # old handles of it detached

    def _new_client(self) -> JanusClient:
        return JanusClient(self._url, **self._client_args)

    async def open(
        self,
        video: MediaStreamTrack,
        audio: MediaStreamTrack,
        timeout: float,
        resume: Resume | None = None,
    ) -> list[Feed]:
        """Connect, publish *video* and send *audio* to the AudioBridge; returns the rooms
        already publishing."""
        pub, sub, bridge = await self._handles(timeout, resume)
        self.publisher = Publisher(pub, self.access)
        self.subscriber = Subscriber(sub, self.access, self.wiring.on_track)
        self.subscriber.on_hangup = self.wiring.on_lost
        pub.listener = self.wiring.on_room_event
        self.audio = self._bridge(bridge)
        if resume is not None and self.claimed:
            member = resume.feed
            publishing = self.publisher.republish([video], member, resume.private_id)
        else:
            member = 1 + secrets.randbelow(MEMBER_IDS - 1)
            publishing = self.publisher.join([video], member)
        feeds, _ = await _both(publishing, self.audio.join(audio, member))
        return feeds

    def _bridge(self, handle: Handle) -> AudioBridge:
        bridge = AudioBridge(handle, self.access, self.wiring.on_mix)
        bridge.on_talking = self.wiring.on_talking
        bridge.on_joined = self.wiring.on_bridge_joined
        bridge.on_uplink = self.wiring.on_uplink
        bridge.on_lost = self.wiring.on_lost
        return bridge

    async def _handles(
        self, timeout: float, resume: Resume | None
    ) -> tuple[Handle, Handle, Handle]:
        if resume is not None and await self._claim(timeout, resume):
            for handle in resume.old_handles():  # a fresh subscription and bridge member
                with contextlib.suppress(EndpointError):  # are simpler
                    await self.client.adopt(handle).detach()
                    self._detached.add(handle)
            sub, bridge = await _both(self._attach(PLUGIN), self._attach(AUDIO_PLUGIN))
            return self.client.adopt(resume.publisher), sub, bridge
        if self.client.session_id is None:
            await self.client.connect(timeout)
        return await asyncio.gather(
            self.client.attach(PLUGIN), self.client.attach(PLUGIN), self.client.attach(AUDIO_PLUGIN)
        )

    async def _attach(self, plugin: str) -> Handle:
        handle = await self.client.attach(plugin)
        self._attached.append(handle.id)  # at once: a later step may lose the link
        return handle

    async def _claim(self, timeout: float, resume: Resume) -> bool:
        """Take back the old session; False (and a new one made) if the hub forgot it."""
        try:
            await self.client.connect(timeout, claim=resume.session)
        except HubRequestError as err:
            if err.code != SESSION_NOT_FOUND:
                raise
            log.info("old hub session is gone (%s): joining afresh", err)
            await self.client.close(destroy=False)
            self.client = self._new_client()
            self.client.on_lost = self.wiring.on_lost
            await self.client.connect(timeout)
            return False
        self.claimed = True
        log.info("took back our hub session")
        return True

    def resume(self) -> Resume | None:
        pub, sub = self.publisher, self.subscriber
        if self.client.session_id is None or pub is None or sub is None or not pub.id:
            return None
        audio = self.audio.handle.id if self.audio is not None else None
        session = self.client.session_id
        return Resume(session, pub.handle.id, sub.handle.id, pub.id, pub.private_id, audio)

    def resume_after_failure(self, resume: Resume | None) -> Resume | None:
        """*resume* for the next attempt after this one failed: if it took the session
        back, the handles it attached, and the old ones it did not detach, are leftovers
        for the next claim to detach (a link lost mid-attempt leaves them on the hub)."""
        if resume is None or not self.claimed:
            return resume
        left = [h for h in resume.old_handles() if h not in self._detached]
        return replace(resume, subscriber=None, audio=None, leftovers=(*left, *self._attached))

    def peer_connections(self) -> dict[str, RTCPeerConnection]:
        """The media connections by role: "sending" (publisher: our video), "receiving"
        (the other rooms' video), "audio" (our voice out, the hub's mix in)."""
        parts = {"sending": self.publisher, "receiving": self.subscriber, "audio": self.audio}
        return {role: part.pc for role, part in parts.items() if part is not None}

    def video_packets(self) -> dict[str, tuple[int, int]]:
        """RTP packets received so far on each video m-line: mid -> (feed, packets). A room
        whose packets keep arriving is alive even while its picture freezes (loss)."""
        sub = self.subscriber
        if sub is None:
            return {}
        packets = {}
        for transceiver in sub.pc.getTransceivers():
            entry = sub.subscription.mids.get(transceiver.mid or "")
            if entry is not None and entry[1] == "video":
                received = receiver_counts(transceiver.receiver).received
                packets[str(transceiver.mid)] = (entry[0], received)
        return packets

    def in_bridge(self, feed: int, display: str) -> bool:
        """Whether a room is still in the meeting's audio (a sign of life without video)."""
        return self.audio is not None and self.audio.hears(feed, display)

    def packets_in(self) -> int:
        """UDP packets received from the hub so far (media and RTCP, both connections).

        Media keeps arriving over UDP when a lossy link holds the WebSocket's TCP back, so
        the liveness check counts it too. Read from aiortc's DTLS transport statistics
        (its ``_get_stats``, the synchronous part of ``getStats``)."""
        transports = {
            t.receiver.transport
            for pc in self.peer_connections().values()
            for t in pc.getTransceivers()
        }
        return sum(_received(transport) for transport in transports)

    async def add(self, feeds: list[Feed]) -> None:
        if self.subscriber is not None and self.publisher is not None and feeds:
            await self.subscriber.add(feeds, self.publisher.private_id)

    async def leave(self) -> None:
        """Say goodbye to the room and its audio (best effort, bounded)."""
        goodbyes: list[Awaitable[object]] = []
        if self.publisher is not None:
            goodbyes.append(self.publisher.handle.request({"request": "leave"}))
        if self.audio is not None:
            goodbyes.append(self.audio.leave())
        with contextlib.suppress(EndpointError, TimeoutError):
            async with asyncio.timeout(2.0):
                await asyncio.gather(*goodbyes, return_exceptions=True)

    async def close(self, destroy: bool = True) -> None:
        """Close media and signaling; keep the hub session for a claim unless *destroy*."""
        self.client.on_lost = lambda why: None
        try:
            if self.subscriber is not None:
                await self.subscriber.close()
            if self.publisher is not None:
                await self.publisher.pc.close()
            if self.audio is not None:
                await self.audio.close()
        finally:
            await self.client.close(destroy=destroy)


async def discard(url: str, session: int, client: dict[str, str | None]) -> None:
    """End a session the hub still holds for us (best effort, bounded): claim, destroy.
    The other rooms see our old self leave at once instead of after the hub's timeout."""
    timeout = DISCARD_SECONDS
    janus = JanusClient(url, **client)
    try:
        async with asyncio.timeout(timeout):
            await janus.connect(timeout, claim=session)
        log.info("ending a hub session we no longer need")
    except (EndpointError, TimeoutError) as err:
        log.info("could not end the old hub session: %s", err)
    finally:
        await janus.close(destroy=janus.session_id is not None)


async def _both(first: Awaitable[T], second: Awaitable[Any]) -> tuple[T, Any]:
    """Run two steps side by side; the first failure is raised as it is (not grouped)
    once the other step is stopped."""
    tasks = [asyncio.ensure_future(first), asyncio.ensure_future(second)]
    try:
        done = await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    return done[0], done[1]

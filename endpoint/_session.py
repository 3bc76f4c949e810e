"""One connection of the call to the hub: a Janus session, a publisher, a subscriber.

A call that loses its link makes a new connection; if the hub still holds the old
session, the new connection claims it and publishes again as the same room member,
so the other rooms see a short gap in its media, never a leave and a join.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection

from endpoint._janus_ws import SESSION_NOT_FOUND, EventListener, Handle, JanusClient
from endpoint._videoroom import PLUGIN, Feed, Publisher, RoomAccess, Subscriber, TrackCallback
from endpoint.errors import EndpointError, HubRequestError

log = logging.getLogger(__name__)

DISCARD_SECONDS = 2.0


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
    subscriber: int
    feed: int
    private_id: int | None


@dataclass(frozen=True)
class Wiring:
    """The call's hooks for hub events."""

    on_track: TrackCallback
    on_room_event: EventListener
    on_lost: Callable[[str], None]


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
        self.claimed = False

    def _new_client(self) -> JanusClient:
        return JanusClient(self._url, **self._client_args)

    async def open(
        self, tracks: list[MediaStreamTrack], timeout: float, resume: Resume | None = None
    ) -> list[Feed]:
        """Connect and publish *tracks*; returns the rooms already publishing."""
        pub, sub = await self._handles(timeout, resume)
        self.publisher = Publisher(pub, self.access)
        self.subscriber = Subscriber(sub, self.access, self.wiring.on_track)
        self.subscriber.on_hangup = self.wiring.on_lost
        pub.listener = self.wiring.on_room_event
        if resume is not None and self.claimed:
            return await self.publisher.republish(tracks, resume.feed, resume.private_id)
        return await self.publisher.join(tracks)

    async def _handles(self, timeout: float, resume: Resume | None) -> tuple[Handle, Handle]:
        if resume is not None and await self._claim(timeout, resume):
            with contextlib.suppress(EndpointError):  # a fresh subscription is simpler
                await self.client.adopt(resume.subscriber).detach()
            return self.client.adopt(resume.publisher), await self.client.attach(PLUGIN)
        if self.client.session_id is None:
            await self.client.connect(timeout)
        pub, sub = await asyncio.gather(self.client.attach(PLUGIN), self.client.attach(PLUGIN))
        return pub, sub

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
        log.info("took back hub session %s", resume.session)
        return True

    def resume(self) -> Resume | None:
        pub, sub = self.publisher, self.subscriber
        if self.client.session_id is None or pub is None or sub is None or not pub.id:
            return None
        return Resume(self.client.session_id, pub.handle.id, sub.handle.id, pub.id, pub.private_id)

    def peer_connections(self) -> dict[str, RTCPeerConnection]:
        """The media connections by role: "sending" (publisher), "receiving"."""
        parts = {"sending": self.publisher, "receiving": self.subscriber}
        return {role: part.pc for role, part in parts.items() if part is not None}

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
        """Say goodbye to the room (best effort, bounded)."""
        if self.publisher is not None:
            with contextlib.suppress(EndpointError, TimeoutError):
                async with asyncio.timeout(2.0):
                    await self.publisher.handle.request({"request": "leave"})

    async def close(self, destroy: bool = True) -> None:
        """Close media and signaling; keep the hub session for a claim unless *destroy*."""
        self.client.on_lost = lambda why: None
        try:
            if self.subscriber is not None:
                await self.subscriber.close()
            if self.publisher is not None:
                await self.publisher.pc.close()
        finally:
            await self.client.close(destroy=destroy)


async def discard(url: str, resume: Resume, client: dict[str, str | None]) -> None:
    """End a session the hub still holds for us (best effort, bounded): claim, destroy."""
    timeout = DISCARD_SECONDS
    janus = JanusClient(url, **client)
    try:
        async with asyncio.timeout(timeout):
            await janus.connect(timeout, claim=resume.session)
        log.info("ending the hub session %s we no longer need", resume.session)
    except (EndpointError, TimeoutError) as err:
        log.info("could not end the old hub session: %s", err)
    finally:
        await janus.close(destroy=janus.session_id is not None)

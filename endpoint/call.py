"""The call: joining a district meeting and keeping its state.

States: idle → connecting → in meeting ⇄ reconnecting → leaving → idle, or failed
(with a reason). A meeting that breaks (hub restarted, link cut, media dead) goes to
reconnecting and rejoins by itself with backoff; it fails only for what retrying cannot
fix (wrong PIN, room gone, TLS refused). Every change and every participant coming,
going, or losing its media is announced to listeners as a small event object.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from devices import Camera, LatestFrame, Microphone, Playout
from endpoint._backoff import Backoff
from endpoint._janus_ws import Json
from endpoint._liveness import CHECK_EVERY, MediaClock, hub_lost
from endpoint._session import Connection, Resume, Wiring, discard
from endpoint._tasks import Tasks
from endpoint._tracks import CameraTrack, MicrophoneTrack
from endpoint._videoroom import Feed, RoomAccess, feeds_of
from endpoint.errors import ConnectionLost, EndpointError, FailReason, HubRequestError

log = logging.getLogger(__name__)

# A rejoin attempt gives up on reaching the hub after REJOIN_TIMEOUT s, so a link that
# comes back is tried again soon; every LONG_ATTEMPT-th attempt waits the full
# connect_timeout, so a slow link (long round trips) still gets through.
REJOIN_TIMEOUT = 1.5
LONG_ATTEMPT = 3
# Failures that retrying cannot fix: the call gives up with the plain message.
FINAL = frozenset(
    {FailReason.WRONG_PIN, FailReason.NO_SUCH_ROOM, FailReason.UNAUTHORIZED, FailReason.TLS}
)
# Failures of the link: retried every second or so. Others (the hub refusing or
# misbehaving) back off to tens of seconds, so 25 rooms do not hammer a sick hub.
QUICK_RETRY = frozenset({FailReason.HUB_UNREACHABLE, FailReason.CONNECTION_LOST, FailReason.MEDIA})
UPLINK_GRACE = 1.0  # s after the hub says it hears no audio from us before we rejoin


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


class Call:
    """One room's presence in one meeting; reusable for the next meeting."""

    def __init__(
        self,
        settings: HubSettings,
        camera: Camera,
        microphone: Microphone,
        playout: Playout,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.camera, self.microphone, self.playout = camera, microphone, playout
        self.clock = clock
        self.state = CallState.IDLE
        self.failure: StateChanged | None = None
        self.reconnecting: StateChanged | None = None
        self.participants: dict[int, Participant] = {}
        self.backoff = Backoff()
        self._listeners: list[Callable[[CallEvent], None]] = []
        self._muted = False
        self._conn: Connection | None = None
        self._resume: Resume | None = None
        self._mic_track: MicrophoneTrack | None = None
        self._tracks: list[MediaStreamTrack] = []
        self._media = Tasks("call")  # lives as long as one connection
        self._recovery = Tasks("call:recover")
        self._closing = Tasks("call:close")  # closes that must finish, even in a leave
        self._drains: dict[str, int] = {}  # mid -> feed its track carries
        self._announced: set[int] = set()  # feeds the hub announced during this connection
        self._batches = itertools.count()  # names the tasks that subscribe new arrivals

    # -- observers --------------------------------------------------------------
    def listen(self, callback: Callable[[CallEvent], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _emit(self, event: CallEvent) -> None:
        for callback in list(self._listeners):
            callback(event)

    def _set_state(
        self, state: CallState, reason: FailReason | None = None, detail: str = "", **extra: Any
    ) -> None:
        self.state = state
        event = StateChanged(state, reason, detail, **extra)
        self.failure = event if state is CallState.FAILED else None
        self.reconnecting = event if state is CallState.RECONNECTING else None
        log.info("call %s%s", state.value, f" ({reason.value}: {detail})" if reason else "")
        self._emit(event)

    # -- microphone ---------------------------------------------------------------
    @property
    def muted(self) -> bool:
        return self._muted

    def set_muted(self, muted: bool) -> None:
        self._muted = muted
        if self._mic_track is not None:
            self._mic_track.muted = muted

    # -- joining and leaving ----------------------------------------------------------
    async def join(self) -> None:
        """Join the meeting; ends in IN_MEETING or FAILED (never raises hub errors)."""
        if self.state in (CallState.CONNECTING, CallState.IN_MEETING, CallState.RECONNECTING):
            return
        self._set_state(CallState.CONNECTING)
        try:
            await self._connect(self.settings.connect_timeout)
        except Exception as err:  # noqa: BLE001 - every failure ends as a reason on screen
            await self._disconnect(destroy=True)
            self._drop_all()
            self._set_state(CallState.FAILED, *_reason(err))
        else:
            self._set_state(CallState.IN_MEETING)

    async def _connect(self, timeout: float) -> None:
        s = self.settings
        access = RoomAccess(s.room, s.pin, s.display, s.ice_servers)
        wiring = Wiring(
            lambda *track: self._remote_track(*track) if self._conn is conn else None,
            lambda message: self._room_message(message) if self._conn is conn else None,
            lambda why: self._connection_lost(why) if self._conn is conn else None,
        )  # a connection being closed has no say any more
        conn = self._conn = Connection(s.url, access, wiring, token=s.token, ca_file=s.ca_file)
        self._mic_track = MicrophoneTrack(self.microphone, self.clock)
        self._mic_track.muted = self._muted
        self._tracks = [CameraTrack(self.camera, self.clock), self._mic_track]
        self._announced = set()
        feeds = await self._conn.open(self._tracks, timeout, self._resume)
        for pc in conn.peer_connections():
            pc.on("connectionstatechange", self._media_state)
        self._resume = conn.resume()
        # Rooms from before the break that the hub no longer lists are gone; rooms the
        # hub announced while we were joining are not in its list, but they are here.
        for gone in set(self.participants) - {f.id for f in feeds} - self._announced:
            self._drop(gone)
        self._media.spawn("liveness", self._watch())
        try:
            await self._add_feeds(feeds)
        except EndpointError as err:  # one room gone meanwhile must not fail the join
            log.warning("could not receive every room: %s", err)

    async def leave(self) -> None:
        """Leave cleanly (also stops reconnecting); ends in IDLE. Calling it again while
        it runs (or after the first was cancelled) finishes the job."""
        if self.state is CallState.IDLE:
            return
        self._set_state(CallState.LEAVING)
        await self._recovery.close()
        await self._closing.wait()  # a close the rejoin had begun
        resume = self._resume
        if self._conn is not None and self._conn.client.connected:
            await self._conn.leave()
            resume = None  # said goodbye; the close destroys the session
        await self._disconnect(destroy=True)
        if resume is not None:  # the connection was lost: end the session the hub holds
            await discard(self.settings.url, resume, self._client_args())
        self._drop_all()
        self._set_state(CallState.IDLE)

    def _client_args(self) -> dict[str, str | None]:
        return {"token": self.settings.token, "ca_file": self.settings.ca_file}

    async def _disconnect(self, destroy: bool) -> None:
        """Close this connection's media and signaling; the participants stay. The hub
        session is kept for a claim only if it is the one to resume."""
        await self._media.close()
        self._drains.clear()
        conn = self._conn
        if conn is not None:
            resume = self._resume.session if self._resume is not None else None
            keep = not destroy and conn.client.session_id == resume
            closing = self._closing.spawn(f"close:{next(self._batches)}", self._close(conn, keep))
            await asyncio.shield(closing)  # finished even if a leave cancels the rejoin
        for track in self._tracks:
            track.stop()  # the camera track stops listening to the camera
        self._mic_track, self._tracks = None, []
        if destroy:
            self._resume = None

    async def _close(self, conn: Connection, keep: bool) -> None:
        try:
            await conn.close(destroy=not keep)
        finally:
            if self._conn is conn:
                self._conn = None

    def _drop_all(self) -> None:
        for feed in list(self.participants):
            self._drop(feed)

    # -- losing the hub and coming back -------------------------------------------------
    def _lose(self, reason: FailReason, detail: str) -> None:
        """The meeting broke: say so at once and start rejoining (once per break)."""
        if self.state is not CallState.IN_MEETING:
            return
        log.warning("meeting interrupted (%s): %s", reason.value, detail)
        self._set_state(CallState.RECONNECTING, reason, detail, since=self.clock())
        self._recovery.spawn("rejoin", self._rejoin(reason, detail))

    async def _rejoin(self, reason: FailReason, detail: str) -> None:
        since = self.clock()
        await self._disconnect(destroy=False)
        self._mark_all_stale()
        self.backoff.reset()
        for attempt in itertools.count(1):
            await asyncio.sleep(self.backoff.delay(slow=reason not in QUICK_RETRY))
            self._set_state(CallState.RECONNECTING, reason, detail, attempt=attempt, since=since)
            try:
                await self._connect(self._attempt_timeout(attempt))
            except Exception as err:  # noqa: BLE001 - decide below whether to keep trying
                # A claimed session the hub refuses to publish on again is given up.
                refused = isinstance(err, HubRequestError)
                await self._disconnect(destroy=refused and self._conn is not None)
                reason, detail = _reason(err)
                if reason in FINAL:
                    await self._disconnect(destroy=True)
                    self._drop_all()
                    self._set_state(CallState.FAILED, reason, detail)
                    return
                log.info("rejoin attempt %d failed (%s): %s", attempt, reason.value, detail)
            else:
                self._set_state(CallState.IN_MEETING, attempt=attempt, since=since)
                return

    def _attempt_timeout(self, attempt: int) -> float:
        full = self.settings.connect_timeout
        return full if attempt % LONG_ATTEMPT == 0 else min(full, REJOIN_TIMEOUT)

    def _media_state(self) -> None:
        pcs = self._conn.peer_connections() if self._conn is not None else []
        if any(pc.connectionState == "failed" for pc in pcs):
            self._lose(FailReason.MEDIA, "media connection to the hub failed")

    def _connection_lost(self, why: str) -> None:
        self._lose(FailReason.CONNECTION_LOST, why)

    async def _watch(self) -> None:
        """Every quarter second: is the hub still there, is each room's media still coming?"""
        packets, udp_heard = -1, self.clock()
        while True:
            await asyncio.sleep(CHECK_EVERY)
            now, conn = self.clock(), self._conn
            for participant in self.participants.values():
                if participant.media.check(now):
                    self._emit(MediaChanged(participant))
            if conn is None:
                continue
            if conn.packets_in() != packets:
                packets, udp_heard = conn.packets_in(), now
            why = hub_lost(now, _to_clock(conn.client.heard, now), udp_heard)
            if why is not None:
                self._lose(FailReason.CONNECTION_LOST, why)

    def _mark_all_stale(self) -> None:
        for participant in self.participants.values():
            if not participant.media.stale:
                participant.media.stale = True
                self._emit(MediaChanged(participant))

    # -- hub events -----------------------------------------------------------------
    def _room_message(self, message: Json) -> None:
        kind = message.get("janus")
        if kind == "hangup":
            self._lose(FailReason.MEDIA, f"hub hung up: {message.get('reason')}")
        elif kind == "media" and message.get("type") == "audio":
            self._uplink(bool(message.get("receiving")))
        elif kind == "slowlink":
            log.info("hub reports a slow link: %.200s", message)
        elif kind == "event":
            data = (message.get("plugindata") or {}).get("data") or {}
            try:
                self._room_event(data if isinstance(data, dict) else {})
            except EndpointError as err:
                log.warning("ignoring malformed room event: %s", err)

    def _room_event(self, data: Json) -> None:
        if data.get("publishers"):
            feeds = feeds_of(data)
            self._announced.update(f.id for f in feeds)
            self._media.spawn(f"add:{next(self._batches)}", self._add_feeds(feeds))
        feed = data.get("unpublished")
        if isinstance(feed, int) and feed in self.participants:
            self._paused(feed)  # it may publish again (a room rejoining): keep its tile
        feed = data.get("leaving")
        if isinstance(feed, int) and feed in self.participants:
            self._drop(feed)
            self._media.spawn(f"remove:{feed}", self._unsubscribe(feed))
        if data.get("videoroom") in ("talking", "stopped-talking"):
            feed = data.get("id")
            participant = self.participants.get(feed) if isinstance(feed, int) else None
            if participant is not None:
                participant.talking = data["videoroom"] == "talking"
                self._emit(TalkingChanged(participant))

    def _uplink(self, receiving: bool) -> None:
        """The hub hears our audio again, or has heard none for its no-media time: then,
        unless it hears us again within ``UPLINK_GRACE``, our uplink is broken."""
        if receiving:
            self._media.cancel("uplink")
        elif not self._media.running("uplink"):
            self._media.spawn("uplink", self._uplink_lost())

    async def _uplink_lost(self) -> None:
        await asyncio.sleep(UPLINK_GRACE)
        self._lose(FailReason.CONNECTION_LOST, "the hub receives no audio from this room")

    def _paused(self, feed: int) -> None:
        if self._conn is not None and self._conn.subscriber is not None:
            self._conn.subscriber.forget(feed)
        participant = self.participants[feed]
        if not participant.media.stale:
            participant.media.stale = True
            self._emit(MediaChanged(participant))

    async def _unsubscribe(self, feed: int) -> None:
        if self._conn is not None and self._conn.subscriber is not None:
            await self._conn.subscriber.remove(feed)

    async def _add_feeds(self, feeds: list[Feed]) -> None:
        now = self.clock()
        for feed in feeds:
            if feed.id not in self.participants:
                participant = Participant(feed.id, feed.display, media=MediaClock.starting(now))
                self.participants[feed.id] = participant
                self._emit(ParticipantJoined(participant))
        if self._conn is not None:
            await self._conn.add(feeds)

    def _drop(self, feed: int) -> None:
        participant = self.participants.pop(feed, None)
        for mid in [mid for mid, owner in self._drains.items() if owner == feed]:
            self._media.cancel(f"drain:{mid}")
            del self._drains[mid]
        self.playout.remove(feed)
        if participant is not None:
            self._emit(ParticipantLeft(participant))

    # -- remote media -------------------------------------------------------------------
    def _remote_track(self, mid: str, track: MediaStreamTrack, feed: int) -> None:
        """*track* (m-line *mid*) now carries *feed*: drain it into that room's slots."""
        participant = self.participants.get(feed)
        old = self._drains.pop(mid, None)
        if old is not None and old != feed:
            self.playout.remove(old)
        if participant is None:
            self._media.cancel(f"drain:{mid}")
            return
        self._drains[mid] = feed
        drain = (
            self._drain_video(track, participant)
            if track.kind == "video"
            else self._drain_audio(track, participant)
        )
        self._media.spawn(f"drain:{mid}", drain)

    def _heard(self, participant: Participant) -> None:
        if participant.media.arrived(self.clock()):
            self._emit(MediaChanged(participant))

    async def _drain_video(self, track: MediaStreamTrack, participant: Participant) -> None:
        """Decoded frames are always taken off the track (aiortc queues them unbounded)."""
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    participant.video.put(frame, self.clock())
                    self._heard(participant)

    async def _drain_audio(self, track: MediaStreamTrack, participant: Participant) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
                self.playout.write(participant.feed, pcm.mean(axis=1).astype("float32") / 32768.0)
                self._heard(participant)


def _reason(err: BaseException) -> tuple[FailReason, str]:
    if isinstance(err, EndpointError):
        return err.reason, str(err)
    log.error("unexpected error in the call", exc_info=err)
    return FailReason.MEDIA, repr(err)


def _to_clock(monotonic_time: float, now: float) -> float:
    """A ``time.monotonic()`` stamp on the call's clock (they differ only in tests)."""
    return now - (time.monotonic() - monotonic_time)


__all__ = [
    "Call",
    "CallEvent",
    "CallState",
    "ConnectionLost",
    "HubSettings",
    "MediaChanged",
    "Participant",
]

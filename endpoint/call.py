"""The call: joining a district meeting and keeping its state.

States: idle → connecting → in meeting ⇄ reconnecting → leaving → idle, or failed
(with a reason). A meeting that breaks (hub restarted, link cut, media dead) goes to
reconnecting and rejoins by itself with backoff; it fails only for what retrying cannot
fix (wrong PIN, room gone, TLS refused). Every change and every participant coming,
going, or losing its media is announced to listeners as a small event object.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from aiortc import MediaStreamTrack, RTCPeerConnection

from devices import Camera, Microphone, Playout
from endpoint import _seams
from endpoint._audiobridge import Member
from endpoint._backoff import Backoff
from endpoint._janus_ws import Json
from endpoint._linkstats import LinkWatch
from endpoint._liveness import CHECK_EVERY, hub_lost
from endpoint._roster import Roster
from endpoint._session import Connection, Resume, Wiring, discard
from endpoint._slots import SlotKeeper, VideoSlots
from endpoint._tasks import Tasks
from endpoint._tracks import CameraTrack, MicrophoneTrack
from endpoint._uplink import SendStatus, Uplink
from endpoint._video_pause import VideoPause
from endpoint._videoroom import Feed, RoomAccess, room_event
from endpoint.errors import ConnectionLost, EndpointError, FailReason, HubRequestError
from endpoint.events import (
    CallEvent,
    CallState,
    HubSettings,
    LinkQuality,
    Participant,
    StateChanged,
)

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
        self.link: LinkQuality | None = None  # the newest, while a connection lasts
        self.roster = Roster(playout, self._emit, clock)
        self.backoff = Backoff()
        self.video_pause = VideoPause()  # the meeting's, across its connections
        self.slots = VideoSlots(settings.video_slots)  # whose video we receive (the meeting's)
        self._keeper: SlotKeeper | None = None  # the connection's subscription, kept in line
        # A hub session an earlier run of this room left behind (it crashed in a meeting):
        # ended before the next join, so the others do not see the room twice.
        self.stale_session: int | None = None
        self._listeners: list[Callable[[CallEvent], None]] = []
        self._muted = False
        self._conn: Connection | None = None
        self._resume: Resume | None = None
        self._mic_track: MicrophoneTrack | None = None
        self._send_side: Uplink | None = None
        self._tracks: list[MediaStreamTrack] = []
        self._media = Tasks("call")  # lives as long as one connection
        self._recovery = Tasks("call:recover")
        self._closing = Tasks("call:close")  # closes that must finish, even in a leave
        self._announced: set[int] = set()  # feeds the hub announced during this connection
        self._batches = itertools.count()  # names the close tasks

    @property
    def send_status(self) -> SendStatus | None:
        """What this room sends: quality tier, why, kbit/s (None before the first join)."""
        return self._send_side.status if self._send_side is not None else None

    @property
    def hub_session(self) -> int | None:
        """The hub session this meeting's connection uses (kept to end it after a crash)."""
        return self._resume.session if self._resume is not None else None

    @property
    def participants(self) -> dict[int, Participant]:
        """The other rooms in the meeting, by feed id."""
        return self.roster.participants

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
        log.info(
            "call %s [%s]%s", state.value, self.settings.display,
            f" ({reason.value}: {detail})" if reason else "",
        )  # fmt: skip
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
        self.video_pause = VideoPause()  # a new meeting: no pause, no backoff from the last
        self.slots = VideoSlots(self.settings.video_slots)
        stale, self.stale_session = self.stale_session, None
        if stale is not None:
            await discard(self.settings.url, stale, self._client_args())
        try:
            await self._connect(self.settings.connect_timeout)
        except Exception as err:  # noqa: BLE001 - every failure ends as a reason on screen
            await self._disconnect(destroy=True)
            self.roster.drop_all()
            self._set_state(CallState.FAILED, *_reason(err))
        else:
            self._set_state(CallState.IN_MEETING)

    async def _connect(self, timeout: float) -> None:
        s = self.settings
        access = RoomAccess(s.room, s.pin, s.display, s.ice_servers)
        wiring = Wiring(
            lambda *track: self.roster.carry(*track) if self._conn is conn else None,
            lambda message: self._room_message(message) if self._conn is conn else None,
            lambda why: self._connection_lost(why) if self._conn is conn else None,
            lambda track: self.roster.carry_mix(track) if self._conn is conn else None,
            lambda *talk: self._member_talking(*talk) if self._conn is conn else None,
            lambda heard: self._uplink(heard) if self._conn is conn else None,
            lambda members: self._bridge_joined(members) if self._conn is conn else None,
        )  # a connection being closed has no say any more
        conn = self._conn = Connection(s.url, access, wiring, **self._client_args())
        self._mic_track = MicrophoneTrack(self.microphone, self.clock)
        self._mic_track.muted = self._muted
        camera = CameraTrack(self.camera, self.clock)
        others = lambda: len(self.participants)  # noqa: E731 - the meeting's size caps the tier
        self._send_side = Uplink(camera, self.clock, s.display, others=others)  # the first tier
        self._tracks = [camera, self._mic_track]
        self._announced = set()
        feeds = await self._conn.open(camera, self._mic_track, timeout, self._resume)
        for role, pc in conn.peer_connections().items():
            pc.on("connectionstatechange", self._media_watch(conn, role, pc))
        self._resume = conn.resume()
        # Rooms from before the break that the hub no longer lists are gone; rooms the
        # hub announced while we were joining are not in its list, but they are here.
        self.roster.keep_only({f.id for f in feeds} | self._announced)
        self.slots.keep_only({f.id for f in feeds} | self._announced)
        self._media.spawn("liveness", self._watch())
        self._media.spawn("link", self._link_watch(conn).run())
        pcs = conn.peer_connections()  # our video, and our audio to the AudioBridge
        self._media.spawn("send-side", self._send_side.run(pcs["sending"], pcs["audio"]))
        assert conn.subscriber is not None  # opened
        keeper = self._keeper = SlotKeeper(
            self.slots, conn.subscriber, conn.add, self.clock, self.roster.set_slots
        )
        conn.subscriber.on_streams = keeper.changed  # the hub moved our streams by itself
        self._arrive(feeds)
        try:
            await keeper.settle()
        except EndpointError as err:  # one room gone meanwhile must not fail the join
            log.warning("could not receive every room: %s", err)
        self._media.spawn("slots", keeper.run())

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
            await discard(self.settings.url, resume.session, self._client_args())
        self.roster.drop_all()
        self._set_state(CallState.IDLE)

    def _client_args(self) -> dict[str, str | None]:
        return {"token": self.settings.token, "ca_file": self.settings.ca_file}

    async def _disconnect(self, destroy: bool) -> None:
        """Close this connection's media and signaling; the participants stay. The hub
        session is kept for a claim only if it is the one to resume."""
        await self._media.close()
        self.link = None
        await self.roster.stop_media()
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
        self.roster.mark_stale()
        self.backoff.reset()
        for attempt in itertools.count(1):
            await asyncio.sleep(self.backoff.delay(slow=reason not in QUICK_RETRY))
            self._set_state(CallState.RECONNECTING, reason, detail, attempt=attempt, since=since)
            try:
                await self._connect(self._attempt_timeout(attempt))
            except Exception as err:  # noqa: BLE001 - decide below whether to keep trying
                if self._conn is not None:  # what the attempt left on a claimed session
                    self._resume = self._conn.resume_after_failure(self._resume)
                # A claimed session the hub refuses to publish on again is given up.
                refused = isinstance(err, HubRequestError)
                await self._disconnect(destroy=refused and self._conn is not None)
                reason, detail = _reason(err)
                if reason in FINAL:
                    await self._disconnect(destroy=True)
                    self.roster.drop_all()
                    self._set_state(CallState.FAILED, reason, detail)
                    return
                log.info("rejoin attempt %d failed (%s): %s", attempt, reason.value, detail)
            else:
                self._set_state(CallState.IN_MEETING, attempt=attempt, since=since)
                return

    def _attempt_timeout(self, attempt: int) -> float:
        full = self.settings.connect_timeout
        return full if attempt % LONG_ATTEMPT == 0 else min(full, REJOIN_TIMEOUT)

    def _media_watch(
        self, conn: Connection, role: str, pc: RTCPeerConnection
    ) -> Callable[[], None]:
        """A media connection that fails, or that aiortc closes by itself (ICE consent
        expired: checks lost behind media on a loaded link), breaks the meeting."""

        def changed() -> None:
            log.info("%s media connection %s", role, pc.connectionState)
            if self._conn is conn and pc.connectionState in ("failed", "closed"):
                self._lose(FailReason.MEDIA, f"{role} media connection {pc.connectionState}")

        return changed

    def _link_watch(self, conn: Connection) -> LinkWatch:
        """Link figures and weak rooms; the receive-side pause only with our seams on."""
        sub = conn.subscriber
        hold = sub.hold_video if sub is not None and _seams.enabled() else None
        mids = (lambda: sub.subscription.mids) if sub is not None else dict
        return LinkWatch(
            conn.peer_connections, mids, self.roster, self._link, self.clock, hold, self.video_pause
        )

    def _link(self, quality: LinkQuality) -> None:
        self.link = quality
        self._emit(quality)

    def _connection_lost(self, why: str) -> None:
        self._lose(FailReason.CONNECTION_LOST, why)

    async def _watch(self) -> None:
        """Every quarter second: is the hub still there, is each room's media still coming?"""
        packets, udp_heard = -1, self.clock()
        while True:
            await asyncio.sleep(CHECK_EVERY)
            now, conn = self.clock(), self._conn
            if conn is not None:
                self.roster.packets(conn.video_packets())
            self.roster.check(conn.in_bridge if conn is not None else lambda *room: False)
            if conn is None:
                continue
            if (seen := conn.packets_in()) != packets:
                packets, udp_heard = seen, now
            why = hub_lost(now, _to_clock(conn.client.heard, now), udp_heard)
            if why is not None:
                self._lose(FailReason.CONNECTION_LOST, why)

    # -- hub events -----------------------------------------------------------------
    def _room_message(self, message: Json) -> None:
        kind = message.get("janus")
        if kind == "hangup":
            self._lose(FailReason.MEDIA, f"hub hung up: {message.get('reason')}")
        elif kind == "slowlink":
            log.info("hub reports a slow link: %.200s", message)
        elif kind == "event":
            data = (message.get("plugindata") or {}).get("data") or {}
            try:
                self._room_event(data if isinstance(data, dict) else {})
            except EndpointError as err:
                log.warning("ignoring malformed room event: %s", err)

    def _room_event(self, data: Json) -> None:
        event = room_event(data)
        if event.published:
            self._announced.update(f.id for f in event.published)
            self._arrive(event.published)
        if event.unpublished in self.participants:  # it may publish again: keep its tile
            if self._conn is not None and self._conn.subscriber is not None:
                self._conn.subscriber.forget(event.unpublished)
            self.roster.unpublished(event.unpublished)
            self._slot_gone(event.unpublished)
        if event.left is not None and event.left in self.participants:
            self.roster.drop(event.left)
            self._media.spawn(f"remove:{event.left}", self._unsubscribe(event.left))
        if event.talking is not None:
            self.roster.talking(*event.talking)
            self._talk(*event.talking)

    # -- whose video we receive ---------------------------------------------------------
    def _arrive(self, feeds: list[Feed]) -> None:
        self.roster.arrive(feeds)
        self.slots.publish(feeds)
        for feed in feeds:  # talking before its video was announced
            participant = self.participants.get(feed.id)
            if participant is not None and participant.talking:
                self.slots.talk(feed.id, True, self.clock())
        self._slots_changed()

    def _slot_gone(self, feed: int) -> None:
        self.slots.gone(feed)
        self._slots_changed()

    def _talk(self, feed: int, talking: bool) -> None:
        if self.slots.talk(feed, talking, self.clock()):  # an end may free a talker's slot
            self._slots_changed()

    def _member_talking(self, member: Member, talking: bool) -> None:
        self.roster.member_talking(member, talking)
        if (feed := self.roster.room_of(member)) is not None:
            self._talk(feed, talking)

    def _bridge_joined(self, members: list[Member]) -> None:
        self.roster.bridge_joined(members)
        for feed, participant in self.participants.items():
            self._talk(feed, participant.talking)

    def _slots_changed(self) -> None:
        if self._keeper is not None:
            self._keeper.changed()

    def _uplink(self, receiving: bool) -> None:
        """The hub (its AudioBridge) hears our audio again, or has heard none for its
        no-media time: then, unless it hears us again within ``UPLINK_GRACE``, our uplink
        is broken (we send audio all the time, silence while muted)."""
        if receiving:
            self._media.cancel("uplink")
        elif not self._media.running("uplink"):
            self._media.spawn("uplink", self._uplink_lost())

    async def _uplink_lost(self) -> None:
        await asyncio.sleep(UPLINK_GRACE)
        self._lose(FailReason.CONNECTION_LOST, "the hub receives no audio from this room")

    async def _unsubscribe(self, feed: int) -> None:
        self.slots.gone(feed)
        if self._conn is not None and self._conn.subscriber is not None:
            await self._conn.subscriber.remove(feed)
        self._slots_changed()  # its slot is free for the next room


def _reason(err: BaseException) -> tuple[FailReason, str]:
    if isinstance(err, EndpointError):
        return err.reason, str(err)
    log.error("unexpected error in the call", exc_info=err)
    return FailReason.MEDIA, repr(err)


def _to_clock(monotonic_time: float, now: float) -> float:
    """A ``time.monotonic()`` stamp on the call's clock (they differ only in tests)."""
    return now - (time.monotonic() - monotonic_time)


__all__ = ["Call", "ConnectionLost"]

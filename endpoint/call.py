"""The call: joining a district meeting and keeping its state.

States: idle → connecting → in meeting → leaving → idle, or failed (with a reason)
from connecting or in meeting. Every change and every participant coming or going
is announced to listeners as a small event object.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from devices import Camera, LatestFrame, Microphone, Playout
from endpoint._janus_ws import JanusClient, Json
from endpoint._tracks import CameraTrack, MicrophoneTrack
from endpoint._videoroom import PLUGIN, Feed, Publisher, RoomAccess, Subscriber, feeds_of
from endpoint.errors import ConnectionLost, EndpointError, FailReason

log = logging.getLogger(__name__)


class CallState(Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    IN_MEETING = "in-meeting"
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


@dataclass(frozen=True)
class StateChanged:
    state: CallState
    reason: FailReason | None = None
    detail: str = ""


@dataclass(frozen=True)
class ParticipantJoined:
    participant: Participant


@dataclass(frozen=True)
class ParticipantLeft:
    participant: Participant


@dataclass(frozen=True)
class TalkingChanged:
    participant: Participant


CallEvent = StateChanged | ParticipantJoined | ParticipantLeft | TalkingChanged


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
        self.participants: dict[int, Participant] = {}
        self._listeners: list[Callable[[CallEvent], None]] = []
        self._muted = False
        self._client: JanusClient | None = None
        self._publisher: Publisher | None = None
        self._subscriber: Subscriber | None = None
        self._mic_track: MicrophoneTrack | None = None
        self._tracks: list[MediaStreamTrack] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._batches = itertools.count()  # names the tasks that subscribe new arrivals

    # -- observers --------------------------------------------------------------
    def listen(self, callback: Callable[[CallEvent], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    def _emit(self, event: CallEvent) -> None:
        for callback in list(self._listeners):
            callback(event)

    def _set_state(
        self, state: CallState, reason: FailReason | None = None, detail: str = ""
    ) -> None:
        self.state = state
        event = StateChanged(state, reason, detail)
        self.failure = event if state is CallState.FAILED else None
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
        if self.state in (CallState.CONNECTING, CallState.IN_MEETING):
            return
        self._set_state(CallState.CONNECTING)
        try:
            await self._join()
        except EndpointError as err:
            await self._teardown()
            self._set_state(CallState.FAILED, err.reason, str(err))
        except Exception as err:  # noqa: BLE001 - an unforeseen library error is a media failure
            log.exception("join failed")
            await self._teardown()
            self._set_state(CallState.FAILED, FailReason.MEDIA, repr(err))
        else:
            self._set_state(CallState.IN_MEETING)

    async def _join(self) -> None:
        s = self.settings
        self._client = JanusClient(s.url, token=s.token, ca_file=s.ca_file)
        self._client.on_lost = self._connection_lost
        await self._client.connect(s.connect_timeout)
        pub_handle, sub_handle = await asyncio.gather(
            self._client.attach(PLUGIN), self._client.attach(PLUGIN)
        )
        access = RoomAccess(s.room, s.pin, s.display, s.ice_servers)
        self._publisher = Publisher(pub_handle, access)
        self._subscriber = Subscriber(sub_handle, access, self._remote_track)
        pub_handle.listener = self._publisher_event
        self._mic_track = MicrophoneTrack(self.microphone, self.clock)
        self._mic_track.muted = self._muted
        self._tracks = [CameraTrack(self.camera, self.clock), self._mic_track]
        feeds = await self._publisher.join(self._tracks)
        self._publisher.pc.on("connectionstatechange", self._media_state)
        await self._add_feeds(feeds)

    async def leave(self) -> None:
        """Leave cleanly; ends in IDLE."""
        if self.state in (CallState.IDLE, CallState.LEAVING):
            return
        self._set_state(CallState.LEAVING)
        if self._publisher is not None:
            with contextlib.suppress(EndpointError, asyncio.TimeoutError):
                await self._publisher.leave()
        await self._teardown()
        self._set_state(CallState.IDLE)

    async def _teardown(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        for feed in list(self.participants):
            self._drop(feed)
        for part in (self._publisher, self._subscriber):
            if part is not None:
                await part.pc.close()
        if self._client is not None:
            await self._client.close()
        for track in self._tracks:
            track.stop()  # the camera track stops listening to the camera
        self._client = self._publisher = self._subscriber = None
        self._mic_track, self._tracks = None, []

    # -- hub events -----------------------------------------------------------------
    def _publisher_event(self, message: Json) -> None:
        data = (message.get("plugindata") or {}).get("data") or {}
        kind = message.get("janus")
        if kind == "hangup" and self.state is CallState.IN_MEETING:
            self._fail(FailReason.MEDIA, f"hub hung up: {message.get('reason')}")
        if kind != "event" or not isinstance(data, dict):
            return
        try:
            self._room_event(data)
        except EndpointError as err:
            log.warning("ignoring malformed room event: %s", err)

    def _room_event(self, data: Json) -> None:
        if data.get("publishers"):
            self._spawn(f"add:{next(self._batches)}", self._add_feeds(feeds_of(data)))
        for key in ("leaving", "unpublished"):
            feed = data.get(key)
            if isinstance(feed, int) and feed in self.participants:
                self._drop(feed)
                if self._subscriber is not None:
                    self._spawn(f"remove:{feed}", self._subscriber.remove(feed))
        if data.get("videoroom") in ("talking", "stopped-talking"):
            feed = data.get("id")
            participant = self.participants.get(feed) if isinstance(feed, int) else None
            if participant is not None:
                participant.talking = data["videoroom"] == "talking"
                self._emit(TalkingChanged(participant))

    async def _add_feeds(self, feeds: list[Feed]) -> None:
        fresh = [f for f in feeds if f.id not in self.participants]
        for feed in fresh:
            participant = Participant(feed.id, feed.display)
            self.participants[feed.id] = participant
            self._emit(ParticipantJoined(participant))
        if fresh and self._subscriber is not None and self._publisher is not None:
            await self._subscriber.add(fresh, self._publisher.private_id)

    def _drop(self, feed: int) -> None:
        participant = self.participants.pop(feed, None)
        for kind in ("video", "audio"):
            task = self._tasks.pop(f"{kind}:{feed}", None)
            if task is not None:
                task.cancel()
        self.playout.remove(feed)
        if participant is not None:
            self._emit(ParticipantLeft(participant))

    # -- remote media -------------------------------------------------------------------
    def _remote_track(self, track: MediaStreamTrack, feed: int) -> None:
        participant = self.participants.get(feed)
        if participant is None:
            return
        drain = (
            self._drain_video(track, participant)
            if track.kind == "video"
            else self._drain_audio(track, feed)
        )
        self._spawn(f"{track.kind}:{feed}", drain)

    async def _drain_video(self, track: MediaStreamTrack, participant: Participant) -> None:
        """Decoded frames are always taken off the track (aiortc queues them unbounded)."""
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    participant.video.put(frame, self.clock())

    async def _drain_audio(self, track: MediaStreamTrack, feed: int) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
                self.playout.write(feed, pcm.mean(axis=1).astype("float32") / 32768.0)

    # -- failures ------------------------------------------------------------------------
    def _spawn(self, name: str, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks[name] = task
        task.add_done_callback(lambda t: self._task_done(name, t))

    def _task_done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if task.cancelled() or task.exception() is None:
            return
        log.warning("call task %s failed: %r", name, task.exception())

    def _media_state(self) -> None:
        if self._publisher is not None and self._publisher.pc.connectionState == "failed":
            self._fail(FailReason.MEDIA, "media connection to the hub failed")

    def _connection_lost(self, why: str) -> None:
        if self.state is CallState.IN_MEETING:
            self._fail(FailReason.CONNECTION_LOST, why)

    def _fail(self, reason: FailReason, detail: str) -> None:
        async def fail() -> None:
            await self._teardown()
            self._set_state(CallState.FAILED, reason, detail)

        asyncio.ensure_future(fail())


__all__ = ["Call", "CallEvent", "CallState", "ConnectionLost", "HubSettings", "Participant"]

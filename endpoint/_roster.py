"""The other rooms in the meeting: who they are, and their media as it arrives.

Each receiving track is drained continuously (aiortc queues decoded frames without
bound) into its room's newest-wins video slot and the playout mixer, and every frame
counts as a sign of life; a room whose media stops is marked stale, not removed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from devices import Playout
from endpoint._liveness import MediaClock
from endpoint._tasks import Tasks
from endpoint._videoroom import Feed
from endpoint.events import (
    CallEvent,
    MediaChanged,
    Participant,
    ParticipantJoined,
    ParticipantLeft,
    TalkingChanged,
)


class Roster:
    """Participants by feed id; announces arrivals, departures, talking and stale media."""

    def __init__(
        self, playout: Playout, emit: Callable[[CallEvent], None], clock: Callable[[], float]
    ) -> None:
        self.participants: dict[int, Participant] = {}
        self._playout, self._emit, self._clock = playout, emit, clock
        self._drains: dict[str, tuple[int, MediaStreamTrack]] = {}  # mid -> (feed, its track)
        self._tasks = Tasks("roster")

    def arrive(self, feeds: list[Feed]) -> None:
        now = self._clock()
        for feed in feeds:
            if feed.id not in self.participants:
                participant = Participant(feed.id, feed.display, media=MediaClock.starting(now))
                self.participants[feed.id] = participant
                self._emit(ParticipantJoined(participant))

    def keep_only(self, feeds: set[int]) -> None:
        for feed in set(self.participants) - feeds:
            self.drop(feed)

    def drop(self, feed: int) -> None:
        participant = self.participants.pop(feed, None)
        for mid, (owner, track) in list(self._drains.items()):
            if owner == feed:  # its track goes on being drained, into nothing
                del self._drains[mid]
                self._tasks.spawn(f"drain:{mid}", self._discard(track))
        self._playout.remove(feed)
        if participant is not None:
            self._emit(ParticipantLeft(participant))

    def drop_all(self) -> None:
        self.keep_only(set())

    def talking(self, feed: int, talking: bool) -> None:
        participant = self.participants.get(feed)
        if participant is not None:
            participant.talking = talking
            self._emit(TalkingChanged(participant))

    def set_link(self, feed: int, *, weak: bool, video_paused: bool) -> None:
        """How this room's streams reach us (``_linkstats``): weak, or its video paused.
        A paused video is not a dead room: its audio keeps it alive (``check``)."""
        participant = self.participants.get(feed)
        now = (weak, video_paused)
        if participant is None or (participant.weak, participant.video_paused) == now:
            return
        participant.weak, participant.video_paused = weak, video_paused
        self._emit(MediaChanged(participant))

    def mark_stale(self, feeds: list[int] | None = None) -> None:
        """These rooms' media stopped (all rooms: our own connection broke)."""
        for feed in self.participants if feeds is None else feeds:
            participant = self.participants.get(feed)
            if participant is not None and not participant.media.stale:
                participant.media.stale = True
                self._emit(MediaChanged(participant))

    def check(self) -> None:
        """Mark every room whose media stopped a while ago."""
        now = self._clock()
        for participant in self.participants.values():
            if participant.media.check(now):
                self._emit(MediaChanged(participant))

    # -- incoming media -------------------------------------------------------------
    def carry(self, mid: str, track: MediaStreamTrack, feed: int) -> None:
        """*track* (m-line *mid*) now carries *feed*: drain it into that room's slots."""
        participant = self.participants.get(feed)
        old = self._drains.pop(mid, None)
        if old is not None and old[0] != feed:
            self._playout.remove(old[0])
        if participant is None:  # still drained: aiortc would queue its frames without end
            self._tasks.spawn(f"drain:{mid}", self._discard(track))
            return
        self._drains[mid] = (feed, track)
        drain = self._video if track.kind == "video" else self._audio
        self._tasks.spawn(f"drain:{mid}", drain(track, participant))

    async def stop_media(self) -> None:
        """The connection that carried the tracks is gone."""
        await self._tasks.close()
        self._drains.clear()

    async def _discard(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()

    def _heard(self, participant: Participant) -> None:
        if participant.media.arrived(self._clock()):
            self._emit(MediaChanged(participant))

    async def _video(self, track: MediaStreamTrack, participant: Participant) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if isinstance(frame, av.VideoFrame):
                    participant.video.put(frame, self._clock())
                    self._heard(participant)

    async def _audio(self, track: MediaStreamTrack, participant: Participant) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
                self._playout.write(participant.feed, pcm.mean(axis=1).astype("float32") / 32768.0)
                self._heard(participant)

"""The other rooms in the meeting: who they are, and their media as it arrives.

Each receiving track is drained continuously (aiortc queues decoded frames without
bound): a room's video into its newest-wins slot, every frame a sign of life, and the
hub's mix of the meeting's audio into the playout mixer under one key (``MIX``). A room
whose video stops is marked stale, not removed; one whose video cannot tell (paused by
us, none published, none ever arrived) is kept alive while it is in the meeting's audio.
Talking comes from the AudioBridge, whose members carry the VideoRoom feed id (or, for a
foreign client, the same name).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from devices import Playout
from endpoint._audiobridge import Member
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

log = logging.getLogger(__name__)


def _name(participant: Participant) -> str:
    """A room's name for the log: quoted, control characters escaped, at most 60 letters."""
    return repr(participant.display[:60])


MIX = "mix"  # the playout key of the hub's mix
InBridge = Callable[[int, str], bool]  # (feed, display): is the room in the meeting's audio?


class Roster:
    """Participants by feed id; announces arrivals, departures, talking and stale media."""

    def __init__(
        self, playout: Playout, emit: Callable[[CallEvent], None], clock: Callable[[], float]
    ) -> None:
        self.participants: dict[int, Participant] = {}
        self._playout, self._emit, self._clock = playout, emit, clock
        self._drains: dict[str, tuple[int, MediaStreamTrack]] = {}  # mid -> (feed, its track)
        self._packets: dict[str, tuple[int, int]] = {}  # video mid -> (feed, packets seen)
        self._tasks = Tasks("roster")
        self._talkers: dict[int, Member] = {}  # AudioBridge members talking now, by id
        self._with_video: set[int] = set()  # feeds that publish video now

    def arrive(self, feeds: list[Feed]) -> None:
        now = self._clock()
        for feed in feeds:
            if feed.video:
                self._with_video.add(feed.id)
            else:
                self._with_video.discard(feed.id)
            if feed.id not in self.participants:
                participant = Participant(feed.id, feed.display, media=MediaClock.starting(now))
                self.participants[feed.id] = participant
                log.info("room %s joined (feed %d)", _name(participant), feed.id)
                self._emit(ParticipantJoined(participant))
        for member in self._talkers.values():  # talking before its video was announced
            if (room := self.room_of(member)) is not None:
                self.talking(room, True)

    def keep_only(self, feeds: set[int]) -> None:
        for feed in set(self.participants) - feeds:
            self.drop(feed)

    def unpublished(self, feed: int) -> None:
        """The room stopped publishing (it may again): its tile stays, stale unless the
        meeting's audio still has it (``check``)."""
        self._with_video.discard(feed)
        self.mark_stale([feed])

    def drop(self, feed: int) -> None:
        participant = self.participants.pop(feed, None)
        self._with_video.discard(feed)
        for mid, (owner, track) in list(self._drains.items()):
            if owner == feed:  # its track goes on being drained, into nothing
                del self._drains[mid]
                self._tasks.spawn(f"drain:{mid}", self._discard(track))
        if participant is not None:
            log.info("room %s left (feed %d)", _name(participant), feed)
            self._emit(ParticipantLeft(participant))

    def drop_all(self) -> None:
        self.keep_only(set())
        self._talkers.clear()

    def talking(self, feed: int, talking: bool) -> None:
        participant = self.participants.get(feed)
        if participant is not None and participant.talking != talking:
            participant.talking = talking
            self._emit(TalkingChanged(participant))

    def member_talking(self, member: Member, talking: bool) -> None:
        """An AudioBridge member started or stopped talking (or left: stopped)."""
        if talking:
            self._talkers[member.id] = member
        else:
            self._talkers.pop(member.id, None)
        if (feed := self.room_of(member)) is not None:
            self.talking(feed, talking)

    def bridge_joined(self, members: list[Member]) -> None:
        """We (re)joined the AudioBridge, whose members are *members*: who talks is what
        they say now (no stopped-talking reached us while we were away)."""
        self._talkers = {m.id: m for m in members if m.talking}
        talking = {self.room_of(m) for m in self._talkers.values()}
        for feed in list(self.participants):
            self.talking(feed, feed in talking)

    def room_of(self, member: Member) -> int | None:
        """A member's room: by feed id, or by name when only one room has it (a client
        that did not join with its feed id)."""
        if member.id in self.participants:
            return member.id
        named = [p.feed for p in self.participants.values() if p.display == member.display]
        return named[0] if len(named) == 1 else None

    def set_slots(self, held: set[int]) -> None:
        """Which rooms hold a video slot (``_slots``): the others are shown by name."""
        for participant in self.participants.values():
            if participant.video_slot != (participant.feed in held):
                participant.video_slot = participant.feed in held
                self._emit(MediaChanged(participant))

    def set_link(self, feed: int, *, weak: bool, video_paused: bool) -> None:
        """How this room's streams reach us (``_linkstats``): weak, or its video paused.
        A paused video is not a dead room: its membership of the audio keeps it alive
        (``check``)."""
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
                log.info("room %s: no media (our connection broke)", _name(participant))
                self._emit(MediaChanged(participant))

    def packets(self, seen: dict[str, tuple[int, int]]) -> None:
        """Video packets received so far per m-line (mid -> feed, count): a room whose
        packets keep coming is alive, even while loss holds its picture back."""
        for mid, (feed, count) in seen.items():
            last = self._packets.get(mid, (feed, 0))  # a reused m-line starts counting anew
            self._packets[mid] = (feed, count)
            participant = self.participants.get(feed)
            if participant is not None and last[0] == feed and count > last[1]:
                self._heard(participant)

    def check(self, in_bridge: InBridge = lambda feed, display: False) -> None:
        """Mark every room whose media stopped a while ago; a room whose video cannot
        tell is alive while it is in the meeting's audio (*in_bridge*)."""
        now = self._clock()
        for participant in self.participants.values():
            if self._held(participant, in_bridge) and participant.media.hold(now):
                self._emit(MediaChanged(participant))
            if participant.media.check(now):
                log.info("room %s: its media stopped", _name(participant))
                self._emit(MediaChanged(participant))

    def _held(self, participant: Participant, in_bridge: InBridge) -> bool:
        """Alive by the meeting's audio: its video cannot tell (we paused it, it publishes
        none or none ever arrived) and the room is in the AudioBridge."""
        publishes = participant.feed in self._with_video
        receives = participant.video_slot and not participant.video_paused
        video_tells = publishes and receives and participant.media.heard
        return not video_tells and in_bridge(participant.feed, participant.display)

    # -- incoming media -------------------------------------------------------------
    def carry(self, mid: str, track: MediaStreamTrack, feed: int) -> None:
        """*track* (m-line *mid*) now carries *feed*: drain its video into that room's
        slot. Audio from the VideoRoom (a foreign client publishing it there) is not
        played: the meeting is heard through the hub's mix."""
        participant = self.participants.get(feed)
        self._drains.pop(mid, None)
        if participant is None or track.kind != "video":  # aiortc would queue it without end
            self._tasks.spawn(f"drain:{mid}", self._discard(track))
            return
        self._drains[mid] = (feed, track)
        self._tasks.spawn(f"drain:{mid}", self._video(track, participant))

    def carry_mix(self, track: MediaStreamTrack) -> None:
        """*track* carries the hub's mix of the meeting's audio: into the playout."""
        self._tasks.spawn("drain:mix", self._mix(track))

    async def stop_media(self) -> None:
        """The connection that carried the tracks is gone (and what it played)."""
        await self._tasks.close()
        self._drains.clear()
        self._packets.clear()
        self._playout.remove(MIX)

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

    async def _mix(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                if not isinstance(frame, av.AudioFrame):
                    continue
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))
                self._playout.write(MIX, pcm.mean(axis=1).astype("float32") / 32768.0)

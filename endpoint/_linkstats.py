"""Link statistics from the call's own media: loss, round trip, bitrate, and a plain grade.

Once a second the call's peer connections are sampled (``_rtcstats.read_sample``): packets
received and lost on every incoming stream (by m-line), what the hub's receiver reports
say about our outgoing streams (loss, round trip), bytes each way, and each room's
decoded frame count. :class:`LinkMeter` turns the last ``WINDOW`` seconds of samples
into :class:`Figures`; the grades below turn figures into good / fair / poor, and
:class:`Hysteresis` keeps a grade from flickering. :class:`LinkWatch` runs all of this
while the call is in a meeting and drives the receive-side pause (``_video_pause``): for
that it also reads the standing queue our audio buffers saw (``_transit``) and the hub's
sender reports as they reached us.

Thresholds (percent of packets lost over the window, round trip in ms, frames/s):

- our link: poor when loss > 5 % or RTT > 400 ms, fair when loss > 2 % or RTT > 250 ms.
  At 5 % a browser's video already shows freezes without retransmission and Opus FEC
  covers only isolated losses; 400 ms is where conversation turns awkward (ITU-T G.114
  puts the limit of acceptable one-way delay near 400 ms round trip for most users).
- a remote room: poor when its streams lose > 5 % or its video comes at < 3 frames/s,
  fair at > 2 % or < 8 frames/s (rooms send 15, or 10 on the lower tier).
- a worse grade is taken after it held for ``WORSE_AFTER`` s, a better one after
  ``BETTER_AFTER`` s: a short burst does not flip the screen, and recovery is believed
  only once it lasts.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from aiortc import RTCPeerConnection

from endpoint._rtcstats import Counts, Sample, read_sample
from endpoint._transit import LoopLag, SenderReports
from endpoint._video_pause import LOSS_WINDOW, Evidence, VideoPause
from endpoint.errors import EndpointError
from endpoint.events import LinkGrade, LinkQuality, Participant

log = logging.getLogger(__name__)

SAMPLE_EVERY = 1.0  # s between samples
WINDOW = 4.0  # s of samples the figures are computed over
WORSE_AFTER = 3.0  # s a worse grade must hold before it is shown
BETTER_AFTER = 10.0  # s a better grade must hold before it is shown
LINK_POOR = (5.0, 400.0)  # loss %, RTT ms
LINK_FAIR = (2.0, 250.0)
ROOM_POOR = (5.0, 3.0)  # loss %, frames/s
ROOM_FAIR = (2.0, 8.0)
_ORDER = {LinkGrade.GOOD: 0, LinkGrade.FAIR: 1, LinkGrade.POOR: 2}


@dataclass(frozen=True)
class RoomFigures:
    loss: float | None
    fps: float | None


@dataclass(frozen=True)
class Figures:
    """What the last few seconds looked like; None where there was too little to tell."""

    loss_down: float | None = None
    loss_up: float | None = None
    rtt_ms: float | None = None
    kbps_down: float = 0.0
    kbps_up: float = 0.0
    rooms: Mapping[int, RoomFigures] = field(default_factory=dict)


# -- figures over a window ---------------------------------------------------------------
class LinkMeter:
    """The newest samples (bounded), and figures over the last ``WINDOW`` seconds."""

    def __init__(self, window: float = WINDOW) -> None:
        self.window = window
        self._samples: deque[Sample] = deque(maxlen=int(window / SAMPLE_EVERY) * 4 + 2)

    def add(self, sample: Sample) -> None:
        self._samples.append(sample)

    def _span(self, window: float) -> tuple[Sample, Sample] | None:
        if len(self._samples) < 2:
            return None
        new = self._samples[-1]
        old = next(s for s in self._samples if s.t >= new.t - window - 1e-6)
        return (old, new) if new.t > old.t else (self._samples[-2], new)

    def loss_down(self, window: float) -> float | None:
        """Percent lost on every incoming stream over the last *window* seconds."""
        span = self._span(window)
        return (
            None
            if span is None
            else _delta(span[0].inbound, span[1].inbound, span[1].inbound).loss()
        )

    def figures(self, mids: Mapping[str, tuple[int, str]]) -> Figures:
        """*mids*: which feed and kind each receiving m-line carries now."""
        span = self._span(self.window)
        if span is None:
            return Figures()
        old, new = span
        seconds = new.t - old.t
        down = _delta(old.inbound, new.inbound, new.inbound)
        return Figures(
            loss_down=down.loss(),
            loss_up=(new.outbound - old.outbound).loss(),
            rtt_ms=None if new.rtt is None else new.rtt * 1000.0,
            kbps_down=(new.bytes_in - old.bytes_in) * 8 / 1000.0 / seconds,
            kbps_up=(new.bytes_out - old.bytes_out) * 8 / 1000.0 / seconds,
            rooms=_rooms(old, new, mids, seconds),
        )


def _delta(old: Mapping[str, Counts], new: Mapping[str, Counts], keys: Iterable[str]) -> Counts:
    return sum((new[k] - old[k] for k in keys if k in old and k in new), Counts())


def _rooms(
    old: Sample, new: Sample, mids: Mapping[str, tuple[int, str]], seconds: float
) -> dict[int, RoomFigures]:
    rooms = {}
    for feed in {feed for feed, _ in mids.values()}:
        counts = _delta(old.inbound, new.inbound, [m for m, (f, _) in mids.items() if f == feed])
        fps = None
        if old.frames.get(feed, 0) > 0 and feed in new.frames:  # judged once video came
            fps = (new.frames[feed] - old.frames[feed]) / seconds
        rooms[feed] = RoomFigures(counts.loss(), fps)
    return rooms


# -- grades --------------------------------------------------------------------------------
def link_grade(figures: Figures) -> LinkGrade:
    """Our link: the worse direction's loss and the round trip (unknown counts as fine)."""
    loss = max((x for x in (figures.loss_down, figures.loss_up) if x is not None), default=0.0)
    rtt = figures.rtt_ms or 0.0
    return _grade(
        loss > LINK_POOR[0] or rtt > LINK_POOR[1], loss > LINK_FAIR[0] or rtt > LINK_FAIR[1]
    )


def room_grade(room: RoomFigures, video_paused: bool) -> LinkGrade:
    """A remote room's streams as they reach us; paused video says nothing of its rate."""
    loss = room.loss or 0.0
    fps = None if video_paused else room.fps
    slow = fps is not None and fps < ROOM_POOR[1]
    sluggish = fps is not None and fps < ROOM_FAIR[1]
    return _grade(loss > ROOM_POOR[0] or slow, loss > ROOM_FAIR[0] or sluggish)


def _grade(poor: bool, fair: bool) -> LinkGrade:
    return LinkGrade.POOR if poor else LinkGrade.FAIR if fair else LinkGrade.GOOD


class Hysteresis:
    """A grade that moves only after the raw grade held on one side of it for a while;
    it then moves to the grade that held the whole time (the mildest change seen)."""

    def __init__(self, worse_after: float = WORSE_AFTER, better_after: float = BETTER_AFTER):
        self.grade = LinkGrade.GOOD
        self._holds = (worse_after, better_after)
        self._since: float | None = None
        self._worse = False
        self._mark = LinkGrade.GOOD

    def update(self, now: float, raw: LinkGrade) -> LinkGrade:
        if raw is self.grade:
            self._since = None
            return self.grade
        worse = _ORDER[raw] > _ORDER[self.grade]
        if self._since is None or worse != self._worse:
            self._since, self._worse, self._mark = now, worse, raw
        else:
            self._mark = min(self._mark, raw, key=lambda g: abs(_ORDER[g] - _ORDER[self.grade]))
        if now - self._since >= self._holds[0 if worse else 1]:
            self.grade, self._since = self._mark, None
        return self.grade


def meaningful(old: LinkQuality | None, new: LinkQuality) -> bool:
    """Worth telling the screen: a new grade or pause, or figures that moved visibly."""
    if old is None or (old.grade, old.video_paused) != (new.grade, new.video_paused):
        return True
    if abs(old.loss_down - new.loss_down) >= 1.0 or abs(old.loss_up - new.loss_up) >= 1.0:
        return True
    if _rtt_moved(old.rtt_ms, new.rtt_ms):
        return True
    return _moved(old.kbps_down, new.kbps_down) or _moved(old.kbps_up, new.kbps_up)


def _rtt_moved(old: float | None, new: float | None) -> bool:
    if old is None or new is None:
        return (old is None) != (new is None)
    return abs(old - new) >= max(20.0, 0.2 * old)


def _moved(old: float, new: float) -> bool:
    return abs(old - new) >= max(10.0, 0.2 * old)


# -- the running watch -------------------------------------------------------------------
class Rooms(Protocol):
    """What the watch needs of the roster."""

    participants: dict[int, Participant]

    def set_link(self, feed: int, *, weak: bool, video_paused: bool) -> None: ...


HoldVideo = Callable[[bool], Awaitable[None]]


class LinkWatch:
    """Samples the call's media once a second while in a meeting; tells the listeners
    how the link is (:class:`LinkQuality`), marks weak rooms, and, with *hold_video*,
    pauses incoming video when our downlink cannot carry it (``_video_pause``)."""

    def __init__(
        self,
        connections: Callable[[], Mapping[str, RTCPeerConnection]],
        mids: Callable[[], Mapping[str, tuple[int, str]]],
        rooms: Rooms,
        emit: Callable[[LinkQuality], None],
        clock: Callable[[], float],
        hold_video: HoldVideo | None = None,
        pause: VideoPause | None = None,
    ) -> None:
        self._connections, self._mids, self._rooms = connections, mids, rooms
        self._emit, self._clock, self._hold = emit, clock, hold_video
        self.meter = LinkMeter()
        self.grade = Hysteresis()
        self.room_grades: dict[int, Hysteresis] = {}
        # *pause*: the meeting's, kept across its connections (a pause and its backoff)
        self.pause = (pause or VideoPause()) if hold_video is not None else None
        self.reports = SenderReports()
        self.lag = LoopLag(clock)  # our own event loop's standing lateness (a starved CPU)
        self.video_paused = False
        self.last: LinkQuality | None = None

    async def run(self) -> None:
        probe = asyncio.ensure_future(self.lag.run())
        try:
            if self.pause is not None and self.pause.paused:  # paused before this connection
                log.info("incoming video stays paused on the new connection")
                await self._set_hold(True)
            while True:
                await asyncio.sleep(SAMPLE_EVERY)
                await self.step()
        finally:  # a new connection starts with video on and no judgement yet
            probe.cancel()
            for feed in list(self._rooms.participants):
                self._rooms.set_link(feed, weak=False, video_paused=False)

    async def step(self) -> None:
        now = self._clock()
        frames = {f: p.video.get()[1] for f, p in self._rooms.participants.items()}
        sample = await read_sample(self._connections(), frames, now)
        self.meter.add(sample)
        self.reports.add(sample.reports, sample.offset)
        figures = self.meter.figures(self._mids())
        await self._protect(now, self._evidence(sample))
        self._judge_rooms(now, figures)
        self._report(now, figures)

    def _evidence(self, sample: Sample) -> Evidence:
        queue = min(sample.queues.values(), default=None)  # what every room's audio met
        hub_queue = self.reports.queueing(sample.t)
        lag = self.lag.standing(self._clock())
        return Evidence(self.meter.loss_down(LOSS_WINDOW), queue, hub_queue, lag)

    async def _protect(self, now: float, seen: Evidence) -> None:
        if self.pause is None or self._hold is None:
            return
        wanted = self.pause.update(now, seen)
        if wanted == self.video_paused:
            return
        log.info("incoming video %s (downlink: loss %s %%, queue %s ms, at the hub's "
                 "reports %s ms, our loop late %s ms)", "paused" if wanted else "resumed",
                 _shown(seen.loss), _shown(seen.queue, 1000), _shown(seen.hub_queue, 1000),
                 _shown(seen.lag, 1000))  # fmt: skip
        await self._set_hold(wanted)

    async def _set_hold(self, wanted: bool) -> None:
        assert self.pause is not None and self._hold is not None
        try:
            await self._hold(wanted)
        except EndpointError as err:
            log.warning("could not %s incoming video: %s", "pause" if wanted else "resume", err)
            self.pause.paused = self.video_paused  # try again when the policy says so
            return
        self.video_paused = wanted

    def _judge_rooms(self, now: float, figures: Figures) -> None:
        for feed in set(self.room_grades) - set(self._rooms.participants):
            del self.room_grades[feed]
        for feed, participant in list(self._rooms.participants.items()):
            if not participant.video_slot:  # no stream of it reaches us: nothing to judge
                self.room_grades.pop(feed, None)
                self._rooms.set_link(feed, weak=False, video_paused=self.video_paused)
                continue
            grade = self.room_grades.setdefault(feed, Hysteresis())
            room = figures.rooms.get(feed)
            if room is not None:
                grade.update(now, room_grade(room, self.video_paused))
            weak = grade.grade is LinkGrade.POOR
            self._rooms.set_link(feed, weak=weak, video_paused=self.video_paused)

    def _report(self, now: float, figures: Figures) -> None:
        quality = LinkQuality(
            self.grade.update(now, link_grade(figures)),
            round(figures.loss_down or 0.0, 1),
            round(figures.loss_up or 0.0, 1),
            None if figures.rtt_ms is None else round(figures.rtt_ms),
            round(figures.kbps_down),
            round(figures.kbps_up),
            self.video_paused,
        )
        if meaningful(self.last, quality):
            self.last = quality
            self._emit(quality)


def _shown(value: float | None, scale: float = 1.0) -> str:
    return "?" if value is None else f"{value * scale:.0f}" if scale > 1 else f"{value:.1f}"

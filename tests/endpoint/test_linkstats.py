"""Link figures, grades, hysteresis and the watch, from scripted samples and a stepped clock."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics
from aiortc.rtp import RtpPacket

from devices import LatestFrame
from endpoint import LinkGrade, LinkQuality, Participant
from endpoint import _linkstats as ls
from endpoint import _rtcstats as rs
from endpoint._linkstats import (
    Counts,
    Figures,
    Hysteresis,
    LinkMeter,
    LinkWatch,
    RoomFigures,
    Sample,
    link_grade,
    meaningful,
    room_grade,
)
from endpoint._liveness import MediaClock

MIDS = {"0": (7, "audio"), "1": (7, "video"), "2": (9, "audio"), "3": (9, "video")}


def sample(t: float, per_mid: Mapping[str, tuple[int, int]], **kw: Any) -> Sample:
    inbound = {mid: Counts(*counts) for mid, counts in per_mid.items()}
    return Sample(t, inbound, **kw)


def test_loss_needs_enough_packets_and_ignores_duplicates() -> None:
    assert Counts(95, 5).loss() == pytest.approx(5.0)
    assert Counts(10, 2).loss() is None  # 12 packets: too few to tell
    assert Counts(100, -3).loss() == 0.0  # more received than expected: duplicates


def test_meter_figures_over_the_window() -> None:
    meter = LinkMeter(window=4.0)
    meter.add(sample(0.0, {"0": (0, 0), "1": (0, 0)}, frames={7: 5}))
    meter.add(sample(1.0, {"0": (50, 0), "1": (100, 0)}, frames={7: 20}))
    figures = meter.figures(MIDS)
    assert figures.loss_down == 0.0 and figures.rooms[7] == RoomFigures(0.0, 15.0)
    meter.add(
        sample(
            2.0, {"0": (100, 0), "1": (180, 20), "2": (40, 0)},
            outbound=Counts(190, 10), rtt=0.120, bytes_in=50_000, bytes_out=25_000,
            frames={7: 30, 9: 3},
        )
    )  # fmt: skip
    figures = meter.figures(MIDS)
    assert figures.loss_down == pytest.approx(100 * 20 / 300)  # mid 2 is new: not counted
    assert figures.loss_up == pytest.approx(5.0)
    assert figures.rtt_ms == pytest.approx(120.0)
    assert figures.kbps_down == pytest.approx(200.0) and figures.kbps_up == pytest.approx(100.0)
    assert figures.rooms[7].fps == pytest.approx(12.5)
    assert figures.rooms[9] == RoomFigures(None, None)  # no video before the window: no verdict


def test_meter_forgets_what_is_older_than_the_window() -> None:
    meter = LinkMeter(window=4.0)
    meter.add(sample(0.0, {"1": (0, 0)}))
    meter.add(sample(1.0, {"1": (50, 50)}))  # a bad second ...
    for t in range(2, 7):
        meter.add(sample(float(t), {"1": (50 + 100 * (t - 1), 50)}))  # ... then clean
    assert meter.figures(MIDS).loss_down == 0.0
    assert len(meter._samples) <= meter._samples.maxlen  # type: ignore[operator]


@pytest.mark.parametrize(
    ("loss", "rtt", "grade"),
    [
        (0.0, 80.0, LinkGrade.GOOD),
        (2.5, 80.0, LinkGrade.FAIR),
        (0.0, 300.0, LinkGrade.FAIR),
        (6.0, 80.0, LinkGrade.POOR),
        (0.0, 450.0, LinkGrade.POOR),
        (None, None, LinkGrade.GOOD),
    ],
)
def test_link_grade(loss: float | None, rtt: float | None, grade: LinkGrade) -> None:
    assert link_grade(Figures(loss_down=0.0, loss_up=loss, rtt_ms=rtt)) is grade


def test_room_grade_frame_rate_counts_unless_video_is_paused() -> None:
    assert room_grade(RoomFigures(0.0, 15.0), False) is LinkGrade.GOOD
    assert room_grade(RoomFigures(0.0, 6.0), False) is LinkGrade.FAIR
    assert room_grade(RoomFigures(0.0, 1.0), False) is LinkGrade.POOR
    assert room_grade(RoomFigures(0.0, 0.0), True) is LinkGrade.GOOD
    assert room_grade(RoomFigures(8.0, 15.0), False) is LinkGrade.POOR
    assert room_grade(RoomFigures(None, None), False) is LinkGrade.GOOD


def test_hysteresis_needs_a_sustained_change() -> None:
    h = Hysteresis(worse_after=3.0, better_after=10.0)
    for t in (0.0, 1.0, 2.0):  # a 2 s burst is not shown
        assert h.update(t, LinkGrade.POOR) is LinkGrade.GOOD
    assert h.update(3.0, LinkGrade.GOOD) is LinkGrade.GOOD
    for t in range(10, 13):
        h.update(float(t), LinkGrade.POOR if t != 11 else LinkGrade.FAIR)
    assert h.update(13.0, LinkGrade.POOR) is LinkGrade.FAIR  # what held throughout
    assert h.update(16.0, LinkGrade.POOR) is LinkGrade.FAIR  # a new spell begins at 16
    assert h.update(19.0, LinkGrade.POOR) is LinkGrade.POOR
    for t in range(20, 29):
        assert h.update(float(t), LinkGrade.GOOD) is LinkGrade.POOR  # not yet believed
    assert h.update(30.0, LinkGrade.GOOD) is LinkGrade.GOOD


def test_only_meaningful_changes_are_told() -> None:
    base = LinkQuality(LinkGrade.GOOD, 0.5, 0.0, 80.0, 400.0, 300.0)
    assert meaningful(None, base)
    assert not meaningful(base, LinkQuality(LinkGrade.GOOD, 0.9, 0.3, 90.0, 420.0, 310.0))
    assert meaningful(base, LinkQuality(LinkGrade.FAIR, 0.5, 0.0, 80.0, 400.0, 300.0))
    assert meaningful(base, LinkQuality(LinkGrade.GOOD, 2.0, 0.0, 80.0, 400.0, 300.0))
    assert meaningful(base, LinkQuality(LinkGrade.GOOD, 0.5, 0.0, 130.0, 400.0, 300.0))
    assert meaningful(base, LinkQuality(LinkGrade.GOOD, 0.5, 0.0, 80.0, 250.0, 300.0))
    assert meaningful(base, LinkQuality(LinkGrade.GOOD, 0.5, 0.0, 80.0, 400.0, 300.0, True))


def test_receiver_counts_read_aiortc_media_streams_not_retransmissions() -> None:
    """The seam guard: aiortc 1.16 keeps per-SSRC statistics where _linkstats reads them."""

    class Transport:
        state = "new"

    receiver = RTCRtpReceiver("video", Transport())  # type: ignore[arg-type]
    streams = receiver._RTCRtpReceiver__remote_streams  # type: ignore[attr-defined]
    receiver._RTCRtpReceiver__rtx_ssrc[22] = 11  # type: ignore[attr-defined]
    media, rtx = StreamStatistics(90000), StreamStatistics(90000)
    for seq in [*range(0, 50), *range(55, 100)]:  # 5 lost
        media.add(RtpPacket(sequence_number=seq, timestamp=seq * 3000, ssrc=11))
    for seq in range(3):
        rtx.add(RtpPacket(sequence_number=seq, ssrc=22))
    streams[11], streams[22] = media, rtx
    assert rs.receiver_counts(receiver) == Counts(95, 5)
    assert rs.receiver_counts(object()) == Counts()


# -- the watch ----------------------------------------------------------------------------
@dataclass
class FakeRooms:
    participants: dict[int, Participant] = field(default_factory=dict)
    changes: list[tuple[int, bool, bool]] = field(default_factory=list)

    def set_link(self, feed: int, *, weak: bool, video_paused: bool) -> None:
        p = self.participants[feed]
        if (p.weak, p.video_paused) != (weak, video_paused):
            p.weak, p.video_paused = weak, video_paused
            self.changes.append((feed, weak, video_paused))


class Script:
    """Scripted samples: *loss* % on every stream of feed 7, 100 packets/s per m-line;
    *queue* s of standing queue on its audio; the hub's sender report each second, held
    up by *hub_queue* s."""

    def __init__(self) -> None:
        self.t = 0.0
        self.loss = 0.0
        self.queue = 0.0
        self.hub_queue = 0.0
        self.got = {"0": Counts(), "1": Counts()}

    async def read(self, pcs: Any, frames: Mapping[int, int], now: float) -> Sample:
        lost = round(self.loss)
        for mid in self.got:
            self.got[mid] += Counts(100 - lost, lost)
        sent = now - 0.3  # sent on the hub's clock (any offset), arrived here just now
        report = {11: (int(sent * 65536) & 0xFFFFFFFF, now + self.hub_queue)}
        return Sample(now, dict(self.got), rtt=0.05, frames=dict(frames),
                      queues={"0": self.queue}, reports=report, offset=1000.0)  # fmt: skip

    def congest(self, on: bool) -> None:
        """A full tail-drop queue on our downlink, or none."""
        self.loss, self.queue, self.hub_queue = (30.0, 0.18, 0.18) if on else (0.0, 0.0, 0.0)


Watched = tuple[LinkWatch, Script, FakeRooms, list[bool], list[LinkQuality]]


def watch(monkeypatch: Any, hold: bool = True) -> Watched:
    script, rooms = Script(), FakeRooms()
    told: list[LinkQuality] = []
    held: list[bool] = []
    rooms.participants[7] = Participant(7, "Xã A", LatestFrame(), media=MediaClock(0.0))
    monkeypatch.setattr(ls, "read_sample", script.read)

    async def hold_video(paused: bool) -> None:
        held.append(paused)

    mids = {"0": (7, "audio"), "1": (7, "video")}
    w = LinkWatch(dict, lambda: mids, rooms, told.append, lambda: script.t,
                  hold_video if hold else None)  # fmt: skip
    return w, script, rooms, held, told


async def run_for(w: LinkWatch, script: Script, seconds: int, participant: Participant) -> None:
    for _ in range(seconds):
        script.t += 1.0
        for _ in range(15):  # the room's video at 15 frames/s
            participant.video.put(object())
        await w.step()


async def test_watch_grades_tells_and_pauses_on_a_bad_downlink(monkeypatch: Any) -> None:
    w, script, rooms, held, told = watch(monkeypatch)
    room = rooms.participants[7]
    await run_for(w, script, 5, room)
    assert told and told[-1].grade is LinkGrade.GOOD and not held
    first = len(told)
    await run_for(w, script, 5, room)
    assert len(told) == first, "nothing changed: nothing told"
    script.congest(True)
    await run_for(w, script, 1, room)
    assert held == [] and not w.video_paused, "one congested sample is not enough"
    await run_for(w, script, 1, room)
    assert held == [True] and w.video_paused, "paused on the second congested sample"
    await run_for(w, script, 10, room)
    assert held == [True] and room.video_paused
    assert told[-1].grade is LinkGrade.POOR and told[-1].video_paused
    assert told[-1].loss_down == pytest.approx(30.0, abs=3)
    assert room.weak, "its stream loses 30 %"
    script.congest(False)  # video held back: the queue is gone
    await run_for(w, script, 25, room)
    assert held == [True]
    await run_for(w, script, 10, room)
    assert held == [True, False] and not room.video_paused


async def test_a_pause_from_the_last_connection_holds_on_the_next(monkeypatch: Any) -> None:
    """The call keeps its VideoPause across reconnects: the new watch pauses the new
    subscriber's video at once, and the doubled wait is still doubled."""
    w, script, rooms, held, _ = watch(monkeypatch)
    assert w.pause is not None
    w.pause.paused, w.pause.wait = True, 60.0  # paused, after a failed try
    w.video_paused = True
    held.clear()

    async def hold_video(paused: bool) -> None:
        held.append(paused)

    mids = {"1": (7, "video")}
    again = LinkWatch(
        dict, lambda: mids, rooms, lambda q: None, lambda: script.t, hold_video, w.pause
    )
    running = asyncio.ensure_future(again.run())
    try:
        await asyncio.wait_for(_until(lambda: held == [True]), 0.5)  # before the first sample
    finally:
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
    assert again.video_paused and again.pause is w.pause and again.pause.wait == 60.0


async def _until(condition: Any) -> None:
    while not condition():
        await asyncio.sleep(0.01)


async def test_watch_keeps_video_under_random_loss(monkeypatch: Any) -> None:
    w, script, rooms, held, told = watch(monkeypatch)
    script.loss = 30.0  # no queue: retransmission and the jitter buffer carry on
    await run_for(w, script, 30, rooms.participants[7])
    assert held == [] and told[-1].grade is LinkGrade.POOR


async def test_watch_keeps_video_when_the_queue_is_before_the_hub(monkeypatch: Any) -> None:
    """A sending room behind a thin uplink: its media queues and drops, but the hub's own
    reports reach us on time: our downlink is fine, pausing would not help."""
    w, script, rooms, held, _ = watch(monkeypatch)
    await run_for(w, script, 5, rooms.participants[7])
    script.loss, script.queue = 30.0, 0.18
    await run_for(w, script, 20, rooms.participants[7])
    assert held == []


async def test_watch_without_the_pause_only_reports(monkeypatch: Any) -> None:
    w, script, rooms, _, told = watch(monkeypatch, hold=False)
    script.congest(True)
    await run_for(w, script, 15, rooms.participants[7])
    assert w.pause is None and not w.video_paused
    assert told[-1].grade is LinkGrade.POOR and not told[-1].video_paused


async def test_watch_clears_its_marks_when_it_stops(monkeypatch: Any) -> None:
    w, script, rooms, _, _ = watch(monkeypatch)
    rooms.participants[7].weak = rooms.participants[7].video_paused = True
    task = asyncio.get_running_loop().create_task(w.run())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not rooms.participants[7].weak and not rooms.participants[7].video_paused


def test_queue_and_sender_reports_read_from_aiortc_receivers() -> None:
    """The seam guard: aiortc 1.16 keeps the last sender report per SSRC where _linkstats
    reads it, and builds our audio buffer, whose transit reading _linkstats takes."""

    class Transport:
        state = "new"

    receiver = RTCRtpReceiver("audio", Transport())  # type: ignore[arg-type]
    assert rs._queue(receiver) is None  # our buffer, no packets yet
    buffer = receiver._RTCRtpReceiver__jitter_buffer  # type: ignore[attr-defined]
    for seq in range(30):
        buffer.add(RtpPacket(payload_type=111, sequence_number=seq, timestamp=seq * 960, ssrc=5))
    assert rs._queue(receiver) == pytest.approx(0.0, abs=0.01)  # all at once: no queue
    receiver._RTCRtpReceiver__lsr[5] = 123  # type: ignore[attr-defined]
    receiver._RTCRtpReceiver__lsr_time[5] = 1000.5  # type: ignore[attr-defined]
    assert rs._sender_reports(receiver, 1000.0) == {5: (123, 0.5)}  # on the call's clock
    assert rs._sender_reports(object(), 0.0) == {} and rs._queue(object()) is None


async def test_sender_report_arrivals_are_read_on_the_calls_clock(monkeypatch: Any) -> None:
    """aiortc stamps a sender report's arrival with time.time(); the sample moves it to the
    call's (monotonic) clock when it reads it, so a wall clock stepped later moves nothing."""
    wall = [5000.0]
    monkeypatch.setattr(rs.time, "time", lambda: wall[0])

    class Receiver:
        transport = None  # not started: no byte counts
        _RTCRtpReceiver__lsr = {11: 1234}
        _RTCRtpReceiver__lsr_time = {11: 4999.75}  # arrived 0.25 s ago by the wall clock

    class Transceiver:
        mid, receiver = "0", Receiver()

    class Pc:
        def getTransceivers(self) -> list[Any]:
            return [Transceiver()]

        def getSenders(self) -> list[Any]:
            return []

    sample = await rs.read_sample({"audio": Pc()}, {}, now=20.0)  # type: ignore[dict-item]
    assert sample.reports == {11: (1234, pytest.approx(19.75))}
    wall[0] = 4000.0  # NTP steps the wall clock back by 1000 s: the same report
    again = await rs.read_sample({"audio": Pc()}, {}, now=21.0)  # type: ignore[dict-item]
    assert again.offset == pytest.approx(sample.offset - 1001.0)

"""Receive-side pause: the congestion detector on scripted arrivals (stepped clock), the
policy, the hub request, liveness, the baseline."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from aiortc.rtp import RtpPacket

from devices import Playout, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, HubSettings, _seams
from endpoint._audio_jitter import AudioJitterBuffer
from endpoint._janus_ws import Reply
from endpoint._liveness import FIRST_MEDIA_GRACE, STALE_AFTER
from endpoint._roster import Roster
from endpoint._subscriber import Subscriber
from endpoint._transit import SenderReports
from endpoint._video_pause import (
    RESUME_AFTER,
    RESUME_MAX,
    SETTLED,
    Evidence,
    VideoPause,
)
from endpoint._videoroom import Feed, RoomAccess

FRAME = 0.02  # s of audio per packet
Delay = Callable[[float, float | None], float]  # (send time, video relayed since) -> queue, s


def no_queue(t: float, video: float | None) -> float:
    return 0.0


class Link:
    """Our downlink, packet by packet: 20 ms audio packets and one hub sender report a
    second cross a fixed *delay*, uniform 0..*jitter*, random *loss*, and a *queue* that
    may depend on whether the hub relays video to us; first in, first out. A LinkWatch
    sample each second: loss over 2 s, our audio buffer's queue reading (its clock is the
    arrival time) and the reports' transit, into a VideoPause whose decision the link
    follows from the next second on (a configure reaches the hub at once)."""

    def __init__(self, queue: Delay = no_queue, delay: float = 0.03, jitter: float = 0.0,
                 loss: Callable[[float], float] = lambda t: 0.0, hub_queue: Delay | None = None,
                 seed: int = 7) -> None:  # fmt: skip
        self.queue, self.delay, self.jitter, self.loss = queue, delay, jitter, loss
        self.hub_queue = queue if hub_queue is None else hub_queue
        self.rng = random.Random(seed)
        self.now = 0.0
        self.buffer = AudioJitterBuffer(clock=lambda: self.now)
        self.reports = SenderReports()
        self.policy = VideoPause()
        self.video: list[tuple[float, bool]] = [(0.0, True)]  # (from, relayed)
        self.trace: list[tuple[float, bool]] = []  # (sample time, paused)
        self._arrived = -1.0
        self._seq = 0
        self._got: list[tuple[float, bool]] = []  # (due, lost) per packet

    def relayed(self, t: float) -> float | None:
        """Since when the hub relays video to us at *t* (None: paused)."""
        since, on = next((since, on) for since, on in reversed(self.video) if since <= t)
        return since if on else None

    def _packet(self, sent: float, queue: Delay) -> tuple[float, bool]:
        """When a packet sent at *sent* arrives (FIFO: never before the one ahead of it)."""
        due = sent + self.delay + queue(sent, self.relayed(sent)) + self.rng.uniform(0, self.jitter)
        self._arrived = max(self._arrived, due)
        return self._arrived, self.rng.random() < self.loss(sent)

    def second(self) -> bool:
        start, self.now = self.now, self.now + 1.0
        packets = []
        for k in range(round(start / FRAME), round(self.now / FRAME)):
            due, lost = self._packet(k * FRAME, self.queue)
            self._got.append((due, lost))
            if not lost:
                packets.append(
                    (
                        due,
                        RtpPacket(
                            111, sequence_number=k % 65536, timestamp=k * 960 % 2**32, ssrc=5
                        ),
                    )
                )
        for due, packet in packets:  # arrivals spill a little past the sample: fine here
            self.now = due
            self.buffer.add(packet)
        self.now = start + 1.0
        hub = start + self.delay + self.hub_queue(start, self.relayed(start))
        self.reports.add({9: (int(start * 65536) & 0xFFFFFFFF, 1000.0 + hub)})
        recent = [lost for due, lost in self._got if self.now - 2.0 < due <= self.now]
        loss = 100.0 * sum(recent) / len(recent) if recent else None
        hub_queue = self.reports.queueing(1000.0 + self.now)
        seen = Evidence(loss, self.buffer.queueing_delay(), hub_queue)
        paused = self.policy.update(self.now, seen)
        if paused == (self.relayed(self.now) is not None):
            self.video.append((self.now, not paused))
        self.trace.append((self.now, paused))
        return paused

    def run(self, seconds: float) -> list[float]:
        """Runs *seconds*; returns the sample times at which video was paused anew."""
        paused = []
        for _ in range(round(seconds)):
            was = self.policy.paused
            if self.second() and not was:
                paused.append(self.now)
        return paused


def tail_drop(onset: float, until: float = 1e9, fill: float = 0.25, full: float = 0.2) -> Delay:
    """A bottleneck that video overflows from *onset*: the queue fills in *fill* s to
    *full* s and stays full while video is relayed; without video it drains at once."""

    def queue(t: float, video: float | None) -> float:
        if video is None or not onset <= t < until:
            return 0.0
        return min(full, full * (t - max(onset, video)) / fill)

    return queue


def tail_loss(link: Link, onset: float, until: float = 1e9, share: float = 0.4) -> None:
    """Tail drops while the queue is full (the share of what arrives that is dropped)."""
    link.loss = lambda t: (
        share if onset <= t < until and link.queue(t, link.relayed(t)) >= 0.19 else 0.0
    )


def test_a_queue_that_fills_and_drops_pauses_within_three_seconds() -> None:
    link = Link(queue=tail_drop(onset=20.3))
    tail_loss(link, 20.3)
    paused = link.run(30)
    assert paused and paused[0] - 20.3 <= 3.0, f"paused at {paused}"


def test_random_loss_with_a_flat_delay_never_pauses() -> None:
    for loss in (0.05, 0.2, 0.4):
        link = Link(jitter=0.03, loss=lambda t, p=loss: p if t >= 10 else 0.0)
        assert link.run(90) == [], f"{loss:.0%} random loss paused"


def test_a_long_path_or_a_step_in_delay_never_pauses() -> None:
    """300 ms round trip with 0-30 ms jitter, from the start and as a step mid-call."""
    assert Link(delay=0.15, jitter=0.03).run(60) == []
    step = Link(queue=lambda t, video: 0.15 if t >= 20.5 else 0.0, jitter=0.03)
    assert step.run(60) == []


def test_a_queue_before_the_hub_does_not_pause() -> None:
    """The sending room's uplink queues and drops; the hub's reports reach us on time."""
    link = Link(queue=tail_drop(onset=10.3), hub_queue=no_queue)
    tail_loss(link, 10.3)
    assert link.run(40) == []


def test_a_deep_buffer_whose_delay_keeps_growing_pauses_without_loss() -> None:
    link = Link(queue=lambda t, video: 0.2 * (t - 20.0) if t >= 20.0 and video is not None else 0.0)
    paused = link.run(30)
    assert paused and paused[0] - 20.0 <= 4.0, f"paused at {paused}"
    assert link.run(20) == [] and link.policy.paused  # held: the buffer drained


def test_a_failed_try_is_paused_again_at_once_and_doubles_the_wait() -> None:
    link = Link(queue=tail_drop(onset=10.3))
    tail_loss(link, 10.3)
    paused = link.run(10 + 2 + RESUME_AFTER + 4)
    assert len(paused) == 2 and paused[0] - 10.3 <= 3.0
    resumed = next(t for t, p in link.trace if t > paused[0] and not p)
    assert resumed - paused[0] == pytest.approx(RESUME_AFTER + 1, abs=1.0)
    assert paused[1] - resumed <= 2.0, "the try brought the queue back: paused again"
    assert link.policy.wait == 2 * RESUME_AFTER


def test_video_comes_back_when_the_link_does() -> None:
    link = Link(queue=tail_drop(onset=10.3, until=25.0))
    tail_loss(link, 10.3, until=25.0)
    paused = link.run(10 + RESUME_AFTER + 10)
    assert len(paused) == 1 and not link.policy.paused
    link.run(SETTLED + 1)
    assert not link.policy.paused and link.policy.wait == RESUME_AFTER


# -- the policy alone, on made-up evidence -------------------------------------------------
CONGESTED = Evidence(loss=30.0, queue=0.18, hub_queue=0.18)
CLEAR = Evidence(loss=0.0, queue=0.0, hub_queue=0.0)


def run(policy: VideoPause, start: float, seconds: float, seen: Evidence) -> float:
    """Feed *seen* once a second for *seconds*; returns the time reached."""
    t = start
    while t < start + seconds:
        t += 1.0
        policy.update(t, seen)
    return t


def test_what_pauses_and_what_does_not() -> None:
    for seen, pauses in [
        (CONGESTED, True),
        (Evidence(loss=30.0, queue=0.18, hub_queue=None), True),  # reports dropped too
        (Evidence(loss=30.0, queue=0.18, hub_queue=0.01), False),  # before the hub
        (Evidence(loss=30.0, queue=0.02, hub_queue=0.02), False),  # random loss
        (Evidence(loss=2.0, queue=0.18, hub_queue=0.18), False),  # a standing delay, no drops
        (Evidence(loss=None, queue=0.18, hub_queue=0.18), False),  # too few packets to tell
    ]:
        policy = VideoPause()
        assert policy.update(1.0, seen) is False, seen  # one sample is not enough ...
        assert policy.update(2.0, seen) is pauses, seen  # ... two in a row are


def test_one_congested_moment_does_not_pause() -> None:
    policy = VideoPause()  # a stall of the whole path reads as a full queue for a moment
    for t in range(1, 30):
        seen = CONGESTED if t % 3 == 0 else CLEAR
        assert policy.update(float(t), seen) is False


def test_a_failed_try_doubles_the_wait_and_a_lasting_one_resets_it() -> None:
    policy = VideoPause()
    t = run(policy, 0.0, 2.0, CONGESTED)
    assert policy.paused
    waits = []
    for _ in range(4):  # the link still cannot carry video: each try fails at once
        t = run(policy, t, policy.wait + 1, CLEAR)
        assert not policy.paused
        t = run(policy, t, 1.0, CONGESTED)
        assert policy.paused
        waits.append(policy.wait)
    assert waits == [2 * RESUME_AFTER, 4 * RESUME_AFTER, RESUME_MAX, RESUME_MAX]
    t = run(policy, t, policy.wait + 1, CLEAR)
    run(policy, t, SETTLED + 1, CLEAR)
    assert not policy.paused and policy.wait == RESUME_AFTER


def test_random_loss_while_paused_does_not_hold_video_back() -> None:
    policy = VideoPause()
    t = run(policy, 0.0, 2.0, CONGESTED)
    run(policy, t, RESUME_AFTER + 1, Evidence(loss=20.0, queue=0.01, hub_queue=0.01))
    assert not policy.paused


def test_no_evidence_keeps_the_decision() -> None:
    policy = VideoPause()
    t = run(policy, 0.0, 2.0, CONGESTED)
    run(policy, t, 300.0, Evidence())  # no audio: the liveness check handles a dead link
    assert policy.paused


class Hub:
    """A subscriber handle that records the requests."""

    id = 1
    listener: Any = None

    def __init__(self) -> None:
        self.bodies: list[Any] = []

    async def request(self, body: Any, jsep: Any = None) -> Reply:
        self.bodies.append(body)
        return Reply({"videoroom": "event", "configured": "ok"}, None)


async def test_subscriber_holds_every_video_mid_and_lets_audio_flow() -> None:
    hub = Hub()
    subscriber = Subscriber(hub, RoomAccess(1234, None, "Xã A"), lambda *a: None)  # type: ignore[arg-type]
    kinds = ["audio", "video", "audio", "video"]
    streams = [{"mid": str(i), "feed_id": 7 + i // 2 * 2, "type": k} for i, k in enumerate(kinds)]
    subscriber.subscription.update({"streams": streams})
    await subscriber.hold_video(True)
    await subscriber.hold_video(False)
    await subscriber.close()
    held, resumed = ([{"mid": m, "send": send} for m in ("1", "3")] for send in (False, True))
    assert hub.bodies == [
        {"request": "configure", "streams": held},
        {"request": "configure", "streams": resumed},
    ]


async def test_a_paused_room_still_in_the_audio_is_not_taken_for_dead() -> None:
    now = [100.0]
    roster = Roster(Playout(), lambda event: None, lambda: now[0])
    roster.arrive([Feed(7, "Xã A", ("1",)), Feed(9, "Xã B", ("3",))])
    roster.packets({"1": (7, 10), "3": (9, 10)})  # both sent video before the pause
    for feed in (7, 9):
        roster.set_link(feed, weak=False, video_paused=True)
    in_bridge = {7}  # room 7 is still in the AudioBridge; room 9 left it
    for _ in range(3):
        now[0] += STALE_AFTER
        roster.check(lambda feed, display: feed in in_bridge)
    assert not roster.participants[7].stale and roster.participants[9].stale
    roster.set_link(7, weak=False, video_paused=False)  # resumed: its video must come soon
    now[0] += FIRST_MEDIA_GRACE + 0.1
    roster.check(lambda feed, display: feed in in_bridge)
    assert roster.participants[7].stale


def test_a_room_stale_just_before_our_pause_is_alive_again_in_the_audio() -> None:
    events: list[Any] = []
    now = [100.0]
    roster = Roster(Playout(), events.append, lambda: now[0])
    roster.arrive([Feed(7, "Xã A", ("1",))])
    roster.packets({"1": (7, 10)})
    now[0] += STALE_AFTER + 0.1
    roster.check(lambda feed, display: True)  # its video stopped: stale
    assert roster.participants[7].stale
    roster.set_link(7, weak=False, video_paused=True)  # then our downlink paused video
    events.clear()
    roster.check(lambda feed, display: True)
    assert not roster.participants[7].stale and len(events) == 1  # announced once


@pytest.mark.parametrize("seams", [True, False])
def test_the_baseline_has_no_receive_side_pause(monkeypatch: Any, seams: bool) -> None:
    """``endpoint.plain_aiortc()``: link figures stay, the pause is off."""
    monkeypatch.setattr(_seams, "_enabled", seams)
    settings = HubSettings(url="ws://127.0.0.1:9/", room=1234, display="Xã A")
    call = Call(settings, SyntheticCamera("Xã A", 320, 180, 15), SyntheticMicrophone(), Playout())

    class Conn:
        subscriber = Subscriber(Hub(), RoomAccess(1234, None, "Xã A"), lambda *a: None)  # type: ignore[arg-type]

        def peer_connections(self) -> dict[str, Any]:
            return {}

    watch = call._link_watch(Conn())  # type: ignore[arg-type]
    assert (watch.pause is not None) is seams


async def test_the_call_keeps_its_video_pause_across_connections_of_a_meeting() -> None:
    settings = HubSettings(url="ws://127.0.0.1:9/", room=1234, display="Xã A")
    call = Call(settings, SyntheticCamera("Xã A", 320, 180, 15), SyntheticMicrophone(), Playout())

    class Conn:
        def __init__(self) -> None:
            self.subscriber = Subscriber(Hub(), RoomAccess(1234, None, "Xã A"), lambda *a: None)  # type: ignore[arg-type]

        def peer_connections(self) -> dict[str, Any]:
            return {}

    first = call._link_watch(Conn())  # type: ignore[arg-type]
    assert first.pause is not None
    first.pause.paused, first.pause.wait = True, 60.0
    second = call._link_watch(Conn())  # type: ignore[arg-type]
    assert second.pause is first.pause, "a reconnect keeps the pause and its backoff"
    await call.join()  # the next meeting (this hub is not there: it fails) starts afresh
    third = call._link_watch(Conn())  # type: ignore[arg-type]
    assert third.pause is not None and not third.pause.paused and third.pause.wait < 60.0


def test_a_full_queue_pauses_though_one_sample_between_reads_clear() -> None:
    policy = VideoPause()  # the hub's report of one second happened to miss the queue
    hub_missed = Evidence(loss=30.0, queue=0.18, hub_queue=0.02)
    assert not policy.update(1.0, CONGESTED)
    assert not policy.update(2.0, hub_missed)
    assert policy.update(3.0, CONGESTED)

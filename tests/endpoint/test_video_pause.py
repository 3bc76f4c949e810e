"""Receive-side pause: the policy (stepped clock), the hub request, liveness, the baseline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiortc.mediastreams import AudioStreamTrack

from devices import Playout, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, HubSettings, _seams
from endpoint._janus_ws import Reply
from endpoint._liveness import STALE_AFTER
from endpoint._roster import Roster
from endpoint._video_pause import (
    PAUSE_AFTER,
    RESUME_AFTER,
    RESUME_MAX,
    SETTLED,
    VideoPause,
)
from endpoint._videoroom import Feed, RoomAccess, Subscriber


def run(policy: VideoPause, start: float, seconds: float, loss: float | None) -> float:
    """Feed *loss* once a second for *seconds*; returns the time reached."""
    t = start
    while t < start + seconds:
        t += 1.0
        policy.update(t, loss)
    return t


def test_random_loss_the_jitter_buffer_carries_does_not_pause() -> None:
    policy = VideoPause()
    run(policy, 0.0, 120.0, 10.0)
    assert not policy.paused


def test_heavy_loss_pauses_after_five_seconds_and_a_healthy_link_resumes() -> None:
    policy = VideoPause()
    t = run(policy, 0.0, 10.0, 1.0)
    assert not policy.update(t + 1, 40.0)  # the first bad second
    t = run(policy, t + 1, PAUSE_AFTER - 1, 40.0)
    assert not policy.paused
    assert policy.update(t + 1, 40.0), "paused once 15 % held for 5 s"
    t = run(policy, t + 1, RESUME_AFTER - 1, 0.5)  # healthy from the next second on
    assert policy.paused and not policy.update(t + 2, 0.5), "resumed after 30 s healthy"


def test_a_failed_try_doubles_the_wait_and_a_lasting_one_resets_it() -> None:
    policy = VideoPause()
    t = run(policy, 0.0, 6.0, 40.0)
    assert policy.paused
    waits = []
    for _ in range(4):  # the link still cannot carry video: each try fails at once
        t = run(policy, t, policy.wait + 1, 0.0)
        assert not policy.paused
        t = run(policy, t, PAUSE_AFTER + 1, 40.0)
        assert policy.paused
        waits.append(policy.wait)
    assert waits == [2 * RESUME_AFTER, 4 * RESUME_AFTER, RESUME_MAX, RESUME_MAX]
    t = run(policy, t, policy.wait + 1, 0.0)
    run(policy, t, SETTLED + 1, 0.0)
    assert not policy.paused and policy.wait == RESUME_AFTER


def test_no_evidence_keeps_the_decision() -> None:
    policy = VideoPause()
    t = run(policy, 0.0, 6.0, 40.0)
    run(policy, t, 300.0, None)  # nothing arrives: the liveness check handles a dead link
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


async def test_a_paused_room_still_heard_is_not_taken_for_dead() -> None:
    now = [100.0]
    roster = Roster(Playout(), lambda event: None, lambda: now[0])
    roster.arrive([Feed(7, "Xã A"), Feed(9, "Xã B")])
    for feed in (7, 9):
        roster.set_link(feed, weak=False, video_paused=True)
    roster.carry("0", AudioStreamTrack(), 7)  # its audio keeps coming; room 9 sends nothing
    try:
        for _ in range(3):
            now[0] += STALE_AFTER
            await asyncio.sleep(0.1)  # a few 20 ms audio frames arrive at this time
            roster.check()
        assert not roster.participants[7].stale and roster.participants[9].stale
    finally:
        await roster.stop_media()


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

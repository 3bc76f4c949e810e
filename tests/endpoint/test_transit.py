"""Transit above its floor: the queue a stream of packets met (scripted times)."""

from __future__ import annotations

import pytest

from endpoint._transit import BASE, LoopLag, SenderReports, Transit, Unwrap
from endpoint._video_pause import Evidence, VideoPause


def test_unwrap_keeps_counting_past_the_wrap_and_keeps_late_values_behind() -> None:
    unwrap = Unwrap()
    assert [unwrap(v) for v in (2**32 - 960, 0, 960, 2**32 - 100)] == [
        2**32 - 960, 2**32, 2**32 + 960, 2**32 - 100,
    ]  # fmt: skip


def test_a_fixed_path_delay_and_jitter_are_no_queue() -> None:
    transit = Transit(least=5)
    for k in range(500):  # 10 s of 20 ms packets, 150 ms away, every fifth 40 ms late
        sent = k * 0.02
        transit.add(1000.0 + sent + 0.15 + (0.04 if k % 5 == 0 else 0.0), sent)
    assert transit.queueing(1000.0 + 9.99 + 0.15) == pytest.approx(0.0, abs=1e-9)


def test_a_standing_queue_shows_and_becomes_the_floor_after_base_seconds() -> None:
    transit = Transit(least=5)
    queue = {}
    for k in range(int((5 + BASE + 2) / 0.02)):
        sent = k * 0.02
        extra = 0.2 if sent >= 5.0 else 0.0
        transit.add(sent + 0.03 + extra, sent)
        queue[round(sent, 2)] = transit.queueing(sent + 0.03 + extra)
    assert queue[4.0] == pytest.approx(0.0, abs=1e-9)
    assert queue[5.2] == pytest.approx(0.0, abs=1e-9), "not all of the last 0.5 s held up yet"
    assert queue[5.6] == pytest.approx(0.2) and queue[5.0 + BASE - 1] == pytest.approx(0.2)
    assert queue[5.0 + BASE + 1.5] == pytest.approx(0.0, abs=1e-9), "a lasting shift is the floor"


def test_too_few_packets_is_no_reading_and_memory_is_bounded() -> None:
    transit = Transit(least=5)
    for k in range(3):
        transit.add(k * 0.1, k * 0.1)
    assert transit.queueing(0.2) is None
    for k in range(100_000):
        transit.add(k * 0.001, k * 0.001)
    assert len(transit._points) <= 256 and len(transit._floors) <= BASE + 2


def test_sender_reports_once_each_and_no_reading_when_none_came_lately() -> None:
    reports = SenderReports()
    for second in range(10):  # audio and video reports of the same round
        ntp = second * 65536
        reports.add({1: (ntp, 500.0 + second + 0.05), 2: (ntp, 500.0 + second + 0.05)})
    assert reports.queueing(509.5) == pytest.approx(0.0, abs=1e-9)
    reports.add({1: (10 * 65536, 510.25), 2: (10 * 65536, 510.27)})
    assert reports.queueing(510.5) == pytest.approx(0.2)
    reports.add({1: (10 * 65536, 510.25), 2: (10 * 65536, 510.27)})  # nothing new came
    assert reports.queueing(511.4) == pytest.approx(0.2)
    assert reports.queueing(511.5) is None, "held up or dropped: no reading"


# -- our own loop's lateness is not a queue on the link --------------------------------------


def test_loop_lag_is_the_least_lateness_of_the_last_half_second() -> None:
    lag = LoopLag(clock=lambda: 0.0)
    assert lag.standing(0.0) == 0.0  # nothing measured yet: nothing taken off
    for i in range(10):  # a loop that wakes 60-90 ms late every time for 0.5 s
        lag.add(1.0 + i * 0.05, 0.06 + 0.03 * (i % 2))
    assert lag.standing(1.45) == pytest.approx(0.06)
    lag.add(1.5, 0.0)  # one punctual wake-up: nothing stands any more
    assert lag.standing(1.5) == 0.0
    assert lag.standing(3.0) == 0.0  # and old readings go


async def test_loop_lag_measures_a_loop_held_busy() -> None:
    import asyncio
    import time

    lag = LoopLag(time.monotonic)
    probe = asyncio.ensure_future(lag.run())
    try:
        await asyncio.sleep(0.6)
        idle = lag.standing(time.monotonic())
        for _ in range(12):  # the loop busy in 80 ms slices, as a starved or overloaded CPU
            time.sleep(0.08)
            await asyncio.sleep(0)
        busy = lag.standing(time.monotonic())
    finally:
        probe.cancel()
    assert idle < 0.03 and busy >= 0.03, (idle, busy)


def test_a_starved_loop_does_not_pause_video_on_a_lossy_link() -> None:
    # 10 % random loss; every arrival ~150 ms late, the hub's reports too: but our own
    # loop stood 140 ms late all along, so the link itself holds no queue
    starved = Evidence(loss=10.0, queue=0.15, hub_queue=0.15, lag=0.14)
    starving = VideoPause()
    assert not starving.update(0.0, starved) and not starving.update(1.0, starved)
    # the same readings with a punctual loop: a full queue that drops, pause
    punctual, full = VideoPause(), Evidence(loss=10.0, queue=0.15, hub_queue=0.15, lag=0.0)
    assert punctual.update(0.0, full) is False and punctual.update(1.0, full)


def test_a_stepped_wall_clock_neither_fakes_nor_hides_a_queue() -> None:
    """Arrivals are moved from the wall clock to ours when read; a report read just after
    an NTP step was moved by the step: when the offset jumps, the reports start over."""
    reports = SenderReports()
    for second in range(10):
        reports.add({1: (second * 65536, 500.0 + second + 0.05)}, offset=1e9)
    assert reports.queueing(509.5) == pytest.approx(0.0, abs=1e-9)
    # the wall clock jumps 2 s ahead; the report that arrived just before is read 2 s early
    reports.add({1: (10 * 65536, 510.05 - 2.0)}, offset=1e9 + 2.0)
    assert reports.queueing(510.5) is None, "no fake drop of the floor, no reading"
    for second in range(11, 14):  # after the step, arrivals on our clock as before
        reports.add({1: (second * 65536, 500.0 + second + 0.05)}, offset=1e9 + 2.0)
    assert reports.queueing(513.5) == pytest.approx(0.0, abs=1e-9)
    reports.add({1: (14 * 65536, 514.25)}, offset=1e9 + 2.0)  # a real queue still shows
    assert reports.queueing(514.5) == pytest.approx(0.2)

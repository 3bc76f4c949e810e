"""The quality-tier policy, on an injected clock: Janus sends one receiver report per
medium a second, so the tests feed two a second (audio and video)."""

from __future__ import annotations

from itertools import pairwise

from endpoint._adapt import (
    LOWEST_VIDEO,
    MAX_UP_HOLD,
    STILL,
    TIERS,
    TOP,
    UP_HOLD,
    Change,
    TierPolicy,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(
    policy: TierPolicy,
    clock: Clock,
    seconds: float,
    loss: float = 0.0,
    rtt: float | None = 0.05,
    send_bps: float | None = None,
) -> list[tuple[float, Change]]:
    """Reports every 0.5 s for *seconds*, a decision after each; the changes, timed from
    the start of this run."""
    start, changes = clock.now, []
    for _ in range(int(seconds * 2)):
        clock.now += 0.5
        policy.loss_report(loss, rtt)
        if send_bps is not None:
            policy.send_rate(send_bps)
        change = policy.decide()
        if change is not None:
            changes.append((clock.now - start, change))
    return changes


def index(change: Change) -> int:
    return TIERS.index(change.tier)


def test_tiers_are_the_issue_s() -> None:
    names = [(t.width, t.height, t.fps, t.bitrate) for t in TIERS]
    assert names[1:] == [(320, 180, 10, 150_000), (424, 240, 15, 300_000), (640, 360, 15, 500_000)]
    assert TIERS[STILL].fps >= 1.0  # the other rooms keep getting a frame a second
    assert TierPolicy(Clock()).tier is TIERS[TOP]


def test_steps_down_within_5_s_of_sustained_loss() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 10)
    changes = run(policy, clock, 5, loss=0.10)
    assert changes, "10 % loss for 5 s must step down"
    at, first = changes[0]
    assert at <= 5.0 and index(first) == TOP - 1
    assert "loss 10%" in first.reason


def test_a_single_lossy_report_is_not_sustained_loss() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    for _ in range(30):
        run(policy, clock, 2)
        clock.now += 0.5
        policy.loss_report(0.5, 0.05)  # one report: half lost
        assert policy.decide() is None
    assert policy.tier is TIERS[TOP]


def test_random_loss_stops_at_the_lowest_video_tier() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    changes = run(policy, clock, 60, loss=0.10, send_bps=600_000)
    assert [index(c) for _, c in changes] == [TOP - 1, LOWEST_VIDEO]
    assert changes[-1][0] <= 10.0


def test_heavy_loss_that_leaves_too_little_goes_to_the_still_picture() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 5)
    changes = run(policy, clock, 3, loss=0.6, send_bps=540_000)  # ~216 kbit/s arrive
    assert [index(c) for _, c in changes] == [LOWEST_VIDEO]  # skips 424x240: 216 < 300 + 40
    changes = run(policy, clock, 20, loss=0.6, send_bps=190_000)  # now 76 arrive
    assert [index(c) for _, c in changes] == [STILL]


def test_loss_just_under_the_still_threshold_keeps_video() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    changes = run(policy, clock, 120, loss=0.18, send_bps=190_000)
    assert index(changes[-1][1]) == LOWEST_VIDEO


def test_steps_up_only_after_30_s_clean() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 3, loss=0.10)
    assert policy.tier is TIERS[TOP - 1]
    changes = run(policy, clock, UP_HOLD - 1)  # clean, but not long enough (reports refill)
    assert changes == []
    changes = run(policy, clock, 10)
    assert [index(c) for _, c in changes] == [TOP]
    assert UP_HOLD <= changes[0][0] + UP_HOLD - 1 <= UP_HOLD + 5
    assert "clean for" in changes[0][1].reason


def test_loss_between_the_thresholds_holds_the_tier() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 2, loss=0.10)  # exactly to the step down: no lossy report left over
    assert policy.tier is TIERS[TOP - 1]
    assert run(policy, clock, 120, loss=0.03) == []  # neither lossy enough nor clean


def test_no_flapping_a_failed_step_up_doubles_the_hold() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    ups: list[float] = []
    # A link that carries 424x240 but not 640x360: loss appears only at the top tier.
    for _ in range(400):
        clock.now += 0.5
        policy.loss_report(0.15 if policy.tier is TIERS[TOP] else 0.0, 0.05)
        change = policy.decide()
        if change is not None and index(change) == TOP:
            ups.append(clock.now)
    gaps = [b - a for a, b in pairwise(ups)]
    assert len(ups) <= 4, f"{len(ups)} tries at the top tier in 200 s"
    assert all(b > a for a, b in pairwise(gaps)), gaps  # each try waits longer
    assert policy._up_hold <= MAX_UP_HOLD


def test_a_step_up_that_holds_resets_the_hold() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 3, loss=0.10)
    run(policy, clock, UP_HOLD + 5)
    assert policy.tier is TIERS[TOP]
    run(policy, clock, UP_HOLD + 1)  # held
    run(policy, clock, 3, loss=0.10)
    changes = run(policy, clock, UP_HOLD + 5)
    assert [index(c) for _, c in changes] == [TOP]  # after the normal hold again


def test_remb_caps_the_tier_at_once_and_both_ways() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    policy.remb(250_000)  # 150 fits, 300 does not (the REMB covers our video alone)
    change = policy.decide()
    assert change is not None and index(change) == LOWEST_VIDEO and "REMB 250" in change.reason
    policy.remb(300_000)  # exactly 424x240's video: no audio taken out of the video's cap
    change = policy.decide()
    assert change is not None and index(change) == TOP - 1
    policy.remb(50_000)
    assert index(policy.decide() or Change(TIERS[TOP], "")) == STILL
    policy.remb(600_000)  # Janus ramps its REMB up at startup: followed at once
    change = policy.decide()
    assert change is not None and change.tier is TIERS[TOP]


def test_a_clean_link_does_not_step_above_the_remb() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 6, loss=0.10)
    run(policy, clock, 6, loss=0.10)
    assert policy.tier is TIERS[LOWEST_VIDEO]
    policy.remb(480_000)  # carries 300, not 500
    changes = run(policy, clock, 200)
    assert [index(c) for _, c in changes] == [TOP - 1]
    policy.remb(500_000)  # 640x360's video exactly: the audio is not in this cap
    changes = run(policy, clock, 200)
    assert [index(c) for _, c in changes] == [TOP]


def test_what_still_arrives_must_carry_the_audio_beside_the_video() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 10, send_bps=540_000)
    changes = run(policy, clock, 5, loss=0.10, send_bps=340_000)  # 306 kbit/s arrive
    assert [index(c) for _, c in changes] == [LOWEST_VIDEO], "300 + 40 does not fit in 306"


def test_a_growing_round_trip_steps_down() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    run(policy, clock, 5, rtt=0.08)
    changes = run(policy, clock, 5, rtt=0.5)  # a queue: 420 ms above the smallest
    assert changes and index(changes[0][1]) == TOP - 1
    assert "round trip" in changes[0][1].reason


def test_a_long_but_steady_round_trip_is_not_a_queue() -> None:
    clock = Clock()
    policy = TierPolicy(clock)
    assert run(policy, clock, 60, rtt=0.3) == []


def test_the_meeting_size_caps_the_tier_so_every_room_s_downlink_fits() -> None:
    """Each room receives up to nine pictures: what we send, times the pictures a room
    receives, fits 1.4 Mbit/s (with the mix, under issue 14's 1.5 Mbit/s)."""
    clock = Clock()
    policy = TierPolicy(clock)
    sizes = {others: (policy.meeting(others), policy.tier)[1] for others in (1, 2, 3, 4, 5, 24)}
    assert [t.name for t in sizes.values()] == [
        "640x360@15", "640x360@15", "424x240@15", "424x240@15", "320x180@10", "320x180@10",
    ]  # fmt: skip
    assert all(t.bitrate * min(n, 9) <= 1_400_000 for n, t in sizes.items())
    policy.meeting(1)
    assert policy.decide() is None  # still at the top
    policy.meeting(12)  # a district meeting: down at once, and said why
    change = policy.decide()
    assert change is not None and index(change) == LOWEST_VIDEO
    assert change.reason == "meeting of 13 rooms"
    assert not run(policy, clock, 200)  # a clean link does not step above the meeting's cap
    policy.meeting(2)  # the others left: back up at once
    change = policy.decide()
    assert change is not None and change.tier is TIERS[TOP]

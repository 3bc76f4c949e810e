"""Director state machine, driven with stepped time (no sleeping)."""

import pytest

from devices.voice import (
    AngleRange,
    CameraTarget,
    CropRect,
    Director,
    DirectorConfig,
    DoaEstimate,
    GateState,
    MicState,
    Zone,
)

WIDE = CameraTarget("wide")
LEFT = CameraTarget("wide", CropRect(0.0, 0.2, 0.5, 0.6))
RIGHT = CameraTarget("ptz")
ZONES = (Zone("left", AngleRange(90, 180), LEFT), Zone("right", AngleRange(0, 90), RIGHT))
TV = (AngleRange(225, 315),)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make(**kw):
    clock = Clock()
    cfg = DirectorConfig(overview=WIDE, zones=ZONES, exclusion=TV, **kw)
    return Director(cfg, clock=clock), clock


def talk(director, clock, angle, seconds, *, conf=0.8, speech=True, far_end=False, t0=None):
    """Feed ``seconds`` of 10 ms updates with a DOA estimate every 0.25 s; return decisions."""
    t0 = clock.now if t0 is None else t0
    out = []
    for k in range(round(seconds * 100)):
        t = t0 + k / 100
        clock.now = t
        doa = None
        if k % 25 == 24:
            doa = DoaEstimate(angle, conf, t - 0.24, t, 25)
        gate = GateState.OPEN if speech else GateState.AUTO_MUTED
        out.append(director.update(t, gate=gate, speech=speech, far_end=far_end, doa=doa))
    clock.now = t0 + seconds
    return out


def first_cut(decisions, zone):
    return next((d.t for d in decisions if d.zone == zone), None)


def test_cuts_to_talker_zone_after_switch_time_not_before():
    d, clock = make(switch_after_s=0.5)
    out = talk(d, clock, 45.0, 2.0, conf=0.45)  # confident, but not a confirmed onset
    t = first_cut(out, "right")
    assert t is not None and 0.45 <= t <= 0.6
    assert all(x.target == WIDE for x in out if x.t < t)
    cut = next(x for x in out if x.zone == "right")
    assert cut.changed and cut.reason == "speech" and cut.target == RIGHT


def test_a_confirmed_onset_cuts_with_its_first_estimate_but_not_within_the_dwell():
    from devices.voice._director import ONSET_CONFIDENCE

    d, clock = make(switch_after_s=0.5, min_dwell_s=2.5)
    out = talk(d, clock, 45.0, 1.0, conf=ONSET_CONFIDENCE)
    assert first_cut(out, "right") == pytest.approx(0.24)
    out = talk(d, clock, 135.0, 3.0, conf=0.9)  # from 1.0 s: the dwell holds the shot
    assert first_cut(out, "left") == pytest.approx(2.74)  # first estimate after 0.24 + 2.5
    far = talk(make()[0], Clock(), 45.0, 1.0, conf=0.9, speech=False, far_end=True)
    assert all(x.zone is None for x in far)  # the far end alone never cuts


def test_crop_target_for_wide_camera_zone():
    d, clock = make()
    out = talk(d, clock, 135.0, 1.5)
    assert out[-1].zone == "left" and out[-1].target.crop == LEFT.crop


def test_exclusion_zone_low_confidence_and_far_end_only_are_ignored():
    d, clock = make()
    assert all(x.zone is None for x in talk(d, clock, 270.0, 3.0))
    assert all(x.zone is None for x in talk(d, clock, 45.0, 3.0, conf=0.05))
    assert all(x.zone is None for x in talk(d, clock, 45.0, 3.0, speech=False, far_end=True))
    assert d.zone_at(270.0) is None and d.zone_at(45.0).name == "right"


def test_min_dwell_prevents_flapping():
    d, clock = make(min_dwell_s=2.5, switch_after_s=0.5)
    a = talk(d, clock, 45.0, 1.0)
    t_right = first_cut(a, "right")
    b = talk(d, clock, 135.0, 0.8)  # short interjection from the left
    c = talk(d, clock, 45.0, 3.0)
    decisions = a + b + c
    cuts = [x for x in decisions if x.changed]
    assert len(cuts) <= 2
    if any(x.zone == "left" for x in decisions):
        t_left = first_cut(decisions, "left")
        assert t_left - t_right >= 2.5


def test_back_to_overview_after_silence():
    d, clock = make(overview_after_s=10.0)
    talk(d, clock, 45.0, 1.5)
    quiet = talk(d, clock, 0.0, 12.0, speech=False)
    t_back = next(x.t for x in quiet if x.zone is None)
    assert 1.5 + 9.9 <= t_back <= 1.5 + 10.1
    assert quiet[-1].target == WIDE and quiet[-1].reason == "silence"


def test_manual_camera_pauses_until_meeting_reset():
    d, clock = make()
    talk(d, clock, 45.0, 1.0)
    d.choose_camera(LEFT)
    out = talk(d, clock, 45.0, 5.0)
    assert all(x.target == LEFT and not x.auto_camera for x in out)
    d.reset_meeting()
    after = talk(d, clock, 45.0, 1.5)
    assert after[0].target == WIDE and after[0].auto_camera and after[0].changed
    assert after[-1].zone == "right"


@pytest.mark.parametrize(
    ("gate", "manual", "auto_mute", "warnings", "want"),
    [
        (GateState.AUTO_MUTED, False, True, (), MicState.AUTO_MUTED),
        (GateState.OPEN, False, True, (), MicState.OPEN),
        (GateState.OPEN, True, True, (), MicState.MUTED),
        (GateState.FAILSAFE_OPEN, True, True, ("clipping",), MicState.MUTED),
        (GateState.FAILSAFE_OPEN, False, True, ("clipping",), MicState.OPEN_WARNING),
        (GateState.AUTO_MUTED, False, True, ("dead_channel",), MicState.OPEN_WARNING),
        (GateState.AUTO_MUTED, False, False, (), MicState.OPEN),
        (GateState.DISABLED, False, True, (), MicState.OPEN),
    ],
)
def test_mic_state(gate, manual, auto_mute, warnings, want):
    d, _ = make(auto_mute=auto_mute)
    d.set_manual_mute(manual)
    got = d.update(1.0, gate=gate, speech=False, warnings=warnings)
    assert got.mic is want
    assert got.warnings == warnings


def test_reset_meeting_clears_manual_mute():
    d, _ = make()
    d.set_manual_mute(True)
    d.reset_meeting()
    assert d.update(0.0, gate=GateState.OPEN, speech=True).mic is MicState.OPEN


def test_auto_camera_off_in_config_stays_on_overview():
    d, clock = make(auto_camera=False)
    out = talk(d, clock, 45.0, 3.0)
    assert all(x.zone is None and x.target == WIDE for x in out)


def test_one_long_sparse_low_confidence_estimate_never_cuts_alone():
    d, clock = make(switch_after_s=0.5)
    out = [d.update(t / 100, gate=GateState.OPEN, speech=True) for t in range(80)]
    doa = DoaEstimate(45.0, 0.35, 0.0, 0.8, 25)  # 0.8 s span, one estimate
    out.append(d.update(0.8, gate=GateState.OPEN, speech=True, doa=doa))
    assert all(x.zone is None for x in out)


def test_low_confidence_needs_more_speech_than_confident():
    sure, clock = make(switch_after_s=0.5)
    t_sure = first_cut(talk(sure, clock, 45.0, 3.0, conf=0.8), "right")
    unsure, clock = make(switch_after_s=0.5)
    t_unsure = first_cut(talk(unsure, clock, 45.0, 3.0, conf=0.3), "right")
    assert t_sure is not None and t_sure <= 0.6
    assert t_unsure is not None and t_unsure >= 0.95


def test_double_talk_estimates_count_while_far_end_plays():
    d, clock = make()
    out = []
    for k in range(150):
        t = k / 100
        clock.now = t
        doa = DoaEstimate(45.0, 0.7, t - 0.24, t, 25, double_talk=True) if k % 25 == 24 else None
        out.append(d.update(t, gate=GateState.OPEN, speech=False, far_end=True, doa=doa))
    assert first_cut(out, "right") == pytest.approx(0.24)  # a confident one cuts at once


def test_leaving_a_fresh_cut_on_low_confidence_needs_more_evidence():
    d, clock = make(min_dwell_s=0.0, leave_guard_s=5.0, leave_factor=2.0)
    talk(d, clock, 45.0, 1.0)
    out = talk(d, clock, 135.0, 3.0, conf=0.3)
    t_left = first_cut(out, "left")
    assert t_left is not None and t_left - 1.0 >= 1.9  # 2 x 0.5 s at half weight
    d2, clock2 = make(min_dwell_s=0.0, leave_guard_s=5.0, leave_factor=2.0)
    talk(d2, clock2, 45.0, 1.0)
    t_sure = first_cut(talk(d2, clock2, 135.0, 3.0, conf=0.8), "left")
    assert t_sure is not None and t_sure - 1.0 <= 0.6

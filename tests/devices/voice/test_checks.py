"""Bad input is detected and reported; the gate then fails safe (open, with a warning)."""

import logging

import numpy as np
import pytest

from devices.voice import (
    ArrayGeometry,
    FaultKind,
    GateState,
    InputChecker,
    VoiceConfig,
    VoiceProcessor,
)

RATE = 48000


def noise(seconds, channels=4, level=0.01, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((int(seconds * RATE), channels)) * level).astype(np.float32)


def feed(proc, mics, rate=RATE, t0=0.0):
    step = rate // 100
    frames = []
    for k in range(mics.shape[0] // step):
        frames.append(proc.process(mics[k * step : (k + 1) * step], None, t0 + k / 100, rate))
    return frames


def processor(channels=4):
    return VoiceProcessor(VoiceConfig(array=ArrayGeometry.circular(channels, 0.045)))


def kinds(frame):
    return {f.kind for f in frame.faults}


def test_clean_noise_is_not_a_fault_and_gate_auto_mutes():
    frames = feed(processor(), noise(3.0))
    assert not any(f.faults for f in frames)
    assert frames[-1].gate.state is GateState.AUTO_MUTED


def test_clipping_is_reported_and_fails_safe_open(caplog):
    mics = noise(3.0)
    mics[RATE:] = np.clip(mics[RATE:] * 300.0, -1.0, 1.0)
    with caplog.at_level(logging.WARNING):
        frames = feed(processor(), mics)
    last = frames[-1]
    assert FaultKind.CLIPPING in kinds(last)
    assert last.gate.state is GateState.FAILSAFE_OPEN and last.gate.gain == 1.0
    assert any("clipping" in r for r in last.gate.reasons)
    assert "clipping" in caplog.text
    assert frames[int(0.9 * 100)].gate.state is GateState.AUTO_MUTED


def test_dead_channel_is_reported():
    mics = noise(3.0)
    mics[:, 2] = 0.0
    last = feed(processor(), mics)[-1]
    assert FaultKind.DEAD_CHANNEL in kinds(last)
    assert next(f for f in last.faults if f.kind is FaultKind.DEAD_CHANNEL).channel == 2
    assert last.gate.state is GateState.FAILSAFE_OPEN


def test_channel_count_mismatch_fails_safe_at_once():
    frames = feed(processor(channels=6), noise(0.1, channels=4))
    assert all(FaultKind.CHANNEL_COUNT in kinds(f) for f in frames)
    assert all(f.gate.state is GateState.FAILSAFE_OPEN for f in frames)
    assert "array geometry has 6" in str(frames[0].faults[0])


def test_sample_rate_mismatch_fails_safe_at_once():
    frames = feed(processor(), noise(0.2)[: 4410 * 2], rate=44100)
    assert all(FaultKind.SAMPLE_RATE in kinds(f) for f in frames)
    assert all(f.gate.is_open for f in frames)


def test_non_finite_samples_fail_safe():
    mics = noise(0.05)
    mics[10, 1] = np.nan
    frame = feed(processor(), mics)[0]
    assert FaultKind.MALFORMED in kinds(frame)
    assert frame.gate.state is GateState.FAILSAFE_OPEN


def test_fault_clears_after_clean_input():
    proc = processor()
    mics = noise(1.5)
    mics[:, 1] = 0.0
    assert feed(proc, mics)[-1].faults
    later = feed(proc, noise(4.0, seed=3), t0=1.5)
    assert not later[-1].faults
    assert later[-1].gate.state is not GateState.FAILSAFE_OPEN


def test_all_channels_silent_is_no_signal():
    checker = InputChecker(4, RATE)
    faults = ()
    for k in range(120):
        faults = checker.check(np.zeros((480, 4), np.float32), RATE, k / 100)
    assert [f.kind for f in faults] == [FaultKind.NO_SIGNAL]


@pytest.mark.parametrize("shape", [(480,), (0, 4)])
def test_malformed_shapes(shape):
    faults = InputChecker(4, RATE).check(np.zeros(shape, np.float32), RATE, 0.0)
    assert faults and faults[0].kind in (FaultKind.MALFORMED, FaultKind.CHANNEL_COUNT)


def test_a_single_microphone_is_checked_without_comparing_it_to_others(recwarn):
    checker = InputChecker(1, RATE)
    mono = noise(2.0, channels=1)
    faults = [
        f
        for k in range(0, len(mono), 480)
        for f in checker.check(mono[k : k + 480], RATE, k / RATE)
    ]
    assert faults == []  # a lone live channel is neither dead nor silent
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    silent = np.zeros((int(2.0 * RATE), 1), np.float32)
    checker = InputChecker(1, RATE)
    got = [
        f.kind
        for k in range(0, len(silent), 480)
        for f in checker.check(silent[k : k + 480], RATE, k / RATE)
    ]
    assert FaultKind.NO_SIGNAL in got

"""Look-ahead: the outgoing audio waits, and the gate's opening reaches back over the wait."""

from __future__ import annotations

import numpy as np
import pytest

from devices.scene import Sound, render, speech
from devices.voice import ArrayGeometry, GateConfig, PreRoll, VoiceConfig, VoiceProcessor

RATE = 48000
BLOCK = RATE // 100


def blocks(count: int, size: int = BLOCK) -> list[np.ndarray]:
    """Blocks whose samples carry their own index, so order and identity can be checked."""
    return [np.full(size, k, np.float32) for k in range(count)]


def sent_gains(
    roll: PreRoll,
    gains: list[float],
    ceilings: list[float] | None = None,
    voiced: list[bool] | None = None,
) -> list[float]:
    """Push one block per gain; the gains the blocks left with, without the final flush."""
    ceilings = ceilings or [1.0] * len(gains)
    voiced = voiced or [True] * len(gains)
    out = []
    for block, *args in zip(blocks(len(gains)), gains, ceilings, voiced, strict=True):
        out += [g for _, g in roll.push(block, RATE, *args)]
    return out


def test_blocks_leave_in_order_after_the_delay():
    roll = PreRoll(0.1)
    out = [roll.push(b, RATE, 0.0) for b in blocks(25)]
    assert all(len(due) == 0 for due in out[:10])  # 100 ms = ten 10 ms blocks wait
    assert all(len(due) == 1 for due in out[10:])
    left = [int(due[0][0][0]) for due in out[10:]]
    assert left == list(range(15))
    assert roll.waiting_s == pytest.approx(0.1)
    assert [int(s[0]) for s, _ in roll.flush()] == list(range(15, 25))
    assert roll.waiting_s == pytest.approx(0.0)


def test_opening_reaches_back_over_the_delay_but_no_further():
    roll = PreRoll(0.1)
    gains = [0.0] * 30 + [1.0] * 5 + [0.0] * 20
    sent = sent_gains(roll, gains) + [g for _, g in roll.flush()]
    opened = [k for k, g in enumerate(sent) if g > 0]
    # the gate opened at block 30: blocks 20-29 waited while it did, block 19 had left
    assert opened == list(range(20, 35))


@pytest.mark.parametrize(
    ("voiced_before", "first_open"),
    [
        ({20, 21, 23, 24}, 23),  # the run of speech 23-24 is reached; unvoiced 22 breaks it
        (set(), 25),  # nothing speech-like: only the sure 50 ms before the opening
        (set(range(30)), 20),  # speech all along: the whole 100 ms
    ],
)
def test_beyond_the_sure_part_only_an_unbroken_run_of_speech_is_reached(
    voiced_before: set[int], first_open: int
) -> None:
    roll = PreRoll(0.1, sure_s=0.05)
    gains = [0.0] * 30 + [1.0] * 5 + [0.0] * 20
    voiced = [k in voiced_before or k >= 30 for k in range(55)]
    sent = sent_gains(roll, gains, voiced=voiced) + [g for _, g in roll.flush()]
    assert [k for k, g in enumerate(sent) if g > 0] == list(range(first_open, 35))


def test_release_ramp_keeps_its_highest_value():
    roll = PreRoll(0.02)
    assert sent_gains(roll, [0.5, 1.0, 0.25, 0.0]) == [1.0, 1.0]


def test_audio_captured_while_muted_stays_silent():
    roll = PreRoll(0.05)
    muted = [0.0] * 5 + [1.0] * 10  # muted for 50 ms, then speech, gate open
    assert sent_gains(roll, muted, ceilings=muted) == [0.0] * 5 + [1.0] * 5


def test_zero_delay_passes_each_block_at_once():
    roll = PreRoll(0.0)
    for k, b in enumerate(blocks(5)):
        due = roll.push(b, RATE, k % 2)
        assert len(due) == 1 and due[0][0] is b and due[0][1] == k % 2


def test_uneven_blocks_wait_the_same_time():
    roll = PreRoll(0.1)
    waited = []
    clock = 0.0
    pushed: list[float] = []
    for k in range(60):
        size = (240, 960, 480)[k % 3]  # 5, 20, 10 ms
        pushed.append(clock)
        clock += size / RATE
        for samples, _ in roll.push(np.zeros(size, np.float32), RATE, 0.0):
            waited.append(clock - pushed[len(waited)] - len(samples) / RATE)
    assert waited and min(waited) >= 0.1 - 1e-9 and max(waited) < 0.1 + 0.02


def test_negative_delay_is_refused():
    with pytest.raises(ValueError, match="must be >= 0"):
        PreRoll(-0.01)


def test_lookahead_config_is_checked():
    assert GateConfig().lookahead_ms == 100
    with pytest.raises(ValueError, match="gate.lookahead_ms = 500"):
        GateConfig(lookahead_ms=500)


def test_soft_start_of_a_turn_goes_out_with_lookahead():
    """A talker fading in under room noise: the bare gate opens late; through the look-ahead
    the audio from 50-100 ms before that moment goes out too (not the noise before the talk)."""
    talk = speech("Xin chào các đồng chí, xã Bản Vẽ xin báo cáo.")
    ramp = np.minimum(1.0, np.arange(talk.size) / (0.3 * RATE)).astype(np.float32)
    mics, _ = render([Sound(talk * ramp, 67.5, 2.0)], 4.0, noise_dbfs=-45)
    config = VoiceConfig(array=ArrayGeometry.circular(4, 0.045))
    processor = VoiceProcessor(config)
    roll = PreRoll(config.gate.lookahead_ms / 1000)
    bare: list[float] = []
    sent: list[float] = []
    for k in range(mics.shape[0] // BLOCK):
        frame = processor.process(mics[k * BLOCK : (k + 1) * BLOCK], None, k / 100)
        bare.append(frame.gate.gain)
        gate = frame.gate
        sent += [g for _, g in roll.push(np.zeros(BLOCK, np.float32), RATE, gate.gain, 1, gate.vad)]
    sent += [g for _, g in roll.flush()]
    first_bare = next(k for k, g in enumerate(bare) if g > 0)
    first_sent = next(k for k, g in enumerate(sent) if g > 0)
    assert 200 <= first_bare < 300  # the gate did open for the talker, after the onset
    assert first_bare - 10 <= first_sent <= first_bare - 5  # earlier in the audio sent
    assert first_sent >= 200  # the talker starts at 2.0 s: no room noise from before
    assert not any(g > 0 for g in sent[150:first_sent])

"""The auto-mute gate on a small simulated-room corpus and on synthetic signals.

Floors sit below the issue's targets: the corpus here is one 16 s render (seed 7), so a few
frames move the shares by a percent. bench/voice.py measures the real numbers.
"""

import numpy as np
import pytest

from devices.voice import GateConfig, GateState, VoiceGate

RATE = 48000


class LoudIsSpeech:
    """A stand-in speech model: a chunk louder than -30 dBFS is speech (tone-burst tests)."""

    def process_array(self, chunk):
        return 0.99 if float(np.mean(chunk.astype(np.float64) ** 2)) > 1e-3 else 0.01


class BrokenModel:
    def process_array(self, chunk):
        raise RuntimeError("onnxruntime: bad model")


def run_gate(gate, mono, ref=None, t0=0.0):
    frames = []
    for k in range(mono.size // 480):
        sl = slice(k * 480, (k + 1) * 480)
        frames.append(gate.process(mono[sl], None if ref is None else ref[sl], t0 + k / 100))
    return frames


def tone_bursts(seconds, on):
    """Pink-ish noise floor with loud 'speech' bursts where ``on(t)`` is true."""
    rng = np.random.default_rng(5)
    n = int(seconds * RATE)
    t = np.arange(n) / RATE
    floor = 0.003 * rng.standard_normal(n)
    voice = 0.2 * np.sin(2 * np.pi * 180 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))
    voice += 0.1 * np.sin(2 * np.pi * 900 * t + 3 * np.sin(2 * np.pi * 5 * t))
    return (floor + voice * on(t)).astype(np.float32)


def test_opens_on_loud_voiced_sound_holds_then_auto_mutes():
    cfg = GateConfig(hold_ms=400, release_ms=100)
    x = tone_bursts(8.0, lambda t: (t >= 5.0) & (t < 6.0))
    frames = run_gate(VoiceGate(cfg, detector=LoudIsSpeech()), x)
    assert all(f.state is GateState.AUTO_MUTED for f in frames[100:500])
    opened = next(k for k, f in enumerate(frames) if f.is_open and k > 100)
    assert 500 <= opened <= 512  # attack: a few frames (and the 32 ms model chunk)
    assert all(f.is_open for f in frames[opened:600])
    assert all(f.is_open for f in frames[600:640])  # hold keeps word endings
    assert all(not f.is_open for f in frames[660:])
    assert frames[630].reasons[0] == "hold" and frames[700].reasons[0] == "quiet"


def test_release_ramps_the_gain_down():
    x = tone_bursts(7.0, lambda t: (t >= 5.0) & (t < 6.0))
    gate = VoiceGate(GateConfig(release_ms=200), detector=LoudIsSpeech())
    gains = [f.gain for f in run_gate(gate, x)]
    ramp = [g for g in gains[600:700] if 0.0 < g < 1.0]
    assert len(ramp) >= 10 and ramp == sorted(ramp, reverse=True)


def test_disabled_gate_always_passes_audio():
    x = tone_bursts(3.0, lambda t: t < 0)
    frames = run_gate(VoiceGate(GateConfig(enabled=False)), x)
    assert all(f.state is GateState.DISABLED and f.gain == 1.0 for f in frames)


def test_faults_force_failsafe_open():
    frame = VoiceGate().process(np.zeros(480, np.float32), None, 0.0, faults=("clipping",))
    assert frame.state is GateState.FAILSAFE_OPEN and frame.gain == 1.0
    assert frame.reasons == ("clipping",)


def test_a_detector_that_fails_keeps_the_room_audible(caplog):
    x = tone_bursts(2.0, lambda t: t > 1.0)
    frames = run_gate(VoiceGate(GateConfig(), detector=BrokenModel()), x)
    # the model first runs once a 32 ms chunk is complete; from then on the room is audible
    assert all(f.state is GateState.FAILSAFE_OPEN and f.gain == 1.0 for f in frames[4:])
    assert "detector_unavailable" in frames[-1].reasons
    assert "auto-mute off" in caplog.text


def test_a_detector_that_cannot_load_keeps_the_room_audible(monkeypatch):
    from devices.voice import _speech

    def refuse():
        raise _speech.DetectorUnavailable("speech model unavailable: no onnxruntime")

    monkeypatch.setattr(_speech, "load_model", refuse)
    frames = run_gate(VoiceGate(GateConfig()), tone_bursts(1.0, lambda t: t > 0.5))
    assert all(f.state is GateState.FAILSAFE_OPEN and f.gain == 1.0 for f in frames)


@pytest.fixture(scope="module")
def scored(small_corpus):
    from bench import _voice_score as score

    out = {}
    for noise in ("fan", "babble", "music", "echo"):
        clip = small_corpus(noise, 10.0)
        run = score.run_pipeline(clip)
        out[noise] = (
            score.gate_scores(clip, run.open),
            score.gate_scores(clip, score.vad_baseline(clip, 3)),
            score.director_scores(clip, run.zone),
        )
    return out


@pytest.mark.parametrize("noise", ["fan", "babble", "music", "echo"])
def test_speech_recall_floor(scored, noise):
    assert scored[noise][0]["near"] >= 0.80


@pytest.mark.parametrize(("noise", "limit"), [("fan", 0.05), ("babble", 0.20), ("music", 0.20)])
def test_noise_only_open_floor_and_beats_webrtcvad(scored, noise, limit):
    ours, vad3, _ = scored[noise]
    assert ours["noise"] <= limit
    assert ours["noise"] <= vad3["noise"]


def test_echo_only_open_floor_and_beats_webrtcvad(scored):
    ours, vad3, _ = scored["echo"]
    assert ours["echo"] <= 0.05
    assert vad3["echo"] >= 0.5  # the far end really is speech-like to a plain VAD


@pytest.mark.parametrize("noise", ["fan", "babble", "echo"])
def test_director_switches_quickly_without_flapping(scored, noise):
    director = scored[noise][2]
    assert director["turns"] >= 1
    assert director["latency_max"] <= 1.5
    assert director["flaps_per_min"] <= 1.0


def test_a_shut_gate_kept_shut_still_counts_the_evidence_and_an_open_one_is_never_cut():
    from devices.voice._verdict import Hysteresis

    hyst = Hysteresis(GateConfig(attack_ms=20, hold_ms=100, release_ms=50))
    assert hyst.step(True, may_open=False) == 0.0
    assert hyst.step(True, may_open=False) == 0.0  # two frames of evidence: held shut
    assert hyst.step(True) == 1.0  # allowed: the attack is already complete
    gains = [hyst.step(False, may_open=False) for _ in range(13)]
    assert gains[:10] == [1.0] * 10  # the hold (10 frames) is untouched
    assert gains[10:] == pytest.approx([0.8, 0.6, 0.4])  # and so is the release ramp
    assert hyst.step(True, may_open=False) > 0.0  # evidence while releasing keeps it open


class AlwaysSpeech:
    """A stand-in speech model that calls everything speech, as Silero does babble."""

    def process_array(self, chunk):
        return 0.99


def _babble_room(seconds, rng):
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    sway = 1 + 0.8 * np.sin(2 * np.pi * 3.7 * t) * np.sin(2 * np.pi * 0.9 * t + 1)
    return 0.01 * rng.standard_normal(n) * sway


def _voice(seconds, amp):
    t = np.arange(int(seconds * 16000)) / 16000
    harmonics = np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 660 * t)
    return amp * (harmonics + 0.3 * np.sin(2 * np.pi * 1500 * t))


def _feed_16k(gate, x, t0, seat=False):
    pairs = np.stack([x, np.zeros_like(x)], axis=1)
    return [
        gate.process_16k(pairs[k * 160 : (k + 1) * 160], t0 + k / 100, seat=seat)
        for k in range(x.size // 160)
    ]


@pytest.mark.parametrize("amp", [0.011, 0.014])
def test_in_babble_a_quiet_seated_talker_who_keeps_talking_is_heard_after_a_loud_one(amp):
    from devices.voice import _talk

    rng = np.random.default_rng(3)
    gate = VoiceGate(GateConfig(sample_rate=16000), detector=AlwaysSpeech())
    _feed_16k(gate, _babble_room(5.0, rng), 0.0)
    loud = _feed_16k(gate, _babble_room(2.0, rng) + _voice(2.0, 0.2), 5.0)
    assert np.mean([f.is_open for f in loud]) > 0.9
    _feed_16k(gate, _babble_room(3.0, rng), 7.0)
    assert gate.speechlike > 0.9 and gate._talk.need_db == pytest.approx(_talk.CAP_DB)
    quiet = _feed_16k(gate, _babble_room(2.0, rng) + _voice(2.0, amp), 10.0, seat=True)
    over = np.median([f.level_db - f.threshold_db for f in quiet])
    assert -5.5 < over < -3.5  # under the floor: only the seat relief hears it
    opened = next(k for k, f in enumerate(quiet) if f.is_open)
    assert opened <= 60  # within 0.6 s: the evidence persists (measured 53 / 34 frames)
    # until then it was held back: no near speech for the direction finder and camera either
    assert not any(f.speech for f in quiet[:opened])
    assert sum(f.candidate for f in quiet[:opened]) >= 10
    assert np.mean([f.is_open for f in quiet]) > 0.7  # measured 0.735 / 0.83

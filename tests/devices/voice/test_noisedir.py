"""Noise directions: a radio in the room neither opens the gate nor pulls the camera."""

import numpy as np

from devices.voice import ArrayGeometry, VoiceConfig, VoiceProcessor, angle_diff
from devices.voice._noisedir import NoiseDirections
from tests.devices.voice.test_doa import RATE, plane_wave


def feed(dirs, angles, conf=0.5):
    for a in angles:
        dirs.learn(float(a) % 360.0, conf)


def test_a_point_source_becomes_a_noise_direction():
    rng = np.random.default_rng(1)
    dirs = NoiseDirections()
    feed(dirs, -10.0 + rng.normal(0.0, 3.0, 1000))
    assert len(dirs.directions) == 1 and angle_diff(dirs.directions[0], 350.0) <= 5.0
    assert dirs.matches(352.0, 0.5) and dirs.matches(358.0, 0.5) and not dirs.matches(5.0, 0.5)
    assert not dirs.matches(352.0, 0.1)  # not a confident direction
    assert not dirs.matches(30.0, 0.9)


def test_babble_from_several_places_and_unconfident_frames_give_none():
    rng = np.random.default_rng(2)
    dirs = NoiseDirections()
    feed(dirs, rng.choice([36.0, 62.0, 111.0, 130.0, 150.0], 3000) + rng.normal(0, 4.0, 3000))
    assert dirs.directions == ()
    quiet = NoiseDirections()
    feed(quiet, np.full(3000, 80.0), conf=0.1)  # a diffuse fan: no confident direction
    assert quiet.directions == ()


def test_a_moved_radio_is_forgotten_where_it_was():
    dirs = NoiseDirections()
    feed(dirs, np.full(1500, 300.0))
    assert dirs.matches(300.0)
    feed(dirs, np.full(3000, 200.0))
    assert dirs.matches(200.0) and not dirs.matches(300.0)


def test_radio_with_accented_notes_neither_opens_the_gate_nor_moves_the_camera():
    """A plucked melody from one side of the room with random accents: its note attacks pass
    the onset guard and, without noise directions, keep the gate open most of the time and
    give direction estimates at the radio. With them the gate stays shut on the radio, and
    a talker elsewhere still opens it and is found."""
    geo = ArrayGeometry.circular(4, 0.045)
    secs = 14.0
    n = int(secs * RATE)
    t = np.arange(n) / RATE
    rng = np.random.default_rng(3)
    radio = np.zeros(n)
    at = 0.0
    while at < secs:
        f0 = float(rng.choice([196.0, 220.0, 262.0, 294.0, 330.0]))
        dur = float(rng.choice([0.3, 0.45, 0.6]))
        k0 = int(at * RATE)
        tt = np.arange(min(n - k0, int(dur * RATE))) / RATE
        amp = 10 ** (float(rng.uniform(-6.0, 4.0)) / 20)
        pluck = np.exp(-tt / 0.25) * np.minimum(1.0, tt / 0.005)
        radio[k0 : k0 + tt.size] += (
            amp * pluck * sum(np.sin(2 * np.pi * f0 * h * tt) / h for h in range(1, 12))
        )
        at += dur
    talking = (t > 10.0) & (t < 12.5)
    voice = sum(
        np.sin(2 * np.pi * 130.0 * h * t)
        / (1 + ((130.0 * h - 700) / 300) ** 2 + ((130.0 * h - 1200) / 400) ** 2)
        for h in range(1, 30)
    ) * (talking * (1.2 + np.sin(2 * np.pi * 4.0 * t)))
    mics = 0.01 * plane_wave(geo, 330.0, seconds=secs, source=radio)
    mics += 0.02 * plane_wave(geo, 100.0, seconds=secs, source=voice)
    mics += 1e-4 * rng.standard_normal(mics.shape)
    proc = VoiceProcessor(VoiceConfig(array=geo))
    frames = [proc.process(mics[k * 480 : (k + 1) * 480], None, k / 100) for k in range(n // 480)]
    opened = np.array([f.gate.gain > 0 for f in frames])
    found = [f.doa for f in frames if f.doa is not None]
    (radio_at,) = proc.noise_directions.directions
    assert angle_diff(radio_at, 330.0) <= 5.0
    assert opened[300:1000].mean() == 0.0  # radio alone, after 3 s of learning
    # the talker at 100 degrees (a synthetic vowel, which the learned detector does not take
    # for speech in every 32 ms chunk)
    assert opened[1000:1250].mean() >= 0.85
    assert found and all(angle_diff(e.angle_deg, 100.0) <= 10.0 for e in found)

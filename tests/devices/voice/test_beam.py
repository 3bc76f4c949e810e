"""Seat beams: unit gain toward each seat, less from elsewhere, less still from the TV."""

import numpy as np

from devices.voice import AngleRange, ArrayGeometry
from devices.voice._beam import SeatBeams, centre_deg, steering
from devices.voice._dsp import NFFT, RATE

GEO = ArrayGeometry.circular(4, 0.045)
SEATS = (AngleRange(340.0, 20.0), AngleRange(100.0, 140.0))
TV = (AngleRange(215.0, 265.0),)
FREQS = np.fft.rfftfreq(NFFT, 1.0 / RATE)
SPEECH = (FREQS >= 500.0) & (FREQS <= 4000.0)


def test_zone_centres_wrap_through_zero():
    assert centre_deg(AngleRange(340.0, 20.0)) == 0.0
    assert centre_deg(AngleRange(100.0, 140.0)) == 120.0


def test_each_beam_passes_its_seat_undistorted():
    beams = SeatBeams(GEO, SEATS, TV)
    assert np.max(np.abs(beams.gains_db(0.0, GEO)[0])) < 0.01
    assert np.max(np.abs(beams.gains_db(120.0, GEO)[1])) < 0.01


def test_sound_from_elsewhere_is_attenuated_and_the_tv_most():
    beams = SeatBeams(GEO, SEATS, TV)
    side = beams.gains_db(60.0, GEO)[0][SPEECH]  # between the seats
    tv = beams.gains_db(240.0, GEO)[0][SPEECH]
    without_tv = SeatBeams(GEO, SEATS).gains_db(240.0, GEO)[0][SPEECH]
    assert np.mean(side) <= -8.0  # -10.6
    assert np.mean(tv) <= np.mean(without_tv) - 6.0  # -20.3 against -9.2
    assert np.mean(tv) <= -16.0


def test_the_loudest_seat_beam_is_heard():
    beams = SeatBeams(GEO, SEATS, TV)
    rng = np.random.default_rng(3)
    for _ in range(10):  # a talker at 125 deg, inside the second seat zone
        source = rng.standard_normal(FREQS.size) + 1j * rng.standard_normal(FREQS.size)
        heard = beams.push(source[:, None] * steering(GEO, 125.0))
    assert beams.chosen == 1
    assert np.allclose(np.abs(heard[SPEECH]), np.abs(source[SPEECH]), rtol=0.25)


def test_the_beams_learn_to_suppress_the_noise_heard_while_nobody_speaks():
    beams = SeatBeams(GEO, SEATS, TV)
    before = np.mean(beams.gains_db(60.0, GEO)[0][SPEECH])
    rng = np.random.default_rng(5)
    for _ in range(100):  # 1 s of a radio at 60 deg, between the seats
        noise = rng.standard_normal(FREQS.size) + 1j * rng.standard_normal(FREQS.size)
        beams.learn(noise[:, None] * steering(GEO, 60.0))
    after = beams.gains_db(60.0, GEO)[0][SPEECH]
    assert np.mean(after) <= before - 6.0
    assert np.max(np.abs(beams.gains_db(0.0, GEO)[0])) < 0.01  # the seat still passes whole

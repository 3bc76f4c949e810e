"""The processor's seat cue for the gate: where the sound comes from against the seat zones."""

from devices.voice import AngleRange, ArrayGeometry, VoiceConfig, VoiceProcessor
from devices.voice._processor import SEAT_FRAMES

SEATS = (AngleRange(330.0, 30.0), AngleRange(80.0, 120.0))


def _proc(seats=SEATS):
    return VoiceProcessor(VoiceConfig(array=ArrayGeometry.circular(4, 0.045), seats=seats))


def test_a_direction_that_stays_in_one_seat_zone_is_a_seat():
    proc = _proc()
    marks = [proc._seat(10.0 if k % 2 else 350.0) for k in range(SEAT_FRAMES)]
    assert marks[-1] == (True, False)  # both sides of 0 deg: one zone that wraps
    assert marks[0] == (False, False)  # one frame is no stay yet


def test_a_wandering_direction_is_no_seat_and_outside_is_elsewhere():
    proc = _proc()
    marks = [proc._seat((10.0, 100.0, 200.0)[k % 3]) for k in range(3 * SEAT_FRAMES)]
    assert not any(seat for seat, _ in marks)  # babble: the direction hops between zones
    assert marks[-1] == (False, True)  # 200 deg: no seat there


def test_no_seats_configured_gives_no_spatial_cue():
    proc = _proc(seats=())
    assert {proc._seat(a) for a in range(0, 360, 5)} == {(False, False)}

"""TalkLevel: the segment level and the level this room's talkers are heard at."""

import math

import pytest

from devices.voice import _talk
from devices.voice._talk import TalkLevel


def feed(talk, level_db, frames, typical_db=0.0, speech=False):
    for _ in range(frames):
        talk.push(level_db, typical_db)
        if speech:
            talk.heard_speech()


def test_asks_nothing_before_the_room_talkers_are_heard():
    talk = TalkLevel()
    feed(talk, 10.0, _talk.KNOWN_FRAMES - 1, speech=True)
    feed(talk, -5.0, _talk.SEGMENT_FRAMES)
    assert talk.need_db is None
    assert talk.clears()  # a quiet segment still opens: nothing is known yet


def test_segment_level_is_the_energy_over_300_ms_against_the_typical_level():
    talk = TalkLevel()
    feed(talk, 0.0, _talk.SEGMENT_FRAMES - 1, typical_db=1.0)
    talk.push(10.0, 1.0)  # one loud syllable among quiet frames
    expected = 10 * math.log10((_talk.SEGMENT_FRAMES - 1 + 10.0) / _talk.SEGMENT_FRAMES) - 1.0
    assert talk.segment_db == pytest.approx(expected)
    assert talk.segment_db < 1.0


def test_loud_talkers_ask_a_murmur_for_the_cap():
    talk = TalkLevel()
    feed(talk, 12.0, 200, speech=True)  # talkers heard 12 dB over the noise
    assert talk.need_db == pytest.approx(_talk.CAP_DB)
    feed(talk, 2.5, _talk.SEGMENT_FRAMES)  # a voice of the crowd: 2.5 dB for 300 ms
    assert not talk.clears()
    feed(talk, 6.0, _talk.SEGMENT_FRAMES)  # someone addressing the meeting
    assert talk.clears()


def test_quiet_talkers_ask_only_a_share_of_their_level():
    talk = TalkLevel()
    feed(talk, 3.0, 200, speech=True)
    assert talk.need_db == pytest.approx(_talk.SHARE * 3.0)
    feed(talk, 2.0, _talk.SEGMENT_FRAMES)
    assert talk.clears()


def test_follows_the_talkers_of_the_last_seconds():
    talk = TalkLevel()
    feed(talk, 12.0, _talk.TALK_FRAMES, speech=True)
    feed(talk, 2.0, _talk.TALK_FRAMES, speech=True)  # a quieter chair takes over
    assert talk.need_db == pytest.approx(_talk.SHARE * 2.0)

"""The TV layout decision (ui.layout), without widgets: names, talk order, held speaker
changes, and where every room goes at 1 to 100 rooms on a 1080p and a 720p screen."""

from __future__ import annotations

import pytest

from ui import texts
from ui.layout import Rect, Room, SpeakerHold, TalkBook, clean_name, plan

SIZES = [(1920, 1080), (1280, 720)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_names_are_cleaned() -> None:
    assert clean_name("") == texts.NO_NAME
    assert clean_name(" \t\n\x00\x07 ") == texts.NO_NAME
    assert clean_name("Xã\x00 Đức\x1b[31m  Phong\u202e\n") == "Xã Đức Phong"
    assert clean_name("Xa\u0303 Đư\u0301c") == "Xã Đức", "decomposed letters are composed"
    assert clean_name("Xã 🎉 Lý Sơn") == "Xã 🎉 Lý Sơn", "emoji are left to the font check"


def talk(book: TalkBook, talking: set[int], feeds: range = range(1, 6)) -> None:
    book.update(Room(f, f in talking) for f in feeds)


def test_talk_order_latest_speech_first() -> None:
    clock = Clock()
    book = TalkBook(clock)
    talk(book, set())
    assert book.ranked(range(1, 6)) == [1, 2, 3, 4, 5], "nobody spoke: joining order"
    talk(book, {4})
    clock.now += 1
    talk(book, {4, 2})
    assert book.ranked(range(1, 6))[:2] == [2, 4], "both talk: the latest to start first"
    clock.now += 1
    talk(book, {4})
    clock.now += 1
    talk(book, set())
    assert book.ranked(range(1, 6)) == [4, 2, 1, 3, 5], "4 stopped last"
    talk(book, set(), range(2, 6))
    assert 1 not in book.joined, "a room that left is forgotten"


def test_speaker_change_is_held() -> None:
    clock = Clock()
    book, hold = TalkBook(clock), SpeakerHold(2.0, clock)
    feeds = [1, 2, 3]
    talk(book, set(), range(1, 4))
    assert hold.choose(book, feeds) == 1, "nobody spoke yet: the first room"
    talk(book, {2}, range(1, 4))
    assert hold.choose(book, feeds) == 1 and hold.pending_until == pytest.approx(102.0)
    clock.now += 1.0
    talk(book, {3}, range(1, 4))
    assert hold.choose(book, feeds) == 1, "still within 2 s of the last change"
    clock.now += 1.1
    assert hold.choose(book, feeds) == 3 and hold.pending_until is None
    clock.now += 0.5
    talk(book, {3, 2}, range(1, 4))
    assert hold.choose(book, feeds) == 3, "the speaker keeps the screen while it talks"
    talk(book, set(), range(1, 4))
    clock.now += 5
    assert hold.choose(book, feeds) == 3, "silence: the last speaker stays"
    talk(book, set(), range(1, 3))
    assert hold.choose(book, [1, 2]) == 2, "the speaker left: replaced at once"


def check_sane(layout: object, rooms: int, width: int, height: int) -> None:
    from ui.layout import Layout

    assert isinstance(layout, Layout)
    rects = layout.rects()
    for i, a in enumerate(rects):
        assert a.inside(width, height), a
        assert a.w > 0 and a.h > 0
        for b in rects[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    placed = [f for f, _ in layout.thumbs] + [f for f, _ in layout.names]
    placed += [layout.large] if layout.large is not None else []
    assert len(placed) == len(set(placed))
    assert len(placed) + layout.overflow == rooms


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("others", [0, 1, 3, 8, 15, 24])
def test_every_room_placed(size: tuple[int, int], others: int) -> None:
    rooms = [Room(f) for f in range(others)]
    layout = plan(rooms, 0 if others else None, *size)
    check_sane(layout, others, *size)
    assert layout.overflow == 0, "up to 25 rooms, all are on screen"
    assert len(layout.thumbs) == min(8, max(0, others - 1))
    if others:
        assert layout.large_rect is not None
        biggest = max(r.w * r.h for r in layout.rects())
        assert layout.large_rect.w * layout.large_rect.h == biggest, "the speaker is largest"


def test_thumbnail_slots_then_names_in_talk_order() -> None:
    rooms = [Room(f, video=f not in (2, 5)) for f in range(12)]  # 2 and 5 have no video
    layout = plan(rooms, 0, 1920, 1080, slots=4)
    assert [f for f, _ in layout.thumbs] == [1, 3, 4, 6], "video first, in the given order"
    assert [f for f, _ in layout.names] == [2, 5, 7, 8, 9, 10, 11]
    layout = plan(rooms[:5], 0, 1920, 1080, slots=4)
    assert [f for f, _ in layout.thumbs] == [1, 2, 3, 4] and not layout.names
    assert layout.no_video == {2}, "a paused room in a free slot: a plain tile with its name"


@pytest.mark.parametrize("size", SIZES)
def test_a_hundred_rooms_stay_sane(size: tuple[int, int]) -> None:
    rooms = [Room(f) for f in range(100)]
    layout = plan(rooms, 7, *size)
    check_sane(layout, 100, *size)
    assert layout.overflow > 0 and layout.overflow_rect is not None
    assert len(layout.thumbs) == 8 and layout.large == 7


def test_tiny_screen_and_no_slots() -> None:
    layout = plan([Room(f) for f in range(24)], 0, 640, 360, slots=0)
    check_sane(layout, 24, 640, 360)
    assert not layout.thumbs and layout.names
    assert Rect(0, 0, 10, 10).overlaps(Rect(9, 9, 5, 5))
    assert not Rect(0, 0, 10, 10).overlaps(Rect(10, 0, 5, 5))

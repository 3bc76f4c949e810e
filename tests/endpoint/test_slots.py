"""Bounded video slots: whom the slots hold (``endpoint._slots.VideoSlots``), as a policy."""

from __future__ import annotations

from endpoint._slots import MAX_SLOTS, MIN_HOLD_S, VideoSlots
from endpoint._videoroom import Feed


def rooms(slots: VideoSlots, count: int) -> list[int]:
    feeds = [Feed(100 + i, f"Xã {i}", ("0",)) for i in range(count)]
    slots.publish(feeds)
    return [f.id for f in feeds]


def test_free_slots_fill_in_joining_order_and_no_more() -> None:
    slots = VideoSlots(3)
    ids = rooms(slots, 5)
    plan = slots.plan(set(), now=0.0)
    assert [f.id for f in plan.add] == ids[:3] and not plan.moves
    assert not slots.plan(set(ids[:3]), now=0.0)  # full, nobody talking: nothing to change


def test_a_talker_outside_the_slots_takes_the_least_recent_speakers_slot() -> None:
    slots = VideoSlots(3)
    ids = rooms(slots, 5)
    held = set(ids[:3])
    slots.talk(ids[0], True, 1.0)
    slots.talk(ids[0], False, 2.0)
    slots.talk(ids[1], True, 3.0)
    slots.talk(ids[1], False, 4.0)  # ids[2] never spoke: the least deserving of the held
    slots.talk(ids[4], True, 5.0)
    plan = slots.plan(held, now=5.0)
    assert not plan.add and [(old, new.id) for old, new in plan.moves] == [(ids[2], ids[4])]


def test_talkers_keep_their_slots_and_a_new_slot_is_held_a_while() -> None:
    slots = VideoSlots(2)
    ids = rooms(slots, 4)
    held = set(ids[:2])
    slots.talk(ids[0], True, 0.0)
    slots.talk(ids[1], True, 0.0)
    slots.talk(ids[2], True, 1.0)
    assert not slots.plan(held, now=1.0)  # every held room is talking: nobody is displaced
    slots.talk(ids[1], False, 2.0)
    (move,) = slots.plan(held, now=2.0).moves
    assert move[0] == ids[1] and move[1].id == ids[2]
    slots.given([ids[2]], now=2.0)
    held = {ids[0], ids[2]}
    slots.talk(ids[2], False, 2.5)
    slots.talk(ids[3], True, 3.0)
    assert not slots.plan(held, now=3.0).moves  # the one talking stays; the new one is held
    slots.talk(ids[0], False, 3.0)  # now only the new one could go, and not before its hold
    assert [old for old, _ in slots.plan(held, now=3.5).moves] == [ids[0]]
    slots.talk(ids[0], True, 3.6)
    assert not slots.plan(held, now=2.0 + MIN_HOLD_S - 0.1).moves
    assert [old for old, _ in slots.plan(held, now=2.0 + MIN_HOLD_S).moves] == [ids[2]]


def test_a_room_that_leaves_frees_its_slot_for_the_most_recent_speaker() -> None:
    slots = VideoSlots(2)
    ids = rooms(slots, 4)
    slots.talk(ids[3], True, 1.0)
    slots.talk(ids[3], False, 2.0)
    slots.gone(ids[0])
    plan = slots.plan({ids[0], ids[1]}, now=3.0)  # the hub may still list the one gone
    assert [f.id for f in plan.add] == [ids[3]]


def test_a_hub_announcing_a_hundred_rooms_gets_at_most_the_bounded_slots() -> None:
    slots = VideoSlots(1000)
    assert slots.size == MAX_SLOTS
    ids = rooms(slots, 100)
    assert len(slots.plan(set(), now=0.0).add) == MAX_SLOTS
    assert VideoSlots(0).size == 1 and len(ids) == 100


def test_a_talker_held_back_by_a_fresh_slot_is_planned_again_when_the_hold_ends() -> None:
    slots = VideoSlots(2)
    ids = rooms(slots, 3)
    held = {ids[0], ids[1]}
    slots.given([ids[1]], now=10.0)
    slots.talk(ids[0], True, 10.0)
    slots.talk(ids[2], True, 11.0)  # waits: ids[0] talks, ids[1] was just switched in
    plan = slots.plan(held, now=11.0)
    assert not plan.moves and plan.retry_at == 10.0 + MIN_HOLD_S
    assert [old for old, _ in slots.plan(held, now=10.0 + MIN_HOLD_S).moves] == [ids[1]]


def test_a_listing_without_streams_keeps_the_mids_known() -> None:
    slots = VideoSlots(2)
    slots.publish([Feed(7, "Xã H", ("0",))])
    slots.publish([Feed(7, "Xã H")])  # after a claim: listparticipants names no streams
    assert slots.feeds[7].video == ("0",)

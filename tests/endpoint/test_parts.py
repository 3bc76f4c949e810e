"""The call's small parts on their own: tasks, backoff, liveness, signaling edge cases."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from endpoint._backoff import Backoff
from endpoint._janus_ws import JanusClient
from endpoint._liveness import FIRST_MEDIA_GRACE, STALE_AFTER, STALE_MAX, MediaClock, hub_lost
from endpoint._subscriber import Subscriber
from endpoint._tasks import Tasks
from endpoint._videoroom import Feed, Publisher, RoomAccess, feeds_of, wanted
from endpoint.errors import HubProtocolError
from tests._util import wait_until

ACCESS = RoomAccess(1234, None, "Xã A")


async def test_tasks_are_named_replaced_and_all_cancelled_at_close() -> None:
    tasks = Tasks("owner")
    first = tasks.spawn("job", asyncio.sleep(60))
    second = tasks.spawn("job", asyncio.sleep(60))
    tasks.spawn("other", asyncio.sleep(60))
    await asyncio.sleep(0)
    assert first.cancelled() or first.cancelling()
    assert second.get_name() == "owner:job" and tasks.names() == ["job", "other"]
    await tasks.close()
    assert second.cancelled() and len(tasks) == 0


async def test_a_failed_task_is_logged_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    async def boom() -> None:
        raise RuntimeError("kaput")

    tasks = Tasks("owner")
    tasks.spawn("boom", boom())
    await wait_until(lambda: len(tasks) == 0)
    assert "owner:boom" in caplog.text and "kaput" in caplog.text


def test_backoff_grows_to_its_cap_and_spreads_a_district() -> None:
    backoff = Backoff(rng=random.Random(7))
    delays = [backoff.delay() for _ in range(8)]
    assert delays[0] < 1.2 and max(delays) <= backoff.cap * (1 + backoff.spread)
    firsts = sorted(Backoff(rng=random.Random(room)).delay() for room in range(25))
    crowd = max(sum(1 for d in firsts if t <= d < t + 0.1) for t in firsts)
    assert crowd <= 6, f"{crowd} of 25 rooms would hit the hub in the same 100 ms"
    assert firsts[-1] - firsts[0] > 0.5


def test_hub_counts_as_lost_only_when_everything_is_quiet() -> None:
    assert hub_lost(10.0, heard=9.0, media=None) is None
    assert hub_lost(10.0, heard=7.0, media=None) is not None
    assert hub_lost(10.0, heard=7.0, media=9.9) is None  # signaling stalls on a lossy link
    assert hub_lost(10.0, heard=3.0, media=9.9) is not None
    assert hub_lost(10.0, heard=7.0, media=7.0) is not None


def test_media_clock_goes_stale_once_and_recovers() -> None:
    clock = MediaClock(last=0.0)
    assert not clock.check(STALE_AFTER - 0.1)
    assert clock.check(STALE_AFTER + 0.1) and clock.stale
    assert not clock.check(STALE_AFTER + 0.5), "announced once"
    assert clock.arrived(5.0) and not clock.stale


def test_a_room_on_the_still_picture_is_given_three_of_its_gaps() -> None:
    clock = MediaClock(last=0.0)
    for second in range(1, 6):  # a frame a second
        clock.arrived(float(second))
    assert clock.allowance() == pytest.approx(3.0)
    assert not clock.check(5.0 + 2.5), "one lost still frame is no lost room"
    assert clock.check(5.0 + 3.1)
    fast = MediaClock(last=0.0)
    for frame in range(1, 30):  # 15 frames a second
        fast.arrived(frame / 15)
    assert fast.allowance() == STALE_AFTER
    slow = MediaClock(last=0.0)
    for second in range(1, 6):
        slow.arrived(second * 3.0)  # a picture every 3 s: still bounded
    assert slow.allowance() == STALE_MAX


def test_a_room_held_alive_gets_time_to_resume() -> None:
    clock = MediaClock(last=0.0)
    clock.hold(10.0)
    assert not clock.check(10.0 + FIRST_MEDIA_GRACE - 0.1)
    assert clock.check(10.0 + FIRST_MEDIA_GRACE + 0.1)


def test_feeds_list_their_video_and_subscriptions_take_only_it() -> None:
    entry = {"id": 4, "display": "Xã D", "streams": [
        {"type": "audio", "mid": "0"}, {"type": "video", "mid": "1"},
        {"type": "video", "mid": "2", "disabled": True}]}  # fmt: skip
    (feed,) = feeds_of({"publishers": [entry]})
    assert feed.video == ("1",)
    assert wanted(feed) == [{"feed": 4, "mid": "1"}]
    assert wanted(Feed(5, "Xã E")) == [{"feed": 5}], "unknown streams: the hub's choice"


async def test_the_mix_plays_under_one_key_and_talking_finds_the_room() -> None:
    from aiortc.mediastreams import AudioStreamTrack

    from devices import Playout
    from endpoint._audiobridge import Member
    from endpoint._roster import MIX, Roster
    from endpoint.events import TalkingChanged

    class Keys(Playout):
        keys: set[Any] = set()

        def write(self, key: Any, samples: Any) -> None:
            self.keys.add(key)
            super().write(key, samples)

    events: list[Any] = []
    roster = Roster(Keys(), events.append, time.monotonic)
    roster.arrive([Feed(4, "Xã D"), Feed(5, "Xã E")])
    roster.carry("0", AudioStreamTrack(), 4)  # audio from the VideoRoom is not played
    roster.carry_mix(AudioStreamTrack())
    await asyncio.sleep(0.2)
    await roster.stop_media()
    assert Keys.keys == {MIX}
    roster.member_talking(Member(4, "Xã D"), True)  # one of ours: by its feed id
    roster.member_talking(Member(77, "Xã E"), True)  # a browser: by its name
    roster.member_talking(Member(78, "Xã Lạ"), True)  # nobody
    talking = [e.participant.display for e in events if isinstance(e, TalkingChanged)]
    assert talking == ["Xã D", "Xã E"]


def test_talking_is_what_the_bridge_says_at_our_join_and_stops_at_a_leave() -> None:
    from devices import Playout
    from endpoint._audiobridge import Member
    from endpoint._roster import Roster
    from endpoint.events import TalkingChanged

    talking: list[tuple[int, bool]] = []

    def heard(event: Any) -> None:
        if isinstance(event, TalkingChanged):
            talking.append((event.participant.feed, event.participant.talking))

    roster = Roster(Playout(), heard, time.monotonic)
    roster.arrive([Feed(4, "Xã D"), Feed(5, "Xã E"), Feed(6, "Xã F")])
    roster.member_talking(Member(4, "Xã D"), True)
    roster.member_talking(Member(5, "Xã E"), True)
    # our link broke; D stopped talking meanwhile, F (a browser, by name) started
    roster.bridge_joined([Member(4, "Xã D"), Member(5, "Xã E", True), Member(60, "Xã F", True)])
    assert {f: p.talking for f, p in roster.participants.items()} == {4: False, 5: True, 6: True}
    roster.member_talking(Member(60, "Xã F"), False)  # F left the bridge while talking
    assert not roster.participants[6].talking
    # a room heard talking before its video is announced shows as talking when it is
    roster.bridge_joined([Member(7, "Xã G", True)])
    roster.arrive([Feed(7, "Xã G")])
    assert talking == [
        (4, True),
        (5, True),
        (4, False),
        (6, True),
        (6, False),
        (5, False),
        (7, True),
    ]
    roster.drop_all()
    roster.arrive([Feed(7, "Xã G")])  # the next meeting starts with nobody talking
    assert not roster.participants[7].talking


def test_the_connection_hands_the_bridge_join_to_the_call() -> None:
    from endpoint._session import Connection, Wiring

    seen: list[Any] = []
    wiring = Wiring(
        lambda *track: None, lambda message: None, lambda why: None, on_bridge_joined=seen.append
    )
    conn = Connection("ws://127.0.0.1:1/", ACCESS, wiring)
    bridge = conn._bridge(conn.client.adopt(5))
    bridge.on_joined([])
    assert seen == [[]]


def test_video_packets_are_signs_of_life_even_without_a_frame() -> None:
    from devices import Playout
    from endpoint._roster import Roster

    now = [100.0]
    roster = Roster(Playout(), lambda event: None, lambda: now[0])
    roster.arrive([Feed(4, "Xã D"), Feed(5, "Xã E")])
    for step in range(1, 5):  # a freeze: packets come, no frame is decoded
        now[0] += STALE_AFTER
        roster.packets({"0": (4, 100 * step), "1": (5, 7)})  # room 5's count stands still
        roster.check()
    assert not roster.participants[4].stale and roster.participants[5].stale
    roster.packets({"1": (4, 5)})  # m-line 1 reused for room 4: counted anew, not yet alive
    assert roster._packets["1"] == (4, 5)


def test_a_room_without_video_is_alive_while_it_is_in_the_audio() -> None:
    from devices import Playout
    from endpoint._roster import Roster

    now = [100.0]
    roster = Roster(Playout(), lambda event: None, lambda: now[0])
    roster.arrive([Feed(4, "Xã D"), Feed(5, "Xã E", ("1",)), Feed(6, "Xã F", ("2",))])
    bridge = {4, 5, 6}  # D publishes no video, E has sent none yet, F sends video
    for step in range(1, 6):
        now[0] += STALE_AFTER
        roster.packets({"2": (6, step)})
        roster.check(lambda feed, display: feed in bridge)
    assert not any(p.stale for p in roster.participants.values())
    for _ in range(3):  # F's video stops while the hub still lists it: stale, as before
        now[0] += STALE_AFTER
        roster.check(lambda feed, display: feed in bridge)
    assert roster.participants[6].stale and not roster.participants[5].stale
    bridge = {5, 6}  # D left the audio too: gone once its last hold runs out
    now[0] += FIRST_MEDIA_GRACE + 0.1
    roster.check(lambda feed, display: feed in bridge)
    assert roster.participants[4].stale


def test_rooms_without_video_come_back_after_our_rejoin_and_an_unpublish() -> None:
    from devices import Playout
    from endpoint._roster import Roster
    from endpoint.events import MediaChanged

    events: list[Any] = []
    now = [100.0]
    roster = Roster(Playout(), events.append, lambda: now[0])
    roster.arrive([Feed(4, "Xã D"), Feed(6, "Xã F", ("2",))])
    roster.packets({"2": (6, 5)})
    roster.mark_stale()  # our link broke
    roster.unpublished(6)  # and F turned its camera off (it stays in the meeting's audio)
    events.clear()
    roster.check(lambda feed, display: True)
    assert not any(p.stale for p in roster.participants.values())
    assert sorted(e.participant.feed for e in events if isinstance(e, MediaChanged)) == [4, 6]


async def test_keepalive_is_answered_by_the_hubs_ack(hub: Any) -> None:
    client = JanusClient(hub.url)
    await client.connect(5.0)
    try:
        async with asyncio.timeout(3.0):  # the ack is the whole answer
            await client.keepalive()
    finally:
        await client.close()


class FakeHandle:
    """A plugin handle whose replies the test scripts."""

    def __init__(self, reply: Any = None) -> None:
        self.id = 1
        self.reply = reply
        self.listener: Any = None
        self.block = asyncio.Event()

    async def request(self, body: Any, jsep: Any = None) -> Any:
        if self.reply is None:
            await self.block.wait()
        return self.reply


async def test_malformed_sdp_from_the_hub_is_a_protocol_fault() -> None:
    from devices import SyntheticMicrophone
    from endpoint._janus_ws import Reply
    from endpoint._tracks import MicrophoneTrack

    reply = Reply({"videoroom": "joined", "id": 5}, {"type": "answer", "sdp": "v=0\r\nm=junk"})
    publisher = Publisher(FakeHandle(reply), ACCESS)  # type: ignore[arg-type]
    try:
        with pytest.raises(HubProtocolError, match="SDP"):
            await publisher.join([MicrophoneTrack(SyntheticMicrophone())], 5)
    finally:
        await publisher.pc.close()


async def test_subscriber_close_cancels_renegotiations_in_flight() -> None:
    subscriber = Subscriber(FakeHandle(), ACCESS, lambda mid, track, feed: None)  # type: ignore[arg-type]
    offer = {"janus": "event", "jsep": {"type": "offer", "sdp": "v=0"}, "plugindata": {"data": {}}}
    async with subscriber._lock:  # a negotiation is under way
        subscriber._hub_event(offer)
        await asyncio.sleep(0.05)
        await asyncio.wait_for(subscriber.close(), 5)
        left = [t for t in asyncio.all_tasks() if "_renegotiate" in repr(t.get_coro())]
        assert not [t for t in left if not t.done()], "closed, yet a renegotiation waits on"


@pytest.fixture
async def huge_hub() -> AsyncIterator[str]:
    """A WebSocket 'hub' that answers create, then sends a 10 MB message."""

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("janus-protocol",))
        await ws.prepare(request)
        async for message in ws:
            tx = json.loads(message.data)["transaction"]
            await ws.send_str(
                json.dumps({"janus": "success", "transaction": tx, "data": {"id": 9}})
            )
            await ws.send_str("x" * (10 << 20))
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"ws://127.0.0.1:{port}/"
    await runner.cleanup()


async def test_a_huge_hub_message_is_refused_with_a_clear_reason(huge_hub: str) -> None:
    client = JanusClient(huge_hub)
    reasons: list[str] = []
    client.on_lost = reasons.append
    await client.connect(5.0)
    try:
        await wait_until(lambda: bool(reasons))
        assert "limit" in reasons[0] and "None" not in reasons[0], reasons
    finally:
        await client.close()


class CountingHandle(FakeHandle):
    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[Any] = []

    async def request(self, body: Any, jsep: Any = None) -> Any:
        from endpoint._janus_ws import Reply

        self.bodies.append(body)
        await asyncio.sleep(0.05)
        return Reply({"videoroom": "attached"}, None)


async def test_a_room_announced_twice_at_once_is_subscribed_once() -> None:
    from endpoint._videoroom import Feed

    handle = CountingHandle()
    subscriber = Subscriber(handle, ACCESS, lambda mid, track, feed: None)  # type: ignore[arg-type]
    feed = [Feed(4, "Xã D")]
    await asyncio.gather(subscriber.add(feed, None), subscriber.add(feed, None))
    await subscriber.close()
    assert len(handle.bodies) == 1, handle.bodies


class LateJoinHandle(CountingHandle):
    """The hub took our first join, but its reply never came (a timeout on our side)."""

    def __init__(self) -> None:
        super().__init__()
        self.joined = False

    async def request(self, body: Any, jsep: Any = None) -> Any:
        from endpoint._janus_ws import Reply
        from endpoint.errors import FailReason, HubRequestError

        self.bodies.append(body)
        if body.get("request") == "join":
            if not self.joined:
                self.joined = True
                raise TimeoutError
            raise HubRequestError("Already in as a subscriber", 425, FailReason.MEDIA)
        return Reply({"videoroom": "updated"}, None)


async def test_a_join_whose_reply_was_lost_is_followed_by_updates() -> None:
    from endpoint._videoroom import Feed

    handle = LateJoinHandle()
    subscriber = Subscriber(handle, ACCESS, lambda mid, track, feed: None)  # type: ignore[arg-type]
    with pytest.raises(TimeoutError):
        await subscriber.add([Feed(4, "Xã D")], None)
    assert subscriber.feeds == set()  # not known to be subscribed: asked again below
    await subscriber.add([Feed(4, "Xã D"), Feed(5, "Xã E")], None)
    await subscriber.add([Feed(6, "Xã G")], None)
    await subscriber.close()
    assert [b["request"] for b in handle.bodies] == ["join", "join", "update", "update"]
    assert subscriber.feeds == {4, 5, 6}


def test_only_a_refused_certificate_is_a_tls_failure() -> None:
    import ssl

    from endpoint._janus_ws import _tls_reason
    from endpoint.errors import FailReason

    assert _tls_reason(ssl.SSLCertVerificationError("bad cert")) is FailReason.TLS
    assert _tls_reason(ssl.SSLError("garbled handshake")) is FailReason.HUB_UNREACHABLE


class CountingTrack:
    """A receiving track that always has a frame ready (as aiortc's queue would)."""

    kind = "video"

    def __init__(self) -> None:
        self.taken = 0

    async def recv(self) -> object:
        await asyncio.sleep(0.001)
        self.taken += 1
        return object()


async def test_tracks_of_unknown_or_departed_rooms_are_still_drained() -> None:
    from devices import Playout
    from endpoint._roster import Roster
    from endpoint._videoroom import Feed

    roster = Roster(Playout(), lambda event: None, time.monotonic)
    stranger, member = CountingTrack(), CountingTrack()
    roster.carry("0", stranger, 99)  # type: ignore[arg-type]  # no such room (yet)
    roster.arrive([Feed(5, "Xã E")])
    roster.carry("1", member, 5)  # type: ignore[arg-type]
    roster.drop(5)
    taken = (stranger.taken, member.taken)
    await asyncio.sleep(0.3)
    assert stranger.taken > taken[0] + 20 and member.taken > taken[1] + 20, "frames pile up"
    await roster.stop_media()

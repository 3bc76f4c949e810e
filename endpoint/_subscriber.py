"""The VideoRoom subscriber: one multistream subscription that receives every other
room's video over a single connection, renegotiated in place as rooms come and go, with
``switch`` to move an m-line to another room without renegotiating (video slots,
``_slots.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack

from endpoint._janus_ws import Handle, Json, Reply
from endpoint._tasks import Tasks
from endpoint._videoroom import (
    ALREADY_JOINED,
    Feed,
    RoomAccess,
    answerer_is_dtls_server,
    entries_of,
    is_id,
    peer_connection,
    set_remote,
    wanted,
)
from endpoint.errors import HubRequestError

log = logging.getLogger(__name__)


@dataclass
class Subscription:
    """Which remote stream (by mid) belongs to which feed."""

    mids: dict[str, tuple[int, str]] = field(default_factory=dict)  # mid -> (feed, kind)

    def update(self, data: Json) -> bool:
        """Take the hub's list of our streams, if *data* has one (True then)."""
        if data.get("streams") is None:
            return False
        self.mids = {
            str(s["mid"]): (s["feed_id"], str(s.get("type")))
            for s in entries_of(data, "streams")
            if "mid" in s and is_id(s.get("feed_id")) and s.get("active", True)
        }
        return True

    def video_feeds(self) -> dict[int, str]:
        """The rooms whose video the hub sends us: feed -> our m-line (mid)."""
        return {feed: mid for mid, (feed, kind) in self.mids.items() if kind == "video"}


TrackCallback = Callable[[str, MediaStreamTrack, int], None]  # (mid, track, feed)


class Subscriber:
    """One multistream subscription; each change of feeds renegotiates in place.

    Janus reuses a freed m-line (mid) for the next feed, and aiortc then keeps the old
    receiving track instead of announcing a new one, so after every negotiation the
    tracks are matched to feeds by mid again and every changed pairing is announced.
    """

    def __init__(self, handle: Handle, access: RoomAccess, on_track: TrackCallback) -> None:
        self.handle = handle
        self.access = access
        self.pc = peer_connection(access)
        self.subscription = Subscription()
        self.feeds: set[int] = set()
        self._on_track = on_track
        self._announced: dict[str, tuple[int, MediaStreamTrack]] = {}
        self._lock = asyncio.Lock()
        self._joined = False
        self._tasks = Tasks("subscriber")
        self._offers = 0
        self.video_held = False  # the hub relays no video to us (our downlink is too weak)
        self.on_hangup: Callable[[str], None] = lambda why: None
        self.on_streams: Callable[[], None] = lambda: None  # the hub's list of them changed
        handle.listener = self._hub_event

    async def add(self, feeds: list[Feed], private_id: int | None) -> None:
        """Subscribe to *feeds* (the first call joins, later ones update); a feed the hub
        refuses is forgotten, so a later announcement of it subscribes again."""
        async with self._lock:
            new = [f for f in feeds if f.id not in self.feeds]  # decided under the lock
            if not new:
                return
            self.feeds.update(f.id for f in new)
            try:
                await self._subscribe([s for feed in new for s in wanted(feed)], private_id)
            except BaseException:
                self.feeds.difference_update(f.id for f in new)
                raise

    async def _subscribe(self, streams: list[Json], private_id: int | None) -> None:
        update = {"request": "update", "subscribe": streams}
        if self._joined:
            reply = await self.handle.request(update)
        else:
            body = self.access.body(request="join", ptype="subscriber", streams=streams)
            if private_id is not None:
                body["private_id"] = private_id
            try:
                reply = await self.handle.request(body)
            except HubRequestError as err:
                # An earlier join whose reply never reached us (a timeout) joined after all:
                # the hub has us as a subscriber already, so this is an update.
                if err.code != ALREADY_JOINED:
                    raise
                log.info("the subscription had joined after all: updating it")
                reply = await self.handle.request(update)
            self._joined = True
        await self._negotiate(reply)

    def forget(self, feed: int) -> None:
        """The hub dropped *feed*'s streams itself (it stopped publishing)."""
        self.feeds.discard(feed)

    async def remove(self, feed: int) -> None:
        async with self._lock:
            if feed not in self.feeds:
                return
            self.feeds.discard(feed)
            if self.feeds:
                with contextlib.suppress(HubRequestError):  # already gone on the hub
                    reply = await self.handle.request(
                        {"request": "update", "unsubscribe": [{"feed": feed}]}
                    )
                    await self._negotiate(reply)

    async def _negotiate(self, reply: Reply) -> None:
        self._streams(reply.data)
        if reply.jsep is None or reply.jsep.get("type") != "offer":
            return
        offer = {"type": "offer", "sdp": answerer_is_dtls_server(str(reply.jsep.get("sdp")))}
        await set_remote(self.pc, offer)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = {"type": "answer", "sdp": self.pc.localDescription.sdp}
        self._announce()
        await self.handle.request({"request": "start"}, answer)
        if self.video_held:  # a room subscribed meanwhile is held back too
            await self._send_video()

    async def switch(self, moves: list[tuple[int, Feed]]) -> list[tuple[int, Feed]]:
        """Give the m-line of each held room to another room (``(held, newcomer)``), with
        one ``switch`` and no renegotiation; returns the moves the hub made. A newcomer
        whose video mid the hub never told us is swapped in with an ``update`` instead
        (one renegotiation). A room that vanished meanwhile is left out by the hub."""
        async with self._lock:
            video = self.subscription.video_feeds()
            direct = [(o, n) for o, n in moves if o in video and n.video and n.id not in self.feeds]
            swaps = [
                (o, n) for o, n in moves if o in video and not n.video and n.id not in self.feeds
            ]
            if direct:
                streams = [
                    {"feed": n.id, "mid": n.video[0], "sub_mid": video[o]} for o, n in direct
                ]
                try:
                    reply = await self.handle.request({"request": "switch", "streams": streams})
                except HubRequestError as err:
                    log.warning("the hub refused to switch video slots: %s", err)
                else:
                    self._streams(reply.data)
            for old, new in swaps:
                request = {"request": "update", "subscribe": wanted(new)}
                request["unsubscribe"] = [{"feed": old}]
                with contextlib.suppress(HubRequestError):  # one of them gone on the hub
                    await self._negotiate(await self.handle.request(request))
            carried = self.subscription.video_feeds()
            done = [(o, n) for o, n in [*direct, *swaps] if n.id in carried and o not in carried]
            if len(done) < len(moves):
                made = {new.id for _, new in done}
                left = [new.id for _, new in moves if new.id not in made]
                log.info("video slots: the hub did not move feeds %s (gone meanwhile?)", left)
            self._announce()  # the moved m-lines' tracks now carry the newcomers
            if self.video_held:  # a switched stream is sent again: keep it held
                await self._send_video()
            return done

    def _streams(self, data: Json) -> None:
        """The hub's list of our streams is the truth about whom we receive: a request it
        answered "updating" (an offer of its own was pending) is carried out later, in
        one of its own offers, and a lost reply is made up for the same way."""
        if self.subscription.update(data):
            self.feeds = {feed for feed, _ in self.subscription.mids.values()}
            self.on_streams()

    async def hold_video(self, hold: bool) -> None:
        """Ask the hub to stop (or resume) relaying every room's video to us; audio keeps
        flowing (through the AudioBridge). Janus pauses a subscribed stream without
        renegotiation (``configure`` with ``send`` per m-line), and asks the publisher for
        a keyframe on resume."""
        async with self._lock:
            self.video_held = hold
            await self._send_video()

    async def _send_video(self) -> None:
        mids = [mid for mid, (_, kind) in self.subscription.mids.items() if kind == "video"]
        if mids:
            streams = [{"mid": mid, "send": not self.video_held} for mid in mids]
            await self.handle.request({"request": "configure", "streams": streams})

    def _announce(self) -> None:
        """Tell the call which track now carries which feed (only what changed)."""
        for transceiver in self.pc.getTransceivers():
            mid, track = transceiver.mid, transceiver.receiver.track
            entry = self.subscription.mids.get(mid) if mid is not None else None
            if mid is None or track is None or entry is None:
                if mid is not None:
                    self._announced.pop(mid, None)
                continue
            pairing = (entry[0], track)
            if self._announced.get(mid) != pairing:
                self._announced[mid] = pairing
                self._on_track(mid, track, entry[0])

    def _hub_event(self, message: Json) -> None:
        """Offers the hub sends on its own (a publisher left) are answered too."""
        if message.get("janus") == "hangup":
            self.on_hangup(f"hub hung up the subscription: {message.get('reason')}")
            return
        jsep = message.get("jsep")
        data = (message.get("plugindata") or {}).get("data") or {}
        if isinstance(jsep, dict) and jsep.get("type") == "offer" and isinstance(data, dict):
            self._offers += 1
            self._tasks.spawn(f"offer:{self._offers}", self._renegotiate(Reply(data, jsep)))

    async def _renegotiate(self, reply: Reply) -> None:
        async with self._lock:
            try:
                await self._negotiate(reply)
            except Exception:  # noqa: BLE001 - a failed renegotiation must not kill the call
                log.exception("renegotiation with the hub failed")

    async def close(self) -> None:
        await self._tasks.close()
        await self.pc.close()

"""Bounded video: which rooms' video this room receives when the meeting is larger than
its video slots.

The subscription holds at most ``size`` video m-lines (the speaker and the thumbnails on
the TV). Every room is still in the meeting (listed, heard through the hub's mix); only
the ones holding a slot send us video. A slot is filled by subscribing (a renegotiation,
only while slots are free: at the start and when a room leaves); once all are taken, a
room that starts talking takes the slot of the held room that spoke least recently with
a Janus ``switch`` (no renegotiation: the hub moves the m-line to the other publisher and
asks it for a keyframe).

Ranking, for filling and for choosing whom a talker displaces: talking now (the latest
to start first), then the most recent end of speech, then joining order. A room switched
in keeps its slot for at least ``MIN_HOLD_S``, so a burst of talk does not flap the slots.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol

from endpoint._videoroom import Feed
from endpoint.errors import EndpointError, HubRequestError

log = logging.getLogger(__name__)

MIN_HOLD_S = 4.0  # a slot just given to a room is not taken back sooner
MAX_SLOTS = 25  # a hub announcing more rooms than this never gets more m-lines from us


@dataclass(frozen=True)
class SlotPlan:
    """What to change: rooms to subscribe (free slots), and (held room, newcomer) moves."""

    add: list[Feed] = field(default_factory=list)
    moves: list[tuple[int, Feed]] = field(default_factory=list)
    retry_at: float | None = None  # a talker waits for a held room's MIN_HOLD_S to end

    def __bool__(self) -> bool:
        return bool(self.add or self.moves)


class VideoSlots:
    """The meeting's rooms with video, when each spoke, and whom the slots should hold."""

    def __init__(self, size: int) -> None:
        self.size = max(1, min(MAX_SLOTS, size))
        self.feeds: dict[int, Feed] = {}  # rooms publishing video, by feed id
        self._joined: dict[int, int] = {}
        self._order = itertools.count()
        self._started: dict[int, float] = {}  # feed -> when its current talk began
        self._ended: dict[int, float] = {}  # feed -> when its last talk ended
        self._given: dict[int, float] = {}  # feed -> when it was switched into a slot

    def publish(self, feeds: Iterable[Feed]) -> None:
        for feed in feeds:
            known = self.feeds.get(feed.id)
            if known is not None and known.video and not feed.video:
                feed = known  # a listing without streams (after a claim): keep its mids
            self.feeds[feed.id] = feed
            self._joined.setdefault(feed.id, next(self._order))

    def keep_only(self, feeds: set[int]) -> None:
        """The hub lists these rooms now (a new connection): forget the others."""
        for feed in [f for f in self.feeds if f not in feeds]:
            self.gone(feed)

    def gone(self, feed: int) -> None:
        """The room left or stopped publishing."""
        for table in (self.feeds, self._joined, self._started, self._ended, self._given):
            table.pop(feed, None)

    def talk(self, feed: int, talking: bool, now: float) -> bool:
        """Note talk starting or ending; True if it changed anything."""
        if talking == (feed in self._started):
            return False
        if talking:
            self._started[feed] = now
        else:
            self._started.pop(feed, None)
            self._ended[feed] = now
        return True

    def rank(self, feeds: Iterable[int]) -> list[int]:
        """*feeds*, the most deserving of a slot first."""

        def key(feed: int) -> tuple[int, float, int]:
            if feed in self._started:
                return (0, -self._started[feed], self._joined.get(feed, 0))
            return (1, -self._ended.get(feed, float("-inf")), self._joined.get(feed, 0))

        return sorted(feeds, key=key)

    def plan(self, held: set[int], now: float) -> SlotPlan:
        """What to change, given the rooms *held* in slots now."""
        held = {f for f in held if f in self.feeds}
        waiting = self.rank(f for f in self.feeds if f not in held)
        free = max(0, self.size - len(held))
        add = [self.feeds[f] for f in waiting[:free]]
        talkers = [f for f in waiting[free:] if f in self._started]
        quiet = [f for f in reversed(self.rank(held)) if f not in self._started]
        victims = [f for f in quiet if now - self._given.get(f, float("-inf")) >= MIN_HOLD_S]
        moves = [(old, self.feeds[new]) for new, old in zip(talkers, victims, strict=False)]
        held_back = [self._given[f] + MIN_HOLD_S for f in quiet if f not in victims]
        waiting_talkers = len(talkers) > len(moves)
        retry = min(held_back) if waiting_talkers and held_back else None
        return SlotPlan(add, moves, retry)

    def given(self, feeds: Iterable[int], now: float) -> None:
        """These rooms were just put into slots."""
        for feed in feeds:
            self._given[feed] = now


class Subscription(Protocol):
    """What the keeper needs of the connection's subscriber."""

    feeds: set[int]

    async def switch(self, moves: list[tuple[int, Feed]]) -> list[tuple[int, Feed]]: ...

    async def remove(self, feed: int) -> None: ...


class SlotKeeper:
    """Brings one connection's subscription in line with :class:`VideoSlots`, one change
    at a time: a change asked for while one runs is made after it (never cancelled half
    way: a cancelled subscription request would leave us unsure what the hub holds)."""

    def __init__(
        self,
        slots: VideoSlots,
        subscriber: Subscription,
        add: Callable[[list[Feed]], Awaitable[None]],
        clock: Callable[[], float],
        on_held: Callable[[set[int]], None],
    ) -> None:
        self.slots, self.subscriber = slots, subscriber
        self._add, self._clock, self._on_held = add, clock, on_held
        self._lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        self._retry: asyncio.TimerHandle | None = None

    def changed(self) -> None:
        self._dirty.set()

    async def settle(self) -> None:
        """Make the changes the plan asks for now."""
        async with self._lock:
            try:
                for feed in [f for f in self.subscriber.feeds if f not in self.slots.feeds]:
                    await self.subscriber.remove(feed)  # gone while its slot was moving to it
                plan = self.slots.plan(set(self.subscriber.feeds), self._clock())
                if plan.add:
                    await self._subscribe(plan.add)
                if plan.moves:
                    done = await self.subscriber.switch(plan.moves)
                    self.slots.given((new.id for _, new in done), self._clock())
                    for old, new in done:
                        log.info("video slot: feed %d in place of feed %d", new.id, old)
                    if any(new.id not in self.slots.feeds for _, new in done):
                        self._dirty.set()  # one left meanwhile: its slot is freed next
                self._retry_at(plan.retry_at)
            finally:
                self._on_held(set(self.subscriber.feeds))

    async def _subscribe(self, feeds: list[Feed]) -> None:
        """Subscribe *feeds* at once; if the hub refuses (one left meanwhile), one by one,
        and a room the hub does not know is forgotten until it publishes again."""
        try:
            await self._add(feeds)
        except HubRequestError as err:
            if len(feeds) == 1:
                self.slots.gone(feeds[0].id)
                log.info("feed %d cannot be received: %s", feeds[0].id, err)
                return
            for feed in feeds:
                await self._subscribe([feed])

    def _retry_at(self, when: float | None) -> None:
        """Plan again when a talker's wait for a slot ends (nothing else would wake us)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if when is not None:
            delay = max(0.0, when - self._clock()) + 0.05
            self._retry = asyncio.get_running_loop().call_later(delay, self.changed)

    async def run(self) -> None:
        try:
            while True:
                await self._dirty.wait()
                self._dirty.clear()
                try:
                    await self.settle()
                except EndpointError as err:  # a room gone meanwhile: the next change retries
                    log.warning("could not change the video slots: %s", err)
                except Exception:  # noqa: BLE001 - the slots must keep following the talkers
                    log.exception("changing the video slots failed")
        finally:
            self._retry_at(None)

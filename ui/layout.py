"""The TV layout for 1 to 25 rooms (and more), decided without Qt so it can be tested alone.

The active speaker is large; up to ``slots`` other rooms show their video as thumbnails, the
others (beyond the slots, or without video right now) as tiles with their name only, ordered
by recent speech. A change of speaker is held back until ``hold`` seconds have passed since
the last one, so the screen does not flicker when two rooms talk over each other.

Inputs per room come from the endpoint's ``Participant`` through :class:`Room`; ``video`` says
whether its video reaches us now (today every room's does unless paused; with hub-side video
slots only the rooms in a slot will).
"""

from __future__ import annotations

import math
import re
import time
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from ui import texts

ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-_])")  # terminal colour codes and the like
DROPPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
DEFAULT_SLOTS = 8
DEFAULT_HOLD_S = 2.0


def clean_name(name: str, placeholder: str = texts.NO_NAME) -> str:
    """A room name fit to show: control, format and unassigned characters dropped, spaces
    collapsed, composed (NFC) Vietnamese letters; empty → *placeholder*."""
    composed = unicodedata.normalize("NFC", ESCAPES.sub("", name))
    kept = "".join(" " if c.isspace() else c for c in composed)
    kept = "".join(c for c in kept if unicodedata.category(c) not in DROPPED_CATEGORIES)
    return " ".join(kept.split()) or placeholder


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    w: int
    h: int

    @property
    def right(self) -> int:
        return self.x + self.w

    @property
    def bottom(self) -> int:
        return self.y + self.h

    def overlaps(self, other: Rect) -> bool:
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )

    def inside(self, width: int, height: int) -> bool:
        return self.x >= 0 and self.y >= 0 and self.right <= width and self.bottom <= height


@dataclass(frozen=True)
class Room:
    """What the layout needs of one other room."""

    feed: int
    talking: bool = False
    video: bool = True  # its video reaches us now (not paused, in a hub slot)


class TalkBook:
    """When each room last spoke, from the talking flags the UI receives (clock injected).

    A room speaking now ranks first (the latest to start first), then by when it stopped;
    rooms that never spoke keep their joining order."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.talking: set[int] = set()
        self.joined: dict[int, int] = {}
        self._joins = 0

    def update(self, rooms: Iterable[Room]) -> bool:
        """Note who talks now; True if anyone started or stopped (or came or went)."""
        now, seen, changed = self.clock(), set(), False
        for room in rooms:
            seen.add(room.feed)
            if room.feed not in self.joined:
                self.joined[room.feed], self._joins, changed = self._joins, self._joins + 1, True
            if room.talking != (room.feed in self.talking):
                changed = True
                self.last[room.feed] = now
                if room.talking:
                    self.started[room.feed] = now
            (self.talking.add if room.talking else self.talking.discard)(room.feed)
        for feed in [f for f in self.joined if f not in seen]:
            self._forget(feed)
            changed = True
        return changed

    def _forget(self, feed: int) -> None:
        for table in (self.started, self.last, self.joined):
            table.pop(feed, None)
        self.talking.discard(feed)

    def ranked(self, feeds: Iterable[int]) -> list[int]:
        """*feeds*, the most recent speech first."""

        def key(feed: int) -> tuple[int, float, int]:
            if feed in self.talking:
                return (2, self.started.get(feed, 0.0), -self.joined.get(feed, 0))
            spoke = feed in self.last
            return (int(spoke), self.last.get(feed, 0.0), -self.joined.get(feed, 0))

        return sorted(feeds, key=key, reverse=True)


class SpeakerHold:
    """Who is large: the room talking now (the latest to start), kept while it talks, and
    changed at most once per *hold* seconds; a room that left is replaced at once."""

    def __init__(
        self, hold: float = DEFAULT_HOLD_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.hold = hold
        self.clock = clock
        self.current: int | None = None
        self.changed_at = -math.inf
        self.pending_until: float | None = None  # a change waits until then

    def choose(self, book: TalkBook, feeds: Sequence[int]) -> int | None:
        now = self.clock()
        self.pending_until = None
        wanted = self._wanted(book, feeds)
        if wanted == self.current:
            return self.current
        if self.current in feeds and now - self.changed_at < self.hold:
            self.pending_until = self.changed_at + self.hold
            return self.current
        self.current, self.changed_at = wanted, now
        return wanted

    def _wanted(self, book: TalkBook, feeds: Sequence[int]) -> int | None:
        if not feeds:
            return None
        if self.current in feeds and self.current in book.talking:
            return self.current
        first = book.ranked(feeds)[0]
        if first in book.talking or self.current not in feeds:
            return first
        return self.current  # nobody talks: the last speaker stays


@dataclass(frozen=True)
class Layout:
    """Where everything goes. ``thumbs`` hold video (a plain tile with the name for a room
    in ``no_video``), ``names`` only a name;
    ``overflow`` rooms did not fit at all (shown as «+ N» in ``overflow_rect``)."""

    width: int
    height: int
    caption_h: int
    large: int | None
    large_rect: Rect | None
    thumbs: tuple[tuple[int, Rect], ...]
    names: tuple[tuple[int, Rect], ...]
    self_rect: Rect
    overflow: int = 0
    overflow_rect: Rect | None = None
    no_video: frozenset[int] = frozenset()  # shown by name on a plain tile where they are

    def rects(self) -> list[Rect]:
        """Every tile's rectangle (the large one, thumbnails, names, self view, «+ N»)."""
        found = [self.self_rect, *(r for _, r in self.thumbs), *(r for _, r in self.names)]
        found += [r for r in (self.large_rect, self.overflow_rect) if r is not None]
        return found


@dataclass(frozen=True)
class Metrics:
    """Sizes in pixels for a screen, scaled from a 1080p TV read from 5 m."""

    margin: int
    gap: int
    caption_h: int
    name_h: int
    names_w: int
    min_thumb_w: int

    @classmethod
    def for_screen(cls, width: int, height: int) -> Metrics:
        unit = min(height / 1080, width / 1920)
        return cls(
            margin=max(4, round(12 * unit)),
            gap=max(4, round(10 * unit)),
            caption_h=max(24, round(50 * unit)),
            name_h=max(28, round(58 * unit)),
            names_w=max(200, round(0.23 * width)),
            min_thumb_w=max(120, round(260 * unit)),
        )


def plan(
    ranked: Sequence[Room],
    large: int | None,
    width: int,
    height: int,
    slots: int = DEFAULT_SLOTS,
) -> Layout:
    """The layout for the other rooms *ranked* by recent speech, *large* the speaker."""
    m = Metrics.for_screen(width, height)
    others = [r for r in ranked if r.feed != large]
    first = [r.feed for r in others if r.video] + [r.feed for r in others if not r.video]
    in_grid = set(first[: max(0, slots)])  # rooms with video first, then placeholders
    with_video = [r.feed for r in others if r.feed in in_grid]
    name_only = [r.feed for r in others if r.feed not in in_grid]
    area = Rect(m.margin, m.margin, width - 2 * m.margin, height - 2 * m.margin)
    names: tuple[tuple[int, Rect], ...] = ()
    overflow, overflow_rect = 0, None
    if name_only:
        column = Rect(area.right - m.names_w, area.y, m.names_w, area.h)
        area = Rect(area.x, area.y, area.w - m.names_w - m.gap, area.h)
        names, overflow, overflow_rect = _name_column(name_only, column, m)
    large_rect, thumb_rects = _speaker_and_thumbs(area, len(with_video) + 1, large is not None, m)
    return Layout(
        width=width,
        height=height,
        caption_h=m.caption_h,
        large=large,
        large_rect=large_rect,
        thumbs=tuple(zip(with_video, thumb_rects[:-1], strict=True)),
        names=names,
        self_rect=thumb_rects[-1],
        overflow=overflow,
        overflow_rect=overflow_rect,
        no_video=frozenset(r.feed for r in ranked if not r.video),
    )


def _name_column(
    feeds: list[int], column: Rect, m: Metrics
) -> tuple[tuple[tuple[int, Rect], ...], int, Rect | None]:
    """Name tiles stacked from the top; when they do not all fit, the last row says «+ N»."""
    step = m.name_h + m.gap
    fit = max(1, (column.h + m.gap) // step)
    shown = feeds if len(feeds) <= fit else feeds[: fit - 1]
    rows = [Rect(column.x, column.y + i * step, column.w, m.name_h) for i in range(fit)]
    overflow = len(feeds) - len(shown)
    overflow_rect = rows[len(shown)] if overflow else None
    return tuple(zip(shown, rows, strict=False)), overflow, overflow_rect


def _speaker_and_thumbs(
    area: Rect, count: int, has_large: bool, m: Metrics
) -> tuple[Rect | None, list[Rect]]:
    """The large tile and *count* thumbnails (the last one is our own view): thumbnails in
    rows under the speaker or in columns beside it, whichever leaves the speaker larger;
    thumbnails no narrower than ``min_thumb_w`` unless nothing else fits."""
    if not has_large:  # nobody else yet: our own view in the corner, under the waiting note
        width = max(m.min_thumb_w, area.w // 4)
        height = _tile_h(width, m)
        return None, [Rect(area.right - width, area.bottom - height, width, height)]
    least = m.min_thumb_w
    while True:
        options = [_below(area, count, n, least, m) for n in range(1, count + 1)]
        options += [_beside(area, count, n, least, m) for n in range(1, count + 1)]
        fine = [o for o in options if o is not None]
        if fine or least <= 16:
            break
        least = least * 4 // 5
    if not fine:  # a screen far too small: everything in one row, as it comes
        return _fit_16_9(area, m), _grid(area, count, 1, m, max(1, area.w // count))
    large, thumbs = max(fine, key=lambda o: (o[0].w * o[0].h, o[1][0].w))
    return large, thumbs


def _tile_h(width: int, m: Metrics) -> int:
    return width * 9 // 16 + m.caption_h


def _tile_w(height: int, m: Metrics) -> int:
    return max(1, (height - m.caption_h) * 16 // 9)


def _below(
    area: Rect, count: int, rows: int, least: int, m: Metrics
) -> tuple[Rect, list[Rect]] | None:
    """Thumbnails in *rows* under the speaker, grown into whatever height it leaves."""
    cols = math.ceil(count / rows)
    if cols * least + (cols - 1) * m.gap > area.w:
        return None
    strip_h = rows * (_tile_h(least, m) + m.gap)
    if area.h - strip_h < m.caption_h * 3:
        return None
    large = _fit_16_9(Rect(area.x, area.y, area.w, area.h - strip_h), m)
    spare = area.h - large.h - m.gap * rows
    width = min((area.w - (cols - 1) * m.gap) // cols, _tile_w(spare // rows, m))
    large = Rect(large.x, area.y, large.w, large.h)
    strip = Rect(area.x, large.bottom + m.gap, area.w, area.bottom - large.bottom - m.gap)
    return large, _grid(strip, count, rows, m, width)


def _beside(
    area: Rect, count: int, cols: int, least: int, m: Metrics
) -> tuple[Rect, list[Rect]] | None:
    """Thumbnails in *cols* right of the speaker, grown into whatever width it leaves."""
    rows = math.ceil(count / cols)
    if rows * _tile_h(least, m) + (rows - 1) * m.gap > area.h:
        return None
    strip_w = cols * (least + m.gap)
    if area.w - strip_w < m.caption_h * 3:
        return None
    large = _fit_16_9(Rect(area.x, area.y, area.w - strip_w, area.h), m)
    spare = area.w - large.w - m.gap * cols
    width = min(spare // cols, _tile_w((area.h - (rows - 1) * m.gap) // rows, m))
    large = Rect(area.x, large.y, large.w, large.h)
    strip = Rect(large.right + m.gap, area.y, area.right - large.right - m.gap, area.h)
    return large, _grid(strip, count, rows, m, width)


def _fit_16_9(box: Rect, m: Metrics) -> Rect:
    """The largest 16:9 picture plus caption inside *box*, centred."""
    width = min(box.w, _tile_w(box.h, m))
    height = _tile_h(width, m)
    return Rect(box.x + (box.w - width) // 2, box.y + (box.h - height) // 2, width, height)


def _grid(box: Rect, count: int, rows: int, m: Metrics, width: int) -> list[Rect]:
    """*count* tiles of *width* in *rows*, centred in *box*."""
    cols = math.ceil(count / rows)
    height = _tile_h(width, m)
    total_w = cols * width + (cols - 1) * m.gap
    total_h = rows * height + (rows - 1) * m.gap
    x0, y0 = box.x + (box.w - total_w) // 2, box.y + (box.h - total_h) // 2
    return [
        Rect(x0 + (i % cols) * (width + m.gap), y0 + (i // cols) * (height + m.gap), width, height)
        for i in range(count)
    ]

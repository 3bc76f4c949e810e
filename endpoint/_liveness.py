"""Is the meeting still alive? Decided from what arrives, within a few seconds.

aiortc takes ~30 s to call a dead link ``failed`` and the hub keeps a dead room
visible for its own timeouts (measured 44 s), so the endpoint watches for itself:
the hub answers a keepalive every second, it sends RTCP to the publisher and the mix
of the meeting's audio continuously, and every other room sends at least a video frame
a second. Signaling over TCP can stall for seconds on a lossy link while UDP media still
gets through, so the hub counts as gone only when both are quiet (or signaling is
quiet for much longer).

A room's own audio is mixed on the hub, so what tells us a room is alive is its video,
its packets as they arrive (a picture that loss holds back still counts) and its frames:
a room on the still picture (a frame a second) is given three of its frame gaps (up to
``STALE_MAX``) before it is called gone. A room whose video cannot tell (we paused it for
our downlink, it publishes none, or none has ever arrived) is held alive while it is a
member of the meeting's audio (the AudioBridge): it is heard, so it is not gone.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

HUB_SILENT_AFTER = 2.0  # s without a byte from the hub, while UDP is quiet too
HUB_SILENT_MAX = 6.0  # s without signaling even while media still arrives
STALE_AFTER = 2.0  # s without a frame from a room: its tile says «mất kết nối»
FIRST_MEDIA_GRACE = 4.0  # s a room that just appeared may take to send its first frame
CHECK_EVERY = 0.25  # s between checks
SLOW_GAPS = 3.0  # a slow sender (still picture) is stale after this many of its frame gaps ...
STALE_MAX = 4.0  # ... but after at most this many seconds
GAPS_KEPT = 5  # frame gaps the typical one is taken from (their median)


def hub_lost(now: float, heard: float, media: float | None) -> str | None:
    """Why the hub counts as gone, or None: *heard* is when signaling last arrived,
    *media* when a UDP packet (media, RTCP) last arrived (None: no media connection)."""
    quiet = now - heard
    media_quiet = quiet if media is None else now - media
    if quiet > HUB_SILENT_MAX or min(quiet, media_quiet) > HUB_SILENT_AFTER:
        return f"nothing from the hub for {quiet:.1f} s"
    return None


@dataclass
class MediaClock:
    """When a room's media last arrived; stale after ``STALE_AFTER`` without any."""

    last: float
    stale: bool = False
    heard: bool = False  # any media arrived at all
    gaps: deque[float] = field(default_factory=lambda: deque(maxlen=GAPS_KEPT))

    @classmethod
    def starting(cls, now: float) -> MediaClock:
        return cls(now + FIRST_MEDIA_GRACE - STALE_AFTER)

    def arrived(self, now: float) -> bool:
        """Note a frame; True when this ends a stale spell."""
        if not self.stale and 0.0 < now - self.last <= STALE_MAX:
            self.gaps.append(now - self.last)
        self.last, self.heard = now, True
        was, self.stale = self.stale, False
        return was

    def allowance(self) -> float:
        """How long this room may be quiet: ``STALE_AFTER``, longer for a slow sender."""
        if len(self.gaps) < 3:
            return STALE_AFTER
        typical = sorted(self.gaps)[len(self.gaps) // 2]
        return min(STALE_MAX, max(STALE_AFTER, SLOW_GAPS * typical))

    def hold(self, now: float) -> bool:
        """The room is still there though its video cannot show it (paused on our side,
        none published or none yet): alive, with time for video to resume. True when this
        ends a stale spell."""
        self.last = max(self.last, now + FIRST_MEDIA_GRACE - STALE_AFTER)
        was, self.stale = self.stale, False
        return was

    def check(self, now: float) -> bool:
        """True when the room has just gone stale."""
        if self.stale or now - self.last <= self.allowance():
            return False
        self.stale = True
        return True

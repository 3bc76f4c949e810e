"""Is the meeting still alive? Decided from what arrives, within a few seconds.

aiortc takes ~30 s to call a dead link ``failed`` and the hub keeps a dead room
visible for its own timeouts (measured 44 s), so the endpoint watches for itself:
the hub answers a keepalive every second, it sends RTCP to the publisher, and every
other room sends audio frames continuously (silence too) and at least a video frame a
second. Signaling over TCP can stall for seconds on a lossy link while UDP media still
gets through, so the hub counts as gone only when both are quiet (or signaling is
quiet for much longer).
"""

from __future__ import annotations

from dataclasses import dataclass

HUB_SILENT_AFTER = 2.0  # s without a byte from the hub, while UDP is quiet too
HUB_SILENT_MAX = 6.0  # s without signaling even while media still arrives
STALE_AFTER = 2.0  # s without a frame from a room: its tile says «mất kết nối»
FIRST_MEDIA_GRACE = 4.0  # s a room that just appeared may take to send its first frame
CHECK_EVERY = 0.25  # s between checks


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

    @classmethod
    def starting(cls, now: float) -> MediaClock:
        return cls(now + FIRST_MEDIA_GRACE - STALE_AFTER)

    def arrived(self, now: float) -> bool:
        """Note a frame; True when this ends a stale spell."""
        self.last = now
        was, self.stale = self.stale, False
        return was

    def check(self, now: float) -> bool:
        """True when the room has just gone stale."""
        if self.stale or now - self.last <= STALE_AFTER:
            return False
        self.stale = True
        return True

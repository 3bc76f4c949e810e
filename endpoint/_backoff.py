"""Retry policy for rejoining: exponential backoff with jitter.

After a hub restart every room of the district retries at once; the jitter spreads
25 rooms over more than a second so the hub is not hit in the same 100 ms, and the
cap keeps a room that lost its link for minutes trying every few seconds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``delay()`` for attempt n is ``min(cap, first * 2**n)`` times a random 0.5–1.5."""

    first: float = 1.0
    cap: float = 1.0
    spread: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def delay(self) -> float:
        """Seconds to wait before the next attempt (and count it)."""
        base = min(self.cap, self.first * 2.0**self.attempt)
        self.attempt += 1
        return base * self.rng.uniform(1.0 - self.spread, 1.0 + self.spread)

    def reset(self) -> None:
        self.attempt = 0

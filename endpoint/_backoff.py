"""Retry policy for rejoining: exponential backoff with jitter.

After a hub restart every room of the district retries at once; the jitter spreads
25 rooms over more than a second so the hub is not hit in the same 100 ms, and the
cap keeps a room whose link is down trying every second or so (it costs one TCP SYN),
while a hub that answers but refuses is asked again only every 10–30 s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """``delay()`` for attempt n is ``min(cap, first * 2**n)`` times a random 0.5–1.5;
    with ``slow`` (the hub answered, but refused) the cap is ``slow_cap`` instead."""

    first: float = 1.0
    cap: float = 1.0
    slow_cap: float = 20.0
    spread: float = 0.5
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def delay(self, slow: bool = False) -> float:
        """Seconds to wait before the next attempt (and count it)."""
        base = min(self.slow_cap if slow else self.cap, self.first * 2.0**self.attempt)
        self.attempt += 1
        return base * self.rng.uniform(1.0 - self.spread, 1.0 + self.spread)

    def reset(self) -> None:
        self.attempt = 0

"""What one direction of an impaired link does to each packet: pure, time and RNG injected.

The relay (``tests._linkrelay``) asks a :class:`PathModel` when a packet that arrives
now should leave (or why it is dropped); the models here never read a clock, so the
unit tests drive them with made-up times and a seeded RNG.

Order per packet: cut, then loss (random or Gilbert-Elliott), then the rate cap (a
token-bucket bottleneck with a tail-drop queue of ``queue_ms``), then delay and jitter.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields

#: Packets held in one direction's delay line at most (beyond: dropped as "queue").
MAX_IN_FLIGHT = 10_000


class ImpairmentError(ValueError):
    """An impairment setting is out of bounds (names the field, the value and the rule)."""


@dataclass(frozen=True)
class Impairment:
    """What one direction of a link does to the packets that cross it.

    ``loss`` is the average loss rate (0..1). With ``burst`` ≥ 1 losses come in bursts
    (Gilbert-Elliott, two states) of that mean length in packets; 0 means independent
    losses. ``jitter_ms`` adds a uniform random 0..jitter to ``delay_ms``; packets keep
    their order unless ``reorder`` (then a later packet may overtake an earlier one).
    ``rate_kbps`` caps the throughput (0 = unlimited; whole frames count, headers too)
    behind a tail-drop queue that holds ``queue_ms`` of traffic at that rate. ``cut``
    drops everything, in flight included.
    """

    loss: float = 0.0
    burst: float = 0.0
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    reorder: bool = False
    rate_kbps: float = 0.0
    queue_ms: float = 200.0
    cut: bool = False

    def __post_init__(self) -> None:
        _check(self.loss, "loss", 0.0 <= self.loss <= 1.0, "must be within 0..1")
        burst_ok = self.burst == 0.0 or self.burst >= 1.0
        _check(self.burst, "burst", burst_ok, "must be 0 (random loss) or >= 1 packet")
        bursty = self.burst > 0.0 and self.loss < 1.0
        reachable = not bursty or self.loss <= self.burst / (self.burst + 1.0)
        _check(self.loss, "loss", reachable, "with bursts, must be <= burst / (burst + 1)")
        for name in ("delay_ms", "jitter_ms", "rate_kbps"):
            value = getattr(self, name)
            _check(value, name, 0.0 <= value <= 1e7, "must be within 0..1e7")
        _check(self.queue_ms, "queue_ms", 1.0 <= self.queue_ms <= 1e4, "must be within 1..1e4")

    def to_dict(self) -> dict[str, float | bool]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Impairment:
        """Build from a dict; unknown keys are rejected by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ImpairmentError(f"unknown impairment key(s) {unknown}; known: {sorted(known)}")
        return cls(**data)  # type: ignore[arg-type]


def _check(value: object, name: str, ok: bool, rule: str) -> None:
    if not ok:
        raise ImpairmentError(f"impairment.{name} = {value!r}: {rule}")


class LossModel:
    """Random loss, or Gilbert-Elliott bursts: a bad state that loses every packet,
    left with probability 1/burst, entered so that the long-run loss rate is ``loss``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.bad = False

    def lost(self, imp: Impairment) -> bool:
        if imp.loss <= 0.0:
            self.bad = False
            return False
        if imp.loss >= 1.0:
            return True
        if imp.burst < 1.0:
            return self.rng.random() < imp.loss
        return self._gilbert(imp.loss, 1.0 / imp.burst)

    def _gilbert(self, loss: float, leave_bad: float) -> bool:
        enter_bad = min(1.0, loss * leave_bad / (1.0 - loss))
        flip = leave_bad if self.bad else enter_bad
        if self.rng.random() < flip:
            self.bad = not self.bad
        return self.bad


class RateShaper:
    """A bottleneck of ``rate_kbps``: each packet leaves when the ones before it have
    been sent; one that would wait longer than ``queue_ms`` is dropped (tail drop)."""

    def __init__(self) -> None:
        self.busy_until = 0.0

    def departure(self, now: float, size: int, imp: Impairment) -> float | None:
        if imp.rate_kbps <= 0.0:
            return now
        start = max(now, self.busy_until)
        if start - now > imp.queue_ms / 1000.0:
            return None
        self.busy_until = start + size * 8 / (imp.rate_kbps * 1000.0)
        return self.busy_until


@dataclass
class Counters:
    """Packets per fate in one direction: ``forwarded`` (and their ``bytes``) were
    delivered; ``loss``, ``cut`` and ``queue`` (rate-cap tail drop, full delay line) were
    dropped by the link; ``error`` could not be written (the receiving device was down)."""

    forwarded: int = 0
    bytes: int = 0
    loss: int = 0
    cut: int = 0
    queue: int = 0
    error: int = 0

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class PathModel:
    """One direction of the link: decides each packet's fate and departure time."""

    rng: random.Random
    impairment: Impairment = field(default_factory=Impairment)
    counters: Counters = field(default_factory=Counters)
    loss_model: LossModel = field(init=False)
    shaper: RateShaper = field(default_factory=RateShaper)
    last_due: float = 0.0

    def __post_init__(self) -> None:
        self.loss_model = LossModel(self.rng)

    def admit(self, now: float, size: int, in_flight: int) -> float | None:
        """When a packet of *size* bytes arriving at *now* is delivered; None = dropped."""
        imp = self.impairment
        if imp.cut:
            self.counters.cut += 1
            return None
        if self.loss_model.lost(imp):
            self.counters.loss += 1
            return None
        departs = self.shaper.departure(now, size, imp)
        if departs is None or in_flight >= MAX_IN_FLIGHT:
            self.counters.queue += 1
            return None
        return self._delayed(departs, imp)

    def _delayed(self, departs: float, imp: Impairment) -> float:
        due = departs + (imp.delay_ms + self.rng.uniform(0.0, imp.jitter_ms)) / 1000.0
        if not imp.reorder:
            due = max(due, self.last_due)
        self.last_due = max(due, self.last_due)
        return due

    def delivered(self, size: int) -> None:
        self.counters.forwarded += 1
        self.counters.bytes += size

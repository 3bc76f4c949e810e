"""The playout mixer: delay that follows the measured jitter, trimmed back, and the counters
the links benchmark reads continuity from. Time is stepped, never slept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pytest

from devices import Playout
from devices.speaker import SourceStats

RATE = 48000
FRAME = 960  # what the decoder writes: 20 ms
BLOCK = 480  # what the speaker reads: 10 ms


@dataclass
class Sim:
    """A playout read by a speaker every 10 ms of a stepped clock, fed a 440 Hz tone."""

    adaptive: bool = True
    now: float = 0.0
    written: int = 0
    out: list[np.ndarray] = field(default_factory=list)
    levels: list[tuple[float, float]] = field(default_factory=list)  # (t, buffered ms)

    def __post_init__(self) -> None:
        self.playout = Playout(adaptive=self.adaptive, clock=lambda: self.now)
        self._next_read = 0.0

    def run(self, arrivals: Iterable[tuple[float, int]], until: float) -> None:
        """Write *frames* frames at each (t, frames), reading every 10 ms up to *until*."""
        for t, frames in sorted(arrivals):
            self._read_until(t)
            self.now = t
            self.playout.write("far", self._tone(frames * FRAME))
        self._read_until(until)

    def _read_until(self, t: float) -> None:
        while self._next_read < t:
            self.now = self._next_read
            self.out.append(self.playout.read(BLOCK))
            self.levels.append((self.now, self.stats.buffered_ms))
            self._next_read += BLOCK / RATE

    def _tone(self, count: int) -> np.ndarray:
        n = np.arange(self.written, self.written + count)
        self.written += count
        return (0.5 * np.sin(2 * np.pi * 440 * n / RATE)).astype(np.float32)

    @property
    def stats(self) -> SourceStats:
        return self.playout.stats().get("far", SourceStats())

    def mean_level(self, since: float, until: float = float("inf")) -> float:
        return float(np.mean([ms for t, ms in self.levels if since <= t < until]))


def steady(start: float, end: float, jitter: float = 0.0, seed: int = 1) -> list[tuple[float, int]]:
    """One frame per 20 ms sent from *start* to *end*, each arriving up to *jitter* late
    (uniformly, order kept as on a link that queues)."""
    rng, arrivals, last = np.random.default_rng(seed), [], 0.0
    for sent in np.arange(start, end, FRAME / RATE):
        last = max(last, sent + rng.uniform(0, jitter))
        arrivals.append((last, 1))
    return arrivals


# -- adaptive -----------------------------------------------------------------------------------


def test_on_a_lan_the_delay_settles_small_and_nothing_stalls() -> None:
    sim = Sim()
    sim.run(steady(0, 20, jitter=0.002), until=20)
    assert sim.stats.target_ms == pytest.approx(40, abs=1)
    assert 30 <= sim.mean_level(10) <= 60
    assert sim.stats.underruns == 0 and sim.stats.stalled == 0
    assert sim.stats.continuity == 1.0


def test_a_jittery_link_raises_the_target_and_keeps_playing() -> None:
    """300 ms RTT with +-30 ms jitter: 60 ms of spread on the way in."""
    sim = Sim()
    sim.run(steady(0, 30, jitter=0.06), until=30)
    assert 70 <= sim.stats.target_ms <= 100
    assert sim.stats.continuity >= 0.99
    assert max(ms for t, ms in sim.levels) <= 250, "never builds seconds"
    assert sim.mean_level(10) <= 120


def test_when_the_jitter_goes_the_delay_comes_back_down() -> None:
    sim = Sim()
    sim.run(steady(0, 15, jitter=0.06) + steady(15, 40, jitter=0.002), until=40)
    assert sim.mean_level(10, 15) > 50
    assert sim.stats.target_ms == pytest.approx(40, abs=1)
    assert sim.mean_level(35) <= 60
    assert sim.stats.trimmed > 0


def test_a_late_burst_costs_its_lateness_not_a_new_priming() -> None:
    """Frames 100..104 held 200 ms on the link, then all arrive at once (order kept)."""
    arrivals = [(t + 0.2 if 2.0 <= t < 2.1 else t, n) for t, n in steady(0, 20)]
    arrivals = [(max(t, 2.2) if 2.0 <= t < 2.2 else t, n) for t, n in arrivals]
    sim = Sim()
    sim.run(arrivals, until=20)
    stalled_ms = sim.stats.stalled / RATE * 1000
    assert sim.stats.underruns == 1
    assert 130 <= stalled_ms <= 200, "200 ms late minus what was buffered"
    assert sim.mean_level(2.3, 5) > 100, "for a while the spike is covered"
    assert sim.mean_level(15) <= 60, "then the delay it left is cut back"


def test_cuts_are_cross_faded_not_clicks() -> None:
    sim = Sim()
    sim.run([(0.0, 7)] + steady(0, 10), until=10)  # starts 160 ms deep
    tone = np.concatenate(sim.out)
    tone = tone[np.argmax(np.abs(tone) > 0) :]
    assert sim.stats.trimmed >= RATE * 0.05
    assert np.max(np.abs(np.diff(tone))) < 0.04, "a plain cut of a tone jumps up to 1.0"
    assert sim.stats.underruns == 0


def test_a_huge_write_is_cut_at_once() -> None:
    sim = Sim()
    sim.run([(0.0, 40)], until=0.01)  # 800 ms in one go
    assert sim.stats.buffered_ms <= 80 and sim.stats.trimmed >= RATE * 0.7


# -- counters -----------------------------------------------------------------------------------


def test_counters_split_played_from_stalled_and_survive_removal() -> None:
    sim = Sim()
    sim.run([(0.5, 0)] + steady(0.5, 2) + steady(3, 4), until=4)  # 1 s outage
    stats = sim.stats
    assert stats.stalled == pytest.approx(RATE * 1.0, abs=RATE * 0.1), "priming is no stall"
    assert stats.played == pytest.approx(RATE * 2.5, abs=RATE * 0.12)
    assert stats.continuity == pytest.approx(2.5 / 3.5, abs=0.04)
    sim.playout.remove("far")
    assert sim.playout.stats() == {}
    assert sim.playout.totals().played == stats.played
    assert sim.playout.totals().stalled == stats.stalled


def test_a_source_that_never_started_stalls_nothing() -> None:
    sim = Sim()
    sim.run([(0.0, 1)], until=1)  # 20 ms: never reaches the first target
    assert sim.stats.played == sim.stats.stalled == 0 and sim.stats.continuity == 1.0


# -- the baseline ---------------------------------------------------------------------------------


def test_baseline_keeps_the_fixed_mixer() -> None:
    """adaptive=False: 80 ms priming, a cut at 200 ms, and every underrun waits for 80 ms."""
    sim = Sim(adaptive=False)
    sim.run(steady(0, 2) + steady(2.5, 4), until=4)
    assert sim.stats.target_ms == 80
    assert sim.stats.underruns == 1
    # dry from ~2.08 s (80 ms buffered) until 80 ms are back at ~2.58 s
    assert sim.stats.stalled == pytest.approx(RATE * 0.5, abs=RATE * 0.03)
    first = next(i for i, block in enumerate(sim.out) if np.any(block))
    assert first * BLOCK >= RATE * 0.06, "nothing plays before 80 ms are in"
    sim.run([(4.0, 15)], until=4.02)
    assert sim.stats.trimmed > 0 and sim.stats.buffered_ms <= 80


def test_adaptive_resumes_sooner_than_the_baseline_after_a_dry_spell() -> None:
    arrivals = steady(0, 2) + steady(2.5, 4)
    ours, baseline = Sim(), Sim(adaptive=False)
    ours.run(arrivals, until=4)
    baseline.run(arrivals, until=4)
    assert ours.stats.stalled < baseline.stats.stalled - RATE * 0.015

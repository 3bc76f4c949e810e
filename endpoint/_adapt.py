"""Which quality tier our outgoing video can afford: a pure policy, clock injected.

Inputs, each stamped with the injected clock when it is given: the hub's receiver reports
on our streams (fraction lost, and the round-trip time aiortc derives from them; Janus
1.1.2 sends one RR per medium every second), the hub's REMB (Janus sends the room's
``bitrate`` cap every 5 s, after a ramp at startup) and what we send (bit/s, audio and
video, on the wire). Output: a ``Tier`` and, when it changes, the reason.

The rules, with the issue's figures:

- *Down* within 5 s of sustained loss above ``LOSS_DOWN`` (5 %): when the median loss of
  the reports of the last ``WINDOW`` s (at least ``MIN_REPORTS`` of them, so one lossy
  report never decides) is above it, or the round trip has grown ``QUEUE_DOWN`` above the
  smallest one seen (a queue is building: the link cannot carry the tier). One tier at a
  time, or further when what still arrives (send rate x (1 - loss)) cannot carry the next
  tier down. The evidence is cleared at every change, so the next step needs fresh reports.
- Loss up to ``LOSS_STILL`` (20 %) goes no lower than the lowest video tier: random loss
  is not cured by sending less, and 320x180@10 still moves (a frame every 100 ms). The
  still picture is for links that cannot carry video: loss above ``LOSS_STILL`` that
  sending less does not cure, or a REMB below the lowest video tier.
- The REMB is a hard cap, applied at once: no tier whose video exceeds it. It is the
  VideoRoom's and covers our video only (our audio goes to the AudioBridge, on its own
  connection). What still arrives of our total send rate (audio and video) must carry a
  tier's video plus ``AUDIO_RESERVE``: audio is never starved by video on the uplink.
- The meeting's size is a cap too: every room receives up to ``PICTURES`` of the others'
  pictures (the speaker and the thumbnails, ``_slots``), and they must fit a rural
  downlink (``DOWNLINK_VIDEO``, which with the hub's audio mix stays under 1.5 Mbit/s).
  So a room sends 640x360 to one or two others, 424x240 to three or four, and 320x180 to
  a district meeting: one stream, sized by the meeting, instead of a second thumbnail
  stream (aiortc has no simulcast; a second encoder would cost every room CPU and uplink).
- *Up* one tier after ``UP_HOLD`` (30 s) clean: median loss under ``LOSS_UP`` (2 %) and no
  queue, with the next tier inside the REMB. A step up that is followed by a step down
  within ``UP_HOLD`` doubles the hold before the next try (up to ``MAX_UP_HOLD``), so a link
  at the edge of a tier does not flap; a step up that holds resets it.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

AUDIO_RESERVE = 40_000  # bit/s kept for Opus: 28 kbit/s payload is ~38 kbit/s on the wire
LOSS_DOWN = 0.05  # median loss above this over WINDOW: step down
LOSS_UP = 0.02  # median loss below this (and no queue) counts as clean
LOSS_STILL = 0.20  # loss above this may go down to the still picture
QUEUE_DOWN = 0.25  # s of round trip above the smallest seen: a queue, step down
QUEUE_UP = 0.10  # s of round trip above the smallest seen that still counts as clean
WINDOW = 3.0  # s of receiver reports a decision looks at (about six: audio + video)
MIN_REPORTS = 4  # reports needed in the window before loss or a queue decides anything
UP_HOLD = 30.0  # s clean before one step up
MAX_UP_HOLD = 240.0  # s: the longest hold after repeated failed steps up
PICTURES = 9  # pictures a room receives at most (a kiosk's default video slots)
DOWNLINK_VIDEO = 1_400_000  # bit/s of video one room can receive on a rural link


@dataclass(frozen=True)
class Tier:
    """What the camera track sends: size (at most), frame rate and VP8 target bit rate."""

    name: str
    width: int
    height: int
    fps: float
    bitrate: int  # bit/s of video

    @property
    def need(self) -> int:
        """bit/s this tier needs with the audio beside it."""
        return self.bitrate + AUDIO_RESERVE


# Lowest first. The still picture is a fresh camera frame once a second at a tiny bit rate:
# the other rooms still see who is there, and their media clocks keep ticking.
TIERS = (
    Tier("still", 320, 180, 1.0, 20_000),
    Tier("320x180@10", 320, 180, 10.0, 150_000),
    Tier("424x240@15", 424, 240, 15.0, 300_000),
    Tier("640x360@15", 640, 360, 15.0, 500_000),
)
STILL, LOWEST_VIDEO, TOP = 0, 1, len(TIERS) - 1


@dataclass(frozen=True)
class Change:
    tier: Tier
    reason: str


@dataclass(frozen=True)
class _Report:
    at: float
    loss: float
    rtt: float | None


class TierPolicy:
    """Feed it reports as they come; ``decide()`` (call it often) says when to change.

    ``index`` is the tier the link allows by loss and round trip (with hysteresis); the
    tier sent is that, or lower while the hub's REMB says so (followed at once, both ways:
    it is the hub's own statement, and at startup Janus ramps it up over four packets).
    """

    def __init__(self, clock: Callable[[], float], up_hold: float = UP_HOLD) -> None:
        self._clock = clock
        self.index = TOP
        self.reason = "start"
        self._reports: deque[_Report] = deque()
        self._min_rtt: float | None = None
        self._remb: int | None = None
        self._others = 0  # other rooms in the meeting
        self._send_bps: float | None = None
        self._base_hold = self._up_hold = up_hold
        self._clean_since: float | None = None
        self._last_up: float | None = None
        self._sending = self.tier

    @property
    def tier(self) -> Tier:
        """The tier to send now."""
        cap = TOP if self._remb is None else _fitting(self._remb, audio=0)  # video only
        return TIERS[min(self.index, cap, self._size_cap)]

    @property
    def _size_cap(self) -> int:
        pictures = max(1, min(self._others, PICTURES))
        return _fitting(DOWNLINK_VIDEO / pictures, audio=0)

    def meeting(self, others: int) -> None:
        """How many other rooms receive our picture."""
        self._others = others

    # -- inputs ---------------------------------------------------------------------
    def loss_report(self, fraction_lost: float, rtt: float | None = None) -> None:
        """A receiver report on one of our streams: *fraction_lost* in 0..1, *rtt* in s."""
        self._reports.append(_Report(self._clock(), fraction_lost, rtt))
        if rtt is not None and rtt > 0:
            self._min_rtt = rtt if self._min_rtt is None else min(self._min_rtt, rtt)

    def remb(self, bitrate: int) -> None:
        """The hub's receiver-estimated maximum bit rate for our video (the VideoRoom's
        connection: our audio goes to the AudioBridge on another)."""
        self._remb = bitrate

    def send_rate(self, bps: float) -> None:
        """What we send now, audio and video, bit/s on the wire."""
        self._send_bps = bps

    # -- the decision -----------------------------------------------------------------
    def decide(self) -> Change | None:
        """The new tier to send and why, or None to stay."""
        now = self._clock()
        while self._reports and self._reports[0].at < now - WINDOW:
            self._reports.popleft()
        self._probe_held(now)
        reason = self._congestion(now) or self._clean(now)
        if self.tier == self._sending:
            return None
        self._sending = self.tier
        if reason is None and self._sending == TIERS[self._size_cap]:
            reason = f"meeting of {self._others + 1} rooms"
        self.reason = reason or f"REMB {(self._remb or 0) // 1000} kbit/s"
        return Change(self.tier, self.reason)

    def _congestion(self, now: float) -> str | None:
        loss, queue = self._evidence()
        if loss is None or (loss <= LOSS_DOWN and queue <= QUEUE_DOWN):
            return None
        target = TIERS.index(self.tier) - 1
        if self._send_bps:
            target = min(target, _fitting(self._send_bps * (1.0 - loss)))
        target = max(target, STILL if loss > LOSS_STILL else LOWEST_VIDEO)
        if target >= self.index:
            return None
        why = f"loss {loss:.0%}" if loss > LOSS_DOWN else f"round trip +{queue * 1000:.0f} ms"
        return self._move(now, target, f"{why} over {WINDOW:.0f} s")

    def _clean(self, now: float) -> str | None:
        loss, queue = self._evidence()
        if loss is None or loss >= LOSS_UP or queue >= QUEUE_UP:
            self._clean_since = None
            return None
        if self._clean_since is None:
            self._clean_since = now
        if now - self._clean_since < self._up_hold or self.index == TOP:
            return None
        if self._remb is not None and TIERS[self.index + 1].bitrate > self._remb:
            return None
        if self.index >= self._size_cap:  # a step up the meeting's size would not let out
            return None
        return self._move(now, self.index + 1, f"clean for {now - self._clean_since:.0f} s")

    def _evidence(self) -> tuple[float | None, float]:
        """Median loss and queueing delay over the window (loss None: too few reports)."""
        if len(self._reports) < MIN_REPORTS:
            return None, 0.0
        loss = statistics.median(r.loss for r in self._reports)
        rtts = [r.rtt for r in self._reports if r.rtt is not None]
        if not rtts or self._min_rtt is None:
            return loss, 0.0
        return loss, max(0.0, statistics.median(rtts) - self._min_rtt)

    def _move(self, now: float, index: int, reason: str) -> str:
        if index < self.index and self._last_up is not None:  # the last step up failed
            self._up_hold = min(self._up_hold * 2, MAX_UP_HOLD)
        self._last_up = now if index > self.index else None
        self.index = index
        self._reports.clear()  # the next decision needs fresh evidence
        self._clean_since = None
        return reason

    def _probe_held(self, now: float) -> None:
        """A step up that held for the base hold was right: the hold is back to normal."""
        if self._last_up is not None and now - self._last_up >= self._base_hold:
            self._up_hold, self._last_up = self._base_hold, None


def _fitting(bps: float, audio: int = AUDIO_RESERVE) -> int:
    """The highest tier whose video, with *audio* beside it, fits in *bps* (the still
    picture at least)."""
    return max((i for i, t in enumerate(TIERS) if t.bitrate + audio <= bps), default=STILL)

"""Receive-side protection: when our downlink is congested, pause the incoming video.

A rate-capped link (a DSL line, a shared radio hop) holds what it cannot carry in a queue
and drops at the tail of that queue, audio as readily as video. Then the hub is asked to
stop relaying video to us (its subscriber ``configure`` with ``send: false`` per video
m-line: no renegotiation), so the room keeps hearing the meeting. Random loss is *not* a
reason: audio loses the same share whether video flows or not, and retransmission plus
our time-bounded jitter buffer keep the picture moving (endpoint/_jitter.py).

The signal (:class:`Congestion`, one verdict per LinkWatch sample, once a second):

- ``queue``: the standing queue on the incoming audio: the least transit (arrival against
  RTP timestamp) of the last 0.5 s above the least of the last 10 s (endpoint/_transit.py),
  the smallest over the rooms we hear. Audio flows while video is paused, so the signal
  is there before, during and after a pause. A fixed long path (300 ms round trip) is in
  the floor; jitter is single late packets, which the half-second minimum ignores.
- ``hub_queue``: the same on the hub's RTCP sender reports, which only our downlink
  carries. A sending room behind a thin uplink shows a queue and loss on its own media
  too; its sender reports do not, and pausing our video would not help it (its own send
  tiers do). Unknown (no reports lately, e.g. dropped at the tail) does not block.
- ``loss``: percent of incoming packets lost over the last 2 s (all streams).

Congested when ``hub_queue`` (if known) is at least ``HUB_QUEUE`` and either

- the queue stands at ``QUEUE`` or more *and* ``LOSS`` % or more is lost: a full queue
  dropping at its tail. 80 ms: a queue the jitter of a radio hop does not fake (the
  minimum over half a second of 25 packets), well under what a thin link's buffer holds
  (a 256 kbit/s cap with a 200 ms queue shows 150-200 ms). 5 %: a full tail-drop queue
  under 1.5-2x its rate drops 30-50 %; a short queue that drops nothing is no reason.
  A delay step with no loss (a route change, a satellite hop) does not pause.
- or the queue is ``BLOAT`` or more and grew by ``GROWTH`` on each of the last two samples:
  a deep buffer that does not drop yet, but whose delay keeps climbing (audio then comes
  slower than it plays and stalls). A one-off step grows once, not twice.

Two congested samples among the last three pause (``CONFIRM`` of ``CONFIRM_OF``; not
strictly in a row, as the hub's reports may miss one sample of a full queue): the evidence
already holds 0.5 s of standing queue and 2 s of loss, so the pause comes 2-3 s after the
queue fills. One sample was not enough on a loaded machine, where a stall of the whole
path (a CPU-starved relay, a busy process) made a 10 % random-loss link read as a full
queue for a moment (bench/links.py loss10: video paused in 1 of 3 runs). After a resume,
during ``PROBATION``, one sample is enough: the try failed, and the link is known to be
thin.

Resuming: while paused, audio alone cannot show whether the link could carry video again,
so video is tried again after ``RESUME_AFTER`` s without a standing queue; a try that brings
the congestion back is paused within a sample or two, and if it came within ``PROBATION``
s of the try, the next wait doubles (up to ``RESUME_MAX``); a resumed video that lasts
``SETTLED`` s sets the wait back.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

QUEUE = 0.08  # s of standing queue on the incoming audio ...
LOSS = 5.0  # ... with this % lost over the last LOSS_WINDOW s: congested
HUB_QUEUE = 0.05  # s of queue on the hub's sender reports: the queue is on our downlink
BLOAT = 0.25  # s of standing queue that, growing ...
GROWTH = 0.03  # ... by this much on each of the last two samples, is congestion without loss
LOSS_WINDOW = 2.0  # s the loss figure for the pause is counted over
RESUME_AFTER = 30.0  # s without a standing queue before video is tried again
RESUME_MAX = 120.0  # s, the longest wait after repeated failed tries
PROBATION = 20.0  # s: a pause this soon after a resume doubles the next wait
CONFIRM = 2  # congested samples among the last CONFIRM_OF (one a second) pause the video
CONFIRM_OF = 3  # (not strictly in a row: the hub's reports may miss one sample of a full queue)
SETTLED = 60.0  # s of video after a resume: the wait is back to RESUME_AFTER


@dataclass(frozen=True)
class Evidence:
    """One sample's look at the downlink; None where there was too little to tell."""

    loss: float | None = None  # % lost over the last LOSS_WINDOW s, every incoming stream
    queue: float | None = None  # s, standing queue on the incoming audio (least over rooms)
    hub_queue: float | None = None  # s, queue on the hub's sender reports (our downlink)
    lag: float = 0.0  # s our own event loop stood late (_transit.LoopLag): not the link's

    def on_the_link(self) -> Evidence:
        """The queues less what our own loop added to every arrival time."""

        def less(queue: float | None) -> float | None:
            return None if queue is None else max(0.0, queue - self.lag)

        return Evidence(self.loss, less(self.queue), less(self.hub_queue))


class Congestion:
    """Is our downlink congested? One verdict per sample (None: no audio to tell by)."""

    def __init__(self) -> None:
        self._queues: deque[float] = deque(maxlen=3)

    def judge(self, seen: Evidence) -> bool | None:
        if seen.queue is None:
            self._queues.clear()
            return None
        self._queues.append(seen.queue)
        if seen.hub_queue is not None and seen.hub_queue < HUB_QUEUE:
            return False  # the queue is before the hub (a sending room's uplink), not ours
        overflowing = seen.queue >= QUEUE and seen.loss is not None and seen.loss >= LOSS
        return overflowing or self._bloating()

    def _bloating(self) -> bool:
        q = list(self._queues)
        growing = len(q) == 3 and q[1] - q[0] >= GROWTH and q[2] - q[1] >= GROWTH
        return growing and q[-1] >= BLOAT


class VideoPause:
    """Decides, sample by sample, whether incoming video should be paused."""

    def __init__(self) -> None:
        self.paused = False
        self.wait = RESUME_AFTER
        self.congestion = Congestion()
        self._good_since: float | None = None
        self._resumed_at: float | None = None
        self._verdicts: deque[bool] = deque(maxlen=CONFIRM_OF)  # while video flows

    def update(self, now: float, seen: Evidence) -> bool:
        """Returns whether to pause; too little evidence keeps the decision as it is."""
        seen = seen.on_the_link()
        congested = self.congestion.judge(seen)
        if congested is None or seen.queue is None:
            self._good_since = None
        elif self.paused:
            self._while_paused(now, seen.queue)
        else:
            self._while_flowing(now, congested)
        return self.paused

    def _while_flowing(self, now: float, congested: bool) -> None:
        if self._resumed_at is not None and now - self._resumed_at >= SETTLED:
            self.wait, self._resumed_at = RESUME_AFTER, None
        self._verdicts.append(congested)
        on_probation = self._resumed_at is not None and now - self._resumed_at <= PROBATION
        if not congested or sum(self._verdicts) < (1 if on_probation else CONFIRM):
            return
        if on_probation:
            self.wait = min(2 * self.wait, RESUME_MAX)
        self.paused, self._good_since = True, None
        self._verdicts.clear()

    def _while_paused(self, now: float, queue: float) -> None:
        if queue >= QUEUE:
            self._good_since = None
            return
        self._good_since = now if self._good_since is None else self._good_since
        if now - self._good_since >= self.wait:
            self.paused, self._good_since, self._resumed_at = False, None, now

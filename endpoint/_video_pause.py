"""Receive-side protection: when our downlink cannot carry the incoming video, pause it.

A rate-capped link (a DSL line, a shared radio hop) drops what it cannot carry at the tail
of its queue, and it drops audio as readily as video. Once the downlink has lost more than
``PAUSE_LOSS`` % of packets for ``PAUSE_AFTER`` s, the hub is asked to stop relaying video
to us (its subscriber ``configure`` with ``send: false`` per video m-line: no
renegotiation), so the room keeps hearing the meeting. After ``RESUME_AFTER`` s of a
healthy link (loss under ``HEALTHY_LOSS`` %) video is tried again; if it has to be paused
again soon after, the next wait doubles (up to ``RESUME_MAX``), and a resumed video that
lasts ``SETTLED`` s sets the wait back.

Why 15 %: random loss up to 10 % is carried by retransmission and our time-bounded jitter
buffer (video keeps moving, endpoint/_jitter.py), so pausing there would cost the room
its picture for nothing; a link that cannot carry the video loses far more (a 256 kbit/s
cap under ~300 kbit/s of video and audio loses 25-50 %). Pure random loss of 15 % or more
also pauses video: the picture would be mostly broken anyway, and audio loses nothing by it.
"""

from __future__ import annotations

PAUSE_LOSS = 15.0  # % downlink loss ...
PAUSE_AFTER = 5.0  # ... sustained this long (s): pause incoming video
HEALTHY_LOSS = 3.0  # % downlink loss under which the link counts as healthy
RESUME_AFTER = 30.0  # s of a healthy link before video is tried again
RESUME_MAX = 120.0  # s, the longest wait after repeated failed tries
PROBATION = 20.0  # s: a pause this soon after a resume doubles the next wait
SETTLED = 60.0  # s of video after a resume: the wait is back to RESUME_AFTER


class VideoPause:
    """Decides, sample by sample, whether incoming video should be paused."""

    def __init__(self) -> None:
        self.paused = False
        self.wait = RESUME_AFTER
        self._bad_since: float | None = None
        self._good_since: float | None = None
        self._resumed_at: float | None = None

    def update(self, now: float, loss_down: float | None) -> bool:
        """*loss_down*: percent lost on our downlink over the last seconds (None: too few
        packets to tell, which keeps the decision as it is). Returns whether to pause."""
        if loss_down is None:
            self._bad_since = self._good_since = None
        elif self.paused:
            self._while_paused(now, loss_down)
        else:
            self._while_flowing(now, loss_down)
        return self.paused

    def _while_flowing(self, now: float, loss: float) -> None:
        if self._resumed_at is not None and now - self._resumed_at >= SETTLED:
            self.wait, self._resumed_at = RESUME_AFTER, None
        if loss <= PAUSE_LOSS:
            self._bad_since = None
            return
        self._bad_since = now if self._bad_since is None else self._bad_since
        if now - self._bad_since >= PAUSE_AFTER:
            if self._resumed_at is not None and now - self._resumed_at <= PAUSE_AFTER + PROBATION:
                self.wait = min(2 * self.wait, RESUME_MAX)
            self.paused, self._bad_since, self._good_since = True, None, None

    def _while_paused(self, now: float, loss: float) -> None:
        if loss >= HEALTHY_LOSS:
            self._good_since = None
            return
        self._good_since = now if self._good_since is None else self._good_since
        if now - self._good_since >= self.wait:
            self.paused, self._good_since, self._resumed_at = False, None, now

"""The send side follows the link: the hub's reports on our publisher feed the tier
policy (``_adapt.py``), and the tier it picks goes to the camera track.

Every ``TICK`` the publisher's senders are read (aiortc's ``getStats``: the latest receiver
report's fraction lost and round trip, bytes and packets sent), the REMB the hub last sent
(noted by the ``_vp8`` seam), and the send rate over ``RATE_WINDOW``. With the adaptive
layers off (``endpoint.plain_aiortc()``) the same figures are measured and nothing is
changed: the camera track sends its own size and rate and aiortc picks the bit rate.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from aiortc import RTCPeerConnection, RTCRtpSender
from aiortc.stats import RTCOutboundRtpStreamStats, RTCRemoteInboundRtpStreamStats

from endpoint import _seams, _vp8
from endpoint._adapt import UP_HOLD, Tier, TierPolicy
from endpoint._tracks import CameraTrack

log = logging.getLogger(__name__)

TICK = 0.5  # s between readings
RATE_WINDOW = 2.0  # s the send rate is averaged over
# Bytes a packet costs on the wire beyond the payload aiortc counts: RTP header 12,
# header extensions ~8 (mid, abs-send-time, audio level), SRTP tag 10, UDP 8, IPv4 20.
WIRE_OVERHEAD = 58


@dataclass(frozen=True)
class SendStatus:
    """What the room sends: the tier (None: not adapting, aiortc as shipped), why it was
    chosen, the send rate (audio + video, kbit/s on the wire), the hub's last loss report."""

    tier: Tier | None
    reason: str
    send_kbps: float
    loss: float | None = None


class Uplink:
    """Measures what the publisher sends and, when adapting, sets the camera's tier."""

    def __init__(
        self,
        track: CameraTrack,
        clock: Callable[[], float],
        label: str = "",
        up_hold: float = UP_HOLD,
        others: Callable[[], int] = lambda: 0,
    ) -> None:
        """*others*: how many other rooms are in the meeting now (the tier's size cap)."""
        self.track, self._clock, self._label = track, clock, label
        self._others = others
        self.adapting = _seams.enabled()
        self.policy = TierPolicy(clock, up_hold)
        self.policy.meeting(others())  # before the first tier: a big meeting starts small
        self._sent: deque[tuple[float, int]] = deque()
        self._reports: dict[str, RTCRemoteInboundRtpStreamStats] = {}
        self.status = SendStatus(self.policy.tier if self.adapting else None, "start", 0.0)
        if self.adapting:
            track.tier = self.policy.tier

    async def run(self, *pcs: RTCPeerConnection) -> None:
        """Follow the senders of *pcs* until cancelled (the publisher's video, and the
        AudioBridge's audio: its receiver reports show uplink loss that NACK hides on video)."""
        while True:
            await asyncio.sleep(TICK)
            await self.sample([s for pc in pcs for s in pc.getSenders()])

    async def sample(self, senders: list[RTCRtpSender]) -> None:
        total, loss = 0, None
        for sender in senders:
            sent, report = await self._read(sender)
            total += sent
            if report is not None:
                loss = report.fractionLost / 256
                self.policy.loss_report(loss, report.roundTripTime)
            if (remb := _vp8.remb_of(sender)) is not None:
                self.policy.remb(remb)
        kbps = self._rate(total) / 1000
        self.policy.send_rate(kbps * 1000)
        self.policy.meeting(self._others())
        if self.adapting:
            self._adapt()
        tier = self.policy.tier if self.adapting else None
        self.status = SendStatus(tier, self.policy.reason, kbps, loss)

    async def _read(
        self, sender: RTCRtpSender
    ) -> tuple[int, RTCRemoteInboundRtpStreamStats | None]:
        """Bytes sent on the wire so far, and a receiver report not seen before."""
        sent, fresh = 0, None
        for stats in (await sender.getStats()).values():
            if isinstance(stats, RTCOutboundRtpStreamStats):
                sent += stats.bytesSent + stats.packetsSent * WIRE_OVERHEAD
            elif isinstance(stats, RTCRemoteInboundRtpStreamStats) and self._is_new(stats):
                fresh = stats
        return sent, fresh

    def _is_new(self, report: RTCRemoteInboundRtpStreamStats) -> bool:
        """aiortc makes a new stats object for each receiver report it gets."""
        seen, self._reports[report.id] = self._reports.get(report.id), report
        return seen is not report

    def _rate(self, total: int) -> float:
        now = self._clock()
        self._sent.append((now, total))
        while len(self._sent) > 2 and self._sent[1][0] <= now - RATE_WINDOW:
            self._sent.popleft()
        (t0, b0), (t1, b1) = self._sent[0], self._sent[-1]
        return 8 * (b1 - b0) / (t1 - t0) if t1 > t0 and b1 >= b0 else 0.0

    def _adapt(self) -> None:
        change = self.policy.decide()
        if change is not None:
            self.track.tier = change.tier
            log.info("[%s] sending %s: %s", self._label, change.tier.name, change.reason)

"""What the call's peer connections counted, read from aiortc 1.16 (some of it from its
private attributes, named where they are read): packets received and lost per incoming
m-line, the hub's receiver reports on our streams, bytes each way, the standing queue our
audio buffers saw and the hub's sender reports. ``_linkstats`` turns samples into figures.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aiortc import RTCPeerConnection

MIN_PACKETS = 20  # fewer packets expected in the window: no loss figure


@dataclass(frozen=True)
class Counts:
    """RTP packets received and lost (cumulative, or a difference of two samples)."""

    received: int = 0
    lost: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.received + other.received, self.lost + other.lost)

    def __sub__(self, other: Counts) -> Counts:
        return Counts(self.received - other.received, self.lost - other.lost)

    def loss(self) -> float | None:
        """Percent lost, or None with too few packets to tell (duplicates count as none)."""
        lost = max(0, self.lost)
        expected = self.received + lost
        return 100.0 * lost / expected if expected >= MIN_PACKETS else None


@dataclass(frozen=True)
class Sample:
    """One look at the call's media counters (all cumulative since the connection began)."""

    t: float
    inbound: Mapping[str, Counts] = field(default_factory=dict)  # by receiving m-line (mid)
    outbound: Counts = Counts()  # our streams, as the hub's receiver reports count them
    rtt: float | None = None  # s, from the hub's receiver reports
    bytes_in: int = 0
    bytes_out: int = 0
    frames: Mapping[int, int] = field(default_factory=dict)  # feed -> video frames decoded
    queues: Mapping[str, float] = field(default_factory=dict)  # audio mid -> standing queue, s
    # the hub's last sender reports: ssrc -> (NTP middle 32 bits, arrival on the call's clock)
    reports: Mapping[int, tuple[int, float]] = field(default_factory=dict)
    offset: float = 0.0  # time.time() less the call's clock when sampled (a jump: NTP step)


def receiver_counts(receiver: Any) -> Counts:
    """Packets of the media streams (not retransmissions) a receiver got and missed.

    aiortc's ``getStats()`` files every SSRC of a receiver under one id, so once a
    retransmission arrives its RTX stream hides the media stream; its per-SSRC
    statistics are read instead (``__remote_streams``, ``__rtx_ssrc`` in aiortc 1.16)."""
    streams = getattr(receiver, "_RTCRtpReceiver__remote_streams", None)
    rtx = getattr(receiver, "_RTCRtpReceiver__rtx_ssrc", {})
    if not isinstance(streams, dict):
        return Counts()
    media = [s for ssrc, s in streams.items() if ssrc not in rtx]
    return sum((Counts(s.packets_received, s.packets_lost) for s in media), Counts())


def _queue(receiver: Any) -> float | None:
    """The standing queue our audio buffer (``_audio_jitter``) saw, if it is ours."""
    reading = getattr(
        getattr(receiver, "_RTCRtpReceiver__jitter_buffer", None), "queueing_delay", None
    )
    return reading() if callable(reading) else None


def _sender_reports(receiver: Any, offset: float) -> dict[int, tuple[int, float]]:
    """The last RTCP sender report per SSRC: NTP middle 32 bits, arrival, as aiortc 1.16
    keeps them for its receiver reports (``__lsr``, ``__lsr_time``). aiortc stamps the
    arrival with ``time.time()``: it is moved to the call's clock by *offset* (wall less
    call clock, read now), so a later step of the wall clock (NTP) does not move it."""
    ntp = getattr(receiver, "_RTCRtpReceiver__lsr", None)
    arrival = getattr(receiver, "_RTCRtpReceiver__lsr_time", None)
    if not isinstance(ntp, dict) or not isinstance(arrival, dict):
        return {}
    return {ssrc: (ntp[ssrc], arrival[ssrc] - offset) for ssrc in ntp if ssrc in arrival}


def _transport_bytes(pcs: Iterable[RTCPeerConnection]) -> tuple[int, int]:
    transports = {t.receiver.transport for pc in pcs for t in pc.getTransceivers()}
    bytes_in = bytes_out = 0
    for transport in transports:
        try:
            stats = list(transport._get_stats().values())
        except AttributeError:  # not started yet
            continue
        bytes_in += sum(int(getattr(s, "bytesReceived", 0) or 0) for s in stats)
        bytes_out += sum(int(getattr(s, "bytesSent", 0) or 0) for s in stats)
    return bytes_in, bytes_out


async def _outbound(pc: RTCPeerConnection) -> tuple[Counts, float | None]:
    counts, rtts = Counts(), []
    for sender in pc.getSenders():
        try:
            report = await sender.getStats()
        except AttributeError:  # not started yet
            continue
        for stats in report.values():
            if getattr(stats, "type", "") == "remote-inbound-rtp":
                counts += Counts(stats.packetsReceived, stats.packetsLost)
                if stats.roundTripTime is not None:
                    rtts.append(float(stats.roundTripTime))
    return counts, max(rtts, default=None)


async def read_sample(
    pcs: Mapping[str, RTCPeerConnection], frames: Mapping[int, int], now: float
) -> Sample:
    """Sample the media connections by role ("sending", "receiving", and "audio": the
    AudioBridge's, which sends our audio and receives the mix; its mids are "audio:<mid>")."""
    inbound: dict[str, Counts] = {}
    queues: dict[str, float] = {}
    reports: dict[int, tuple[int, float]] = {}
    offset = time.time() - now
    for role, prefix in (("receiving", ""), ("audio", "audio:")):
        if (receiving := pcs.get(role)) is None:
            continue
        for transceiver in receiving.getTransceivers():
            if transceiver.mid is None:
                continue
            mid = prefix + transceiver.mid
            inbound[mid] = receiver_counts(transceiver.receiver)
            if (queue := _queue(transceiver.receiver)) is not None:
                queues[mid] = queue
            reports.update(_sender_reports(transceiver.receiver, offset))
    outbound, rtt = Counts(), None
    for role in ("sending", "audio"):
        if (sending := pcs.get(role)) is not None:
            counts, role_rtt = await _outbound(sending)
            outbound += counts
            rtt = max((x for x in (rtt, role_rtt) if x is not None), default=None)
    bytes_in, bytes_out = _transport_bytes(pcs.values())
    sample = Sample(now, inbound, outbound, rtt, bytes_in, bytes_out, dict(frames))
    return replace(sample, queues=queues, reports=reports, offset=offset)

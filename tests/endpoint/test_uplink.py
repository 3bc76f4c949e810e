"""The uplink glue: aiortc's sender statistics in, the camera track's tier out."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from aiortc.stats import RTCOutboundRtpStreamStats, RTCRemoteInboundRtpStreamStats, RTCStatsReport

from endpoint import _seams
from endpoint._adapt import LOWEST_VIDEO, TIERS, TOP
from endpoint._uplink import WIRE_OVERHEAD, Uplink


class Clock:
    now = 50.0

    def __call__(self) -> float:
        return self.now


class Track:
    tier: Any = None


class Sender:
    """What the uplink reads of an aiortc sender: ``getStats()``."""

    def __init__(self) -> None:
        self.bytes = self.packets = 0
        self.report: RTCRemoteInboundRtpStreamStats | None = None

    def send(self, payload: int, packets: int) -> None:
        self.bytes += payload
        self.packets += packets

    def receiver_report(self, fraction: int, rtt: float) -> None:
        self.report = RTCRemoteInboundRtpStreamStats(
            timestamp=datetime.datetime.now(), type="remote-inbound-rtp", id="rr", ssrc=1,
            kind="video", transportId="t", packetsReceived=0, packetsLost=0, jitter=0,
            roundTripTime=rtt, fractionLost=fraction,
        )  # fmt: skip

    async def getStats(self) -> RTCStatsReport:
        report = RTCStatsReport()
        report.add(RTCOutboundRtpStreamStats(
            timestamp=datetime.datetime.now(), type="outbound-rtp", id="out", ssrc=1,
            kind="video", transportId="t", packetsSent=self.packets, bytesSent=self.bytes,
            trackId="v",
        ))  # fmt: skip
        if self.report is not None:
            report.add(self.report)
        return report


async def test_the_send_rate_is_measured_on_the_wire() -> None:
    clock, sender, track = Clock(), Sender(), Track()
    uplink = Uplink(track, clock)  # type: ignore[arg-type]
    assert track.tier is TIERS[TOP] and uplink.status.tier is TIERS[TOP]
    for _ in range(8):
        clock.now += 0.5
        sender.send(20_000, 50)  # 40 kB/s of payload in 100 packets a second
        await uplink.sample([sender])  # type: ignore[list-item]
    expected = 8 * (40_000 + 100 * WIRE_OVERHEAD) / 1000
    assert uplink.status.send_kbps == pytest.approx(expected)


async def test_lossy_receiver_reports_step_the_camera_down_and_each_counts_once() -> None:
    clock, sender, track = Clock(), Sender(), Track()
    uplink = Uplink(track, clock, "Xã Xa")  # type: ignore[arg-type]
    for _ in range(40):  # a fresh report every second, read every 0.5 s
        clock.now += 0.5
        sender.send(30_000, 30)
        if clock.now % 1 == 0:
            sender.receiver_report(fraction=26, rtt=0.05)  # 26/256: 10 % lost
        await uplink.sample([sender])  # type: ignore[list-item]
    assert uplink.status.loss == pytest.approx(26 / 256)
    assert track.tier is TIERS[LOWEST_VIDEO] and "loss 10%" in uplink.status.reason
    # Each report counted once: 4 new reports are needed per step, 20 came in 20 s.
    assert len(uplink.policy._reports) <= 4


async def test_without_our_seams_it_measures_and_changes_nothing() -> None:
    clock, sender, track = Clock(), Sender(), Track()
    try:
        _seams.plain_aiortc()
        uplink = Uplink(track, clock)  # type: ignore[arg-type]
        for _ in range(20):
            clock.now += 0.5
            sender.send(30_000, 30)
            sender.receiver_report(fraction=128, rtt=0.05)
            await uplink.sample([sender])  # type: ignore[list-item]
    finally:
        _seams.install_all()
    assert track.tier is None and uplink.status.tier is None
    assert uplink.status.send_kbps > 400

"""The receiver report sent at once on a video stream's first sender report
(endpoint/_first_report.py); its effect on a real hub is in test_lossy_video.py, whose
lossy phase starts right after the rooms meet."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import aiortc.rtcrtpreceiver as receiver_module
from aiortc.rtp import RtcpRrPacket, RtcpSenderInfo, RtcpSrPacket

from endpoint import _first_report, _seams
from endpoint._first_report import HOLD, SHORT_BY, _wrap, first_report

PREFIX = "_RTCRtpReceiver__"


def receiver(kind: str = "video") -> Any:
    made = SimpleNamespace(sent=[])
    stream = SimpleNamespace(fraction_lost=3, packets_lost=7, max_seq=1000, jitter=90)
    setattr(made, PREFIX + "rtcp_ssrc", 4242)
    setattr(made, PREFIX + "remote_streams", {5: stream})
    setattr(made, PREFIX + "lsr", {})
    setattr(made, PREFIX + "kind", kind)

    async def send(packet: Any) -> None:
        made.sent.append(packet)

    made._send_rtcp = send
    return made


async def previous(self: Any, packet: Any) -> None:  # aiortc's part: keep the SR's stamp
    if isinstance(packet, RtcpSrPacket):
        getattr(self, PREFIX + "lsr")[packet.ssrc] = (
            packet.sender_info.ntp_timestamp >> 16
        ) & 0xFFFFFFFF


def sender_report(ssrc: int = 5, ntp: int = 0x1234_5678_9ABC_0000) -> RtcpSrPacket:
    info = RtcpSenderInfo(ntp_timestamp=ntp, rtp_timestamp=0, packet_count=1, octet_count=100)
    return RtcpSrPacket(ssrc=ssrc, sender_info=info)


def test_the_report_answers_the_sender_report_a_little_early() -> None:
    report = first_report(receiver(), 5, lsr=0x5678_9ABC, delay=0.010)
    assert isinstance(report, RtcpRrPacket) and report.ssrc == 4242
    (info,) = report.reports
    assert (info.ssrc, info.lsr, info.highest_sequence, info.jitter) == (5, 0x5678_9ABC, 1000, 90)
    assert info.dlsr == int((0.010 - SHORT_BY) * 65536)  # the hub sees >= 1 ms of round trip
    assert first_report(receiver(), 5, lsr=1, delay=0.0002).reports[0].dlsr == 0  # type: ignore[union-attr]
    assert first_report(receiver(), 6, lsr=1, delay=0.0) is None  # no such stream yet


async def test_only_the_first_sender_report_of_a_video_stream_is_answered_at_once() -> None:
    handle = _wrap(previous)
    video = receiver()
    await handle(video, sender_report(ssrc=6))  # no packets of stream 6 yet: not answered
    await handle(video, sender_report())
    await handle(video, sender_report(ntp=0x1234_5679_0000_0000))
    assert len(video.sent) == 1 and video.sent[0].reports[0].lsr == 0x5678_9ABC
    dlsr = video.sent[0].reports[0].dlsr / 65536  # held HOLD, told 1 ms short: >= 1 ms RTT
    assert HOLD - SHORT_BY - 0.0005 <= dlsr <= HOLD - SHORT_BY + 0.02
    getattr(video, PREFIX + "remote_streams")[6] = getattr(video, PREFIX + "remote_streams")[5]
    await handle(video, sender_report(ssrc=6))  # its packets came: its next SR is answered
    assert [p.reports[0].ssrc for p in video.sent] == [5, 6]
    audio = receiver("audio")
    await handle(audio, sender_report())
    assert audio.sent == []


def test_install_wraps_the_receiver_and_is_undone() -> None:
    cls = receiver_module.RTCRtpReceiver
    assert "first-report" in _seams.names() and _first_report.seam_intact()
    assert hasattr(cls._handle_rtcp_packet, "diemcau_previous")  # installed on import
    assert _first_report.install() is True  # idempotent
    _first_report.uninstall()
    try:
        assert not hasattr(cls._handle_rtcp_packet, "diemcau_previous")
    finally:
        _first_report.install()
    assert hasattr(cls._handle_rtcp_packet, "diemcau_previous")

"""A receiver report at once on the first sender report, so the hub can resend from the start.

Why: Janus 1.1.2 keeps no retransmission buffer for a stream it sends until it has a round
trip time for it (``nack_queue_ms`` stays 0 in src/ice.c until an RTCP packet changes the
RTT it computes from our receiver reports), and it takes a computed 0 ms for "no change".
aiortc reports every 0.5-1.5 s, after Janus's first sender report (sent each second), so
for the first 2-5 s of every subscription each NACK went unanswered: a room joining over a
5 % lossy link froze for up to a second at a time while it started (measured in
tests/endpoint/test_lossy_video.py: first retransmission 4.5 s after the connection).

:func:`install` wraps ``RTCRtpReceiver._handle_rtcp_packet``: on the first SR of each
video stream (the first one that finds the stream's packets arriving), a receiver report
for that stream goes out ``HOLD`` later, its delay since the SR (DLSR) given 1 ms short, so
that even on a LAN the hub computes a round trip of at least 1 ms (it counts whole ms) and
turns its buffer on. aiortc's own reports carry on unchanged.

The seam (aiortc 1.16): the receiver's private ``__lsr``, ``__remote_streams`` and
``__rtcp_ssrc`` and its ``_send_rtcp``; :func:`install` refuses with a warning when the
receiver no longer reads that way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import aiortc.rtcrtpreceiver as receiver_module
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket, RtcpSrPacket

from endpoint import _seams

log = logging.getLogger(__name__)

SHORT_BY = 0.001  # s taken off the DLSR of the first report (see above)
HOLD = 0.003  # s from the SR to that report: more than SHORT_BY, so the DLSR is not 0
_PREFIX = "_RTCRtpReceiver__"
_ANSWERED = "_diemcau_answered"  # on the receiver: the streams whose first SR was answered
SEAM_LINES = (
    "self.__kind = kind",
    "self.__lsr[packet.ssrc] = (",
    "for ssrc, stream in self.__remote_streams.items():",
    "packet = RtcpRrPacket(ssrc=self.__rtcp_ssrc, reports=reports)",
)

Handler = Callable[[Any, Any], Coroutine[Any, Any, None]]


def first_report(receiver: Any, ssrc: int, lsr: int, delay: float) -> RtcpRrPacket | None:
    """The receiver report for stream *ssrc* answering the SR stamped *lsr*, *delay*
    seconds after it came; None when the receiver has no RTCP identity or stream yet."""
    rtcp_ssrc = getattr(receiver, _PREFIX + "rtcp_ssrc", None)
    stream = getattr(receiver, _PREFIX + "remote_streams", {}).get(ssrc)
    if rtcp_ssrc is None or stream is None:
        return None
    dlsr = int(max(0.0, delay - SHORT_BY) * 65536)
    info = RtcpReceiverInfo(
        ssrc=ssrc,
        fraction_lost=stream.fraction_lost,
        packets_lost=stream.packets_lost,
        highest_sequence=stream.max_seq,
        jitter=stream.jitter,
        lsr=lsr,
        dlsr=dlsr,
    )
    return RtcpRrPacket(ssrc=rtcp_ssrc, reports=[info])


def _wrap(previous: Handler) -> Handler:
    async def handle_rtcp_packet(self: Any, packet: Any) -> None:
        came = time.time()
        await previous(self, packet)
        answered: set[int] = self.__dict__.setdefault(_ANSWERED, set())
        video = getattr(self, _PREFIX + "kind", None) == "video"
        if not (video and isinstance(packet, RtcpSrPacket)) or packet.ssrc in answered:
            return
        lsr = getattr(self, _PREFIX + "lsr", {}).get(packet.ssrc)
        await asyncio.sleep(max(0.0, came + HOLD - time.time()))
        report = None if lsr is None else first_report(self, packet.ssrc, lsr, time.time() - came)
        if report is not None:  # else: no packets of it yet; the next SR is answered
            answered.add(packet.ssrc)
            log.debug("first sender report of %d answered at once", packet.ssrc)
            await self._send_rtcp(report)

    handle_rtcp_packet.diemcau_previous = previous  # type: ignore[attr-defined]
    return handle_rtcp_packet


def seam_intact() -> bool:
    """aiortc's receiver still keeps SR stamps and builds its reports as this seam expects."""
    return _seams.source_holds(receiver_module.RTCRtpReceiver, SEAM_LINES, ("_send_rtcp",))


def install() -> bool:
    """Wrap the receiver's RTCP handling; idempotent. False if aiortc changed."""
    cls = receiver_module.RTCRtpReceiver
    if hasattr(cls._handle_rtcp_packet, "diemcau_previous"):
        return True
    if not seam_intact():
        log.warning("aiortc's receiver changed: no early receiver report (late resends)")
        return False
    cls._handle_rtcp_packet = _wrap(cls._handle_rtcp_packet)  # type: ignore[method-assign,assignment]
    return True


def uninstall() -> None:
    """Give aiortc's receiver its own RTCP handling back."""
    cls = receiver_module.RTCRtpReceiver
    previous = getattr(cls._handle_rtcp_packet, "diemcau_previous", None)
    if previous is not None:
        cls._handle_rtcp_packet = previous  # type: ignore[method-assign]

"""The media path to the hub, measured through Janus' EchoTest plugin.

A real peer connection (ICE, DTLS, SCTP over the same UDP path a meeting uses) opens an
unreliable, unordered data channel (no retransmission, so a lost packet stays lost) that
the plugin sends straight back. Numbered, timestamped packets go out at a few paced rates;
what comes back gives the round trip, its jitter, the loss and the rate the path carries,
and from them the quality tier a meeting can hold (the same tiers as ``_adapt``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import statistics
import struct
import time
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCIceServer, RTCPeerConnection
from aiortc import RTCSessionDescription as SDP

from devices import CheckResult, Hint, Verdict
from endpoint._janus_ws import JanusClient

PLUGIN = "janus.plugin.echotest"
PACKET = 1000  # bytes of payload per probe packet
GRACE_S = 0.4  # how long after a step its late echoes still count
WARMUP_S = 0.3  # the lowest rate first, uncounted: the association settles
# aiortc's SCTP waits RFC 4960's 3 s before resending a lost message while no round trip is
# measured yet: the data channel's open handshake then cost 3 s a lost packet, and with 10 %
# loss each way 3 probes in 8 never opened the channel within the step's 18 s. Browsers'
# SCTP (libwebrtc's) resends after 1 s at the start; so does the probe.
SCTP_START_RTO = 1.0
_HEAD = struct.Struct("!IId")  # step, sequence, send time

# (label, kbit/s the tier needs); each rate is probed with 20 % headroom
TIERS = (("640x360@15", 500), ("424x240@15", 300), ("320x180@10", 150))
AUDIO_ONLY = "audio only"

HINTS = {
    "loss": Hint(
        "Mạng mất gói {loss}% — hình sẽ bị hạ xuống {tier}; kiểm tra cáp mạng, modem, sóng 4G",
        "The network loses {loss}% of packets — video drops to {tier}; check cables, modem, 4G",
    ),
    "slow": Hint(
        "Đường truyền chỉ đủ cho hình {tier} — hỏi nhà mạng nâng tốc độ, tránh tải nặng khi họp",
        "The link only carries {tier} video — ask the provider for more, avoid downloads",
    ),
    "audio": Hint(
        "Mạng quá kém, chỉ họp được bằng tiếng — kiểm tra đường truyền với nhà mạng",
        "The network is too poor for video (audio only) — have the provider check the line",
    ),
    "rtt": Hint(
        "Độ trễ mạng lớn ({rtt} ms) — tiếng nói sẽ bị chậm; kiểm tra đường truyền",
        "The round trip is long ({rtt} ms) — speech will lag; check the line",
    ),
}


@dataclass
class Step:
    """One paced rate: what was sent and what came back."""

    kbps: int
    seconds: float
    sent: int = 0
    received: int = 0
    rtts: list[float] = field(default_factory=list)

    @property
    def loss(self) -> float:
        return 1.0 - self.received / self.sent if self.sent else 1.0

    @property
    def received_kbps(self) -> float:
        return self.received * PACKET * 8 / 1000 / self.seconds

    def summary(self) -> dict[str, Any]:
        return {
            "kbps": self.kbps,
            "received_kbps": round(self.received_kbps, 1),
            "loss_pct": round(100 * self.loss, 1),
            "rtt_ms": round(1000 * statistics.median(self.rtts), 1) if self.rtts else None,
        }


class _Echo:
    """Counts echoes by step; the data channel's message handler."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = steps
        self.arrivals: list[float] = []  # rtts in arrival order, for jitter

    def on_message(self, message: bytes | str) -> None:
        if not isinstance(message, bytes) or len(message) < _HEAD.size:
            return
        index, _, sent = _HEAD.unpack_from(message)
        if index < len(self.steps):
            rtt = time.monotonic() - sent
            self.steps[index].received += 1
            self.steps[index].rtts.append(rtt)
            self.arrivals.append(rtt)


async def _pace(channel: RTCDataChannel, index: int, step: Step) -> None:
    """Send *step*'s packets evenly over its seconds."""
    interval = PACKET * 8 / (step.kbps * 1000)
    pad = b"\0" * (PACKET - _HEAD.size)
    start = time.monotonic()
    while (now := time.monotonic()) < start + step.seconds:
        due = int((now - start) / interval) + 1
        while step.sent < due:
            channel.send(_HEAD.pack(index, step.sent, time.monotonic()) + pad)
            step.sent += 1
        await asyncio.sleep(interval)


async def _connect(handle: Any, pc: RTCPeerConnection, channel: RTCDataChannel) -> None:
    opened = asyncio.Event()
    channel.on("open", opened.set)
    await pc.setLocalDescription(await pc.createOffer())
    offer = {"type": "offer", "sdp": pc.localDescription.sdp}
    reply = await handle.request({"audio": False, "video": False, "data": True}, offer)
    if reply.jsep is None:
        raise ConnectionError("the EchoTest plugin sent no answer")
    await pc.setRemoteDescription(SDP(str(reply.jsep["sdp"]), str(reply.jsep["type"])))
    await opened.wait()


def _quick_sctp_start(pc: RTCPeerConnection) -> None:
    """Resend lost SCTP messages after ``SCTP_START_RTO`` until a round trip is measured
    (aiortc 1.16's ``RTCSctpTransport._rto``; if aiortc changes shape, its own 3 s stays)."""
    sctp = pc.sctp
    if sctp is not None and isinstance(getattr(sctp, "_rto", None), float):
        sctp._rto = min(sctp._rto, SCTP_START_RTO)


async def measure(
    client: JanusClient, rates: tuple[int, ...], step_s: float, ice_servers: tuple[str, ...] = ()
) -> tuple[list[Step], float]:
    """Run the paced steps over an EchoTest data channel on *client*'s session; returns
    them and the jitter (mean change of the round trip between echoes, seconds)."""
    handle = await client.attach(PLUGIN)
    servers = [RTCIceServer(urls=url) for url in ice_servers]
    pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
    try:
        channel = pc.createDataChannel("probe", ordered=False, maxRetransmits=0)
        _quick_sctp_start(pc)
        steps = [Step(rate, step_s) for rate in rates]
        echo = _Echo(steps)
        channel.on("message", echo.on_message)
        await _connect(handle, pc, channel)
        await _pace(channel, len(steps), Step(rates[0], WARMUP_S))  # not counted
        for index, step in enumerate(steps):
            await _pace(channel, index, step)
        await asyncio.sleep(GRACE_S)
        return steps, _jitter(echo.arrivals)
    finally:
        with contextlib.suppress(Exception):
            await pc.close()


def _jitter(rtts: list[float]) -> float:
    """Mean change of the round trip between consecutive echoes (seconds)."""
    if len(rtts) < 2:
        return 0.0
    return statistics.fmean(abs(b - a) for a, b in zip(rtts, rtts[1:], strict=False))


# --- the verdict -------------------------------------------------------------------------------


def _median_rtt(step: Step) -> float:
    return statistics.median(step.rtts) if step.rtts else math.inf


def _sustained(step: Step, loss: float, rtt: float) -> bool:
    """The path carried *step*: no more loss than the path's own, no queue building up."""
    return step.loss <= loss + 0.05 and _median_rtt(step) <= rtt + 0.3


def choose_tier(steps: list[Step]) -> tuple[str, float]:
    """The best tier the steps show and the path's one-way loss.

    The path's own loss is the least any step saw (random loss hits every rate; a rate
    cap only the rates above it); the echo crosses the path twice."""
    loss = min(s.loss for s in steps)
    one_way = 1.0 - math.sqrt(max(0.0, 1.0 - loss))
    rtt = min(_median_rtt(s) for s in steps)
    carried = max((s.kbps for s in steps if _sustained(s, loss, rtt)), default=0)
    usable = [(label, need) for label, need in TIERS if carried >= need * 1.2]
    if one_way > 0.20 or not usable:
        return AUDIO_ONLY, one_way
    floor = 2 if one_way > 0.05 else 1 if one_way > 0.02 else 0
    best = max(TIERS.index(usable[0]), floor)
    return TIERS[best][0], one_way


def media_result(rates: list[Step], jitter: float, seconds: float) -> CheckResult:
    """The media check's verdict from the measured steps."""
    tier, one_way = choose_tier(rates)
    rtts = [r for s in rates for r in s.rtts]
    rtt_ms = round(1000 * statistics.median(rtts), 1) if rtts else None
    loss_pct = round(100 * min(s.loss for s in rates), 1)
    metrics = {"tier": tier, "rtt_ms": rtt_ms, "jitter_ms": round(1000 * jitter, 1),
               "loss_pct": loss_pct, "one_way_loss_pct": round(100 * one_way, 1)}  # fmt: skip
    summary = (f"tier {tier}; RTT {rtt_ms} ms, jitter {metrics['jitter_ms']} ms, "
               f"round-trip loss {loss_pct} %")  # fmt: skip
    verdict, hint = _media_verdict(tier, one_way, rtt_ms)
    series = {"steps": [s.summary() for s in rates]}
    return CheckResult("net.media", verdict, summary, hint, metrics, series, seconds=seconds)


def _media_verdict(tier: str, one_way: float, rtt_ms: float | None) -> tuple[Verdict, Hint]:
    if tier == AUDIO_ONLY:
        return Verdict.FAIL, HINTS["audio"]
    values = {"loss": f"{100 * one_way:.0f}", "tier": tier, "rtt": f"{rtt_ms or 0:.0f}"}
    if one_way > 0.02:
        return Verdict.WARN, _fill(HINTS["loss"], values)
    if tier != TIERS[0][0]:
        return Verdict.WARN, _fill(HINTS["slow"], values)
    if rtt_ms is not None and rtt_ms > 400:
        return Verdict.WARN, _fill(HINTS["rtt"], values)
    return Verdict.PASS, Hint("", "")


def _fill(hint: Hint, values: dict[str, str]) -> Hint:
    return Hint(hint.vi.format(**values), hint.en.format(**values))

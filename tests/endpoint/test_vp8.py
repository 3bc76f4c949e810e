"""The VP8 send seam: tier bit rates under the REMB, keyframes on PLI rate-limited, and
the seam going in and out of aiortc."""

from __future__ import annotations

import asyncio
import fractions
import logging
from collections.abc import Callable
from itertools import pairwise

import aiortc.codecs
import av
import numpy as np
import pytest
from aiortc.codecs import vpx
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RTCP_PSFB_APP, RTCP_PSFB_PLI, RtcpPsfbPacket, pack_remb_fci

import endpoint
from endpoint import _seams, _vp8
from endpoint._adapt import TIERS, TOP


class Steps:
    """A clock and a scheduler that run only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None]]] = []

    def __call__(self) -> float:
        return self.now

    def later(self, delay: float, callback: Callable[[], None]) -> None:
        self.timers.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, callback in sorted(due, key=lambda t: t[0]):
            callback()


def test_the_first_keyframe_goes_at_once_then_one_per_interval() -> None:
    steps, forced = Steps(), []
    gate = _vp8.KeyframeGate(lambda: forced.append(steps.now), steps.later, steps)
    gate.request()
    assert forced == [0.0]
    for _ in range(20):  # 25 receivers' worth of PLIs within 0.2 s
        steps.advance(0.01)
        gate.request()
    assert forced == [0.0] and len(steps.timers) == 1  # merged into one, pending
    steps.advance(0.3)
    assert forced == [0.0, pytest.approx(_vp8.KEYFRAME_INTERVAL)]
    steps.advance(5.0)
    gate.request()  # quiet for a while: at once again
    assert forced[-1] == steps.now and gate.forced == 3 and gate.requests == 22


def test_a_steady_stream_of_plis_costs_at_most_two_keyframes_a_second() -> None:
    steps, forced = Steps(), []
    gate = _vp8.KeyframeGate(lambda: forced.append(steps.now), steps.later, steps)
    for _ in range(1000):  # a PLI every 10 ms for 10 s
        gate.request()
        steps.advance(0.01)
    assert len(forced) <= 10 / _vp8.KEYFRAME_INTERVAL + 1
    assert all(b - a >= _vp8.KEYFRAME_INTERVAL - 1e-9 for a, b in pairwise(forced))


def test_video_target_follows_the_tier_under_the_remb() -> None:
    top, low = TIERS[TOP], TIERS[1]
    assert _vp8.video_target(top, None) == 500_000
    assert _vp8.video_target(low, None) == 150_000  # below aiortc's 250 kbit/s floor
    assert _vp8.video_target(top, 300_000) == 300_000  # the REMB is our video's alone
    assert _vp8.video_target(top, 10_000) == _vp8.VIDEO_FLOOR


def frame(width: int, height: int, tier: object = None, pts: int = 0) -> av.VideoFrame:
    image = np.random.default_rng(pts).integers(0, 255, (height, width, 3), np.uint8)
    made = av.VideoFrame.from_ndarray(image, format="bgr24")
    made.pts, made.time_base = pts, fractions.Fraction(1, 90000)
    made.opaque = tier
    return made


def test_encoder_encodes_at_the_tier_s_bit_rate_and_keeps_the_remb() -> None:
    encoder = _vp8.TieredVp8Encoder()
    encoder.target_bitrate = 600_000  # Janus' REMB: the room's cap
    assert encoder.remb == 600_000
    encoder.encode(frame(320, 180, TIERS[1]))
    assert encoder.codec is not None and encoder.codec.bit_rate == 150_000
    encoder.encode(frame(320, 180, TIERS[0], 9000))
    assert encoder.codec.bit_rate == TIERS[0].bitrate
    encoder.target_bitrate = 200_000  # the hub asks for less (our video: audio is not in it)
    encoder.encode(frame(320, 180, TIERS[TOP], 18000))
    assert encoder.codec.bit_rate == 200_000


def test_encoder_without_a_tier_is_aiortc_s() -> None:
    encoder = _vp8.TieredVp8Encoder()
    encoder.target_bitrate = 100_000
    payloads, _ = encoder.encode(frame(320, 180))
    assert payloads and encoder.codec is not None
    assert encoder.codec.bit_rate == vpx.MIN_BITRATE  # aiortc's clamp


class Transport:
    state = "connected"


def pli(ssrc: int) -> RtcpPsfbPacket:
    return RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=1, media_ssrc=ssrc)


async def test_the_sender_answers_a_burst_of_plis_with_one_keyframe_then_one_more() -> None:
    sender = RTCRtpSender("video", Transport())  # type: ignore[arg-type]
    asked: list[float] = []
    sender._send_keyframe = lambda: asked.append(asyncio.get_running_loop().time())  # type: ignore[method-assign]
    for _ in range(10):
        await sender._handle_rtcp_packet(pli(sender._ssrc))
    assert len(asked) == 1
    await asyncio.sleep(_vp8.KEYFRAME_INTERVAL + 0.3)  # the merged request fires once
    assert len(asked) == 2 and asked[1] - asked[0] >= _vp8.KEYFRAME_INTERVAL - 0.01
    assert _vp8.gate_of(sender).requests == 10


async def test_the_sender_notes_the_hub_s_remb() -> None:
    sender = RTCRtpSender("video", Transport())  # type: ignore[arg-type]
    remb = RtcpPsfbPacket(
        fmt=RTCP_PSFB_APP, ssrc=1, media_ssrc=0, fci=pack_remb_fci(600_000, [sender._ssrc])
    )
    await sender._handle_rtcp_packet(remb)
    assert _vp8.remb_of(sender) == 600_000
    other = RTCRtpSender("video", Transport())  # type: ignore[arg-type]
    assert _vp8.remb_of(other) is None


async def test_plain_aiortc_answers_every_pli() -> None:
    try:
        endpoint.plain_aiortc()
        sender = RTCRtpSender("video", Transport())  # type: ignore[arg-type]
        asked: list[int] = []
        sender._send_keyframe = lambda: asked.append(1)  # type: ignore[method-assign]
        for _ in range(5):
            await sender._handle_rtcp_packet(pli(sender._ssrc))
        assert len(asked) == 5
        assert aiortc.codecs.Vp8Encoder is vpx.Vp8Encoder  # type: ignore[attr-defined]
    finally:
        _seams.install_all()
    assert _vp8.installed()


def test_install_is_idempotent_and_uninstall_restores_aiortc() -> None:
    handler = RTCRtpSender._handle_rtcp_packet
    assert "vp8-send" in _seams.names() and _vp8.installed()
    assert _vp8.install() and RTCRtpSender._handle_rtcp_packet is handler  # not wrapped twice
    try:
        _vp8.uninstall()
        assert aiortc.codecs.Vp8Encoder is vpx.Vp8Encoder  # type: ignore[attr-defined]
        assert RTCRtpSender._handle_rtcp_packet.__module__ == "aiortc.rtcrtpsender"
        _vp8.uninstall()  # twice is harmless
        assert RTCRtpSender._handle_rtcp_packet.__module__ == "aiortc.rtcrtpsender"
    finally:
        assert _vp8.install()
    assert aiortc.codecs.get_encoder(_vp8_codec()).__class__ is _vp8.TieredVp8Encoder


def _vp8_codec() -> aiortc.RTCRtpCodecParameters:
    return aiortc.RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)


def test_install_refuses_a_changed_aiortc(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    _vp8.uninstall()
    try:
        monkeypatch.setattr(_vp8, "SEAM_LINES", ("self.__no_such_line()",))
        with caplog.at_level(logging.WARNING, logger="endpoint._vp8"):
            assert not _vp8.install()
        assert "VP8 sender changed" in caplog.text
        assert aiortc.codecs.Vp8Encoder is vpx.Vp8Encoder  # type: ignore[attr-defined]
        assert RTCRtpSender._handle_rtcp_packet.__module__ == "aiortc.rtcrtpsender"
    finally:
        monkeypatch.undo()
        assert _vp8.install()

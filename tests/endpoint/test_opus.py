"""Opus send side: mono, about 28 kbit/s, in-band FEC; the seam into aiortc; our offer's fmtp."""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import fractions
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiortc.codecs
import aiortc.rtcrtpsender
import av
import numpy as np
import pytest
from aiortc import RTCRtpSender
from aiortc.codecs.opus import OpusDecoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import AudioStreamTrack
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

import endpoint  # noqa: F401 - importing the endpoint layer installs the seam
from endpoint._audiobridge import AudioBridge
from endpoint._opus import (
    MAX_AVERAGE_BITRATE,
    MonoOpusEncoder,
    encoder_for,
    install,
    opus_send_fmtp,
)
from endpoint._videoroom import RoomAccess
from tests._audio_server import RATE as AUDIO_SERVER_RATE
from tests._audio_server import dominant_frequency, rms
from tests._util import wait_until

RATE = 48000
FRAME = 960  # 20 ms
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=96)
VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
RTP_OVERHEAD = 12 + 8 + 10  # RTP header, mid + audio-level extensions, SRTP auth tag


def frames(signal: np.ndarray) -> Iterator[av.AudioFrame]:
    """*signal* (float mono at 48 kHz) as the 20 ms s16 frames our microphone track sends."""
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    for start in range(0, len(pcm) - FRAME + 1, FRAME):
        frame = av.AudioFrame.from_ndarray(pcm[start : start + FRAME].reshape(1, -1), "s16", "mono")
        frame.sample_rate, frame.pts = RATE, start
        frame.time_base = fractions.Fraction(1, RATE)
        yield frame


def tone(freq: float, seconds: float = 2.0, level: float = 0.5) -> np.ndarray:
    return level * np.sin(2 * np.pi * freq * np.arange(int(RATE * seconds)) / RATE)


def speech_like(seconds: float = 2.0) -> np.ndarray:
    """A voiced, gliding harmonic signal with syllable-rate loudness and a little noise."""
    t = np.arange(int(RATE * seconds)) / RATE
    phase = 2 * np.pi * np.cumsum(150 + 50 * np.sin(2 * np.pi * 1.3 * t)) / RATE
    voiced = sum(np.sin(k * phase) / k for k in range(1, 25))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    noise = np.random.default_rng(7).normal(0, 0.02, len(t))
    return 0.25 * voiced * envelope + noise


def encode(signal: np.ndarray) -> list[tuple[bytes, int]]:
    encoder, packets = MonoOpusEncoder(), []
    for frame in frames(signal):
        payloads, timestamp = encoder.encode(frame)
        packets += [(payload, timestamp) for payload in payloads]
    return packets


def decode(packets: list[tuple[bytes, int]]) -> np.ndarray:
    """Decode with aiortc's receiver-side decoder (stereo); returns the left channel."""
    decoder, out = OpusDecoder(), []
    for payload, timestamp in packets:
        for frame in decoder.decode(JitterFrame(payload, timestamp)):
            assert isinstance(frame, av.AudioFrame)
            out.append(frame.to_ndarray().reshape(-1, 2))
    stereo = np.concatenate(out).astype(float) / 32768
    assert np.array_equal(stereo[:, 0], stereo[:, 1]), "mono must play on both channels"
    return np.asarray(stereo[:, 0])


def kbps(packets: list[tuple[bytes, int]]) -> float:
    return sum(len(payload) for payload, _ in packets) * 8 / (len(packets) * 0.020) / 1000


# -- the seam ------------------------------------------------------------------------------


def test_aiortc_still_builds_its_sender_encoder_where_the_seam_expects() -> None:
    """Fails loudly when an aiortc upgrade moves the encoder out from under the seam."""
    assert aiortc.__version__.startswith("1.16"), "check endpoint/_opus.py against this aiortc"
    assert callable(aiortc.codecs.get_encoder)
    assert aiortc.rtcrtpsender.get_encoder is encoder_for  # type: ignore[attr-defined]
    sender_source = Path(aiortc.rtcrtpsender.__file__).read_text()
    assert "self.__encoder = get_encoder(codec)" in sender_source


def test_install_is_idempotent_and_refuses_an_unknown_target(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install()
    install()
    assert aiortc.rtcrtpsender.get_encoder is encoder_for  # type: ignore[attr-defined]
    monkeypatch.setattr(aiortc.rtcrtpsender, "get_encoder", lambda codec: None)
    with pytest.raises(RuntimeError, match="seam"):
        install()
    monkeypatch.delattr(aiortc.rtcrtpsender, "get_encoder")
    with pytest.raises(RuntimeError, match="seam"):
        install()


def test_opus_gets_our_encoder_and_other_codecs_aiortcs() -> None:
    assert isinstance(encoder_for(OPUS), MonoOpusEncoder)
    assert isinstance(encoder_for(VP8), Vp8Encoder)


# -- the encoder ---------------------------------------------------------------------------


@pytest.mark.parametrize("signal", [tone(440.0), speech_like()], ids=["tone", "speech"])
def test_mono_opus_stays_within_32_kbits(signal: np.ndarray) -> None:
    packets = encode(signal)
    assert len(packets) >= 95  # one packet per 20 ms frame
    assert 20 <= kbps(packets) <= MAX_AVERAGE_BITRATE / 1000, kbps(packets)


@pytest.mark.parametrize("freq", [440.0, 660.0])
def test_packets_decode_back_to_the_tone(freq: float) -> None:
    heard = decode(encode(tone(freq, level=0.3)))[RATE // 2 :]
    assert abs(dominant_frequency(heard, RATE) - freq) < 2
    assert abs(rms(heard) - 0.3 / np.sqrt(2)) < 0.03


def test_codec_is_mono_with_fec_and_takes_every_option() -> None:
    encoder = MonoOpusEncoder()
    for frame in frames(tone(440.0, 0.1)):
        encoder.encode(frame)
    assert encoder.codec.is_open and encoder.codec.channels == 1
    assert encoder.codec.bit_rate == 28000
    assert encoder.codec.options == {}, "FFmpeg leaves the options it did not take"


def libopus() -> ctypes.CDLL | None:
    bundled = sorted((Path(av.__file__).parent.parent / "av.libs").glob("libopus*"))
    name = str(bundled[0]) if bundled else ctypes.util.find_library("opus")
    lib = ctypes.CDLL(name) if name else None
    return lib if lib is not None and hasattr(lib, "opus_packet_has_lbrr") else None


@pytest.mark.parametrize(
    ("signal", "share"), [(tone(440.0), 0.95), (speech_like(), 0.7)], ids=["tone", "speech"]
)
def test_packets_carry_in_band_fec(signal: np.ndarray, share: float) -> None:
    """LBRR (the previous frame again, at a lower rate) in the packets after voiced frames;
    the quiet troughs of the speech-like signal carry none. aiortc's own encoder: none."""
    lib = libopus()
    if lib is None:
        pytest.skip("no libopus >= 1.5 to read LBRR flags with")
    packets = encode(signal)
    with_fec = sum(lib.opus_packet_has_lbrr(p, len(p)) == 1 for p, _ in packets)
    assert with_fec >= share * len(packets), (with_fec, len(packets))


# -- the offer -----------------------------------------------------------------------------

OFFER = (
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96 9 0\r\na=rtpmap:96 opus/48000/2\r\n"
    "a=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\nm=video 9 UDP/TLS/RTP/SAVPF 97\r\n"
    "a=rtpmap:97 VP8/90000\r\na=fmtp:97 max-fr=15\r\n"
)
OURS = "useinbandfec=1;stereo=0;sprop-stereo=0;maxaveragebitrate=32000"


def test_offer_gets_our_opus_fmtp_after_the_rtpmap() -> None:
    lines = opus_send_fmtp(OFFER).split("\r\n")
    at = lines.index("a=rtpmap:96 opus/48000/2")
    assert lines[at + 1] == f"a=fmtp:96 {OURS}"
    assert "a=fmtp:97 max-fr=15" in lines and len(lines) == len(OFFER.split("\r\n")) + 1


def test_existing_opus_fmtp_is_merged_ours_win() -> None:
    offer = "m=audio 9 RTP 111\na=rtpmap:111 OPUS/48000/2\na=fmtp:111 minptime=10;stereo=1;x\n"
    assert opus_send_fmtp(offer).split("\n") == [
        "m=audio 9 RTP 111",
        "a=rtpmap:111 OPUS/48000/2",
        "a=fmtp:111 minptime=10;stereo=0;x;useinbandfec=1;sprop-stereo=0;maxaveragebitrate=32000",
        "",
    ]


def test_munging_twice_is_munging_once_and_no_opus_is_untouched() -> None:
    once = opus_send_fmtp(OFFER)
    assert opus_send_fmtp(once) == once
    no_opus = "m=audio 9 RTP 0\r\na=rtpmap:0 PCMU/8000\r\na=fmtp:0 x=1\r\n"
    assert opus_send_fmtp(no_opus) == no_opus


async def test_our_audio_offer_has_our_opus_fmtp() -> None:
    class Handle:
        listener: Any = None

    bridge = AudioBridge(Handle(), RoomAccess(1234, None, "Xã A"), lambda track: None)  # type: ignore[arg-type]
    try:
        offer = await bridge._offer(AudioStreamTrack())
        assert f"a=fmtp:96 {OURS}" in str(offer["sdp"]).splitlines()
    finally:
        await bridge.close()


# -- with the hub --------------------------------------------------------------------------


def audio_sender(call: Any) -> RTCRtpSender:
    senders: list[RTCRtpSender] = call._conn.audio.pc.getSenders()
    return next(s for s in senders if s.track is not None and s.track.kind == "audio")


async def sent(sender: RTCRtpSender) -> tuple[int, int]:
    stats = await sender.getStats()
    outbound = next(s for s in stats.values() if s.type == "outbound-rtp")
    return outbound.bytesSent, outbound.packetsSent


async def test_audio_to_the_hub_is_under_40_kbits_and_still_heard(
    room: Any, audio_server: Any
) -> None:
    a = room("Xã A", tone=440.0)
    b = room("Xã B", tone=660.0, sink="room_b")
    await a.join()
    await b.join()
    await wait_until(lambda: any(p.display == "Xã A" for p in b.participants.values()))
    sender, clock = audio_sender(a), asyncio.get_running_loop().time
    bytes0, packets0 = await sent(sender)
    start = clock()
    heard = await asyncio.to_thread(audio_server.record, "room_b", 3.0)
    bytes1, packets1 = await sent(sender)
    seconds = clock() - start
    rate = ((bytes1 - bytes0) + (packets1 - packets0) * RTP_OVERHEAD) * 8 / seconds / 1000
    assert packets1 - packets0 >= 0.9 * 50 * seconds, "one packet per 20 ms"
    assert rate <= 40, f"audio sent at {rate:.1f} kbit/s with RTP/SRTP overhead"
    payload = (bytes1 - bytes0) * 8 / seconds / 1000
    assert payload <= MAX_AVERAGE_BITRATE / 1000, f"Opus payload at {payload:.1f} kbit/s"
    last = heard[-AUDIO_SERVER_RATE:]
    assert rms(last) > 0.05 and abs(dominant_frequency(last) - 440.0) < 5

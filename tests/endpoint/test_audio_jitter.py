"""Audio receive: lossy, reordered, duplicated and wrapping Opus streams through our jitter
buffer and concealing decoder (endpoint/_audio_jitter.py, endpoint/_opus_decode.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

import aiortc.codecs
import aiortc.rtcrtpreceiver as receiver_module
import av
import numpy as np
import pytest
from aiortc.codecs.g711 import PcmuDecoder
from aiortc.jitterbuffer import JitterBuffer as AiortcJitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtp import RtpPacket

import endpoint
from endpoint import _audio_jitter, _jitter, _libopus, _seams
from endpoint._audio_jitter import CAPACITY, AudioJitterBuffer
from endpoint._opus_decode import (
    MAX_CONCEAL,
    AudioBurst,
    BurstDecoder,
    ConcealingOpusDecoder,
    Unit,
    decoder_for,
)
from tests._audio_server import dominant_frequency, rms
from tests.endpoint.test_opus import encode, speech_like, tone

pytestmark = pytest.mark.skipif(not _libopus.available(), reason="no libopus")

RATE = 48000
TICK = 0.02  # one packet per 20 ms
SEQ0 = 65500  # sequence numbers wrap after 36 packets
TS0 = (1 << 32) - 20 * 960  # RTP timestamps wrap after 20 packets
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


@cache
def tone_packets(seconds: float = 4.0) -> list[tuple[bytes, int]]:
    """A 440 Hz tone at half scale: every packet after the first carries LBRR."""
    return encode(tone(440.0, seconds, level=0.5))


def rtp(index: int, payload: bytes, ssrc: int = 7) -> RtpPacket:
    packet = RtpPacket(
        payload_type=111,
        sequence_number=(SEQ0 + index) % 0x10000,
        timestamp=(TS0 + 960 * index) % (1 << 32),
        ssrc=ssrc,
        payload=payload,
    )
    packet._data = payload  # type: ignore[attr-defined]  # what aiortc's depayloader sets
    return packet


@dataclass
class Replay:
    """What came out of the buffer and the decoder for one packet schedule."""

    buffer: AudioJitterBuffer
    decoder: ConcealingOpusDecoder
    frames: list[av.AudioFrame] = field(default_factory=list)

    @property
    def pcm(self) -> np.ndarray:
        stereo = np.concatenate([f.to_ndarray().reshape(-1, 2) for f in self.frames])
        return np.asarray(stereo[:, 0], dtype=float) / 32768

    def frames_at(self, first: int, count: int = 1) -> np.ndarray:
        """The output for timeline frames [first, first + count) (output is gapless)."""
        return self.pcm[first * 960 : (first + count) * 960]


def replay(schedule: Iterable[tuple[float, int]], ssrc: int = 7, **options: float) -> Replay:
    """Feed packet *index* of the tone at time *t* for each (t, index), in that order."""
    now = [0.0]
    out = Replay(AudioJitterBuffer(clock=lambda: now[0], **options), ConcealingOpusDecoder())
    packets = tone_packets()
    for t, index in schedule:
        now[0] = t
        _, burst = out.buffer.add(rtp(index, packets[index][0], ssrc))
        if burst is not None:
            out.frames += out.decoder.decode(burst)
    return out


def steady(indices: Iterable[int]) -> list[tuple[float, int]]:
    return [(TICK * i, i) for i in indices]


def random_loss(share: float, seed: int, count: int = 200) -> list[int]:
    """Indices kept under seeded random loss; first and last always arrive."""
    rng = np.random.default_rng(seed)
    lost = rng.random(count) < share
    lost[0] = lost[-1] = False
    return [i for i in range(count) if not lost[i]]


def assert_tone(pcm: np.ndarray) -> None:
    assert abs(dominant_frequency(pcm, RATE) - 440.0) < 2


# -- loss -------------------------------------------------------------------------------------


def test_clean_stream_plays_every_frame_in_order() -> None:
    out = replay(steady(range(200)))
    assert len(out.frames) == 200 and all(f.samples == 960 for f in out.frames)
    assert out.decoder.stats.decoded == 200
    assert out.decoder.stats.concealed == out.decoder.stats.recovered == 0
    assert_tone(out.pcm[RATE // 2 :])


@pytest.mark.parametrize("share", [0.1, 0.2])
@pytest.mark.parametrize("seed", [1, 2])
def test_random_loss_never_stalls_and_keeps_the_tone(share: float, seed: int) -> None:
    kept = random_loss(share, seed)
    out = replay(steady(kept))
    lost = 200 - len(kept)
    assert len(out.frames) == 200, "one 20 ms frame out per 20 ms of the timeline"
    stats = out.decoder.stats
    assert stats.decoded == len(kept) and stats.concealed + stats.recovered == lost
    assert stats.recovered >= lost * 0.5, "the packet after each loss carries FEC"
    assert out.buffer.stats.lost == lost
    assert_tone(out.pcm[RATE // 2 :])
    assert rms(out.pcm[RATE // 2 :]) > 0.25, "concealment keeps the level up"


def test_single_losses_are_recovered_from_the_next_packets_fec() -> None:
    lost = set(range(20, 190, 10))
    out = replay(steady(i for i in range(200) if i not in lost))
    assert out.decoder.stats.recovered == len(lost) and out.decoder.stats.concealed == 0
    for index in lost:  # FEC rebuilt the tone (PLC would drift and fade)
        frame = out.frames_at(index)
        assert abs(rms(frame) - 0.5 / np.sqrt(2)) < 0.1, index
        assert abs(dominant_frequency(frame, RATE) - 440.0) < 30, index


@pytest.mark.parametrize("burst", [2, 3, 5])
def test_bursts_are_concealed_then_the_last_frame_recovered(burst: int) -> None:
    starts = range(30, 180, 30)
    lost = {s + k for s in starts for k in range(burst)}
    out = replay(steady(i for i in range(200) if i not in lost))
    assert len(out.frames) == 200
    assert out.decoder.stats.recovered == len(starts)
    assert out.decoder.stats.concealed == len(starts) * (burst - 1)
    assert_tone(out.pcm[RATE // 2 :])


def test_an_outage_is_not_filled_beyond_max_conceal() -> None:
    gap = range(50, 150)  # 2 s without packets
    out = replay(steady(i for i in range(200) if i not in gap))
    assert len(out.frames) == 200 - len(gap) + MAX_CONCEAL // 960
    assert out.buffer.stats.lost == len(gap)


def test_with_aiortcs_buffer_the_same_loss_stalls() -> None:
    """The measurement behind the issue: aiortc's buffer gives out far fewer frames."""
    buffer, released = AiortcJitterBuffer(capacity=16, prefetch=4), 0
    packets = tone_packets()
    for index in random_loss(0.1, seed=1):
        released += buffer.add(rtp(index, packets[index][0]))[1] is not None
    assert released < 0.85 * 200


# -- order ------------------------------------------------------------------------------------


def swapped(pairs: Iterable[int], count: int = 200) -> list[tuple[float, int]]:
    """Steady arrival, except packet i+1 comes in i's slot and i in i+1's."""
    order = list(range(count))
    for i in pairs:
        order[i], order[i + 1] = order[i + 1], order[i]
    return [(TICK * slot, index) for slot, index in enumerate(order)]


def test_reordering_is_learnt_then_put_back_in_order() -> None:
    pairs = list(range(20, 180, 20))
    out = replay(swapped(pairs))
    stats = out.buffer.stats
    assert len(out.frames) == 200
    assert stats.late == 1, "the first swap is late: nothing waited for it yet"
    assert out.decoder.stats.recovered == 1, "...so FEC stood in for it"
    assert stats.reordered == len(pairs) - 1 and out.decoder.stats.decoded == 199
    assert 0.02 <= out.buffer.reorder_wait <= 0.06
    assert_tone(out.pcm[RATE // 2 :])


def test_reordering_forgotten_after_a_while() -> None:
    now, packets = [0.0], tone_packets()
    buffer = AudioJitterBuffer(clock=lambda: now[0])
    for t, index in swapped([20], count=40):
        now[0] = t
        buffer.add(rtp(index, packets[index][0]))
    assert buffer.reorder_wait > 0.02
    now[0] = 10.9
    assert buffer.reorder_wait == 0.0, "10 s later a hole is no longer waited for"


def test_duplicates_and_stale_packets_are_dropped() -> None:
    schedule = [(TICK * i, i) for i in range(200) for _ in range(2)]  # every packet twice
    schedule.insert(300, (3.0, 3))  # long gone
    schedule += [(4.0 + TICK * k, k) for k in (150, 199)]
    out = replay(schedule)
    assert len(out.frames) == 200 and out.decoder.stats.decoded == 200
    assert out.buffer.stats.duplicates == 203 and out.buffer.stats.restarts == 0


def test_sequence_and_timestamp_wrap_are_seamless() -> None:
    out = replay(steady(i for i in range(200) if i not in (35, 36, 19, 20)))  # at both wraps
    assert len(out.frames) == 200
    assert out.buffer.stats.lost == 4 and out.buffer.stats.restarts == 0


def test_a_new_sender_starts_a_new_sequence_without_filling() -> None:
    schedule = steady(range(100)) + [(2.0 + TICK * k, 150 + k) for k in range(40)]
    now = [0.0]
    buffer, decoder, frames = AudioJitterBuffer(clock=lambda: now[0]), ConcealingOpusDecoder(), 0
    packets = tone_packets()
    for t, index in schedule:
        now[0] = t
        ssrc = 7 if index < 100 else 8
        packet = rtp(index, packets[index % 200][0], ssrc)
        if ssrc == 8:
            packet.sequence_number = 1000 + index  # far from the old sequence
        burst = buffer.add(packet)[1]
        frames += len(decoder.decode(burst)) if burst is not None else 0
    assert buffer.stats.restarts == 1 and frames == 140


# -- bounds ------------------------------------------------------------------------------------


def test_memory_stays_bounded_behind_a_hole() -> None:
    """Even waiting as long as it may, the buffer holds at most CAPACITY packets."""
    now = [0.0]
    buffer = AudioJitterBuffer(clock=lambda: now[0], max_reorder_wait=1000.0)
    buffer._late_waits.append((0.0, 1000.0))  # as if a packet had once been that late
    packets, released, most = tone_packets(), 0, 0
    for index in [0, *range(2, 200)]:  # packet 1 never comes
        now[0] = TICK * index
        burst = buffer.add(rtp(index, packets[index][0]))[1]
        released += len(burst.units) if burst is not None else 0
        most = max(most, len(buffer._pending))
    assert most <= CAPACITY and released == 199 - len(buffer._pending) > 100
    assert len(buffer._given_up) <= 100 and buffer.stats.lost == 1


def test_release_is_immediate_when_nothing_was_late() -> None:
    """No reordering seen: a packet after a hole is out on arrival (no added delay)."""
    now = [0.0]
    buffer, packets = AudioJitterBuffer(clock=lambda: now[0]), tone_packets()
    buffer.add(rtp(0, packets[0][0]))
    burst = buffer.add(rtp(2, packets[2][0]))[1]
    assert burst is not None and [u.lost_before for u in burst.units] == [1]


# -- the decoder seam's other codecs ----------------------------------------------------------


def test_other_audio_codecs_get_aiortcs_decoder_fed_unit_by_unit() -> None:
    pcmu = RTCRtpCodecParameters(mimeType="audio/PCMU", clockRate=8000, payloadType=0)
    decoder = decoder_for(pcmu)
    assert isinstance(decoder, BurstDecoder) and isinstance(decoder._inner, PcmuDecoder)
    from endpoint._opus_decode import AudioBurst, Unit

    frames = decoder.decode(AudioBurst([Unit(b"\xff" * 160, 0), Unit(b"\xff" * 160, 160, 1)]))
    assert len(frames) == 2
    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=97)
    assert type(decoder_for(vp8)).__name__ == "Vp8Decoder"
    assert isinstance(decoder_for(OPUS), ConcealingOpusDecoder)


def test_speech_with_loss_decodes_at_the_same_pace() -> None:
    packets = encode(speech_like(2.0))
    now, kept = [0.0], random_loss(0.2, seed=3, count=len(packets))
    buffer, decoder, out = AudioJitterBuffer(clock=lambda: now[0]), ConcealingOpusDecoder(), 0
    for index in kept:
        now[0] = TICK * index
        packet = rtp(index, packets[index][0])
        burst = buffer.add(packet)[1]
        out += sum(f.samples for f in decoder.decode(burst)) if burst else 0
    assert out == len(packets) * 960


# -- the seam ----------------------------------------------------------------------------------


def test_receiver_builds_its_audio_path_where_the_seam_expects() -> None:
    assert aiortc.__version__.startswith("1.16"), "check endpoint/_audio_jitter.py"
    assert _audio_jitter.seam_intact() or _audio_jitter.installed()
    assert "audio-receive" in _seams.names()
    assert _audio_jitter.installed()
    assert receiver_module.get_decoder is decoder_for  # type: ignore[attr-defined]
    audio = receiver_module.JitterBuffer(capacity=16, prefetch=4)  # type: ignore[attr-defined]
    video = receiver_module.JitterBuffer(capacity=512, is_video=True)  # type: ignore[attr-defined]
    assert isinstance(audio, AudioJitterBuffer)
    assert not isinstance(video, AudioJitterBuffer)


def test_install_is_idempotent_and_either_seam_comes_out_alone() -> None:
    try:
        assert _audio_jitter.install() and _audio_jitter.install()
        factory = receiver_module.JitterBuffer  # type: ignore[attr-defined]
        assert getattr(factory, "diemcau_video", False), "the video seam stays on top"
        assert getattr(factory.diemcau_previous, "diemcau_audio", False)
        assert factory.diemcau_previous.diemcau_previous is AiortcJitterBuffer
        _audio_jitter.uninstall()
        assert receiver_module.JitterBuffer.diemcau_previous is AiortcJitterBuffer  # type: ignore[attr-defined]
        assert receiver_module.get_decoder is aiortc.codecs.get_decoder  # type: ignore[attr-defined]
        assert _audio_jitter.install()
        _jitter.uninstall()
        assert getattr(receiver_module.JitterBuffer, "diemcau_audio", False)  # type: ignore[attr-defined]
        _audio_jitter.uninstall()
        assert receiver_module.JitterBuffer is AiortcJitterBuffer  # type: ignore[attr-defined]
    finally:
        _seams.install_all()
    assert _audio_jitter.installed() and getattr(
        receiver_module.JitterBuffer,  # type: ignore[attr-defined]
        "diemcau_video",
        False,
    )


def test_plain_aiortc_restores_the_receiver_exactly() -> None:
    try:
        endpoint.plain_aiortc()
        assert receiver_module.JitterBuffer is AiortcJitterBuffer  # type: ignore[attr-defined]
        assert receiver_module.get_decoder is aiortc.codecs.get_decoder  # type: ignore[attr-defined]
    finally:
        _seams.install_all()
    assert _audio_jitter.installed()


def test_install_refuses_a_changed_receiver(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    try:
        endpoint.plain_aiortc()
        monkeypatch.setattr(receiver_module, "get_decoder", lambda codec: None)
        assert not _audio_jitter.install()
        assert receiver_module.JitterBuffer is AiortcJitterBuffer  # type: ignore[attr-defined]
        monkeypatch.setattr(receiver_module, "get_decoder", aiortc.codecs.get_decoder)
        monkeypatch.setattr(_audio_jitter, "SEAM_LINES", ("JitterBuffer(capacity=32)",))
        assert not _audio_jitter.install()
        assert "audio keeps aiortc's own path" in caplog.text
    finally:
        monkeypatch.undo()
        _seams.install_all()
    assert _audio_jitter.installed()


# -- bad packets -------------------------------------------------------------------------------

MALFORMED = b"\x03"  # code 3 without its frame count byte: libopus says OPUS_INVALID_PACKET


def test_a_malformed_packet_amid_good_ones_is_concealed_and_counted() -> None:
    packets = [payload for payload, _ in tone_packets()[:100]]
    packets[40] = packets[41] = packets[70] = MALFORMED
    now = [0.0]
    buffer, decoder, frames = AudioJitterBuffer(clock=lambda: now[0]), ConcealingOpusDecoder(), []
    for index, payload in enumerate(packets):
        now[0] = TICK * index
        burst = buffer.add(rtp(index, payload))[1]
        frames += decoder.decode(burst) if burst else []
    assert [f.samples for f in frames] == [960] * 100, "one 20 ms frame per packet, in order"
    assert decoder.stats.malformed == 3 and decoder.stats.concealed == 3
    assert decoder.stats.decoded == 97
    stereo = np.concatenate([f.to_ndarray().reshape(-1, 2) for f in frames[72:]])
    assert_tone(np.asarray(stereo[:, 0], dtype=float) / 32768)


def test_aiortcs_decoder_thread_survives_a_malformed_packet() -> None:
    """aiortc's decoder_worker catches only av.FFmpegError: anything else kills the thread."""
    import asyncio
    import queue
    import threading

    async def run() -> list[av.AudioFrame | None]:
        loop, inbox, outbox = asyncio.get_running_loop(), queue.Queue(), asyncio.Queue()  # type: ignore[var-annotated]
        packets = [payload for payload, _ in tone_packets()[:10]]
        packets[3] = MALFORMED
        for index, payload in enumerate(packets):
            inbox.put((OPUS, AudioBurst([Unit(payload, 960 * index)])))
        inbox.put(None)
        worker = threading.Thread(
            target=receiver_module.decoder_worker,
            args=(loop, inbox, outbox, threading.Event()),
            daemon=True,
        )
        worker.start()
        out = [await asyncio.wait_for(outbox.get(), 5.0) for _ in range(11)]
        await asyncio.to_thread(worker.join, 5.0)
        assert not worker.is_alive()
        return out

    out = asyncio.run(run())
    assert out[-1] is None and all(f is not None and f.samples == 960 for f in out[:-1])


def test_a_malformed_packet_after_a_loss_is_concealed_too() -> None:
    packets = tone_packets()
    decoder = ConcealingOpusDecoder()
    frames = decoder.decode(AudioBurst([Unit(packets[0][0], 0)]))
    frames += decoder.decode(AudioBurst([Unit(MALFORMED, 3 * 960, lost_before=2)]))
    frames += decoder.decode(AudioBurst([Unit(packets[4][0], 4 * 960)]))
    assert [f.samples for f in frames] == [960] * 5
    assert decoder.stats.malformed == 1 and decoder.stats.decoded == 2


def test_padding_units_are_skipped_not_decoded_as_120_ms_of_loss() -> None:
    packets = tone_packets()
    decoder = ConcealingOpusDecoder()
    burst = [Unit(packets[0][0], 0), Unit(b"", 960), Unit(packets[1][0], 960)]
    frames = decoder.decode(AudioBurst(burst))
    frames += decoder.decode(AudioBurst([Unit(b"", 1920)]))
    frames += decoder.decode(AudioBurst([Unit(packets[2][0], 1920)]))
    assert [f.samples for f in frames] == [960] * 3
    assert decoder.stats.decoded == 3 and decoder.stats.concealed == 0


def test_a_loss_noted_on_a_padding_unit_is_filled_before_the_next_packet() -> None:
    packets = tone_packets()
    decoder = ConcealingOpusDecoder()
    frames = decoder.decode(AudioBurst([Unit(packets[0][0], 0)]))
    frames += decoder.decode(AudioBurst([Unit(b"", 3 * 960, lost_before=2)]))
    frames += decoder.decode(AudioBurst([Unit(packets[3][0], 3 * 960)]))
    assert [f.samples for f in frames] == [960] * 4
    assert [f.pts for f in frames] == [0, 960, 1920, 2880]
    assert decoder.stats.decoded == 2 and decoder.stats.concealed + decoder.stats.recovered == 2

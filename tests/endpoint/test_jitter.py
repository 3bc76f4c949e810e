"""The time-bounded video jitter buffer, replayed on RTP packet sequences.

Packets are real aiortc ``RtpPacket`` objects carrying VP8 payload descriptors, depayloaded
the way aiortc's receiver does it, so frame starts and keyframes are read as in a call.
Time is injected. Where it tells, the same sequence goes through aiortc's own buffer too.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

import aiortc.rtcrtpreceiver as receiver_module
import pytest
from aiortc.codecs.vpx import VpxPayloadDescriptor, vp8_depayload
from aiortc.jitterbuffer import JitterBuffer as AiortcJitterBuffer
from aiortc.rtp import RtpPacket

from endpoint import _jitter
from endpoint._jitter import (
    IDLE_AFTER,
    KEY_WAIT,
    MAX_WAIT,
    PLI_INTERVAL,
    RETRANSMISSION_TIMEOUT,
    VideoJitterBuffer,
)

FRAME_TICKS = 6000  # 90 kHz / 15 fps


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Sender:
    """A VP8 sender: frame n carries its number, split over *size* packets."""

    def __init__(self, seq: int = 1000) -> None:
        self.seq = seq
        self.count = 0

    def frame(self, key: bool = False, size: int = 3) -> list[RtpPacket]:
        self.count += 1
        body = bytes([0 if key else 1]) + self.count.to_bytes(4, "big") + bytes(40)
        step = -(-len(body) // size)
        chunks = [body[i * step : (i + 1) * step] for i in range(size)]
        packets = [self._packet(chunk, i == 0, i == size - 1) for i, chunk in enumerate(chunks)]
        return packets

    def frames(self, n: int, key_first: bool = False, size: int = 3) -> list[RtpPacket]:
        return [p for i in range(n) for p in self.frame(key_first and i == 0, size)]

    def _packet(self, chunk: bytes, start: bool, marker: bool) -> RtpPacket:
        descriptor = VpxPayloadDescriptor(partition_start=int(start), partition_id=0)
        payload = bytes(descriptor) + chunk
        packet = RtpPacket(
            payload_type=96,
            marker=int(marker),
            sequence_number=self.seq,
            timestamp=(self.count * FRAME_TICKS) & 0xFFFFFFFF,
            ssrc=1234,
            payload=payload,
        )
        packet._data = vp8_depayload(payload)  # type: ignore[attr-defined]
        self.seq = (self.seq + 1) & 0xFFFF
        return packet


def number(frame: Any) -> int:
    """Which frame a released frame is (the sender's count), from its reassembled bytes."""
    data = bytes(frame.data)
    return int.from_bytes(data[1:5], "big") if len(data) == 45 else -1


def feed(buffer: Any, packets: Iterable[RtpPacket]) -> tuple[list[int], int]:
    """Released frame numbers and PLI count."""
    released, plis = [], 0
    for packet in packets:
        pli, frame = buffer.add(packet)
        plis += pli
        if frame is not None:
            released.append(number(frame))
    return released, plis


def make(clock: Clock, **kwargs: Any) -> VideoJitterBuffer:
    return VideoJitterBuffer(capacity=512, is_video=True, clock=clock, **kwargs)


def test_in_order_each_frame_comes_out_on_its_last_packet() -> None:
    sender = Sender()
    packets = sender.frames(10, key_first=True)
    buffer = make(Clock())
    out = [buffer.add(p) for p in packets]
    assert [number(f) for _, f in out if f is not None] == list(range(1, 11))
    assert [i for i, (_, f) in enumerate(out) if f is not None] == [2 + 3 * i for i in range(10)]
    assert not any(pli for pli, _ in out)
    # aiortc's buffer needs the next frame's first packet: one frame later, and the last
    # frame not at all
    assert feed(AiortcJitterBuffer(512, is_video=True), packets)[0] == list(range(1, 10))


def test_first_frames_wait_for_a_keyframe() -> None:
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    released, plis = feed(buffer, sender.frames(3))
    assert released == [] and plis == 1
    assert feed(buffer, sender.frames(3, key_first=True)) == ([4, 5, 6], 0)


def test_a_lost_packet_recovered_in_time_costs_nothing() -> None:
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    assert feed(buffer, sender.frames(2, key_first=True)) == ([1, 2], 0)
    third = sender.frame()
    later = sender.frames(3)
    assert feed(buffer, [third[0], third[2], *later]) == ([], 0)  # waits for third[1]
    clock.now += MAX_WAIT * 0.8
    assert feed(buffer, [third[1]]) == ([3], 0)  # the retransmission
    assert feed(buffer, sender.frame()) == ([4, 5, 6], 0)  # the backlog, one per packet
    assert feed(buffer, sender.frames(2)) == ([7, 8, 9], 0)
    assert buffer.dropped_frames == 0


def test_a_packet_lost_for_good_asks_for_a_keyframe_then_drops_the_frame() -> None:
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    feed(buffer, sender.frames(2, key_first=True))
    third = sender.frame()
    assert feed(buffer, [third[0], third[2], *sender.frames(2)]) == ([], 0)
    clock.now += RETRANSMISSION_TIMEOUT - 0.01
    assert feed(buffer, sender.frame()) == ([], 0)  # the retransmission may still come
    clock.now += 0.02
    assert feed(buffer, sender.frame()) == ([], 1)  # overdue: a keyframe asked for at once
    clock.now = 100.0 + MAX_WAIT - 0.01
    assert feed(buffer, sender.frame()) == ([], 0)  # the frame still waits
    clock.now += 0.02
    assert feed(buffer, sender.frame()) == ([], 0)  # given up; the PLI is rate-limited
    assert buffer.dropped_frames >= 1
    clock.now = 100.0 + RETRANSMISSION_TIMEOUT + PLI_INTERVAL + 0.01
    assert feed(buffer, sender.frame()) == ([], 1)  # no keyframe yet: asked again
    assert feed(buffer, sender.frames(3, key_first=True)) == ([11, 12, 13], 0)
    clock.now += PLI_INTERVAL
    assert feed(buffer, sender.frames(2)) == ([14, 15], 0)


def test_a_retransmission_after_the_keyframe_request_still_completes_the_frame() -> None:
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    feed(buffer, sender.frames(2, key_first=True))
    third = sender.frame()
    assert feed(buffer, [third[0], third[2]]) == ([], 0)
    clock.now += RETRANSMISSION_TIMEOUT + 0.01
    assert feed(buffer, sender.frame()) == ([], 1)
    assert feed(buffer, [third[1]]) == ([3], 0)  # the second retransmission came first
    assert feed(buffer, sender.frames(2)) == ([4, 5, 6], 0)
    clock.now += PLI_INTERVAL + 0.01
    assert feed(buffer, sender.frames(2)) == ([7, 8], 0)  # no more keyframe requests
    assert buffer.dropped_frames == 0


def test_a_keyframe_waits_longer_for_its_packet_than_an_inter_frame() -> None:
    """Nothing after a keyframe can be shown without it, and the hub's second
    retransmission comes after ~220 ms + RTT: the keyframe waits for it past MAX_WAIT."""
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    key = sender.frame(key=True)
    assert feed(buffer, [key[0], key[2], *sender.frames(2)]) == ([], 0)
    clock.now += MAX_WAIT + 0.05
    assert buffer.poll() is True  # a keyframe asked for (overdue), the frame still waits
    assert feed(buffer, sender.frame()) == ([], 0)
    assert buffer.dropped_frames == 0
    assert feed(buffer, [key[1]]) == ([1], 0)  # the second retransmission
    assert feed(buffer, sender.frames(2)) == ([2, 3, 4, 5, 6], 0)  # one per packet
    # one lost for good: dropped once KEY_WAIT is over, nothing shown until a keyframe
    sender, clock = Sender(), Clock()
    buffer = make(clock)
    key = sender.frame(key=True)
    assert feed(buffer, [key[0], key[2], *sender.frames(2)]) == ([], 0)
    while (deadline := buffer.next_deadline()) is not None and deadline < 100.0 + KEY_WAIT:
        clock.now = deadline
        buffer.poll()
    assert buffer.dropped_frames == 0 and deadline == pytest.approx(100.0 + KEY_WAIT)
    clock.now = deadline
    buffer.poll()
    assert buffer.dropped_frames >= 1
    assert feed(buffer, sender.frames(2)) == ([], 0)
    assert feed(buffer, sender.frame(key=True)) == ([6], 0)


def test_the_retransmission_timeout_comes_from_the_measured_rtt() -> None:
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    buffer.retransmission_timeout = lambda: 0.04
    feed(buffer, sender.frames(2, key_first=True))
    third = sender.frame()
    feed(buffer, [third[0], third[2]])
    clock.now += 0.05
    assert feed(buffer, sender.frame()) == ([], 1)
    buffer.retransmission_timeout = lambda: 5.0  # never longer than MAX_WAIT
    fourth = sender.frames(1)
    clock.now += MAX_WAIT
    assert feed(buffer, fourth)[0] == [] and buffer.dropped_frames >= 1


def test_between_packets_poll_runs_the_timeouts_at_next_deadline() -> None:
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    changed: list[int] = []
    buffer.on_change = lambda: changed.append(1)
    feed(buffer, sender.frames(2, key_first=True))
    assert buffer.next_deadline() is None and len(changed) == 6
    third = sender.frame()
    feed(buffer, [third[0], third[2]])
    assert buffer.next_deadline() == 100.0 + RETRANSMISSION_TIMEOUT
    assert not buffer.poll()  # not yet
    clock.now = 100.0 + RETRANSMISSION_TIMEOUT + 1e-9
    assert buffer.poll() and not buffer.poll()  # one keyframe request
    assert buffer.next_deadline() == 100.0 + MAX_WAIT
    clock.now = 100.0 + MAX_WAIT + 1e-9
    assert not buffer.poll() and buffer.dropped_frames == 1  # dropped; PLI rate-limited
    repeat = 100.0 + RETRANSMISSION_TIMEOUT + PLI_INTERVAL
    assert buffer.next_deadline() == pytest.approx(repeat)
    clock.now = repeat + 1e-6
    assert buffer.poll()
    clock.now = 100.0 + IDLE_AFTER + 0.01
    assert buffer.next_deadline() is None  # no packets: the stream stopped, stay quiet


def test_wants_only_what_is_not_yet_released() -> None:
    sender = Sender(seq=65534)
    buffer = make(Clock())
    assert buffer.wants(7)
    packets = sender.frames(2, key_first=True)
    feed(buffer, packets)
    assert not buffer.wants(65534) and not buffer.wants(3) and buffer.wants(4) and buffer.wants(10)


def test_aiortc_buffer_holds_everything_behind_a_lost_packet() -> None:
    """The measured 14 s freeze: aiortc's buffer waits for 512 packets, whatever the time."""
    sender = Sender()
    original = AiortcJitterBuffer(512, is_video=True)
    feed(original, sender.frames(2, key_first=True))
    third = sender.frame()
    later = sender.frames(150, key_first=True)  # 450 packets, keyframe included
    assert feed(original, [third[0], third[2], *later]) == ([2], 0)
    ours = make(Clock())
    sender = Sender()
    feed(ours, sender.frames(2, key_first=True))
    third = sender.frame()
    released, _ = feed(ours, [third[0], third[2], *sender.frames(150, key_first=True)])
    assert released[:2] == [4, 5]  # the keyframe is jumped to at once


def test_a_complete_keyframe_ends_the_wait_at_once() -> None:
    sender = Sender()
    clock = Clock()
    buffer = make(clock)
    feed(buffer, sender.frames(2, key_first=True))
    third = sender.frame()
    assert feed(buffer, [third[0], third[2], *sender.frames(2)]) == ([], 0)
    assert feed(buffer, sender.frames(2, key_first=True)) == ([6, 7], 0)
    assert feed(buffer, [third[1]]) == ([], 0)  # too late: ignored
    assert buffer.dropped_frames == 3


def test_reordered_packets_make_the_same_frames() -> None:
    sender = Sender()
    packets = sender.frames(12, key_first=True)
    shuffled = list(packets)
    for i in range(3, len(shuffled) - 4, 5):  # swap across frame boundaries too
        shuffled[i], shuffled[i + 3] = shuffled[i + 3], shuffled[i]
    buffer = make(Clock())
    assert feed(buffer, shuffled) == (list(range(1, 13)), 0)


def test_duplicates_are_ignored() -> None:
    sender = Sender()
    packets = sender.frames(6, key_first=True)
    twice = [p for packet in packets for p in (packet, packet)]
    assert feed(make(Clock()), twice) == (list(range(1, 7)), 0)


def test_a_long_burst_drops_to_the_next_keyframe_in_bounded_memory() -> None:
    sender = Sender()
    clock = Clock()
    buffer = VideoJitterBuffer(capacity=32, is_video=True, clock=clock)
    feed(buffer, sender.frames(2, key_first=True))
    sender.frames(20)  # 60 packets lost in a burst
    released, plis = [], 0
    for _ in range(30):  # inter frames go on for 2 s, no keyframe
        clock.now += 1 / 15
        got = feed(buffer, sender.frame())
        released += got[0]
        plis += got[1]
        assert len(buffer._entries) <= 32
    assert released == [] and 5 <= plis <= 7  # asked again every PLI_INTERVAL
    assert feed(buffer, sender.frames(3, key_first=True)) == ([53, 54, 55], 0)


def test_memory_stays_within_capacity_when_nothing_can_go_out() -> None:
    sender = Sender()
    buffer = VideoJitterBuffer(capacity=16, is_video=True, clock=Clock())
    feed(buffer, sender.frames(1, key_first=True))
    sender.frame()  # lost; the clock stands still, so the gap never times out
    released, plis = feed(buffer, sender.frames(40))
    assert len(buffer._entries) <= 16 and plis == 1 and released == []


def test_sequence_numbers_wrap_around() -> None:
    sender = Sender(seq=65530)
    packets = sender.frames(8, key_first=True)
    assert {p.sequence_number for p in packets} >= {65535, 0, 1}
    packets[4], packets[6] = packets[6], packets[4]  # reordered across the wrap
    clock = Clock()
    buffer = make(clock)
    assert feed(buffer, packets) == (list(range(1, 9)), 0)
    lost = sender.frame()
    assert feed(buffer, [lost[0], lost[2], *sender.frames(2)]) == ([], 0)
    clock.now += MAX_WAIT + 0.01
    assert feed(buffer, sender.frames(2, key_first=True)) == ([12, 13], 1)


def test_a_restarted_sequence_starts_over() -> None:
    sender = Sender(seq=30000)
    buffer = make(Clock())
    feed(buffer, sender.frames(3, key_first=True))
    sender.seq = 100
    released, plis = feed(buffer, sender.frames(2, key_first=True))
    assert released == [4, 5]


def test_padding_packets_break_nothing() -> None:
    sender = Sender()
    buffer = make(Clock())
    feed(buffer, sender.frames(1, key_first=True))
    pad = RtpPacket(payload_type=96, sequence_number=sender.seq, timestamp=6000, ssrc=1234)
    pad._data = b""  # type: ignore[attr-defined]
    sender.seq += 1
    assert feed(buffer, [pad, *sender.frames(2)]) == ([2, 3], 0)


def test_other_codecs_go_to_aiortcs_buffer() -> None:
    buffer = make(Clock())
    nal = bytes([0x65]) + bytes(30)  # an H.264 IDR slice, one NAL per packet
    for seq in range(3):
        packet = RtpPacket(payload_type=97, sequence_number=seq, timestamp=seq, payload=nal)
        packet._data = b"\x00\x00\x00\x01" + nal  # type: ignore[attr-defined]
        buffer.add(packet)
    assert isinstance(buffer._fallback, AiortcJitterBuffer)


def test_install_puts_ours_in_for_video_only_and_is_idempotent() -> None:
    assert _jitter.seam_intact(), "aiortc's receiver changed: revisit endpoint/_jitter.py"
    assert _jitter.install() and _jitter.install()
    factory = getattr(receiver_module, "JitterBuffer")  # noqa: B009 - not exported
    assert _jitter.install() and getattr(receiver_module, "JitterBuffer") is factory  # noqa: B009
    transport = SimpleNamespace(state="new")
    video = receiver_module.RTCRtpReceiver("video", transport)  # type: ignore[arg-type]
    audio = receiver_module.RTCRtpReceiver("audio", transport)  # type: ignore[arg-type]
    assert isinstance(video._RTCRtpReceiver__jitter_buffer, VideoJitterBuffer)  # type: ignore[attr-defined]
    assert not isinstance(audio._RTCRtpReceiver__jitter_buffer, VideoJitterBuffer)  # type: ignore[attr-defined]


def test_the_endpoint_package_installs_the_seam() -> None:
    import endpoint  # noqa: F401 - importing is what installs it

    assert getattr(getattr(receiver_module, "JitterBuffer"), "diemcau_video", False)  # noqa: B009

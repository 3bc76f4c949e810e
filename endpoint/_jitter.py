"""A time-bounded video jitter buffer, installed into aiortc's receiver.

Why: aiortc's video ``JitterBuffer`` counts packets (512) and releases only complete,
contiguous frames, so one packet that NACK does not recover freezes video until 512 more
packets arrive (14 s at 640x360@15), and the backlog then plays seconds late.

Ours waits for a missing packet only as long as a retransmission takes. The gap is NACKed
the moment it shows (endpoint/_nack.py re-sends the NACK while the packet stays missing).
If the packet is not back within the retransmission timeout (``retransmission_timeout``,
about 1.5 x RTT, given by the NACK scheduler), it is taken as lost again and a keyframe is
asked for at once (PLI) while the frame keeps waiting: whichever comes first, the packet
or a complete keyframe, ends the freeze. A keyframe waits longer (``KEY_WAIT``): nothing
after it can be shown without it, and its replacement cannot come sooner (the sender sends
at most two keyframes a second, endpoint/_vp8.py), while the hub's second retransmission
of a packet lost twice comes after about 220 ms + RTT (endpoint/_nack.py); dropping it at
``MAX_WAIT`` made each such loss a 0.7-1 s freeze at 10 % loss. After its wait the frame
is dropped with every inter frame after it and the next keyframe is released; PLIs repeat,
at most one per ``PLI_INTERVAL`` (longer on slow links), while none comes. A complete
keyframe further on is jumped to at once, so delay never builds up. Duplicates and packets
older than the release point are ignored; memory stays bounded by ``capacity`` packets.

Frames go out only from ``add`` (one per packet, as aiortc's receiver wants); the timeouts
between packets are run by ``poll``, which endpoint/_nack.py calls at ``next_deadline``.

The seam (written against aiortc 1.16): ``aiortc.rtcrtpreceiver`` looks the module-level
name ``JitterBuffer`` up when a receiver is made: ``JitterBuffer(capacity=16, prefetch=4)``
for audio, ``JitterBuffer(capacity=512, is_video=True)`` for video, and then only calls
``add(packet) -> (pli_flag, JitterFrame | None)`` per RTP packet, after setting
``packet._data`` to the depayloaded bytes. :func:`install` replaces that name with a
factory that builds our buffer for video and hands every other call to whatever was there
before (aiortc's class, or another seam), and refuses, with a warning, when the receiver no
longer builds its buffers that way. The VP8 payload descriptor is read for frame starts and
keyframes; any other video codec (H.264) goes to aiortc's buffer unchanged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiortc.rtcrtpreceiver as receiver_module
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.jitterbuffer import JitterBuffer as AiortcJitterBuffer
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtp import RtpPacket

from endpoint import _seams

log = logging.getLogger(__name__)

MAX_WAIT = 0.3  # seconds a frame waits for a missing packet once the gap is seen
KEY_WAIT = 0.5  # the same for a keyframe (see above)
RETRANSMISSION_TIMEOUT = 0.15  # until the NACK scheduler has measured the RTT
PLI_INTERVAL = 0.3  # seconds between two keyframe requests (at least)
IDLE_AFTER = 2.0  # no packet for this long: the stream stopped, no more timed PLIs
MAX_MISORDER = 100  # a packet this far behind the release point means a new stream
SEAM_LINES = (
    "JitterBuffer(capacity=16, prefetch=4)",
    "JitterBuffer(capacity=512, is_video=True)",
    "self.__jitter_buffer.add(packet)",
)


class Buffer(Protocol):
    """What aiortc's receiver uses of a jitter buffer."""

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]: ...


@dataclass(slots=True)
class _Entry:
    packet: RtpPacket
    arrived: float
    start: bool  # first packet of a frame
    key: bool  # first packet of a keyframe
    filler: bool = False  # no payload (padding): skipped, breaks nothing


@dataclass(slots=True)
class _Span:
    """What lies at a sequence number: a whole frame [first, last], a hole, or neither."""

    first: int
    last: int | None = None  # set: a complete frame
    hole: int | None = None  # set: this packet is missing and a later one has come


def vp8_start(packet: RtpPacket) -> tuple[bool, bool] | None:
    """(frame start, keyframe) from a VP8 packet; None if the payload is not VP8."""
    data: bytes = getattr(packet, "_data", b"")
    try:
        descriptor, rest = VpxPayloadDescriptor.parse(packet.payload)
    except ValueError:
        return None
    if len(rest) != len(data):  # aiortc's H.264 depayloader never gives this length
        return None
    start = bool(descriptor.partition_start) and descriptor.partition_id == 0
    return start, start and bool(data) and not data[0] & 1


class VideoJitterBuffer:
    """Assembles VP8 frames and releases them in order, never waiting long for a packet.

    Same interface as aiortc's ``JitterBuffer``; ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        capacity: int = 512,
        prefetch: int = 0,
        is_video: bool = True,
        *,
        max_wait: float = MAX_WAIT,
        key_wait: float = KEY_WAIT,
        pli_interval: float = PLI_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = capacity
        self._max_wait = max_wait
        self._key_wait = max(key_wait, max_wait)
        self._pli_interval = pli_interval
        self._clock = clock
        self._fallback: AiortcJitterBuffer | None = None
        self._reset()
        self._last_pli = -float("inf")
        self._last_arrival = -float("inf")
        self.dropped_frames = 0
        self.retransmission_timeout: Callable[[], float] = lambda: RETRANSMISSION_TIMEOUT
        self.on_change: Callable[[], None] = lambda: None  # after each packet

    def _reset(self) -> None:
        self._entries: dict[int, _Entry] = {}
        self._keys: set[int] = set()
        self._head: int | None = None  # next sequence number to release (extended)
        self._highest: int | None = None
        self._chained = False  # the frame at head can be decoded (previous one released)
        self._want_pli = False  # the chain is broken: keyframe wanted until one comes
        self._early_hole: int | None = None  # a keyframe was asked for this hole
        self._ask_early = False

    @property
    def capacity(self) -> int:
        return self._capacity

    def add(self, packet: RtpPacket) -> tuple[bool, JitterFrame | None]:
        """Take one packet; return (send a PLI, the next frame to decode or None)."""
        if self._fallback is not None:
            return self._fallback.add(packet)
        info = vp8_start(packet) if packet.payload else (False, False)
        if info is None and self._head is None:
            log.info("video payload is not VP8: aiortc's jitter buffer takes over")
            self._fallback = AiortcJitterBuffer(self._capacity, is_video=True)
            return self._fallback.add(packet)
        now = self._last_arrival = self._clock()
        start, key = info or (False, False)
        self._store(_Entry(packet, now, start, key, filler=not packet.payload))
        frame = self._next_frame(now)
        pli = self._take_pli(now)
        self.on_change()
        return pli, frame

    def poll(self) -> bool:
        """Run the timeouts due by now (between packets); True: send a PLI now."""
        if self._fallback is not None or self._head is None:
            return False
        now = self._clock()
        self._next_frame(now, release=False)
        return self._take_pli(now)

    def wants(self, seq: int) -> bool:
        """Whether packet *seq* (16-bit) could still be used: not behind the release point."""
        if self._head is None or self._highest is None:
            return True
        return self._extend(seq) >= self._head

    def next_deadline(self) -> float | None:
        """When :meth:`poll` next has something to do (clock time), or None."""
        if self._fallback is not None or self._head is None:
            return None
        if self._clock() - self._last_arrival > IDLE_AFTER:
            return None
        times = []
        if self._want_pli or self._ask_early:
            times.append(self._last_pli + self._repeat_interval())
        hole = self._head_hole()
        if hole is not None:
            seen = self._gap_seen(hole)
            if hole != self._early_hole:
                times.append(seen + self._rto())
            times.append(seen + self._wait())
        return min(times, default=None)

    # storing

    def _extend(self, seq: int) -> int:
        if self._highest is None:
            return seq
        delta = (seq - self._highest + 0x8000) % 0x10000 - 0x8000
        return self._highest + delta

    def _store(self, entry: _Entry) -> None:
        ext = self._extend(entry.packet.sequence_number)
        if self._head is not None and ext < self._head - MAX_MISORDER:
            self._reset()  # the sender started over
            ext = entry.packet.sequence_number
        if self._head is None:
            self._head = ext
        if ext < self._head or ext in self._entries:
            return  # late or duplicate
        self._entries[ext] = entry
        if entry.key:
            self._keys.add(ext)
        self._highest = ext if self._highest is None else max(self._highest, ext)
        while len(self._entries) > self._capacity:
            self._break(min(self._entries) + 1)

    def _drop_to(self, seq: int) -> None:
        """Forget everything before *seq* and release from there."""
        assert self._head is not None
        if seq - self._head > len(self._entries):
            gone = [s for s in self._entries if s < seq]
        else:
            gone = [s for s in range(self._head, seq) if s in self._entries]
        for s in gone:
            del self._entries[s]
            self._keys.discard(s)
        self._head = seq

    def _break(self, seq: int) -> None:
        """Give up on what lies before *seq*: the chain of references is broken."""
        self._drop_to(seq)
        self._chained = False
        self._want_pli = True

    # releasing

    def _next_frame(self, now: float, release: bool = True) -> JitterFrame | None:
        while self._head is not None:
            self._skip_to_keyframe()
            head = self._entries.get(self._head)
            if head is not None and head.filler:
                self._drop_to(self._head + 1)
                continue
            if head is not None and not head.start:
                self._break(self._head + 1)  # the rest of a frame whose start is gone
                continue
            span = self._read(self._head)
            if span.last is not None:
                if not release:
                    return None
                frame = self._release(span.first, span.last)
                if frame is not None:
                    return frame
            elif span.hole is not None:
                if not self._waited_out(span.hole, now):
                    return None
                self.dropped_frames += 1
                log.debug(
                    "frame dropped: packet %d not back after %.0f ms",
                    span.hole,
                    1000 * self._wait(),
                )
                self._break(span.hole + 1)
            else:
                return None
        return None

    def _waited_out(self, hole: int, now: float) -> bool:
        """Whether the frame at head gives up on *hole*; asks for a keyframe once the
        retransmission is overdue."""
        waited = now - self._gap_seen(hole)
        if waited >= self._rto() and hole != self._early_hole:
            log.debug("packet %d not back after %.0f ms: keyframe asked for", hole, 1000 * waited)
            self._early_hole, self._ask_early = hole, True
        return waited >= self._wait()

    def _wait(self) -> float:
        """How long the frame at head waits for a missing packet."""
        assert self._head is not None
        head = self._entries.get(self._head)
        return self._key_wait if head is not None and head.key else self._max_wait

    def _head_hole(self) -> int | None:
        """The missing packet the frame at head waits for, if any."""
        assert self._head is not None
        entry = self._entries.get(self._head)
        if entry is not None and (entry.filler or not entry.start):
            return None
        return self._read(self._head).hole

    def _rto(self) -> float:
        return min(self.retransmission_timeout(), self._max_wait)

    def _repeat_interval(self) -> float:
        return max(self._pli_interval, 2 * self._rto())

    def _skip_to_keyframe(self) -> None:
        """Jump to the newest complete keyframe: nothing before it is needed any more."""
        assert self._head is not None
        for seq in sorted((k for k in self._keys if k > self._head), reverse=True):
            if self._read(seq).last is not None:
                self.dropped_frames += len({e.packet.timestamp for e in self._before(seq)})
                self._drop_to(seq)
                return

    def _before(self, seq: int) -> list[_Entry]:
        return [e for s, e in self._entries.items() if s < seq]

    def _read(self, first: int) -> _Span:
        entry = self._entries.get(first)
        if entry is None:
            return _Span(first, hole=first if self._beyond(first) else None)
        seq = first
        while not entry.packet.marker:
            following = self._entries.get(seq + 1)
            if following is None:
                return _Span(first, hole=seq + 1 if self._beyond(seq + 1) else None)
            if following.packet.timestamp != entry.packet.timestamp:
                break  # the marker was not set; the next frame has begun
            seq, entry = seq + 1, following
        return _Span(first, last=seq)

    def _beyond(self, seq: int) -> bool:
        return self._highest is not None and self._highest > seq

    def _gap_seen(self, missing: int) -> float:
        """When the gap at *missing* showed: the first arrival of any later packet."""
        return min(e.arrived for s, e in self._entries.items() if s > missing)

    def _release(self, first: int, last: int) -> JitterFrame | None:
        entries = [self._entries[s] for s in range(first, last + 1)]
        self._drop_to(last + 1)
        if not (self._chained or entries[0].key):
            self.dropped_frames += 1
            self._want_pli = True
            return None
        if entries[0].key:
            log.debug("keyframe of %d packets", len(entries))
            self._want_pli = False
        self._ask_early = False  # what the frame waited for came
        self._chained = True
        data = b"".join(getattr(e.packet, "_data", b"") for e in entries)
        return JitterFrame(data=data, timestamp=entries[0].packet.timestamp)

    def _take_pli(self, now: float) -> bool:
        wanted = self._want_pli or self._ask_early
        if not wanted or now - self._last_pli < self._repeat_interval():
            return False
        self._last_pli, self._ask_early = now, False
        log.debug("PLI")
        return True


def make_jitter_buffer(previous: Callable[..., Any]) -> Callable[..., Any]:
    """A ``JitterBuffer`` stand-in: ours for video, *previous* for everything else."""

    def jitter_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> Buffer:
        if is_video:
            return VideoJitterBuffer(capacity, prefetch, is_video)
        buffer: Buffer = previous(capacity, prefetch=prefetch, is_video=is_video)
        return buffer

    jitter_buffer.diemcau_video = True  # type: ignore[attr-defined]
    jitter_buffer.diemcau_previous = previous  # type: ignore[attr-defined]
    return jitter_buffer


def seam_intact() -> bool:
    """aiortc's receiver still builds and feeds its buffers the way this seam expects."""
    shaped = _seams.source_holds(receiver_module.RTCRtpReceiver, SEAM_LINES)
    return hasattr(receiver_module, "JitterBuffer") and shaped


def install() -> bool:
    """Put our video buffer into aiortc's receiver; idempotent. False if aiortc changed."""
    current = getattr(receiver_module, "JitterBuffer", None)
    if getattr(current, "diemcau_video", False):
        return True
    if current is None or not seam_intact():
        log.warning("aiortc's receiver changed: video keeps aiortc's own jitter buffer")
        return False
    receiver_module.JitterBuffer = make_jitter_buffer(current)  # type: ignore[attr-defined,assignment]
    return True


def uninstall() -> None:
    """Give aiortc's receiver its own jitter buffer back."""
    current = getattr(receiver_module, "JitterBuffer", None)
    if getattr(current, "diemcau_video", False):
        receiver_module.JitterBuffer = current.diemcau_previous  # type: ignore[union-attr,attr-defined]

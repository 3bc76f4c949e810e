"""Audio receive: packets in order at once, losses handed to a concealing decoder.

Why: aiortc 1.16 puts audio through ``JitterBuffer(capacity=16, prefetch=4)``, which
releases a packet only when four more follow it without a hole, so one lost packet stalls
audio until 16 have piled up (5 % loss cost 24 % of the 20 ms frames), and then its
decoder has nothing to conceal the loss with.

Ours releases every packet the moment all before it are in or given up. A missing packet
is waited for only while reordering has recently been seen on this stream (at most as
long as the latest late packet needed, capped at ``MAX_REORDER_WAIT``); otherwise the
packets after it go on at once, marked with how many were given up before them, and
``ConcealingOpusDecoder`` (``endpoint/_opus_decode.py``) fills the hole with PLC and the
next packet's in-band FEC. Duplicates and packets whose slot is gone are dropped; memory
is bounded by ``CAPACITY`` packets. Each packet's transit (arrival against its RTP
timestamp, ``endpoint/_transit.py``) is noted too: the queue it shows is what the
receive-side pause watches (``endpoint/_video_pause.py``). Timing (how much delay to
hold against jitter, and trimming it) is the playout's job: ``devices.Playout`` runs on
the speaker's clock and adapts its target to how irregularly these frames arrive.

The seam (aiortc 1.16): the receiver builds ``JitterBuffer(capacity=16, prefetch=4)`` for
audio through that module-level name and its decoder thread calls the module-level
``get_decoder(codec)``. :func:`install` replaces both together (a buffer without the
decoder would lose its loss marks), underneath the video seam (``endpoint/_jitter.py``)
when that is in place, so either can be taken out first; it refuses with a warning when
the receiver no longer has that shape or libopus is missing.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import aiortc.codecs
import aiortc.rtcrtpreceiver as receiver_module
from aiortc.rtp import RtpPacket

from endpoint import _jitter, _libopus
from endpoint._opus_decode import AudioBurst, Unit, decode_totals, decoder_for
from endpoint._transit import Transit, Unwrap

log = logging.getLogger(__name__)

CAPACITY = 50  # packets held at most (1 s of 20 ms packets)
MAX_REORDER_WAIT = 0.06  # seconds a hole is held open for a reordered packet, at most
REORDER_MEMORY = 10.0  # seconds a late packet keeps the wait up
REORDER_MARGIN = 0.005  # seconds waited beyond what the latest late packet needed
MAX_MISORDER = 100  # a packet this far behind means the sender started over
RTP_RATE = 48000  # Opus' RTP clock, whatever its sampling rate (RFC 7587)
QUEUE_LEAST = 5  # packets in the transit reading's half second (25 come at 20 ms)
SEAM_LINES = (
    "JitterBuffer(capacity=16, prefetch=4)",
    "self.__jitter_buffer.add(packet)",
    "decoder = get_decoder(codec)",
    "frames = decoder.decode(encoded_frame)",
)


@dataclass(slots=True)
class ReceiveStats:
    """Packets seen by the audio buffers: taken, reordered in time, late, duplicate, lost."""

    received: int = 0
    reordered: int = 0  # arrived after a later one, still in time
    late: int = 0  # arrived after its slot was given up
    duplicates: int = 0
    lost: int = 0  # given up (then concealed or recovered by the decoder)
    restarts: int = 0  # the sender started a new sequence


_totals = ReceiveStats()
_totals_lock = threading.Lock()


def receive_stats() -> dict[str, int]:
    """Process-wide audio receive counts: the buffers' packets and the decoders' frames."""
    with _totals_lock:
        packets = replace(_totals)
    frames = decode_totals()
    return {
        "packets_received": packets.received,
        "packets_reordered": packets.reordered,
        "packets_late": packets.late,
        "packets_duplicate": packets.duplicates,
        "packets_lost": packets.lost,
        "stream_restarts": packets.restarts,
        "frames_decoded": frames.decoded,
        "frames_concealed": frames.concealed,
        "frames_recovered_fec": frames.recovered,
    }


class AudioJitterBuffer:
    """Puts audio packets back in order and releases them without waiting for losses.

    Same interface as aiortc's ``JitterBuffer``; ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        capacity: int = CAPACITY,
        prefetch: int = 0,
        is_video: bool = False,
        *,
        max_reorder_wait: float = MAX_REORDER_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._capacity = max(capacity, 2)
        self._max_wait = max_reorder_wait
        self._clock = clock
        self.stats = ReceiveStats()
        self._late_waits: deque[tuple[float, float]] = deque(maxlen=64)  # (when, needed)
        self.transit = Transit(least=QUEUE_LEAST)  # queueing on the way (endpoint/_transit.py)
        self._restart(None)

    def _restart(self, ssrc: int | None) -> None:
        self._ssrc = ssrc
        self._pending: dict[int, tuple[RtpPacket, float]] = {}  # extended seq -> (packet, when)
        self._given_up: OrderedDict[int, float] = OrderedDict()  # seq -> when its gap showed
        self._next: int | None = None  # next extended sequence number to release
        self._highest: int | None = None
        self._far_behind: int | None = None  # the last packet far behind, if the last was
        self._rtp_time = Unwrap()
        self.transit.clear()

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def reorder_wait(self) -> float:
        """How long a hole is held open now: what recent late packets would have needed."""
        now = self._clock()
        needed = [wait for when, wait in self._late_waits if now - when < REORDER_MEMORY]
        return min(self._max_wait, max(needed) + REORDER_MARGIN) if needed else 0.0

    def queueing_delay(self) -> float | None:
        """Seconds of standing queue these packets met on their way (``_transit``)."""
        return self.transit.queueing(self._clock())

    def add(self, packet: RtpPacket) -> tuple[bool, AudioBurst | None]:
        """Take one packet; return (False, the packets now due in order, or None)."""
        now = self._clock()
        self._take(packet, now)
        units = self._release(now)
        return False, AudioBurst(units) if units else None

    # taking

    def _extend(self, seq: int) -> int:
        if self._highest is None:
            return seq
        return self._highest + (seq - self._highest + 0x8000) % 0x10000 - 0x8000

    def _take(self, packet: RtpPacket, now: float) -> None:
        ext = self._extend(packet.sequence_number)
        if self._next is not None and (packet.ssrc != self._ssrc or self._started_over(ext)):
            self._count(restarts=1)
            self._restart(packet.ssrc)
            ext = packet.sequence_number
        if self._next is None:
            self._ssrc, self._next = packet.ssrc, ext
        self.transit.add(now, self._rtp_time(packet.timestamp) / RTP_RATE)
        if ext < self._next:
            self._too_late(ext, now)
        elif ext in self._pending:
            self._count(duplicates=1)
        else:
            reordered = self._highest is not None and ext < self._highest
            self._pending[ext] = (packet, now)
            self._highest = max(ext, self._highest if self._highest is not None else ext)
            self._count(received=1, reordered=int(reordered))

    def _started_over(self, ext: int) -> bool:
        """Two packets in a row far behind the release point: the sender started over."""
        assert self._next is not None
        if ext >= self._next - MAX_MISORDER:
            self._far_behind = None
            return False
        again, self._far_behind = self._far_behind == ext - 1, ext
        return again

    def _too_late(self, ext: int, now: float) -> None:
        gap_seen = self._given_up.pop(ext, None)
        if gap_seen is None:
            self._count(duplicates=1)
            return
        self._late_waits.append((now, now - gap_seen))
        self._count(late=1)

    # releasing

    def _release(self, now: float) -> list[Unit]:
        units: list[Unit] = []
        lost = 0
        while self._pending:
            assert self._next is not None
            entry = self._pending.pop(self._next, None)
            if entry is not None:
                packet = entry[0]
                units.append(Unit(getattr(packet, "_data", b""), packet.timestamp, lost))
                self._next, lost = self._next + 1, 0
            elif self._hole_expired(now):
                lost += self._give_up()
            else:
                break
        return units

    def _hole_expired(self, now: float) -> bool:
        gap_seen = min(when for _, when in self._pending.values())
        return len(self._pending) >= self._capacity or now - gap_seen >= self.reorder_wait

    def _give_up(self) -> int:
        """Declare the packets up to the next one held lost; returns how many."""
        assert self._next is not None
        following = min(self._pending)
        gap_seen = min(when for _, when in self._pending.values())
        for seq in range(max(self._next, following - MAX_MISORDER), following):
            self._given_up[seq] = gap_seen
        while len(self._given_up) > MAX_MISORDER:
            self._given_up.popitem(last=False)
        lost, self._next = following - self._next, following
        self._count(lost=lost)
        return lost

    def _count(self, **counts: int) -> None:
        with _totals_lock:
            for stats in (self.stats, _totals):
                for name, value in counts.items():
                    setattr(stats, name, getattr(stats, name) + value)


def make_jitter_buffer(previous: Callable[..., Any]) -> Callable[..., Any]:
    """A ``JitterBuffer`` stand-in: ours for audio, *previous* for video."""

    def jitter_buffer(capacity: int, prefetch: int = 0, is_video: bool = False) -> Any:
        if is_video:
            return previous(capacity, prefetch=prefetch, is_video=is_video)
        return AudioJitterBuffer()

    jitter_buffer.diemcau_audio = True  # type: ignore[attr-defined]
    jitter_buffer.diemcau_previous = previous  # type: ignore[attr-defined]
    return jitter_buffer


def seam_intact() -> bool:
    """aiortc's receiver still builds, feeds and decodes audio the way this seam expects."""
    try:
        source = inspect.getsource(receiver_module)
    except (OSError, TypeError):
        return False
    return (
        hasattr(receiver_module, "JitterBuffer")
        and getattr(receiver_module, "get_decoder", None) is aiortc.codecs.get_decoder
        and all(line in source for line in SEAM_LINES)
    )


def _ours(factory: object) -> bool:
    return bool(getattr(factory, "diemcau_audio", False))


def _factory() -> Any:
    return getattr(receiver_module, "JitterBuffer", None)


def _set(name: str, value: object) -> None:
    vars(receiver_module)[name] = value


def _video_on_top() -> bool:
    return bool(getattr(_factory(), "diemcau_video", False))


def installed() -> bool:
    """Our buffer is in aiortc's receiver (on top, or just under the video seam)."""
    below = getattr(_factory(), "diemcau_previous", None) if _video_on_top() else None
    return _ours(_factory()) or _ours(below)


def install() -> bool:
    """Put our audio buffer and decoder into aiortc's receiver; idempotent.

    False (with a warning) when aiortc changed or libopus is missing: audio then keeps
    aiortc's own buffer and decoder.
    """
    if installed():
        return True
    if not (seam_intact() and _libopus.available()):
        log.warning("aiortc's receiver changed or no libopus: audio keeps aiortc's own path")
        return False
    video = _video_on_top()
    if video:  # ours goes underneath, so the video seam can still be taken out alone
        _jitter.uninstall()
    _set("JitterBuffer", make_jitter_buffer(_factory()))
    _set("get_decoder", decoder_for)
    if video:
        _jitter.install()
    return True


def uninstall() -> None:
    """Give aiortc's receiver its own audio buffer and Opus decoder back."""
    if getattr(receiver_module, "get_decoder", None) is decoder_for:
        _set("get_decoder", aiortc.codecs.get_decoder)
    if not installed():
        return
    video = _video_on_top()
    if video:
        _jitter.uninstall()
    _set("JitterBuffer", _factory().diemcau_previous)
    if video:
        _jitter.install()

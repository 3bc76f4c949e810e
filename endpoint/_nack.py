"""NACKs that are asked again, and feedback on time, for aiortc's video receiver.

Why: aiortc 1.16's ``NackGenerator`` NACKs a missing packet when its gap shows and again
only as a side effect of some later gap, so a lost retransmission (or a lost NACK) waits
for chance; measured at 5 % loss, a packet whose retransmission was lost came back 280 ms
later, when the next gap happened to ask again. And the receiver acts only when a packet
arrives, so a keyframe request due between two frames waits for the next frame.

:class:`NackScheduler` takes the generator's place: a new gap is NACKed at once, as before;
a packet still missing is NACKed again every retransmission timeout (``rto``: about
1.5 x the RTT, at least ``MIN_RTO``), at most ``MAX_NACKS`` times and while younger than
``MAX_AGE`` (the jitter buffer has given up on it by then). The RTT is measured here: NACK
sent to packet back, from packets asked for once (Karn's rule). Janus 1.1.2 retransmits
a packet at most once per 200 ms (``MAX_NACK_IGNORE`` in src/ice.c), so an early repeat
recovers a lost NACK, and only a repeat past 200 ms a lost retransmission: one repeat is
always sent ``HUB_REPEAT`` after the NACK the hub last acted on. Without it, at the
first RTT guess (repeats at 150 and 300 ms) the repeat the hub would answer came after
the jitter buffer had given the frame up (300 ms): every lost retransmission cost a
keyframe, and when a keyframe's packet was lost twice, the next keyframe (0.5 s later,
endpoint/_vp8.py) froze the picture for 0.7-1 s.

:class:`Feedback` gives each video receiver a timer, armed only while something is due
(a repeat NACK, or a timeout of our jitter buffer, see endpoint/_jitter.py), that sends
the due NACKs and PLI between packets. It holds the receiver weakly and goes quiet once
nothing is due (both sides stop asking within seconds of the last packet).

The seam (aiortc 1.16): :func:`install` wraps ``RTCRtpReceiver.__init__`` so that a video
receiver's private ``__nack_generator`` is a :class:`NackScheduler`; the receiver then
calls ``add(packet) -> bool`` per packet (RTX unwrapped) and, when True, NACKs
``sorted(missing)``: our ``missing`` is what is due in that NACK. The timer sends through
the receiver's ``_send_rtcp_nack`` / ``_send_rtcp_pli``. :func:`install` refuses, with a
warning, when the receiver's source no longer reads that way; :func:`uninstall` restores
aiortc's ``__init__``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import aiortc.rtcrtpreceiver as receiver_module
from aiortc.rtp import RtpPacket

from endpoint import _seams
from endpoint._jitter import VideoJitterBuffer

log = logging.getLogger(__name__)

MIN_RTO = 0.03  # seconds; below this, a loaded machine's scheduling is the RTT
MAX_RTO = 0.3
FIRST_RTT = 0.1  # until measured
MAX_NACKS = 10  # per packet
MAX_AGE = 0.5  # seconds a missing packet is asked for
HUB_REPEAT = 0.215  # s: Janus answers a NACK for a packet once per 200 ms, plus some jitter
MAX_TRACKED = 128  # missing packets (aiortc: RTP_HISTORY_SIZE)
MIN_TIMER = 0.005  # seconds between two timer runs
SEAM_LINES = (
    "self.__nack_generator = NackGenerator()",
    "self.__nack_generator.add(packet)",
    "sorted(self.__nack_generator.missing)",
)
_GENERATOR = "_RTCRtpReceiver__nack_generator"
_BUFFER = "_RTCRtpReceiver__jitter_buffer"


@dataclass(slots=True)
class _Ask:
    first: float  # when the gap showed
    last: float  # when last NACKed
    count: int = 1
    heard: float | None = None  # when the NACK the hub would act on was sent (None: first)

    def __post_init__(self) -> None:
        if self.heard is None:
            self.heard = self.first

    def next(self, rto: float) -> float:
        """When this packet is NACKed again: each *rto*, and once the hub answers again."""
        assert self.heard is not None
        repeat = self.heard + HUB_REPEAT
        return min(self.last + rto, repeat) if repeat > self.last else self.last + rto

    def asked(self, now: float) -> None:
        assert self.heard is not None
        if now >= self.heard + HUB_REPEAT:
            self.heard = now
        self.last, self.count = now, self.count + 1


def seq_after(a: int, b: int) -> int:
    """How far 16-bit sequence number *a* is after *b* (negative: before)."""
    return (a - b + 0x8000) % 0x10000 - 0x8000


class NackScheduler:
    """Which packets to NACK, and when to NACK them again. Same interface as aiortc's
    ``NackGenerator``; ``clock`` injectable for tests."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.max_seq: int | None = None
        self.ssrc: int | None = None
        self._asks: dict[int, _Ask] = {}
        self._due: list[int] = []
        self._srtt: float | None = None
        self._rttvar = 0.0
        self.on_change: Callable[[], None] = lambda: None  # after each packet
        self.wanted: Callable[[int], bool] = lambda seq: True  # the jitter buffer still waits

    @property
    def missing(self) -> list[int]:
        """The packets to NACK now (read by aiortc's receiver after ``add`` said True)."""
        return self._due

    @property
    def rtt(self) -> float:
        return FIRST_RTT if self._srtt is None else self._srtt

    def rto(self) -> float:
        """How long a retransmission may take before the packet counts as lost again:
        1.5 x RTT, or more when the RTT varies (RTT + 4 x its mean deviation)."""
        if self._srtt is None:
            return 1.5 * FIRST_RTT
        rtt = self._srtt
        return min(MAX_RTO, max(MIN_RTO, 1.5 * rtt, rtt + 4 * self._rttvar))

    def add(self, packet: RtpPacket) -> bool:
        """A packet came (RTX unwrapped); True: NACK ``missing`` now."""
        now = self._clock()
        self.ssrc = packet.ssrc
        seq = packet.sequence_number
        if self.max_seq is None:
            self.max_seq = seq
            return False
        ahead = seq_after(seq, self.max_seq)
        gaps = [(seq - n) & 0xFFFF for n in range(min(ahead - 1, MAX_TRACKED), 0, -1)]
        if ahead > 0:
            self.max_seq = seq
        else:
            self._arrived(seq, now)
        self._due = gaps + self.due(now)
        for gap in gaps:
            self._asks[gap] = _Ask(now, now)
        self._trim()
        self.on_change()
        return bool(self._due)

    def due(self, now: float) -> list[int]:
        """The missing packets whose NACK is due again; counts them as asked."""
        self._expire(now)
        rto, due = self.rto(), []
        for seq, ask in self._asks.items():
            if now >= ask.next(rto):
                ask.asked(now)
                due.append(seq)
        return due

    def next_due(self) -> float | None:
        """When a NACK next falls due (clock time), or None."""
        self._expire(self._clock())
        rto = self.rto()
        return min((a.next(rto) for a in self._asks.values()), default=None)

    def _arrived(self, seq: int, now: float) -> None:
        ask = self._asks.pop(seq, None)
        if ask is not None:
            log.debug(
                "packet %d back %.0f ms after its gap, NACKed %d times",
                seq,
                1000 * (now - ask.first),
                ask.count,
            )
        if ask is not None and ask.count == 1:  # Karn: only an unambiguous sample
            self._sample(now - ask.last)

    def _sample(self, rtt: float) -> None:
        if self._srtt is None:
            self._srtt, self._rttvar = rtt, rtt / 2
        else:
            self._rttvar += (abs(self._srtt - rtt) - self._rttvar) / 4
            self._srtt += (rtt - self._srtt) / 8

    def _expire(self, now: float) -> None:
        for seq in [
            s
            for s, a in self._asks.items()
            if a.count >= MAX_NACKS or now - a.first > MAX_AGE or not self.wanted(s)
        ]:
            del self._asks[seq]

    def _trim(self) -> None:
        assert self.max_seq is not None
        top = self.max_seq
        for seq in [s for s in self._asks if not 0 < seq_after(top, s) <= MAX_TRACKED]:
            del self._asks[seq]


class Feedback:
    """One video receiver's timer: due NACKs and the jitter buffer's PLI, between packets."""

    def __init__(
        self, receiver: Any, nacks: NackScheduler, buffer: VideoJitterBuffer | None
    ) -> None:
        self._receiver = weakref.ref(receiver)
        self._nacks = nacks
        self._buffer = buffer
        self._clock = nacks._clock
        self._timer: asyncio.TimerHandle | None = None
        self._at: float | None = None
        self._sending: set[asyncio.Future[None]] = set()
        nacks.on_change = self.arm
        if buffer is not None:
            buffer.retransmission_timeout = nacks.rto
            nacks.wanted = buffer.wants
            buffer.on_change = self.arm

    def arm(self) -> None:
        """Make sure the timer runs at the next due time (called after each packet)."""
        times = [self._nacks.next_due(), self._buffer.next_deadline() if self._buffer else None]
        at = min((t for t in times if t is not None), default=None)
        if at is None or (self._at is not None and self._at <= at):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._at = at
        self._timer = loop.call_later(max(MIN_TIMER, at - self._clock()), self._run)

    def _run(self) -> None:
        self._timer = self._at = None
        receiver = self._receiver()
        if receiver is None or self._nacks.ssrc is None:
            return
        seqs = self._nacks.due(self._clock())
        if seqs:
            log.debug("NACK again %s (rto %.0f ms)", seqs, 1000 * self._nacks.rto())
            self._send(receiver._send_rtcp_nack(self._nacks.ssrc, sorted(seqs)))
        if self._buffer is not None and self._buffer.poll():
            self._send(receiver._send_rtcp_pli(self._nacks.ssrc))
        self.arm()

    def _send(self, coroutine: Coroutine[Any, Any, None]) -> None:
        future = asyncio.ensure_future(coroutine)
        self._sending.add(future)
        future.add_done_callback(self._sending.discard)


def attach(receiver: Any) -> None:
    """Give a video receiver our NACK scheduler and its timer."""
    if getattr(receiver, _GENERATOR, None) is None:
        return  # audio: no NACKs
    nacks = NackScheduler()
    setattr(receiver, _GENERATOR, nacks)
    buffer = getattr(receiver, _BUFFER, None)
    Feedback(receiver, nacks, buffer if isinstance(buffer, VideoJitterBuffer) else None)


def seam_intact() -> bool:
    """aiortc's receiver still makes and asks its NACK generator the way this seam expects."""
    methods = ("_send_rtcp_nack", "_send_rtcp_pli")
    return _seams.source_holds(receiver_module.RTCRtpReceiver, SEAM_LINES, methods)


def install() -> bool:
    """Wrap aiortc's receiver construction; idempotent. False if aiortc changed."""
    cls = receiver_module.RTCRtpReceiver
    if getattr(cls.__init__, "diemcau_nack", False):
        return True
    if not seam_intact():
        log.warning("aiortc's receiver changed: video keeps aiortc's own NACKs")
        return False
    original = cls.__init__

    def __init__(self: Any, kind: str, transport: Any) -> None:
        original(self, kind, transport)
        attach(self)

    __init__.diemcau_nack = True  # type: ignore[attr-defined]
    __init__.diemcau_original = original  # type: ignore[attr-defined]
    cls.__init__ = __init__  # type: ignore[method-assign]
    return True


def uninstall() -> None:
    """Give aiortc's receiver its own NACK generator back (for receivers made from now)."""
    cls = receiver_module.RTCRtpReceiver
    if getattr(cls.__init__, "diemcau_nack", False):
        cls.__init__ = cls.__init__.diemcau_original  # type: ignore[attr-defined,method-assign]

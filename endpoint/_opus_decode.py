"""An Opus decoder that fills lost frames: PLC, or FEC from the packet after the loss.

aiortc's ``OpusDecoder`` decodes what it is given; a lost packet leaves a hole in the
audio that later stalls the playout. Ours is fed by ``endpoint._audio_jitter``, which
hands over packets in order as ``AudioBurst`` frames whose units say how many packets
were given up just before each one. For such a unit the decoder first makes the missing
time up (its length from the RTP timestamps, at most ``MAX_CONCEAL``): libopus PLC for all
but the last lost frame, and for that one the next packet's in-band FEC (LBRR, which our
sender puts in: ``endpoint/_opus.py``), then decodes the packet itself. Output is what
aiortc's decoder gives: 20 ms s16 stereo ``AudioFrame`` objects at 48 kHz.

A packet libopus cannot decode is concealed like a lost one (PLC for the last packet's
length) and counted as malformed: the decoder never raises, since aiortc's decoder thread
survives only ``av.FFmpegError`` and a dead thread leaves the room deaf. A unit with no
payload (padding; aiortc sets ``_data = b""``) is skipped: libopus would take it for a loss
and conceal 120 ms.

Counts (frames decoded, concealed by PLC, recovered by FEC, malformed packets) are kept per
decoder and summed over the process in ``decode_totals()``; a decoder logs its own when its
stream ends.
"""

from __future__ import annotations

import fractions
import logging
import threading
from dataclasses import dataclass, replace

import aiortc.codecs
import av
from aiortc.codecs.base import Decoder
from aiortc.jitterbuffer import JitterFrame
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av.frame import Frame

from endpoint import _libopus

log = logging.getLogger(__name__)

RATE = 48000
CHANNELS = 2
FRAME = 960  # 20 ms: the unit concealment is counted in
MAX_CONCEAL = 6 * FRAME  # longer gaps (an outage) are not filled: PLC fades to silence by then
TIME_BASE = fractions.Fraction(1, RATE)
WRAP = 1 << 32
LOG_EVERY = 500  # a malformed packet is logged once, then once per this many


@dataclass(frozen=True, slots=True)
class Unit:
    """One received packet, and how many packets were given up just before it."""

    payload: bytes
    rtp_timestamp: int
    lost_before: int = 0


class AudioBurst(JitterFrame):
    """Consecutive audio packets released together by the jitter buffer.

    ``data`` and ``timestamp`` are the first unit's, so a decoder that knows only
    ``JitterFrame`` still decodes something sensible.
    """

    def __init__(self, units: list[Unit]) -> None:
        super().__init__(data=units[0].payload, timestamp=units[0].rtp_timestamp)
        self.units = units


def units_of(frame: JitterFrame) -> list[Unit]:
    units: list[Unit] | None = getattr(frame, "units", None)
    return units if units else [Unit(frame.data, frame.timestamp)]


@dataclass(slots=True)
class DecodeStats:
    """20 ms frames out of a decoder: from packets, concealed (PLC), recovered (FEC).

    ``malformed`` counts packets libopus refused (each also counted as concealed).
    """

    decoded: int = 0
    concealed: int = 0
    recovered: int = 0
    malformed: int = 0

    def add(self, other: DecodeStats) -> None:
        self.decoded += other.decoded
        self.concealed += other.concealed
        self.recovered += other.recovered
        self.malformed += other.malformed


_totals = DecodeStats()
_totals_lock = threading.Lock()


def decode_totals() -> DecodeStats:
    """Sum over every Opus decoder of this process so far (a copy)."""
    with _totals_lock:
        return replace(_totals)


def _count(stats: DecodeStats, delta: DecodeStats) -> None:
    stats.add(delta)
    with _totals_lock:
        _totals.add(delta)


def _frame(pcm: _libopus.Pcm, pts: int) -> av.AudioFrame:
    frame = av.AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="stereo")
    frame.sample_rate, frame.pts, frame.time_base = RATE, pts, TIME_BASE
    return frame


class ConcealingOpusDecoder(Decoder):
    """Opus through libopus: decodes in order, conceals or recovers what was given up."""

    def __init__(self) -> None:
        self._opus = _libopus.OpusDecoderState(RATE, CHANNELS)
        self._next_ts: int | None = None  # RTP timestamp just after the last output
        self._last = FRAME  # samples in the last packet
        self._carried = 0  # packets given up before padding units skipped since
        self.stats = DecodeStats()

    def decode(self, encoded_frame: JitterFrame) -> list[Frame]:
        units = units_of(encoded_frame)
        base_pts, first_ts = encoded_frame.timestamp, units[0].rtp_timestamp
        out: list[Frame] = []
        for unit in self._without_padding(units):
            pts = base_pts + (unit.rtp_timestamp - first_ts) % WRAP
            if unit.lost_before and self._next_ts is not None:
                out += self._fill(unit, pts)
            pcm = self._packet(unit.payload)
            out.append(_frame(pcm, pts))
            self._last = len(pcm) // CHANNELS or self._last
            self._next_ts = (unit.rtp_timestamp + self._last) % WRAP
        return out

    def _without_padding(self, units: list[Unit]) -> list[Unit]:
        """*units* less those with no payload; a loss noted on one moves to the next unit."""
        out: list[Unit] = []
        for unit in units:
            if not unit.payload:
                self._carried += unit.lost_before
            elif self._carried:
                out.append(replace(unit, lost_before=unit.lost_before + self._carried))
                self._carried = 0
            else:
                out.append(unit)
        return out

    def _packet(self, payload: bytes) -> _libopus.Pcm:
        """The packet's samples; PLC for the last packet's length if libopus refuses it."""
        try:
            pcm = self._opus.decode(payload)
        except _libopus.LibOpusError as err:
            _count(self.stats, DecodeStats(concealed=1, malformed=1))
            if self.stats.malformed % LOG_EVERY == 1:
                log.warning(
                    "opus receive: malformed packet concealed (%d so far): %s",
                    self.stats.malformed,
                    err,
                )
            return self._opus.conceal(self._last)
        _count(self.stats, DecodeStats(decoded=1))
        return pcm

    def _gap(self, unit: Unit) -> int:
        """Samples missing before *unit*: from the timestamps, else lost packets x size."""
        assert self._next_ts is not None
        gap = (unit.rtp_timestamp - self._next_ts) % WRAP
        if not 0 < gap <= unit.lost_before * _libopus.MAX_FRAME:
            gap = unit.lost_before * self._last
        return min(gap, MAX_CONCEAL) // 120 * 120  # PLC and FEC work in 2.5 ms steps

    def _fill(self, unit: Unit, pts: int) -> list[Frame]:
        gap = self._gap(unit)
        fec = _libopus.packet_samples(unit.payload)
        fec = fec if 0 < fec <= gap else 0
        out: list[Frame] = []
        at = pts - gap
        while at < pts - fec:
            size = min(FRAME, pts - fec - at)
            out.append(_frame(self._opus.conceal(size), at))
            at += size
            _count(self.stats, DecodeStats(concealed=1))
        if fec:
            out.append(_frame(self._recover(unit.payload, fec), at))
        return out

    def _recover(self, following: bytes, samples: int) -> _libopus.Pcm:
        """FEC from *following* (PLC when it carries none or libopus refuses it)."""
        try:
            pcm = self._opus.recover(following, samples)
        except _libopus.LibOpusError:
            pcm, recovered = self._opus.conceal(samples), False
        else:
            recovered = _libopus.has_lbrr(following) is not False
        _count(self.stats, DecodeStats(concealed=int(not recovered), recovered=int(recovered)))
        return pcm

    def __del__(self) -> None:
        stats = getattr(self, "stats", None)
        if stats is not None and stats.decoded:
            log.info(
                "opus receive: %d frames decoded, %d concealed (PLC), %d recovered (FEC), "
                "%d malformed",
                stats.decoded,
                stats.concealed,
                stats.recovered,
                stats.malformed,
            )


class BurstDecoder(Decoder):
    """Any other audio codec: aiortc's decoder, fed the units of a burst one by one."""

    def __init__(self, inner: Decoder) -> None:
        self._inner = inner

    def decode(self, encoded_frame: JitterFrame) -> list[Frame]:
        units, out = units_of(encoded_frame), []
        for unit in units:
            pts = encoded_frame.timestamp + (unit.rtp_timestamp - units[0].rtp_timestamp) % WRAP
            out += self._inner.decode(JitterFrame(unit.payload, pts))
        return out


def decoder_for(codec: RTCRtpCodecParameters) -> Decoder:
    """``get_decoder`` for aiortc's receiver: ours for Opus, bursts unpacked for other audio."""
    mime = codec.mimeType.lower()
    if mime == "audio/opus":
        return ConcealingOpusDecoder()
    decoder = aiortc.codecs.get_decoder(codec)
    return BurstDecoder(decoder) if mime.startswith("audio/") else decoder

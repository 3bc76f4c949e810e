"""The VP8 send side for thin links: tier bit rates and rate-limited keyframes (a seam
against aiortc 1.16).

Why: aiortc's ``Vp8Encoder`` clamps its target to 250 kbit/s .. 1.5 Mbit/s (module
constants), so the lower quality tiers (150 kbit/s, and the still picture) cannot be
reached; and ``RTCRtpSender`` answers every PLI and FIR with a keyframe, while Janus 1.1.2
forwards every subscriber's PLI: with many receivers on lossy links the sender would send
little but keyframes.

The seam, two small pieces:

- ``aiortc.codecs.get_encoder`` builds VP8 encoders through the module-level name
  ``Vp8Encoder``; :func:`install` points that name at :class:`TieredVp8Encoder`. It reads the
  tier the camera track attached to each frame (``frame.opaque``, see ``_tracks.py``) and
  encodes at that tier's bit rate, never above the hub's REMB (the VideoRoom's: it covers
  our video only, our audio goes to the AudioBridge).
  Frames without a tier are encoded exactly as aiortc does (its clamp, REMB as target).
- ``RTCRtpSender._handle_rtcp_packet`` is wrapped: a PLI or FIR goes through a
  :class:`KeyframeGate` (the first keyframe at once, then at most one per
  ``KEYFRAME_INTERVAL``; requests in between are merged into one at the end of it, so no
  receiver is left waiting for a keyframe that never comes); a REMB is noted for
  :func:`remb_of` (the quality policy reads it) and then handled by aiortc as before.

``install()`` is idempotent and refuses, with a warning, when aiortc no longer has this
shape; ``uninstall()`` puts aiortc's pieces back.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import weakref
from collections.abc import Callable, Coroutine
from typing import Any

import aiortc.codecs
from aiortc.codecs import vpx
from aiortc.rtcrtpsender import RTCRtpSender
from aiortc.rtp import RTCP_PSFB_APP, RTCP_PSFB_FIR, RTCP_PSFB_PLI, RtcpPsfbPacket, unpack_remb_fci
from av.frame import Frame

from endpoint._adapt import Tier

log = logging.getLogger(__name__)

KEYFRAME_INTERVAL = 0.5  # s: at most two forced keyframes a second. Our receivers ask again
# every 0.3 s while they wait (_jitter.PLI_INTERVAL), so a request that lands just after a
# keyframe waits up to 0.5 s; shorter would let 25 lossy receivers fill the uplink with
# keyframes (Janus forwards every PLI), longer makes every one of them wait.
VIDEO_FLOOR = 15_000  # bit/s: the least a tier's video is given, whatever the REMB says
_TARGET = "_Vp8Encoder__target_bitrate"  # aiortc's private field (the buffer size uses it)
SEAM_LINES = (
    "self._send_keyframe()",
    "self.__encoder.target_bitrate = bitrate",
    "unpack_remb_fci(packet.fci)",
)

Handler = Callable[[RTCRtpSender, Any], Coroutine[Any, Any, None]]


def video_target(tier: Tier, remb: int | None) -> int:
    """The VP8 target for *tier* under the hub's REMB (which covers our video alone)."""
    if remb is None:
        return tier.bitrate
    return max(VIDEO_FLOOR, min(tier.bitrate, remb))


class TieredVp8Encoder(vpx.Vp8Encoder):
    """aiortc's VP8 encoder at the bit rate of the tier each frame carries."""

    def __init__(self) -> None:
        super().__init__()
        self.remb: int | None = None

    @property
    def target_bitrate(self) -> int:
        return int(getattr(self, _TARGET))

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:  # aiortc sets it from each REMB
        self.remb = bitrate
        setattr(self, _TARGET, max(vpx.MIN_BITRATE, min(bitrate, vpx.MAX_BITRATE)))

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        tier = getattr(frame, "opaque", None)
        if isinstance(tier, Tier):
            setattr(self, _TARGET, video_target(tier, self.remb))
        return super().encode(frame, force_keyframe)


class KeyframeGate:
    """At most one forced keyframe per *interval*: the first at once, later requests
    merged into one at the end of the interval."""

    def __init__(
        self,
        force: Callable[[], None],
        later: Callable[[float, Callable[[], None]], object],
        clock: Callable[[], float] = time.monotonic,
        interval: float = KEYFRAME_INTERVAL,
    ) -> None:
        self._force, self._later, self._clock = force, later, clock
        self._interval = interval
        self._last: float | None = None
        self._pending = False
        self.requests = self.forced = 0

    def request(self) -> None:
        self.requests += 1
        if self._pending:
            return
        now = self._clock()
        if self._last is None or now - self._last >= self._interval:
            self._fire()
        else:
            self._pending = True
            self._later(self._last + self._interval - now, self._fire)

    def _fire(self) -> None:
        self._pending = False
        self._last = self._clock()
        self.forced += 1
        self._force()


_gates: weakref.WeakKeyDictionary[RTCRtpSender, KeyframeGate] = weakref.WeakKeyDictionary()
_rembs: weakref.WeakKeyDictionary[RTCRtpSender, int] = weakref.WeakKeyDictionary()


def gate_of(sender: RTCRtpSender) -> KeyframeGate:
    gate = _gates.get(sender)
    if gate is None:
        later = asyncio.get_running_loop().call_later
        gate = _gates[sender] = KeyframeGate(sender._send_keyframe, later)
    return gate


def remb_of(sender: RTCRtpSender) -> int | None:
    """The last REMB the hub sent about *sender*'s stream (bit/s), or None."""
    return _rembs.get(sender)


def _wrap(previous: Handler) -> Handler:
    async def handle_rtcp_packet(self: RTCRtpSender, packet: Any) -> None:
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_FIR, RTCP_PSFB_PLI):
            gate_of(self).request()
            return
        if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
            _note_remb(self, packet)
        await previous(self, packet)

    handle_rtcp_packet.diemcau_previous = previous  # type: ignore[attr-defined]
    return handle_rtcp_packet


def _note_remb(sender: RTCRtpSender, packet: RtcpPsfbPacket) -> None:
    try:
        bitrate, ssrcs = unpack_remb_fci(packet.fci)
    except ValueError:
        return
    if sender._ssrc in ssrcs:
        _rembs[sender] = bitrate


def seam_intact() -> bool:
    """aiortc still builds VP8 encoders and handles RTCP the way this seam expects."""
    try:
        sender = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
        factory = inspect.getsource(aiortc.codecs.get_encoder)
    except (AttributeError, OSError, TypeError):
        return False
    return (
        all(line in sender for line in SEAM_LINES)
        and "return Vp8Encoder()" in factory
        and hasattr(vpx.Vp8Encoder(), _TARGET)
        and callable(getattr(RTCRtpSender, "_send_keyframe", None))
    )


def installed() -> bool:
    return aiortc.codecs.Vp8Encoder is TieredVp8Encoder  # type: ignore[attr-defined]


def install() -> bool:
    """Tier bit rates and the keyframe gate into aiortc; idempotent. False if aiortc changed."""
    if installed():
        return True
    if aiortc.codecs.Vp8Encoder is not vpx.Vp8Encoder or not seam_intact():  # type: ignore[attr-defined]
        log.warning("aiortc's VP8 sender changed: tiers and the keyframe limit are off")
        return False
    aiortc.codecs.Vp8Encoder = TieredVp8Encoder  # type: ignore[attr-defined]
    RTCRtpSender._handle_rtcp_packet = _wrap(RTCRtpSender._handle_rtcp_packet)  # type: ignore[method-assign,assignment]
    return True


def uninstall() -> None:
    """aiortc's own VP8 encoder and RTCP handling (a keyframe for every PLI)."""
    if installed():
        aiortc.codecs.Vp8Encoder = vpx.Vp8Encoder  # type: ignore[attr-defined]
    previous = getattr(RTCRtpSender._handle_rtcp_packet, "diemcau_previous", None)
    if previous is not None:
        RTCRtpSender._handle_rtcp_packet = previous  # type: ignore[method-assign]

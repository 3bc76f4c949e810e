"""Opus for thin links: mono, about 28 kbit/s, in-band FEC (a seam against aiortc 1.16).

aiortc 1.16's ``OpusEncoder`` sends stereo at 96 kbit/s without FEC: about 120 kbit/s on
the wire, four times what a browser sends in the same room. ``RTCRtpSender`` builds its
encoder through the name ``get_encoder`` that ``aiortc.rtcrtpsender`` imported from
``aiortc.codecs``; ``install()`` rebinds that one name to a factory that returns
``MonoOpusEncoder`` for Opus and aiortc's own encoder for every other codec. The payload
type stays ``opus/48000/2`` as RFC 7587 requires; a mono stream in it decodes fine (aiortc's
``OpusDecoder`` gives both channels the same samples).

``opus_send_fmtp`` tells the hub the same in our offer: ``useinbandfec=1``, ``stereo=0``,
``sprop-stereo=0``, ``maxaveragebitrate=32000``.
"""

from __future__ import annotations

import fractions
import logging
import re

import aiortc.codecs
import aiortc.rtcrtpsender
from aiortc.codecs.base import Encoder
from aiortc.codecs.opus import SAMPLE_RATE, SAMPLES_PER_FRAME, OpusEncoder
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from av import AudioCodecContext, AudioResampler, CodecContext
from av.frame import Frame

log = logging.getLogger(__name__)

BIT_RATE = 28000  # bit/s of Opus payload; the hub is told at most MAX_AVERAGE_BITRATE
MAX_AVERAGE_BITRATE = 32000
EXPECTED_LOSS_PERCENT = 10  # libopus spends bits on FEC only when it expects loss
ENCODER_OPTIONS = {  # option names of FFmpeg's libopus wrapper (libopusenc.c)
    "application": "voip",
    "fec": "1",
    "packet_loss": str(EXPECTED_LOSS_PERCENT),
    "vbr": "constrained",  # VBR, but never above the target over a short window
    "frame_duration": "20",
}
SEND_FMTP = {
    "useinbandfec": "1",
    "stereo": "0",
    "sprop-stereo": "0",
    "maxaveragebitrate": str(MAX_AVERAGE_BITRATE),
}


class MonoOpusEncoder(OpusEncoder):
    """aiortc's Opus encoder sending mono at ``BIT_RATE`` with in-band FEC, 20 ms frames."""

    def __init__(self) -> None:
        super().__init__()
        self.codec = mono_codec()
        self.resampler = AudioResampler(
            format="s16", layout="mono", rate=SAMPLE_RATE, frame_size=SAMPLES_PER_FRAME
        )
        self._checked = False

    def encode(self, frame: Frame, force_keyframe: bool = False) -> tuple[list[bytes], int]:
        encoded = super().encode(frame, force_keyframe)
        if not self._checked and self.codec.is_open:
            self._checked = True
            if self.codec.options:  # FFmpeg leaves the options it did not take
                log.warning("libopus ignored the options %s", self.codec.options)
        return encoded


def mono_codec() -> AudioCodecContext:
    """An unopened libopus encoder context with our settings."""
    codec = CodecContext.create("libopus", "w")
    assert isinstance(codec, AudioCodecContext)
    codec.bit_rate = BIT_RATE
    codec.format = "s16"
    codec.layout = "mono"
    codec.sample_rate = SAMPLE_RATE
    codec.time_base = fractions.Fraction(1, SAMPLE_RATE)
    codec.options = dict(ENCODER_OPTIONS)
    return codec


def encoder_for(codec: RTCRtpCodecParameters) -> Encoder:
    """``get_encoder`` for aiortc's sender: ours for Opus, aiortc's for the rest."""
    if codec.mimeType.lower() == "audio/opus":
        return MonoOpusEncoder()
    return aiortc.codecs.get_encoder(codec)


def install() -> None:
    """Make every aiortc sender encode Opus with ``MonoOpusEncoder``; safe to call again.

    Raises RuntimeError if aiortc no longer builds its encoder where this seam expects.
    """
    current = getattr(aiortc.rtcrtpsender, "get_encoder", None)
    if current is encoder_for:
        return
    if current is not aiortc.codecs.get_encoder:
        raise RuntimeError(
            f"aiortc {aiortc.__version__}: aiortc.rtcrtpsender.get_encoder is not "
            "aiortc.codecs.get_encoder; the Opus send seam (endpoint/_opus.py) needs updating"
        )
    aiortc.rtcrtpsender.get_encoder = encoder_for  # type: ignore[attr-defined]


def uninstall() -> None:
    """aiortc's own Opus encoder (stereo, ~96-120 kbit/s, no FEC) for every sender."""
    if getattr(aiortc.rtcrtpsender, "get_encoder", None) is encoder_for:
        aiortc.rtcrtpsender.get_encoder = aiortc.codecs.get_encoder  # type: ignore[attr-defined]


_RTPMAP = re.compile(r"a=rtpmap:(\d+) opus/48000(?:/2)?\s*$", re.IGNORECASE)
_FMTP = re.compile(r"a=fmtp:(\d+) (.*)$")


def opus_send_fmtp(sdp: str) -> str:
    """*sdp* with ``SEND_FMTP`` on every Opus payload type, other parameters kept."""
    eol = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(eol)
    opus = {m[1] for line in lines if (m := _RTPMAP.match(line))}
    old = {m[1]: m[2] for line in lines if (m := _FMTP.match(line)) and m[1] in opus}
    out = []
    for line in lines:
        fmtp = _FMTP.match(line)
        if fmtp and fmtp[1] in opus:
            continue
        out.append(line)
        if rtpmap := _RTPMAP.match(line):
            out.append(f"a=fmtp:{rtpmap[1]} {_merged(old.get(rtpmap[1], ''))}")
    return eol.join(out)


def _merged(fmtp: str) -> str:
    pairs = [param.strip().partition("=") for param in fmtp.split(";") if param.strip()]
    params: dict[str, str | None] = {key: value if sep else None for key, sep, value in pairs}
    params.update(SEND_FMTP)
    return ";".join(key if value is None else f"{key}={value}" for key, value in params.items())

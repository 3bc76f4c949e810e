"""Light publishers for the district benchmark: rooms that send real RTP, encoded once.

A real room encodes its camera (VP8) and microphone (Opus) live; 24 of them would take this
2-core machine from the kiosk being measured. A light publisher replays media encoded once
into a cache folder with PyAV: the synthetic test pattern (``SyntheticCamera.render``) as
VP8 in an IVF file at the product's own tier size, frame rate and bit rate (``_adapt``), and
Opus in Ogg with the product's encoder settings (``_opus``: mono, FEC, ~28 kbit/s) — a
tone for talking, silence otherwise. What reaches the hub is real RTP over real ICE, DTLS
and SRTP, paced in real time, so the hub relays and mixes it as it would a room's.

It joins with the endpoint's own signaling (``JanusClient``, the VideoRoom ``Publisher``,
the ``AudioBridge`` member, under one member id as a kiosk does), and:

- answers a keyframe request (PLI/FIR) by jumping to the clip's next keyframe at once (the
  clip has one a second), so a new subscriber sees a picture as soon as a real room's;
- marks each Opus packet with its audio level (RFC 6464: the tone's, or 127 for silence)
  as aiortc does for a live frame, so the AudioBridge's talking events follow ``talk``;
- receives nothing: its AudioBridge offer is send-only, so the hub sends it no mix to
  decode.

As a process it hosts several rooms, reads commands on stdin and prints JSON lines
(``t`` = ``time.monotonic()``, shared by every process on the machine)::

    ROOM_PIN=... python bench/_district_room.py --url ws://198.18.0.1:8188/ --room 1234 \
        --names "Xã Một,Xã Hai" [--video 320x180@10] [--cache DIR]

    stdin:  talk <index> | quiet      (EOF: every room leaves, the process ends)
    stdout: {"event": "joined", "i", "name", "feed", "t"}, {"event": "ready", "t"},
            {"event": "talk", "i", "t"} (the moment the rooms' voices changed)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import json
import logging
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import numpy as np
from aiortc import MediaStreamTrack, RTCRtpSender
from aiortc.rtcrtpsender import RTCEncodedFrame

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from devices import SyntheticCamera  # noqa: E402
from endpoint import _opus  # noqa: E402
from endpoint._audiobridge import PLUGIN as AUDIO_PLUGIN  # noqa: E402
from endpoint._audiobridge import AudioBridge  # noqa: E402
from endpoint._janus_ws import JanusClient, Json  # noqa: E402
from endpoint._session import MEMBER_IDS, discard  # noqa: E402
from endpoint._videoroom import PLUGIN, Publisher, RoomAccess  # noqa: E402

log = logging.getLogger("district.room")

# size, frame rate, bit rate: the product's send tiers (endpoint/_adapt.py TIERS)
VIDEO = {"320x180@10": (320, 180, 10, 150_000), "640x360@15": (640, 360, 15, 500_000)}
CLIP_SECONDS = 10
AUDIO_RATE = 48000
AUDIO_FRAME = 960  # 20 ms
TONE_HZ, TONE_LEVEL = 440.0, 0.3  # RMS ~0.21: about -13 dBov, well above the hub's -40
SILENT = -127  # RFC 6464 level of digital silence (aiortc's, for a live silent frame)
VIDEO_CLOCK = 90000
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "diemcau-bench"


@dataclass(frozen=True)
class Clip:
    """Encoded packets to loop, in order; ``keys`` are the indexes of the keyframes."""

    packets: tuple[bytes, ...]
    keys: tuple[int, ...]
    rate: float  # packets per second

    def next_key(self, index: int) -> int:
        """The first keyframe at or after *index* (wrapping)."""
        at = index % len(self.packets)
        return next((k for k in self.keys if k >= at), self.keys[0])


@dataclass(frozen=True)
class Media:
    """What every light publisher of a process replays (shared, read only)."""

    video: Clip
    tone: Clip
    silence: Clip
    tone_level: int  # dBov, negative


def prepare(cache: Path = DEFAULT_CACHE, video: str = "320x180@10") -> Media:
    """The clips, encoded into *cache* on first use and read back from the files."""
    cache.mkdir(parents=True, exist_ok=True)
    width, height, fps, bitrate = VIDEO[video]
    vp8 = cache / f"pattern-{width}x{height}@{fps}-{bitrate // 1000}k.ivf"
    if not vp8.exists():
        _encode_video(vp8, width, height, fps, bitrate)
    tone, silence = cache / f"tone-{TONE_HZ:.0f}.ogg", cache / "silence.ogg"
    t = np.arange(AUDIO_RATE) / AUDIO_RATE  # one second of each, a whole number of cycles
    if not tone.exists():
        _encode_audio(tone, np.sin(2 * np.pi * TONE_HZ * t) * TONE_LEVEL)
    if not silence.exists():
        _encode_audio(silence, np.zeros_like(t))
    return Media(_read(vp8, fps), _read(tone, 50), _read(silence, 50), tone_level())


def tone_level() -> int:
    """The tone's RFC 6464 level (dBov, negative), as aiortc computes it for a frame."""
    rms = TONE_LEVEL / np.sqrt(2)
    return max(SILENT, round(20 * np.log10(rms)))


def _encode_video(path: Path, width: int, height: int, fps: int, bitrate: int) -> None:
    camera = SyntheticCamera("District replay", width, height, fps)
    partial = path.with_suffix(".part")
    with av.open(str(partial), "w", format="ivf") as out:
        stream = out.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate, stream.gop_size = bitrate, fps  # a keyframe every second
        stream.codec_context.options = {
            "deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0", "auto-alt-ref": "0"
        }  # fmt: skip
        for i in range(CLIP_SECONDS * fps):
            frame = av.VideoFrame.from_ndarray(camera.render(i, time.time()), format="bgr24")
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    partial.rename(path)


def _encode_audio(path: Path, samples: np.ndarray) -> None:
    partial = path.with_suffix(".part")
    pcm = (samples * 32767).astype("<i2")
    with av.open(str(partial), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=AUDIO_RATE)
        stream.layout, stream.format, stream.bit_rate = "mono", "s16", _opus.BIT_RATE
        stream.codec_context.options = dict(_opus.ENCODER_OPTIONS)
        for start in range(0, len(pcm), AUDIO_FRAME):
            block = pcm[start : start + AUDIO_FRAME].reshape(1, -1)
            frame = av.AudioFrame.from_ndarray(block, format="s16", layout="mono")
            frame.sample_rate, frame.pts = AUDIO_RATE, start
            frame.time_base = fractions.Fraction(1, AUDIO_RATE)
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    partial.rename(path)


def _read(path: Path, rate: float) -> Clip:
    with av.open(str(path)) as container:
        found = [(bytes(p), p.is_keyframe) for p in container.demux() if p.size]
    keys = tuple(i for i, (_, key) in enumerate(found) if key) or (0,)
    return Clip(tuple(data for data, _ in found), keys, rate)


class _Paced:
    """Real-time pacing of one packet stream: due times from the start, never bursting."""

    def __init__(self, rate: float) -> None:
        self.period = 1.0 / rate
        self.sent = 0
        self._next = time.monotonic()

    async def wait(self) -> None:
        delay = self._next - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        self._next = max(self._next, time.monotonic() - self.period) + self.period
        self.sent += 1


class ReplayVideo(MediaStreamTrack):
    """The VP8 clip, looped, as packets (aiortc packetizes them without encoding)."""

    kind = "video"

    def __init__(self, clip: Clip) -> None:
        super().__init__()
        self.clip = clip
        self._pace = _Paced(clip.rate)
        self._index = 0
        self._want_key = False

    def keyframe(self) -> None:
        """A keyframe was asked for: the next packet is the clip's next keyframe."""
        self._want_key = True

    async def recv(self) -> av.Packet:
        await self._pace.wait()
        if self._want_key:
            self._index, self._want_key = self.clip.next_key(self._index), False
        packet = av.Packet(self.clip.packets[self._index % len(self.clip.packets)])
        self._index += 1
        packet.pts = round((self._pace.sent - 1) * VIDEO_CLOCK / self.clip.rate)
        packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        return packet


class ReplayVoice(MediaStreamTrack):
    """Opus packets, 20 ms apart: the tone while ``talking``, else silence."""

    kind = "audio"

    def __init__(self, media: Media) -> None:
        super().__init__()
        self.media = media
        self.talking = False
        self._pace = _Paced(50.0)

    async def recv(self) -> av.Packet:
        await self._pace.wait()
        clip = self.media.tone if self.talking else self.media.silence
        packet = av.Packet(clip.packets[self._pace.sent % len(clip.packets)])
        packet.pts = (self._pace.sent - 1) * AUDIO_FRAME
        packet.time_base = fractions.Fraction(1, AUDIO_RATE)
        return packet

    @property
    def level(self) -> int:
        return self.media.tone_level if self.talking else SILENT


def replay_video(sender: RTCRtpSender, track: ReplayVideo) -> None:
    """The hub's keyframe requests reach the clip (aiortc would only flag an encoder)."""
    sender._send_keyframe = track.keyframe  # type: ignore[method-assign]


def replay_voice(sender: RTCRtpSender, track: ReplayVoice) -> None:
    """Each packet goes out with the audio level of what it carries (RFC 6464)."""

    async def next_frame(codec: Any) -> RTCEncodedFrame:
        packet = await track.recv()
        timestamp = int(packet.pts or 0)  # the 48 kHz RTP clock is the packets' time base
        return RTCEncodedFrame([bytes(packet)], timestamp, track.level)

    sender._next_encoded_frame = next_frame  # type: ignore[method-assign]


class _SendOnlyBridge(AudioBridge):
    """Our AudioBridge member, sending only: the hub mixes us in and sends us nothing."""

    async def _offer(self, track: MediaStreamTrack) -> Json:
        transceiver = self.pc.addTransceiver(track, direction="sendonly")
        replay_voice(transceiver.sender, track)  # type: ignore[arg-type]
        offer = await self.pc.createOffer()
        await self.pc.setLocalDescription(offer)
        sdp = _opus.opus_send_fmtp(self.pc.localDescription.sdp)
        return {"type": "offer", "sdp": sdp}


class _ReplayPublisher(Publisher):
    """The VideoRoom publisher, its keyframe requests answered by the clip."""

    async def _offer(self, tracks: list[MediaStreamTrack]) -> Json:
        for track in tracks:
            transceiver = self.pc.addTransceiver(track, direction="sendonly")
            replay = replay_voice if track.kind == "audio" else replay_video
            replay(transceiver.sender, track)  # type: ignore[arg-type]
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return {"type": "offer", "sdp": self.pc.localDescription.sdp}


class LightRoom:
    """One room of the meeting: video to the VideoRoom, voice to the AudioBridge."""

    def __init__(
        self,
        url: str,
        room: int,
        pin: str | None,
        display: str,
        media: Media,
        video: bool = True,
        browser: bool = False,
    ) -> None:
        """*browser*: join as a janus.js client does by default: the hub's own ids in each
        plugin (not the same member id), and audio published into the VideoRoom too."""
        self.browser = browser
        self.access = RoomAccess(room, pin, display)
        self.client = JanusClient(url)
        self.media = media
        self.video = ReplayVideo(media.video) if video else None
        self.voice = ReplayVoice(media)
        self.publisher: Publisher | None = None
        self.bridge: AudioBridge | None = None
        self.feed = 0
        self.vanished: int | None = None  # the session the hub keeps after a vanish
        self.on_lost: Callable[[str], None] = lambda why: log.warning("%s: %s", display, why)

    @property
    def display(self) -> str:
        return self.access.display

    async def join(self, timeout: float = 10.0) -> int:
        """Join both plugins under one member id; returns it (our VideoRoom feed id)."""
        await self.client.connect(timeout)
        self.client.on_lost = self.on_lost
        member = 1 + secrets.randbelow(MEMBER_IDS - 1)
        bridge = await self.client.attach(AUDIO_PLUGIN)
        self.bridge = _SendOnlyBridge(bridge, self.access, lambda track: None)
        self.bridge.on_lost = self.on_lost
        bridge_id = 1 + secrets.randbelow(MEMBER_IDS - 1) if self.browser else member
        steps = [self.bridge.join(self.voice, bridge_id)]
        if self.video is not None:
            self.publisher = _ReplayPublisher(await self.client.attach(PLUGIN), self.access)
            tracks: list[MediaStreamTrack] = [self.video]
            if self.browser:
                tracks.append(ReplayVoice(self.media))
            steps.append(self.publisher.join(tracks, member))
        async with asyncio.timeout(timeout):
            await asyncio.gather(*steps)
        self.feed = member
        return member

    def talk(self, talking: bool) -> None:
        self.voice.talking = talking

    async def _close_media(self) -> None:
        for part in (self.publisher, self.bridge):
            if part is not None:
                await part.pc.close()

    async def leave(self) -> None:
        """Leave as a room does: goodbye to both plugins, session destroyed (after a
        ``vanish``, the session the hub still holds is claimed and destroyed)."""
        if self.vanished is not None:
            await discard(self.client.url, self.vanished, {})
            self.vanished = None
            return
        self.client.on_lost = lambda why: None
        if self.bridge is not None:
            self.bridge.on_lost = lambda why: None
        with contextlib.suppress(Exception):
            async with asyncio.timeout(2.0):
                if self.publisher is not None:
                    await self.publisher.handle.request({"request": "leave"})
                if self.bridge is not None:
                    await self.bridge.leave()
        await self._close_media()
        await self.client.close(destroy=True)

    async def vanish(self) -> None:
        """Go without a word, as a room whose power or link is cut: media stops, the
        WebSocket drops, the hub is left holding the session until it gives up on it."""
        self.client.on_lost = lambda why: None
        self.vanished = self.client.session_id
        for part in (self.publisher, self.bridge):
            for transceiver in part.pc.getTransceivers() if part is not None else ():
                ice = transceiver.sender.transport.transport  # the sockets go first: not
                await ice._connection.close()  # even a DTLS alert or an RTCP BYE leaves
        await self._close_media()
        await self.client.close(destroy=False)


def say(event: str, **fields: Any) -> None:
    print(json.dumps({"t": round(time.monotonic(), 4), "event": event, **fields}), flush=True)


async def join_all(rooms: list[LightRoom], parallel: int = 4) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(i: int, room: LightRoom) -> None:
        async with gate:
            feed = await room.join()
        say("joined", i=i, name=room.display, feed=feed)

    await asyncio.gather(*(one(i, r) for i, r in enumerate(rooms)))


def command(rooms: list[LightRoom], line: str) -> None:
    words = line.split()
    if not words:
        return
    if words[0] in ("talk", "quiet"):
        who = int(words[1]) if words[0] == "talk" else -1
        for i, room in enumerate(rooms):
            room.talk(i == who)
        say("talk", i=who)


async def main(args: argparse.Namespace) -> None:
    media = prepare(Path(args.cache), args.video)
    pin = os.environ.get("ROOM_PIN")
    names = args.names.split(",")
    rooms = [LightRoom(args.url, args.room, pin, name, media) for name in names]
    await join_all(rooms)
    say("ready")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command(rooms, line.decode())
    await asyncio.gather(*(room.leave() for room in rooms), return_exceptions=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="light publishers of the district benchmark")
    parser.add_argument("--url", required=True)
    parser.add_argument("--room", type=int, required=True)
    parser.add_argument("--names", required=True, help="comma-separated room names")
    parser.add_argument("--video", choices=sorted(VIDEO), default="320x180@10")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE))
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(created).3f %(name)s: %(message)s"
    )
    for noisy in ("aioice", "aiortc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    asyncio.run(main(parser.parse_args()))

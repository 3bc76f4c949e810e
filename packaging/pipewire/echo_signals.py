"""Test signals and their analysis for check_echo_cancel.py (numpy only, no PipeWire).

The scenario: the far end alone (the canceller converges), a pause, a near-end talker alone,
then both at once (double talk). The "array" hears the far end through a synthetic room (a
30 ms direct path plus a 200 ms diffuse tail, a little different at each mic), the near-end
talker (a few samples apart across the mics) and a -70 dBFS noise floor. Everything is seeded:
the same file every run.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

RATE = 48000

# Timeline of the test signal, in seconds from the start of the file.
LEAD = 0.5  # silence while the links are made
FAR_END = (LEAD, LEAD + 4.0)  # far end only: the canceller converges
ERLE_FROM = FAR_END[1] - 2.0  # ERLE over the last 2 s of it
NEAR_END = (FAR_END[1] + 0.4, FAR_END[1] + 2.4)  # near-end talker only
DOUBLE_TALK = (NEAR_END[1], NEAR_END[1] + 2.5)  # both
TOTAL = DOUBLE_TALK[1] + 0.3
ECHO_DELAY = 0.030  # loudspeaker to array, s (then the room's reflections)
TALKER_LAG = 3  # samples from one mic to the next for the near-end talker (its direction)

BLOCK = 0.25  # s, the unit in which the recording is checked and measured
SEARCH = int(0.2 * RATE)  # how far a block may have moved (samples lost under CPU load)

Span = tuple[float, float]


class CheckError(Exception):
    """A check failed; the message says which and why."""


# --- the talkers and the room ------------------------------------------------------------------


def _envelope(n: int, ramp: int) -> np.ndarray:
    env = np.ones(n)
    ramp = min(ramp, n // 2)
    if ramp:
        rise = 0.5 - 0.5 * np.cos(np.linspace(0.0, np.pi, ramp))
        env[:ramp], env[n - ramp :] = rise, rise[::-1]
    return env


def _voiced(rng: np.random.Generator, n: int, f0: float, formants: list[float]) -> np.ndarray:
    """A vowel: harmonics of a gliding f0 shaped by formant peaks, up to 5 kHz."""
    contour = f0 * (1.0 + 0.15 * np.linspace(rng.uniform(-1, 1), rng.uniform(-1, 1), n))
    phase = 2 * np.pi * np.cumsum(contour) / RATE
    out = np.zeros(n)
    for k in range(1, int(5000 / f0) + 1):
        gain = sum(1.0 / (1.0 + ((k * f0 - fm) / (0.12 * fm)) ** 2) for fm in formants)
        out += (gain + 0.02) / k**0.5 * np.sin(k * phase + rng.uniform(0, 2 * np.pi))
    return out


def _unvoiced(rng: np.random.Generator, n: int) -> np.ndarray:
    """A fricative: noise between 2 and 6 kHz."""
    spec = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    spec[(freqs < 2000) | (freqs > 6000)] = 0
    return np.fft.irfft(spec, n)


def speech_like(seed: int, seconds: float, f0: float, rms: float) -> np.ndarray:
    """A deterministic talker: syllables (vowels, fricatives) with gaps and pauses."""
    rng = np.random.default_rng(seed)
    total = int(seconds * RATE)
    out = np.zeros(total)
    pos = 0
    while pos < total:
        n = int(rng.uniform(0.12, 0.3) * RATE)
        if rng.random() < 0.8:
            formants = [rng.uniform(300, 800), rng.uniform(900, 2200), rng.uniform(2400, 3200)]
            syllable = _voiced(rng, n, f0 * rng.uniform(0.85, 1.2), formants)
        else:
            syllable = 0.5 * _unvoiced(rng, n)
        syllable *= _envelope(n, int(0.03 * RATE)) / (np.sqrt(np.mean(syllable**2)) + 1e-12)
        end = min(total, pos + n)
        out[pos:end] = syllable[: end - pos]
        gap = rng.uniform(0.3, 0.6) if rng.random() < 0.15 else rng.uniform(0.03, 0.15)
        pos = end + int(gap * RATE)
    return np.asarray(out * rms / np.sqrt(np.mean(out[out != 0] ** 2)))


def room(seed: int, mic: int) -> np.ndarray:
    """Loudspeaker-to-mic impulse response: direct path plus a 200 ms diffuse tail."""
    rng = np.random.default_rng(seed + mic)
    direct = int(ECHO_DELAY * RATE) + 2 * mic  # the mics are a few cm apart
    tail = int(0.2 * RATE)
    h = np.zeros(direct + tail)
    h[direct] = 1.0
    decay = np.exp(-6.9 * np.arange(tail - 24) / RATE / 0.2)  # T60 = 0.2 s
    h[direct + 24 :] += 0.04 * rng.standard_normal(tail - 24) * decay
    return h


def _seg(span: Span) -> slice:
    return slice(int(span[0] * RATE), int(span[1] * RATE))


def _place(signal: np.ndarray, span: Span) -> np.ndarray:
    out = np.zeros(int(TOTAL * RATE))
    piece = _seg(span)
    out[piece] = signal[: piece.stop - piece.start]
    return out


def _convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = 1 << int(np.ceil(np.log2(len(x) + len(h))))
    return np.fft.irfft(np.fft.rfft(x, n) * np.fft.rfft(h, n), n)[: len(x)]


@dataclass(frozen=True)
class Scenario:
    far: np.ndarray  # what is played into diemcau_aec_sink (mono)
    near: np.ndarray  # the near-end talker at the array, (n, mics)
    echo: np.ndarray  # the far end through the room, at the array, (n, mics)
    mic: np.ndarray  # what the array hears: near + echo + its self-noise, (n, mics)

    @property
    def mics(self) -> int:
        return int(self.near.shape[1])


def scenario(mics: int, seed: int = 7) -> Scenario:
    """Far end alone, then a near-end talker alone, then both (double talk)."""
    far_span = (FAR_END[0], DOUBLE_TALK[1])
    far = _place(speech_like(seed, far_span[1] - far_span[0], 120.0, 0.1), far_span)
    far[_seg((FAR_END[1], NEAR_END[1]))] = 0.0  # silent while the near end talks alone
    near_span = (NEAR_END[0], DOUBLE_TALK[1])
    talker = _place(speech_like(seed + 100, near_span[1] - near_span[0], 210.0, 0.05), near_span)
    near = np.stack([np.roll(talker, TALKER_LAG * m) for m in range(mics)], axis=1)
    echo = np.stack([0.4 * _convolve(far, room(seed, m)) for m in range(mics)], axis=1)
    noise = 10 ** (-70 / 20) * np.random.default_rng(seed + 200).standard_normal(near.shape)
    return Scenario(far, near, echo, near + echo + noise)


# --- WAV files ---------------------------------------------------------------------------------


def write_wav(path: Path, frames: np.ndarray) -> None:
    """16-bit PCM WAV from (n, channels) floats in [-1, 1]."""
    pcm = np.clip(np.round(frames * 32767), -32768, 32767).astype("<i2")
    channels = frames.shape[1]
    data = pcm.tobytes()
    fmt = struct.pack("<HHIIHH", 1, channels, RATE, RATE * 2 * channels, 2 * channels, 16)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    riff += b"data" + struct.pack("<I", len(data)) + data
    path.write_bytes(b"RIFF" + struct.pack("<I", len(riff)) + riff)


def read_wav(path: Path) -> np.ndarray:
    """(n, channels) floats from a PCM or float WAV; tolerates an unfinished header."""
    raw = path.read_bytes()
    pos, fmt, channels, bits = 12, 0, 0, 0
    while pos + 8 <= len(raw):
        tag, size = raw[pos : pos + 4], struct.unpack("<I", raw[pos + 4 : pos + 8])[0]
        body = pos + 8
        if tag == b"fmt ":
            fmt, channels, _, _, _, bits = struct.unpack("<HHIIHH", raw[body : body + 16])
            if fmt == 0xFFFE:  # WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
                fmt = struct.unpack("<H", raw[body + 24 : body + 26])[0]
        elif tag == b"data" and channels:
            data = raw[body : min(len(raw), body + size) if size else len(raw)]
            kind = {(3, 32): "<f4", (1, 16): "<i2", (1, 32): "<i4"}.get((fmt, bits))
            if kind is None:
                raise CheckError(f"{path}: unexpected WAV format {fmt}/{bits} bit")
            frame = bits // 8 * channels
            samples = np.frombuffer(data[: len(data) // frame * frame], dtype=kind)
            samples = samples.astype(np.float64)
            if fmt == 1:
                samples /= 2.0 ** (bits - 1)
            return samples.reshape(-1, channels)
        pos = body + size + (size & 1)
    raise CheckError(f"{path}: no audio data in the recording")


# --- finding the scenario in the recording -----------------------------------------------------


def _xcorr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """corr[k] = sum_i a[k + i] * b[i] for the k where b fits inside a."""
    n = 1 << int(np.ceil(np.log2(len(a) + len(b))))
    corr = np.fft.irfft(np.fft.rfft(a, n) * np.conj(np.fft.rfft(b, n)), n)
    return corr[: max(1, len(a) - len(b) + 1)]


@dataclass
class Recording:
    """The recording: the canceller's output, the array input, the loudspeakers' monitor.

    Under CPU load the recorder (not real-time) may lose a period now and then; all channels
    lose it together. So the recording is walked in blocks, each found again on the array input
    (which must come back bit-exact), and blocks that straddle a loss are left out.
    """

    rec: np.ndarray  # (n, 2 * mics + 2): out, in, speakers FL FR
    scene: Scenario
    start: int = 0  # where the test signal starts in the recording
    latency: int = 0  # the canceller's output behind its input, samples
    skipped: set[int] = field(default_factory=set)  # scene samples where a lost block starts

    def __post_init__(self) -> None:
        m = self.scene.mics
        self.out, self.inp, self.spk = self.rec[:, :m], self.rec[:, m : 2 * m], self.rec[:, 2 * m :]

    def locate(self, track: np.ndarray, expected: np.ndarray, guess: int) -> int | None:
        """Where *expected* is in *track*, within SEARCH of *guess*."""
        lo = max(0, guess - SEARCH)
        seg = track[lo : guess + len(expected) + SEARCH]
        if len(seg) < len(expected) or not np.any(expected):
            return None
        return lo + int(np.argmax(_xcorr(seg, expected)))

    def _intact(self, where: int, piece: slice) -> bool:
        got = self.inp[where : where + piece.stop - piece.start]
        want = self.scene.mic[piece]
        return got.shape == want.shape and float(np.max(np.abs(got - want))) < 2e-3

    def blocks(self, span: Span) -> list[tuple[slice, slice]]:
        """(scene slice, recording slice) of each intact block of *span*."""
        found, shift = [], 0
        step = int(BLOCK * RATE)
        for at in range(_seg(span).start, _seg(span).stop - step + 1, step):
            piece = slice(at, at + step + self.latency)  # the output comes that much later
            where = self.start + shift + at
            if not self._intact(where, piece):
                found_at = self.locate(self.inp[:, 0], self.scene.mic[piece, 0], self.start + at)
                if found_at is None or not self._intact(found_at, piece):
                    self.skipped.add(at)
                    continue
                where = found_at
                shift = where - self.start - at
            found.append((slice(at, at + step), slice(where, where + step)))
        if len(found) < (_seg(span).stop - _seg(span).start) / step / 2:
            raise CheckError(
                f"more than half of the recording between {span[0]} and {span[1]} s was lost "
                "(the machine is too busy for the player and the recorder): run the check again"
            )
        return found

    def output(self, span: Span, double_talk_only: bool = False) -> np.ndarray:
        """The canceller's output over the intact blocks of *span*, end to end."""
        parts = []
        for scene_part, rec_part in self.blocks(span):
            near, echo = self.scene.near[scene_part], self.scene.echo[scene_part]
            if double_talk_only and min(np.mean(near**2), np.mean(echo**2)) < 1e-4:
                continue
            parts.append(self.out[rec_part.start + self.latency : rec_part.stop + self.latency])
        return np.concatenate(parts) if parts else np.zeros((0, self.scene.mics))

    def power(
        self, span: Span, what: str, double_talk_only: bool = False, pauses_only: bool = False
    ) -> float:
        """Power summed over the intact blocks of *span*: of 'in', 'out' or the 'near' talker.

        *double_talk_only* keeps the blocks where the talker and the echo are both above
        -40 dBFS (true double talk, not one side's pause); *pauses_only* keeps the samples where
        neither talker nor echo is there (the array's noise alone).
        """
        total = 1e-20
        for scene_part, rec_part in self.blocks(span):
            near, echo = self.scene.near[scene_part], self.scene.echo[scene_part]
            if double_talk_only and min(np.mean(near**2), np.mean(echo**2)) < 1e-4:
                continue
            keep = np.all((near == 0) & (np.abs(echo) < 1e-6), axis=1) if pauses_only else ...
            if what == "in":
                total += float(np.sum(self.inp[rec_part][keep] ** 2))
            elif what == "out":
                later = slice(rec_part.start + self.latency, rec_part.stop + self.latency)
                total += float(np.sum(self.out[later][keep] ** 2))
            else:
                total += float(np.sum(near[keep] ** 2))
        return total


def align(rec: np.ndarray, scene: Scenario) -> Recording:
    """Find the test signal in *rec*, and how far the canceller's output lags its input."""
    found = Recording(rec, scene)
    found.start = int(np.argmax(_xcorr(found.inp[:, 0], scene.mic[:, 0])))
    lags = []
    for scene_part, rec_part in found.blocks(NEAR_END):  # the canceller is transparent here
        at = found.locate(found.out[:, 0], scene.near[scene_part, 0], rec_part.start)
        if at is not None:
            lags.append(at - rec_part.start)
    if not lags:
        raise CheckError("the near-end talker is not in diemcau_aec_source's output")
    found.latency = int(np.median(lags))
    found.skipped.clear()
    return found


# --- the figures -------------------------------------------------------------------------------


def _db(ratio: float) -> float:
    return float(10 * np.log10(ratio))


@dataclass(frozen=True)
class Results:
    erle: float  # dB, far end only, after 2 s
    erle_first_second: float  # dB, the first second of far end
    near_passthrough: float  # dB, output over input, near-end talker only
    doubletalk_near: float  # dB, output over the talker alone, during double talk
    forward_gain: float  # dB, loudspeaker monitor over what was played into the sink
    latency_ms: float
    skipped_blocks: int
    noise_passthrough: float  # dB, output over input in the near-end talker's pauses
    lag_error_near: int  # samples, worst inter-mic delay error of the talker, talker alone
    lag_error_doubletalk: int  # the same during double talk


def lag_error(out: np.ndarray) -> int:
    """Worst error of the inter-mic delays found in *out* against the talker's (direction)."""
    worst, reach = 0, 16
    for mic in range(1, out.shape[1]):
        a, b = out[reach:-reach, mic], out[:, 0]
        corr = [
            float(np.dot(a, b[reach - lag : len(b) - reach - lag]))
            for lag in range(-reach, reach + 1)
        ]
        found = int(np.argmax(corr)) - reach
        worst = max(worst, abs(found - TALKER_LAG * mic))
    return worst


def forward_gain(found: Recording) -> float:
    """Loudspeakers' monitor (FL and FR) against what was played into diemcau_aec_sink."""
    heard, played = 1e-20, 1e-20
    step = int(BLOCK * RATE)
    for at in range(_seg(FAR_END).start, _seg(FAR_END).stop - step + 1, step):
        expected = found.scene.far[at : at + step]
        if np.mean(expected**2) < 1e-6:
            continue
        where = found.locate(found.spk[:, 0], expected, found.start + at)
        if where is not None:
            heard += float(np.sum(found.spk[where : where + step] ** 2))
            played += found.spk.shape[1] * float(np.sum(expected**2))
    return _db(heard / played)


def analyse(rec: np.ndarray, scene: Scenario) -> Results:
    found = align(rec, scene)
    first = (FAR_END[0], FAR_END[0] + 1.0)
    late = (ERLE_FROM, FAR_END[1])
    near = (NEAR_END[0] + BLOCK, NEAR_END[1])
    both = found.power(DOUBLE_TALK, "out", True) / found.power(DOUBLE_TALK, "near", True)
    return Results(
        erle=_db(found.power(late, "in") / found.power(late, "out")),
        erle_first_second=_db(found.power(first, "in") / found.power(first, "out")),
        near_passthrough=_db(found.power(near, "out") / found.power(near, "in")),
        doubletalk_near=_db(both),
        forward_gain=forward_gain(found),
        latency_ms=found.latency / RATE * 1000,
        skipped_blocks=len(found.skipped),
        noise_passthrough=_db(
            found.power(near, "out", pauses_only=True) / found.power(near, "in", pauses_only=True)
        ),
        lag_error_near=lag_error(found.output(near)),
        lag_error_doubletalk=lag_error(found.output(DOUBLE_TALK, True)),
    )

"""Seeded, labelled multichannel corpus for the voice director (bench and tests).

A shoebox room (8 x 6 x 3 m, RT60 about 0.4 s, pyroomacoustics image method) holds a circular
microphone array on the table in front of the TV wall, four near talkers at known angles, five
background talkers (babble), a ceiling fan, a radio playing music at the side and the TV's two
loudspeakers playing the far end. Each source is rendered to the array once ("images", cached
per array and seed); conditions are mixes of those images at a given SNR.

Labels are per 10 ms frame: near speech (and which talker), far-end echo present.
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyroomacoustics as pra
from scipy import signal

from bench import _voice_sources as src

log = logging.getLogger(__name__)

FS = src.FS
FRAME = FS // 100
ROOM = (8.0, 6.0, 3.0)
CENTER = (4.0, 1.6, 0.8)
SPEAKERS = ((3.3, 0.15, 1.3), (4.7, 0.15, 1.3))
BABBLE_POS = ((1.0, 5.2, 1.3), (2.5, 5.5, 1.2), (6.0, 5.4, 1.3), (7.3, 4.0, 1.2), (0.7, 3.5, 1.2))
FAN_POS = (4.5, 3.0, 2.8)
MUSIC_POS = (7.6, 1.0, 1.0)
TALKER_ANGLES = (22.5, 67.5, 112.5, 157.5)
TV_ANGLE = 270.0
SPEECH_DBFS = -28.0
NOISES = ("fan", "babble", "music", "echo")
PLAYOUT_LATENCY_S = 0.025


@dataclass(frozen=True)
class ArraySpec:
    """A circular array: ``n`` mics on ``radius_m``, mic 0 at 0 degrees, counter-clockwise."""

    name: str
    n: int
    radius_m: float

    def offsets(self) -> np.ndarray:
        ang = 2 * np.pi * np.arange(self.n) / self.n
        return np.stack([self.radius_m * np.cos(ang), self.radius_m * np.sin(ang)], axis=1)


ARRAYS = (ArraySpec("circ4", 4, 0.045), ArraySpec("circ6", 6, 0.045))


@dataclass(frozen=True)
class Labels:
    near: np.ndarray  # bool per 10 ms frame
    talker: np.ndarray  # int per frame, -1 when nobody near speaks
    echo: np.ndarray  # bool per frame: far end audible in the room


@dataclass(frozen=True)
class Clip:
    """One condition: mic signals (N, C) float32 at FS, playout reference (N,), labels."""

    name: str
    array: ArraySpec
    noise: str
    snr_db: float
    mics: np.ndarray
    ref: np.ndarray
    labels: Labels
    talker_angles: tuple[float, ...]


@dataclass(frozen=True)
class Script:
    near: tuple[tuple[int, float, str], ...]  # (talker, start_s, text)
    far: tuple[tuple[float, float, str], ...]  # (start_s, max_len_s, text)
    talker_angles: tuple[float, ...]
    talker_dist: tuple[float, ...]


def make_script(seed: int, duration_s: float) -> Script:
    """Conversation timeline: turns between four talkers, short and long gaps, far-end turns."""
    rng = np.random.default_rng(seed)
    angles = tuple(a + float(rng.uniform(-6, 6)) for a in TALKER_ANGLES)
    dists = tuple(float(rng.uniform(1.4, 2.5)) for _ in TALKER_ANGLES)
    near: list[tuple[int, float, str]] = []
    far: list[tuple[float, float, str]] = []
    t, who, k = 2.5, int(rng.integers(4)), 0
    while t < duration_s - 2.0:
        text = _pick_text(rng, who)
        dur = src.espeak(text, src.NEAR_VOICES[who]).size / FS
        if t + dur > duration_s - 0.5:
            break
        near.append((who, t, text))
        if k % 3 == 2:
            far.append((t + 0.5, dur - 0.5, str(rng.choice(src.VI_SENTENCES))))
        gap = float(rng.uniform(3.5, 5.0) if k % 2 else rng.uniform(0.8, 2.0))
        if k % 2:
            far.append((t + dur + 0.6, gap - 1.2, str(rng.choice(src.VI_SENTENCES))))
        t += dur + gap
        who = who if rng.random() < 0.25 else int((who + rng.integers(1, 4)) % 4)
        k += 1
    return Script(tuple(near), tuple(far), angles, dists)


def _pick_text(rng: np.random.Generator, who: int) -> str:
    pool = src.EN_SENTENCES if src.NEAR_VOICES[who].lang.startswith("en") else src.VI_SENTENCES
    return str(rng.choice(pool))


def _dry_tracks(script: Script, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    talkers = np.zeros((4, n))
    for who, start, text in script.near:
        src._add(talkers[who], int(start * FS), src.espeak(text, src.NEAR_VOICES[who]))
    far = np.zeros(n)
    for start, max_len, text in script.far:
        x = src.espeak(text, src.FAR_VOICE)[: int(max_len * FS)]
        src._add(far, int(start * FS), x * _fade(x.size))
    babble = [src.babble_track(n, v, rng) for v in src.BABBLE_VOICES]
    return {
        "talkers": talkers,
        "far": far,
        "babble": np.stack(babble),
        "fan": src.fan_noise(n, rng),
        "music": src.music(n, rng),
    }


def _fade(n: int) -> np.ndarray:
    ramp = np.minimum(1.0, np.minimum(np.arange(n), np.arange(n)[::-1]) / (0.02 * FS))
    return np.asarray(ramp)


def _positions(script: Script) -> dict[str, list[tuple[float, float, float]]]:
    talk = []
    for ang, dist in zip(script.talker_angles, script.talker_dist, strict=True):
        a = math.radians(ang)
        talk.append((CENTER[0] + dist * math.cos(a), CENTER[1] + dist * math.sin(a), 1.2))
    return {
        "talkers": talk,
        "far": list(SPEAKERS),
        "babble": list(BABBLE_POS),
        "fan": [FAN_POS],
        "music": [MUSIC_POS],
    }


def _rirs(array: ArraySpec, sources: list[tuple[float, float, float]], rt60: float) -> list:
    absorb, order = pra.inverse_sabine(rt60, list(ROOM))
    room = pra.ShoeBox(list(ROOM), fs=FS, materials=pra.Material(absorb), max_order=min(order, 30))
    for pos in sources:
        room.add_source(list(pos))
    mics = array.offsets() + np.array(CENTER[:2])
    room.add_microphone_array(np.vstack([mics.T, np.full(array.n, CENTER[2])]))
    room.compute_rir()
    return [
        [np.asarray(room.rir[m][s])[: int(0.8 * FS)] for s in range(len(sources))]
        for m in range(array.n)
    ]


def _image(x: np.ndarray, rirs: list, s: int, n: int) -> np.ndarray:
    return np.stack([signal.oaconvolve(x, rirs[m][s])[:n] for m in range(len(rirs))], axis=1)


def render_images(
    array: ArraySpec, seed: int, duration_s: float, rt60: float = 0.4
) -> dict[str, np.ndarray]:
    """Render every source of the seeded script through the room to ``array``."""
    rng = np.random.default_rng(seed + 1)
    script = make_script(seed, duration_s)
    n = int(duration_s * FS)
    dry = _dry_tracks(script, n, rng)
    pos = _positions(script)
    order = [
        (k, i) for k in ("talkers", "far", "babble", "fan", "music") for i in range(len(pos[k]))
    ]
    rirs = _rirs(array, [pos[k][i] for k, i in order], rt60)
    out: dict[str, np.ndarray] = {}
    for s, (k, i) in enumerate(order):
        x = dry[k][i] if dry[k].ndim == 2 else dry[k]
        if k == "far":
            x = _loudspeaker(x)
        img = _image(x, rirs, s, n).astype(np.float32)
        name = f"talker{i}" if k == "talkers" else k
        out[name] = out[name] + img if name in out else img
    out["ref"] = dry["far"].astype(np.float32)
    out["labels"] = _labels(dry, rirs, script, n)
    out["angles"] = np.array(script.talker_angles)
    return out


def _loudspeaker(x: np.ndarray) -> np.ndarray:
    delayed = np.concatenate([np.zeros(int(PLAYOUT_LATENCY_S * FS)), x])[: x.size]
    return np.tanh(1.5 * delayed) / 1.5


def _labels(dry: dict[str, np.ndarray], rirs: list, script: Script, n: int) -> np.ndarray:
    frames = n // FRAME
    energy = np.zeros((5, frames))
    for i in range(4):
        lag = int(np.argmax(np.abs(rirs[0][i])))
        energy[i] = _frame_energy(np.roll(dry["talkers"][i], lag), frames)
    lag = int(np.argmax(np.abs(rirs[0][4]))) + int(PLAYOUT_LATENCY_S * FS)
    energy[4] = _frame_energy(np.roll(dry["far"], lag), frames)
    active = energy > 1e-4 * np.max(energy, axis=1, keepdims=True)
    talker = np.where(active[:4].any(axis=0), np.argmax(energy[:4], axis=0), -1)
    return np.stack([active[:4].any(axis=0), talker, active[4]]).astype(np.int16)


def _frame_energy(x: np.ndarray, frames: int) -> np.ndarray:
    return np.asarray(np.mean(x[: frames * FRAME].reshape(frames, FRAME) ** 2, axis=1))


def load_images(
    array: ArraySpec, seed: int, duration_s: float, cache: Path
) -> dict[str, np.ndarray]:
    """Images from ``cache`` when present, else rendered and stored there."""
    key = hashlib.sha1(f"v4-{array}-{seed}-{duration_s}".encode()).hexdigest()[:12]
    path = cache / f"voice-{array.name}-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    images = render_images(array, seed, duration_s)
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **images)
    return images


def mix(
    images: dict[str, np.ndarray], array: ArraySpec, noise: str, snr_db: float, seed: int
) -> Clip:
    """Mix one condition. For ``echo`` the SNR is the near-speech-to-echo ratio (SER)."""
    lab = images["labels"]
    labels = Labels(lab[0].astype(bool), lab[1].astype(int), lab[2].astype(bool))
    near = sum(images[f"talker{i}"] for i in range(4))
    near_mask = np.repeat(labels.near, FRAME)
    p_speech = float(np.mean(near[: near_mask.size, 0][near_mask] ** 2))
    gain = 10 ** (SPEECH_DBFS / 20) / math.sqrt(p_speech)
    if noise == "echo":
        echo_mask = np.repeat(labels.echo, FRAME)
        p_noise = float(np.mean(images["far"][: echo_mask.size, 0][echo_mask] ** 2))
        extra = images["fan"] * math.sqrt(p_speech / np.mean(images["fan"][:, 0] ** 2) / 1e3)
        noisy = images["far"] * math.sqrt(p_speech / p_noise / 10 ** (snr_db / 10)) + extra
    else:
        p_noise = float(np.mean(images[noise][:, 0] ** 2))
        noisy = images[noise] * math.sqrt(p_speech / p_noise / 10 ** (snr_db / 10))
    rng = np.random.default_rng(seed + 7)
    sensor = rng.standard_normal(near.shape) * 10 ** (-80 / 20)
    mics = ((near + noisy) * gain + sensor).astype(np.float32)
    ref = images["ref"] if noise == "echo" else np.zeros_like(images["ref"])
    angles = tuple(float(a) for a in images["angles"])
    name = f"{array.name}/{noise}/{snr_db:g}dB"
    return Clip(name, array, noise, snr_db, mics, ref.astype(np.float32), labels, angles)

"""A corpus that draws rooms: every seed is a different commune hall (bench and tests).

Each seed draws a shoebox room (about 4 x 4 x 2.7 m to 12 x 8 x 4 m), its RT60 (0.25-0.9 s),
where the array stands on the table and how it is turned, 1-4 talkers at random angles and
distances (at least ``TALKER_GAP_DEG`` apart and ``TV_GAP_DEG`` away from the TV), the TV with
its two loudspeakers anywhere on the walls, how busy the far end is (sparse to continuous),
which two of the six noises the room has (fan, babble, TV music, street traffic, rain on a tin
roof, generator hum; cycled over seeds so every noise is covered) and its talkers' voices
(espeak-ng Vietnamese and English, flite English: see ``_voice_speech``).

Room impulse responses are hybrid: the image method up to third order (direct sound and early
reflections, which set the direction cues), then a diffuse exponential tail per microphone
with the room's RT60, scaled so the reverberant energy matches the diffuse-field theory
(critical distance 0.057 * sqrt(V / RT60)). Rendering runs at 16 kHz, the pipeline's own
rate, and is cached per room and array.

Seeds: ``DEV_SEEDS`` (4-mic) and ``DEV6_SEEDS`` (6-mic) are the development set, the only rooms
anything may be tuned on.
``HELDOUT_SEEDS`` (4-mic, 30 rooms) and ``HELDOUT6_SEEDS`` (6-mic) are held out: only scored,
never looked at per clip while tuning. ``TEST_SEEDS`` feed the unit tests.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyroomacoustics as pra
from scipy import signal

from bench import _voice_speech as sp
from bench._voice_corpus import ArraySpec, Labels
from bench._voice_sources import _add

FS = sp.FS
FRAME = FS // 100
# 114, 115, 121, 127, 133: more rooms with babble (101-110 had three; the held-out set ~10)
# 202 ... 228: the first eight rooms from 201 up with babble (the held-out babble rooms opened
# in a way the first 15 did not); DEV6_SEEDS: the first three from 301 up with babble, 6-mic
# 229 ... 283: the next sixteen from 229 up with babble (dev babble noise-open was still far
# under held-out's; these showed why: a voice of the crowd at a seat or near the array)
DEV_SEEDS = (
    *range(101, 111), 114, 115, 121, 127, 133, 202, 205, 211, 217, 218, 222, 223, 228,
    229, 235, 241, 247, 250, 253, 259, 260, 265, 267, 268, 271, 273, 277, 281, 283,
)  # fmt: skip
DEV6_SEEDS = (301, 307, 308)
HELDOUT_SEEDS = tuple(range(9001, 9031))
HELDOUT6_SEEDS = tuple(range(9501, 9507))
TEST_SEEDS = (42,)
NOISES = ("fan", "babble", "music", "traffic", "rain", "generator")
ARRAY4 = ArraySpec("circ4", 4, 0.045)
ARRAY6 = ArraySpec("circ6", 6, 0.045)
TALKER_GAP_DEG = 40.0
TV_GAP_DEG = 50.0
EXCLUSION_HALF_DEG = 25.0
ZONE_HALF_DEG = 20.0
SPEECH_DBFS = -28.0
PLAYOUT_LATENCY_S = 0.025
VERSION = "rooms-v1"


@dataclass(frozen=True)
class Room:
    """One drawn hall. Angles are degrees counter-clockwise from the array's mic 0."""

    seed: int
    size: tuple[float, float, float]
    rt60: float
    center: tuple[float, float, float]
    rotation_deg: float
    talkers: tuple[tuple[float, float, float], ...]  # world positions
    talker_angles: tuple[float, ...]
    voices: tuple[sp.Speaker, ...]
    tv: tuple[tuple[float, float, float], tuple[float, float, float]]
    tv_angle: float
    far_density: float
    noises: tuple[str, str]
    noise_pos: dict[str, tuple[tuple[float, float, float], ...]] = field(hash=False)

    def describe(self) -> str:
        s = self.size
        return (
            f"room {self.seed}: {s[0]:.1f}x{s[1]:.1f}x{s[2]:.1f} m, RT60 {self.rt60:.2f} s, "
            f"{len(self.talkers)} talker(s) at "
            + ",".join(f"{a:.0f}" for a in self.talker_angles)
            + f" deg, TV at {self.tv_angle:.0f} deg, far-end density {self.far_density:.2f}, "
            f"noises {'/'.join(self.noises)}"
        )


def draw_room(seed: int) -> Room:
    rng = np.random.default_rng([seed, 11])
    size = (rng.uniform(4.0, 12.0), 0.0, rng.uniform(2.7, 4.0))
    size = (size[0], rng.uniform(4.0, min(8.0, max(4.0, size[0]))), size[2])
    rt60 = float(rng.uniform(0.25, 0.9))
    center = (
        rng.uniform(1.0, size[0] - 1.0),
        rng.uniform(1.0, size[1] - 1.0),
        rng.uniform(0.72, 0.8),
    )
    rot = float(rng.uniform(0, 360))
    tv, tv_world = _draw_tv(rng, size, center)
    tv_angle = (tv_world - rot) % 360
    talkers = _draw_talkers(rng, size, center, tv_world)
    angles = tuple((math.degrees(math.atan2(p[1] - center[1], p[0] - center[0])) - rot) % 360
                   for p in talkers)  # fmt: skip
    picks = rng.choice(len(sp.SPEAKERS), size=len(talkers), replace=False)
    k = seed % len(NOISES)
    noises = (NOISES[k], NOISES[(k + 1 + int(rng.integers(0, 5))) % len(NOISES)])
    return Room(
        seed, tuple(map(float, size)), rt60, tuple(map(float, center)), rot, talkers, angles,
        tuple(sp.SPEAKERS[int(i)] for i in picks), tv, tv_angle,
        float(rng.uniform(0.0, 1.0)), noises, _noise_positions(rng, size, tv),
    )  # fmt: skip


def _draw_tv(
    rng: np.random.Generator, size: tuple[float, float, float], c: tuple[float, float, float]
) -> tuple[tuple[tuple[float, float, float], tuple[float, float, float]], float]:
    while True:
        wall = int(rng.integers(4))
        along = size[wall % 2] if wall < 2 else size[(wall - 2) % 2]
        u = rng.uniform(0.8, along - 0.8)
        z = rng.uniform(1.1, 1.6)
        spk = []
        for du in (-0.4, 0.4):
            if wall == 0:
                spk.append((u + du, 0.15, z))
            elif wall == 1:
                spk.append((u + du, size[1] - 0.15, z))
            elif wall == 2:
                spk.append((0.15, min(max(u, 0.8), size[1] - 0.8) + du, z))
            else:
                spk.append((size[0] - 0.15, min(max(u, 0.8), size[1] - 0.8) + du, z))
        mid = np.mean(np.array(spk), axis=0)
        if math.hypot(mid[0] - c[0], mid[1] - c[1]) >= 1.2:
            ang = math.degrees(math.atan2(mid[1] - c[1], mid[0] - c[0]))
            return (tuple(map(float, spk[0])), tuple(map(float, spk[1]))), ang  # type: ignore[return-value]


def _draw_talkers(
    rng: np.random.Generator,
    size: tuple[float, float, float],
    c: tuple[float, float, float],
    tv_world: float,
) -> tuple[tuple[float, float, float], ...]:
    want = int(rng.integers(1, 5))
    out: list[tuple[float, float, float]] = []
    angles: list[float] = []
    for _ in range(400):
        if len(out) == want:
            break
        a = float(rng.uniform(0, 360))
        d = float(rng.uniform(0.9, 3.5))
        x, y = c[0] + d * math.cos(math.radians(a)), c[1] + d * math.sin(math.radians(a))
        if not (0.4 < x < size[0] - 0.4 and 0.4 < y < size[1] - 0.4):
            continue
        if _adiff(a, tv_world) < TV_GAP_DEG or any(_adiff(a, b) < TALKER_GAP_DEG for b in angles):
            continue
        out.append((x, y, float(rng.uniform(1.1, 1.3))))
        angles.append(a)
    return tuple(out)


def _noise_positions(
    rng: np.random.Generator, size: tuple[float, float, float], tv: tuple
) -> dict[str, tuple[tuple[float, float, float], ...]]:
    def inside(margin: float, z: float) -> tuple[float, float, float]:
        return (rng.uniform(margin, size[0] - margin), rng.uniform(margin, size[1] - margin), z)

    def on_wall(z: float) -> tuple[float, float, float]:
        p = list(inside(0.3, z))
        p[int(rng.integers(2))] = 0.12 if rng.random() < 0.5 else size[int(rng.integers(2))] - 0.12
        p[0], p[1] = min(max(p[0], 0.12), size[0] - 0.12), min(max(p[1], 0.12), size[1] - 0.12)
        return (p[0], p[1], p[2])

    return {
        "fan": (inside(0.8, size[2] - 0.3),),
        "babble": tuple(inside(0.4, 1.2) for _ in range(5)),
        "music": (tuple(float(v) for v in np.mean(np.array(tv), axis=0)),),
        "traffic": (on_wall(1.5),),
        "rain": tuple(inside(0.5, size[2] - 0.1) for _ in range(4)),
        "generator": (on_wall(0.5),),
    }


def _adiff(a: float, b: float) -> float:
    return abs((a - b + 180.0) % 360.0 - 180.0)


# -- script ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Script:
    near: tuple[tuple[int, float, np.ndarray], ...]  # (talker, start_s, dry speech)
    far: np.ndarray  # sparse far end (density of the room)
    far_continuous: np.ndarray  # the far end never pauses


def make_script(room: Room, duration_s: float) -> Script:
    rng = np.random.default_rng([room.seed, 22])
    n = int(duration_s * FS)
    near: list[tuple[int, float, np.ndarray]] = []
    t, who = float(rng.uniform(0.6, 1.5)), int(rng.integers(len(room.talkers)))
    while t < duration_s - 1.5:
        spk = room.voices[who]
        x = sp.speech(str(rng.choice(sp.texts(spk.lang))), spk)
        if rng.random() < 0.3:  # a long turn: two sentences
            y = sp.speech(str(rng.choice(sp.texts(spk.lang))), spk)
            x = np.concatenate([x, np.zeros(int(rng.uniform(0.15, 0.4) * FS)), y])
        x = x[: max(0, int((duration_s - 0.3 - t) * FS))]
        near.append((who, t, x))
        t += x.size / FS + float(rng.uniform(1.0, 4.5))
        if len(room.talkers) > 1 and rng.random() < 0.7:
            who = int((who + rng.integers(1, len(room.talkers))) % len(room.talkers))
    far_spk = sp.SPEAKERS[int(rng.integers(len(sp.SPEAKERS)))]
    return Script(
        tuple(near),
        _far_track(rng, n, far_spk, room.far_density),
        _far_track(rng, n, far_spk, 1.0),
    )


def _far_track(rng: np.random.Generator, n: int, spk: sp.Speaker, density: float) -> np.ndarray:
    """Far-end speech filling about ``density`` of the time (1.0: talks without pausing)."""
    out = np.zeros(n)
    pos = 0 if density >= 1.0 else int(rng.uniform(0.0, 3.0) * FS)
    while pos < n:
        x = sp.speech(str(rng.choice(sp.texts(spk.lang))), spk)
        _add(out, pos, x)
        pause = rng.uniform(0.1, 0.4) if density >= 1.0 else rng.uniform(0.3, 1.0)
        pause += 0.0 if density >= 1.0 else x.size / FS * (1.0 - density) / max(density, 0.05)
        pos += x.size + int(pause * FS)
    return out


# -- impulse responses ----------------------------------------------------------------------


def _rirs(room: Room, array: ArraySpec, sources: list[tuple[float, float, float]]) -> list:
    vol = room.size[0] * room.size[1] * room.size[2]
    absorb, _ = pra.inverse_sabine(room.rt60, list(room.size))
    shoebox = pra.ShoeBox(list(room.size), fs=FS, materials=pra.Material(absorb), max_order=3)
    for pos in sources:
        shoebox.add_source(list(pos))
    shoebox.add_microphone_array(_mic_positions(room, array))
    shoebox.compute_rir()
    rng = np.random.default_rng([room.seed, array.n, 33])
    crit = 0.057 * math.sqrt(vol / room.rt60)
    length = int(min(1.2, room.rt60 * 1.2) * FS)
    out = []
    for m in range(array.n):
        row = []
        for s, pos in enumerate(sources):
            early = np.zeros(length)
            h = np.asarray(shoebox.rir[m][s])[:length]
            early[: h.size] = h
            row.append(early + _tail(rng, room, pos, early, crit, length))
        out.append(row)
    return out


def _tail(
    rng: np.random.Generator,
    room: Room,
    pos: tuple[float, float, float],
    early: np.ndarray,
    crit: float,
    length: int,
) -> np.ndarray:
    direct = int(np.argmax(np.abs(early)))
    total = (1.0 / (4 * math.pi * crit)) ** 2
    early_refl = float(np.sum(early[direct + 8 :] ** 2))
    energy = max(total - early_refl, 0.3 * total)
    t = (np.arange(length) - direct) / FS
    env = np.where(t > 0, np.exp(-6.9 * np.maximum(t, 0) / room.rt60), 0.0)
    env *= np.minimum(1.0, np.maximum(t, 0) / 0.015)
    x = rng.standard_normal(length) * env
    x = signal.lfilter([0.6, 0.4], [1.0], x)  # a little high-frequency damping
    return np.asarray(x * math.sqrt(energy / max(float(np.sum(x**2)), 1e-20)))


def _mic_positions(room: Room, array: ArraySpec) -> np.ndarray:
    rot = math.radians(room.rotation_deg)
    off = array.offsets()
    rx = off[:, 0] * math.cos(rot) - off[:, 1] * math.sin(rot)
    ry = off[:, 0] * math.sin(rot) + off[:, 1] * math.cos(rot)
    c = room.center
    return np.vstack([rx + c[0], ry + c[1], np.full(array.n, c[2])])


def _image(x: np.ndarray, rirs: list, s: int, n: int) -> np.ndarray:
    return np.stack([signal.oaconvolve(x, rirs[m][s])[:n] for m in range(len(rirs))], axis=1)


# -- render, cache, mix ---------------------------------------------------------------------


def render(room: Room, array: ArraySpec, duration_s: float) -> dict[str, np.ndarray]:
    """Every source of the room through its impulse responses to ``array`` (float32 images)."""
    n = int(duration_s * FS)
    script = make_script(room, duration_s)
    rng = np.random.default_rng([room.seed, 44])
    sources: list[tuple[str, np.ndarray, tuple[float, float, float]]] = []
    for i, pos in enumerate(room.talkers):
        dry = np.zeros(n)
        for who, start, x in script.near:
            if who == i:
                _add(dry, int(start * FS), x)
        sources.append((f"talker{i}", dry, pos))
    for name, far in (("far", script.far), ("farcont", script.far_continuous)):
        for spk in room.tv:
            sources.append((name, _loudspeaker(far), spk))
    for noise in room.noises:
        sources += _noise_sources(noise, room, n, rng)
    rirs = _rirs(room, array, [p for _, _, p in sources])
    out: dict[str, np.ndarray] = {}
    for s, (name, x, _) in enumerate(sources):
        img = _image(x, rirs, s, n).astype(np.float32)
        out[name] = out[name] + img if name in out else img
    out["ref"] = script.far.astype(np.float32)
    out["refcont"] = script.far_continuous.astype(np.float32)
    out["labels"] = _labels(room, script, rirs, n)
    return out


def _noise_sources(
    noise: str, room: Room, n: int, rng: np.random.Generator
) -> list[tuple[str, np.ndarray, tuple[float, float, float]]]:
    pos = room.noise_pos[noise]
    if noise == "babble":
        voices = rng.choice(len(sp.SPEAKERS), size=len(pos), replace=False)
        return [
            (noise, sp.talk_continuously(n, sp.SPEAKERS[int(v)], rng), p)
            for v, p in zip(voices, pos, strict=True)
        ]
    if noise == "rain":
        return [(noise, sp.rain(n, rng), p) for p in pos]
    return [(noise, sp.POINT_NOISES[noise](n, rng), pos[0])]


def _loudspeaker(x: np.ndarray) -> np.ndarray:
    delayed = np.concatenate([np.zeros(int(PLAYOUT_LATENCY_S * FS)), x])[: x.size]
    return np.asarray(np.tanh(1.5 * delayed) / 1.5)


def _labels(room: Room, script: Script, rirs: list, n: int) -> np.ndarray:
    frames = n // FRAME
    talkers = len(room.talkers)
    energy = np.zeros((talkers + 2, frames))
    for i in range(talkers):
        dry = np.zeros(n)
        for who, start, x in script.near:
            if who == i:
                _add(dry, int(start * FS), x)
        energy[i] = _frame_energy(np.roll(dry, int(np.argmax(np.abs(rirs[0][i])))), frames)
    lag = int(np.argmax(np.abs(rirs[0][talkers]))) + int(PLAYOUT_LATENCY_S * FS)
    energy[talkers] = _frame_energy(np.roll(script.far, lag), frames)
    energy[talkers + 1] = _frame_energy(np.roll(script.far_continuous, lag), frames)
    active = energy > 1e-4 * np.max(energy, axis=1, keepdims=True)
    near = active[:talkers].any(axis=0)
    talker = np.where(near, np.argmax(energy[:talkers], axis=0), -1)
    return np.stack([near, talker, active[talkers], active[talkers + 1]]).astype(np.int16)


def _frame_energy(x: np.ndarray, frames: int) -> np.ndarray:
    return np.asarray(np.mean(x[: frames * FRAME].reshape(frames, FRAME) ** 2, axis=1))


def load(room: Room, array: ArraySpec, duration_s: float, cache: Path) -> dict[str, np.ndarray]:
    """Images from ``cache`` when present, else rendered and stored there."""
    key = hashlib.sha1(f"{VERSION}-{room.seed}-{array}-{duration_s}".encode()).hexdigest()[:12]
    path = cache / f"room{room.seed}-{array.name}-{key}.npz"
    if path.exists():
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    images = render(room, array, duration_s)
    cache.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **images)
    tmp.rename(path)
    return images


@dataclass(frozen=True)
class RoomClip:
    """One condition of one room, shaped like ``_voice_corpus.Clip`` plus the room's layout.

    ``noise`` is a noise name, ``echo`` (the sparse far end; ``snr_db`` is then the near
    speech-to-echo ratio) or ``continuous`` (a far end that never pauses, same ratio).
    """

    name: str
    array: ArraySpec
    noise: str
    snr_db: float
    mics: np.ndarray
    ref: np.ndarray
    labels: Labels
    talker_angles: tuple[float, ...]
    rate: int
    zones: tuple[tuple[str, float, float], ...]
    exclusion: tuple[tuple[float, float], ...]
    room: Room


def conditions(room: Room) -> list[tuple[str, float]]:
    """The conditions scored for ``room``: both its noises at 10 and 5 dB (the first also at
    20 and 0 dB), the sparse far end at 10 and 0 dB, the continuous far end at 10 and 0 dB."""
    first, second = room.noises
    out = [(first, s) for s in (20.0, 10.0, 5.0, 0.0)] + [(second, s) for s in (10.0, 5.0)]
    return out + [("echo", 10.0), ("echo", 0.0), ("continuous", 10.0), ("continuous", 0.0)]


def mix(room: Room, images: dict[str, np.ndarray], array: ArraySpec, noise: str, snr: float):
    """One condition of ``room`` as a ``RoomClip``."""
    lab = images["labels"]
    cont = noise == "continuous"
    echo_lab = lab[3 if cont else 2].astype(bool) if noise in ("echo", "continuous") else None
    labels = Labels(lab[0].astype(bool), lab[1].astype(int),
                    echo_lab if echo_lab is not None else np.zeros(lab.shape[1], bool))  # fmt: skip
    near = sum(images[f"talker{i}"] for i in range(len(room.talkers)))
    mask = np.repeat(labels.near, FRAME)
    p_speech = float(np.mean(near[: mask.size, 0][mask] ** 2))
    if echo_lab is not None:
        far = images["farcont" if cont else "far"]
        emask = np.repeat(echo_lab, FRAME)
        p_far = float(np.mean(far[: emask.size, 0][emask] ** 2)) if emask.any() else 1.0
        bg = images[room.noises[0]]
        bg = bg * math.sqrt(p_speech / np.mean(bg[:, 0] ** 2) / 10**3.0)  # noise 30 dB down
        noisy = far * math.sqrt(p_speech / p_far / 10 ** (snr / 10)) + bg
        ref = images["refcont" if cont else "ref"]
    else:
        p_noise = float(np.mean(images[noise][:, 0] ** 2))
        noisy = images[noise] * math.sqrt(p_speech / p_noise / 10 ** (snr / 10))
        ref = np.zeros_like(images["ref"])
    gain = 10 ** (SPEECH_DBFS / 20) / math.sqrt(p_speech)
    rng = np.random.default_rng([room.seed, 55])
    sensor = rng.standard_normal(near.shape) * 10 ** (-80 / 20)
    mics = ((near + noisy) * gain + sensor).astype(np.float32)
    return RoomClip(
        f"room{room.seed}/{array.name}/{noise}/{snr:g}dB", array, noise, snr, mics,
        ref.astype(np.float32), labels, room.talker_angles, FS, zones_of(room),
        exclusion_of(room), room,
    )  # fmt: skip


def zones_of(room: Room) -> tuple[tuple[str, float, float], ...]:
    """One zone per seat, +-ZONE_HALF_DEG around it: what an installer sets up."""
    return tuple(
        (f"seat{i}", a - ZONE_HALF_DEG, a + ZONE_HALF_DEG) for i, a in enumerate(room.talker_angles)
    )


def exclusion_of(room: Room) -> tuple[tuple[float, float], ...]:
    """The TV's direction +-EXCLUSION_HALF_DEG: what an installer marks as never followed."""
    return ((room.tv_angle - EXCLUSION_HALF_DEG, room.tv_angle + EXCLUSION_HALF_DEG),)

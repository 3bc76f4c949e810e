"""Dry sources at 16 kHz for the drawn-rooms corpus: two speech synthesizers and six noises.

No recordings of real Vietnamese or English speech are available offline on this machine, so
speech comes from two different synthetic models:
  * espeak-ng (formant synthesis): Vietnamese (northern, central, southern) and English voices;
  * flite (CMU Flite: clustergen statistical-parametric and diphone voices): English.
Noises: ceiling fan, babble (background talkers from both synthesizers), TV music, street
traffic, rain on a tin roof, generator hum. Everything is seeded and float64 mono at ``FS``.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass

import numpy as np
from scipy import signal

from bench import _voice_sources as src48

FS = 16000


@dataclass(frozen=True)
class Speaker:
    """A synthetic voice: ``engine`` espeak|flite, its voice name, speed and pitch."""

    engine: str
    voice: str
    speed: int = 160
    pitch: int = 50

    @property
    def lang(self) -> str:
        return "en" if self.engine == "flite" or self.voice.startswith("en") else "vi"


SPEAKERS = (
    Speaker("espeak", "vi+m3", 150, 45),
    Speaker("espeak", "vi-vn-x-central+f2", 160, 60),
    Speaker("espeak", "vi-vn-x-south+m1", 145, 40),
    Speaker("espeak", "vi+f4", 155, 62),
    Speaker("espeak", "vi-vn-x-central+m7", 140, 35),
    Speaker("espeak", "en-us+f3", 155, 55),
    Speaker("espeak", "en-gb+m2", 160, 45),
    Speaker("flite", "slt"),
    Speaker("flite", "rms"),
    Speaker("flite", "awb"),
    Speaker("flite", "kal16"),
)


def texts(lang: str) -> tuple[str, ...]:
    return src48.EN_SENTENCES if lang == "en" else src48.VI_SENTENCES


@functools.lru_cache(maxsize=512)
def _say(text: str, speaker: Speaker) -> bytes:
    if speaker.engine == "flite":
        exe = _exe("flite")
        cmd = [exe, "-voice", speaker.voice, "-t", text, "-o", "/dev/stdout"]
    else:
        exe = _exe("espeak-ng")
        cmd = [exe, "-v", speaker.voice, "-s", str(speaker.speed), "-p", str(speaker.pitch)]
        cmd += ["--stdout", text]
    return subprocess.run(cmd, check=True, capture_output=True).stdout


def _exe(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        raise RuntimeError(f"{name} is not installed (scripts/setup.sh installs it)")
    return exe


def speech(text: str, speaker: Speaker) -> np.ndarray:
    """``text`` spoken by ``speaker`` at FS, trimmed, peak 0.5."""
    with wave.open(io.BytesIO(_say(text, speaker))) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    x = pcm.astype(np.float64) / 32768.0
    if rate != FS:
        g = np.gcd(rate, FS)
        x = signal.resample_poly(x, FS // g, rate // g)
    nz = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[nz[0] : nz[-1] + 1] if nz.size else x
    return np.asarray(0.5 * x / max(float(np.max(np.abs(x))), 1e-9))


def _norm(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / max(float(np.std(x)), 1e-12))


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    spec /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / FS), 20.0))
    return _norm(np.fft.irfft(spec, n))


def fan(n: int, rng: np.random.Generator) -> np.ndarray:
    """Ceiling fan: low-passed pink noise, mains hum, blade modulation."""
    t = np.arange(n) / FS
    sos = signal.butter(2, float(rng.uniform(1500, 3500)), "low", fs=FS, output="sos")
    broad = signal.sosfilt(sos, pink(n, rng)) * (1 + 0.2 * np.sin(2 * np.pi * 3.7 * t))
    hum = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f, a in src48._HUM)
    return _norm(broad + 0.6 * hum)


def music(n: int, rng: np.random.Generator) -> np.ndarray:
    """TV music (the 48 kHz synthesizer, brought down to FS)."""
    x = src48.music(3 * n, rng)
    return _norm(signal.resample_poly(x, 1, 3)[:n])


def traffic(n: int, rng: np.random.Generator) -> np.ndarray:
    """Street traffic through a window: low rumble plus vehicles passing every few seconds."""
    t = np.arange(n) / FS
    sos = signal.butter(2, 400, "low", fs=FS, output="sos")
    out = 0.3 * signal.sosfilt(sos, pink(n, rng))
    at = -rng.uniform(0, 4)
    while at < n / FS:
        width = rng.uniform(1.0, 3.0)
        env = np.exp(-(((t - at) / width) ** 2))
        cut = float(rng.uniform(600, 2500))
        sos_v = signal.butter(2, cut, "low", fs=FS, output="sos")
        engine = np.sin(2 * np.pi * rng.uniform(30, 90) * t) * 0.3
        out += rng.uniform(0.5, 2.0) * env * (signal.sosfilt(sos_v, pink(n, rng)) + engine)
        if rng.random() < 0.15:  # a horn
            out += 0.5 * env * np.sign(np.sin(2 * np.pi * rng.uniform(350, 500) * t))
        at += rng.uniform(1.5, 6.0)
    return _norm(out)


def rain(n: int, rng: np.random.Generator) -> np.ndarray:
    """Rain on a tin roof: dense bright drop impacts, ringing sheet-metal modes, a hiss."""
    drops = np.zeros(n)
    count = int(n / FS * rng.uniform(300, 1200))
    idx = rng.integers(0, n, count)
    np.add.at(drops, idx, rng.exponential(1.0, count) * rng.choice([-1, 1], count))
    ring = np.zeros(int(0.03 * FS))
    k = np.arange(ring.size) / FS
    for f in rng.uniform(800, 5000, 6):
        ring += np.sin(2 * np.pi * f * k) * np.exp(-k / 0.006)
    hiss = signal.sosfilt(signal.butter(2, 2000, "high", fs=FS, output="sos"), pink(n, rng))
    swell = 1 + 0.3 * np.sin(2 * np.pi * np.arange(n) / FS / rng.uniform(5, 15))
    return _norm((_norm(signal.oaconvolve(drops, ring)[:n]) + 0.5 * hiss) * swell)


def generator(n: int, rng: np.random.Generator) -> np.ndarray:
    """A diesel generator outside: firing harmonics (~12-25 Hz), alternator hum, exhaust."""
    t = np.arange(n) / FS
    f0 = float(rng.uniform(12.0, 25.0)) * (1 + 0.01 * np.sin(2 * np.pi * 0.3 * t))
    phase = 2 * np.pi * np.cumsum(f0) / FS
    engine = sum(np.sin(k * phase + rng.uniform(0, 6)) / k**0.7 for k in range(1, 40))
    hum = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3, 4, 6))
    sos = signal.butter(2, 800, "low", fs=FS, output="sos")
    exhaust = signal.sosfilt(sos, pink(n, rng))
    return _norm(_norm(engine) + 0.5 * _norm(hum) + 0.4 * exhaust)


def talk_continuously(n: int, speaker: Speaker, rng: np.random.Generator) -> np.ndarray:
    """One background talker speaking on and on (short pauses only)."""
    out = np.zeros(n)
    pos = -int(rng.uniform(0, 3.0) * FS)
    pool = texts(speaker.lang)
    while pos < n:
        x = speech(str(rng.choice(pool)), speaker)
        src48._add(out, pos, x)
        pos += x.size + int(rng.uniform(0.1, 0.5) * FS)
    return _norm(out)


POINT_NOISES = {"fan": fan, "music": music, "traffic": traffic, "generator": generator}

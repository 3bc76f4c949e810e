"""Dry source signals for the voice-director corpus: espeak-ng speech, fan, babble, music.

Everything is seeded; nothing here touches the room. Signals are float64 mono at ``FS``.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import wave
from dataclasses import dataclass

import numpy as np
from scipy import signal

FS = 48000

VI_SENTENCES = (
    "Xin chào các đồng chí, hôm nay chúng ta họp về kế hoạch thủy lợi của xã.",
    "Đề nghị các thôn báo cáo tiến độ làm đường giao thông nông thôn.",
    "Vụ lúa đông xuân năm nay năng suất đạt khá, bà con rất phấn khởi.",
    "Chúng tôi kiến nghị huyện hỗ trợ thêm kinh phí sửa chữa trường học.",
    "Về công tác phòng chống lụt bão, xã đã chuẩn bị đủ vật tư.",
    "Tôi xin phát biểu ý kiến về việc cấp giấy chứng nhận quyền sử dụng đất.",
    "Trạm y tế xã cần thêm một bác sĩ và thuốc men cho mùa mưa.",
    "Thôn Đông đã hoàn thành chỉ tiêu trồng rừng trước thời hạn.",
    "Đồng chí chủ tịch cho ý kiến chỉ đạo về dự án nước sạch.",
    "Vâng, tôi đồng ý với ý kiến của đồng chí bí thư.",
    "Xin cảm ơn, tôi nghe rõ, xin mời thôn tiếp theo báo cáo.",
    "Giá phân bón tăng cao nên bà con gặp nhiều khó khăn.",
)
EN_SENTENCES = (
    "Good morning everyone, can you hear us clearly in the district hall?",
    "We will now review the irrigation budget for the coming season.",
    "The road repair in the northern hamlet is about eighty percent complete.",
    "Please send the written report to the district office by Friday.",
    "Thank you, the next commune may now present its results.",
)


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: language, variant, speed (wpm) and pitch (0-99)."""

    lang: str
    variant: str
    speed: int
    pitch: int

    @property
    def name(self) -> str:
        return f"{self.lang}+{self.variant}"


NEAR_VOICES = (
    Voice("vi", "m3", 150, 45),
    Voice("vi-vn-x-central", "f2", 160, 60),
    Voice("vi-vn-x-south", "m1", 145, 40),
    Voice("en-us", "f3", 155, 55),
)
FAR_VOICE = Voice("vi-vn-x-south", "f4", 155, 55)
BABBLE_VOICES = (
    Voice("vi", "m2", 170, 50),
    Voice("vi-vn-x-central", "m4", 165, 35),
    Voice("vi", "f1", 175, 65),
    Voice("en-gb", "m7", 170, 45),
    Voice("vi-vn-x-south", "f5", 170, 60),
)


def espeak(text: str, voice: Voice) -> np.ndarray:
    """Synthesize ``text`` with espeak-ng, resampled to FS, trimmed, peak 0.5."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise RuntimeError("espeak-ng is not installed (apt-get install espeak-ng)")
    cmd = [exe, "-v", voice.name, "-s", str(voice.speed), "-p", str(voice.pitch), "--stdout", text]
    raw = subprocess.run(cmd, check=True, capture_output=True).stdout
    with wave.open(io.BytesIO(raw)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    x = signal.resample_poly(pcm.astype(np.float64) / 32768.0, FS // 50, rate // 50)
    nz = np.flatnonzero(np.abs(x) > 1e-3)
    x = x[nz[0] : nz[-1] + 1] if nz.size else x
    return 0.5 * x / max(float(np.max(np.abs(x))), 1e-9)


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / FS)
    spec /= np.sqrt(np.maximum(f, 20.0))
    x = np.fft.irfft(spec, n)
    return x / np.std(x)


def fan_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Ceiling-fan noise: pink broadband, 50 Hz mains hum and slow blade modulation."""
    t = np.arange(n) / FS
    sos = signal.butter(2, 3000, "low", fs=FS, output="sos")
    broad = signal.sosfilt(sos, pink_noise(n, rng))
    hum = sum(a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6)) for f, a in _HUM)
    blade = 1.0 + 0.2 * np.sin(2 * np.pi * 3.7 * t)
    x = broad * blade + 0.6 * hum
    return x / np.std(x)


_HUM = ((50.0, 1.0), (100.0, 0.5), (150.0, 0.3), (250.0, 0.1))


def _tone(freq: float, dur: float, rng: np.random.Generator, bright: float) -> np.ndarray:
    n = int(dur * FS)
    t = np.arange(n) / FS
    vib = 1 + 0.004 * np.sin(2 * np.pi * 5.5 * t + rng.uniform(0, 6))
    phase = 2 * np.pi * np.cumsum(freq * vib) / FS
    x = sum(np.sin(k * phase) * bright**k / k for k in range(1, 9))
    env = np.minimum(1.0, t / 0.02) * np.exp(-t / max(dur * 0.8, 0.05))
    return np.asarray(x * env)


def music(n: int, rng: np.random.Generator) -> np.ndarray:
    """TV music: chords, a pentatonic melody, bass, kick and hi-hat at 96 bpm."""
    out = np.zeros(n + FS)
    beat = 60.0 / 96.0
    chords = ((60, 64, 67), (67, 71, 74), (69, 72, 76), (65, 69, 72))
    penta = (72, 74, 76, 79, 81, 84)
    b = 0
    while b * beat * FS < n:
        at = int(b * beat * FS)
        chord = chords[(b // 4) % 4]
        for note in chord if b % 2 == 0 else ():
            _add(out, at, 0.25 * _tone(_hz(note), 2 * beat, rng, 0.5))
        _add(out, at, 0.5 * _tone(_hz(chord[0] - 24), beat, rng, 0.3))
        for half in (0, 1):
            if rng.random() < 0.8:
                dur = beat / 2 * rng.choice([1, 1, 2])
                note = int(rng.choice(penta))
                _add(out, at + int(half * beat / 2 * FS), 0.4 * _tone(_hz(note), dur, rng, 0.7))
            _add(out, at + int(half * beat / 2 * FS), _hihat(rng))
        if b % 2 == 0:
            _add(out, at, _kick())
        b += 1
    x = out[:n] * (1 + 0.3 * np.sin(2 * np.pi * np.arange(n) / FS / 9.0))
    return x / np.std(x)


def _hz(midi: int) -> float:
    return float(440.0 * 2 ** ((midi - 69) / 12))


def _hihat(rng: np.random.Generator) -> np.ndarray:
    n = int(0.04 * FS)
    sos = signal.butter(2, 7000, "high", fs=FS, output="sos")
    return np.asarray(
        0.15 * signal.sosfilt(sos, rng.standard_normal(n)) * np.exp(-np.arange(n) / (0.01 * FS))
    )


def _kick() -> np.ndarray:
    t = np.arange(int(0.15 * FS)) / FS
    return np.asarray(
        0.8
        * np.sin(2 * np.pi * (50 * t + 100 * (1 - np.exp(-t / 0.03)) * 0.03))
        * np.exp(-t / 0.05)
    )


def _add(out: np.ndarray, at: int, x: np.ndarray) -> None:
    if at < 0:
        x, at = x[-at:], 0
    end = min(out.size, at + x.size)
    if at < end:
        out[at:end] += x[: end - at]


def babble_track(n: int, voice: Voice, rng: np.random.Generator) -> np.ndarray:
    """One background talker speaking continuously (short pauses only)."""
    out = np.zeros(n)
    pos = -int(rng.uniform(0, 3.0) * FS)
    pool = VI_SENTENCES + EN_SENTENCES if voice.lang.startswith("en") else VI_SENTENCES
    while pos < n:
        x = espeak(str(rng.choice(pool)), voice)
        _add(out, pos, x)
        pos += x.size + int(rng.uniform(0.1, 0.5) * FS)
    return out / max(float(np.std(out)), 1e-9)

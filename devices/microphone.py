"""Microphones: a sounddevice capture and a synthetic stand-in (tone, voice, WAV).

``read(count)`` always returns *count* mono float32 samples at ``sample_rate``;
the caller paces itself by the clock, so a real device and the stand-in behave alike.
"""

from __future__ import annotations

import logging
import wave
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import sounddevice as sd

from devices import _sd
from devices._ring import AudioRing, Samples

log = logging.getLogger(__name__)

RATE = 48000


class Microphone(Protocol):
    sample_rate: int

    @property
    def error(self) -> str | None: ...

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def read(self, count: int) -> Samples: ...


class SyntheticMicrophone:
    """A tone, a voice-like signal, or a looped WAV file; deterministic."""

    def __init__(
        self,
        tone_hz: float = 440.0,
        *,
        voice: bool = False,
        wav: str | Path | None = None,
        level: float = 0.3,
        sample_rate: int = RATE,
    ) -> None:
        self.sample_rate = sample_rate
        self.tone_hz, self.voice, self.level = tone_hz, voice, level
        self._loop = load_wav(wav, sample_rate) if wav else None
        self._pos = 0

    @property
    def error(self) -> str | None:
        return None

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def read(self, count: int) -> Samples:
        t: npt.NDArray[np.float64] = (self._pos + np.arange(count)) / self.sample_rate
        self._pos += count
        if self._loop is not None:
            return self._loop[(self._pos - count + np.arange(count)) % len(self._loop)]
        if self.voice:
            return voice_like(t) * np.float32(self.level)
        return (np.sin(2 * np.pi * self.tone_hz * t) * self.level).astype(np.float32)


def voice_like(t: npt.NDArray[np.float64]) -> Samples:
    """A vowel-ish harmonic signal with syllable rhythm and pauses (not speech)."""
    f0 = 130.0 + 12.0 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / RATE if t.size else t
    harmonics = sum(
        np.sin(k * phase) * np.exp(-(((k * 130.0) - 700.0) ** 2) / 2.0e5) / k for k in range(1, 16)
    )
    syllables = np.clip(np.sin(2 * np.pi * 4.0 * t), 0.0, None) ** 0.5
    phrases = (np.mod(t, 4.0) < 3.0).astype(np.float32)
    out = harmonics * syllables * phrases
    return np.asarray(out / 1.2, dtype=np.float32)


def load_wav(path: str | Path, sample_rate: int = RATE) -> Samples:
    """A 16-bit PCM WAV as mono float32, resampled (linearly) to *sample_rate*."""
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM WAV is supported")
        raw = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        data = raw.reshape(-1, wav.getnchannels()).mean(axis=1) / 32768.0
        rate = wav.getframerate()
    if rate != sample_rate and len(data) > 1:
        positions = np.arange(int(len(data) * sample_rate / rate)) * rate / sample_rate
        data = np.interp(positions, np.arange(len(data)), data)
    if len(data) == 0:
        raise ValueError(f"{path}: no audio")
    return np.asarray(data, dtype=np.float32)


class SoundDeviceMicrophone(_sd.StreamDevice):
    """Capture from a sound device through a PortAudio callback into a bounded ring."""

    MAX_LATENCY = 0.2

    def __init__(self, device: str, sample_rate: int = RATE) -> None:
        super().__init__(device)
        self.sample_rate = sample_rate
        self._ring = AudioRing(sample_rate // 2)

    def start(self) -> None:
        self._open(sd.InputStream, "input", self.sample_rate, 1)

    def _callback(self, data: Any, frames: int, when: Any, status: Any) -> None:
        self._ring.write(data[:, 0])

    def read(self, count: int) -> Samples:
        self._ring.trim(count + int(self.MAX_LATENCY * self.sample_rate))
        out = self._ring.read(count)
        if len(out) < count:
            out = np.concatenate([out, np.zeros(count - len(out), np.float32)])
        return out


def open_microphone(device: str, tone_hz: float = 440.0, wav: str | None = None) -> Microphone:
    """The microphone a config names: ``synthetic`` or a sound device name."""
    if device == "synthetic":
        return SyntheticMicrophone(tone_hz, wav=wav)
    return SoundDeviceMicrophone(device)

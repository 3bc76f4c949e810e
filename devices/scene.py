"""Scripted room scenes for the microphone-array stand-in (demo, self-test, tests).

A scene is a list of sounds, each from a direction and a time; it renders to the
multichannel signal a circular array would pick up (far-field plane waves with exact
fractional delays) plus light room noise, and to the matching playout reference for
sounds that come out of the room's own loudspeakers. Speech comes from espeak-ng when
it is installed, otherwise from a voice-like synthetic signal.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from devices.microphone import load_wav, voice_like

RATE = 48000
SPEED_OF_SOUND = 343.0
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Sound:
    """*samples* (mono) from *angle_deg* at *start_s*; far_end: out of the room's loudspeakers."""

    samples: F32
    angle_deg: float
    start_s: float
    far_end: bool = False


def speech(text: str, voice: str = "vi", level: float = 0.25) -> F32:
    """Spoken *text* at 48 kHz (espeak-ng), or a voice-like signal of similar length."""
    if shutil.which("espeak-ng"):
        with tempfile.TemporaryDirectory() as folder:
            wav = Path(folder) / "speech.wav"
            subprocess.run(["espeak-ng", "-v", voice, "-w", str(wav), text], check=True,
                           capture_output=True, timeout=30)  # fmt: skip
            samples = load_wav(wav, RATE)
    else:
        samples = voice_like(np.arange(int(0.08 * len(text) * RATE)) / RATE)
    peak = float(np.max(np.abs(samples))) or 1.0
    return (samples / peak * level).astype(np.float32)


def mic_positions(mics: int, radius_m: float) -> npt.NDArray[np.float64]:
    angles = 2 * np.pi * np.arange(mics) / mics
    return np.stack([radius_m * np.cos(angles), radius_m * np.sin(angles)], axis=1)


def _arrive(samples: F32, angle_deg: float, positions: npt.NDArray[np.float64]) -> F32:
    """The plane wave from *angle_deg* at each microphone (fractional delays via FFT)."""
    direction = np.array([math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))])
    advance = positions @ direction / SPEED_OF_SOUND  # mics nearer the source hear it earlier
    size = len(samples) + 64
    spectrum = np.fft.rfft(samples, size)
    freqs = np.fft.rfftfreq(size, 1 / RATE)
    out = [
        np.fft.irfft(spectrum * np.exp(2j * np.pi * freqs * (a + 0.0005)), size) for a in advance
    ]
    return np.stack(out, axis=1)[: len(samples)].astype(np.float32)


def render(
    sounds: list[Sound], seconds: float, mics: int = 4, radius_m: float = 0.045,
    noise_dbfs: float = -60.0, seed: int = 1,
) -> tuple[F32, F32]:  # fmt: skip
    """(mics: frames × channels, reference: frames) for the scene."""
    frames = int(seconds * RATE)
    rng = np.random.default_rng(seed)
    out = rng.standard_normal((frames, mics)).astype(np.float32) * np.float32(
        10 ** (noise_dbfs / 20)
    )
    ref = np.zeros(frames, np.float32)
    positions = mic_positions(mics, radius_m)
    for sound in sounds:
        start = int(sound.start_s * RATE)
        clip = sound.samples[: max(0, frames - start)]
        out[start : start + len(clip)] += _arrive(clip, sound.angle_deg, positions)
        if sound.far_end:
            ref[start : start + len(clip)] += clip
    return out, ref

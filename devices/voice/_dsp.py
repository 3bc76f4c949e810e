"""Small streaming DSP pieces shared by the gate and the DOA: decimation, spectra, bands."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
C128 = npt.NDArray[np.complex128]

RATE = 16000
FRAME = 160  # 10 ms at 16 kHz
NFFT = 512  # 32 ms analysis window, 10 ms hop
_TAPS = 96


def _lowpass_taps(cutoff: float, rate: float, taps: int) -> F64:
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff / rate * n) * np.blackman(taps)
    return np.asarray(h / h.sum(), dtype=np.float64)


class Decimator:
    """48 kHz -> 16 kHz, streaming, any channel count (windowed-sinc FIR, cutoff 7.2 kHz)."""

    def __init__(self, channels: int) -> None:
        self._h = _lowpass_taps(7200.0, 48000.0, _TAPS)[::-1].copy()
        self._tail = np.zeros((_TAPS - 1, channels))
        self._phase = 0

    def process(self, block: npt.NDArray[np.floating]) -> F64:
        """``block`` (n, channels) at 48 kHz -> (m, channels) at 16 kHz."""
        x = np.concatenate([self._tail, block.astype(np.float64)], axis=0)
        self._tail = x[-(_TAPS - 1) :]
        win = np.lib.stride_tricks.sliding_window_view(x, _TAPS, axis=0)
        picked = win[self._phase :: 3]
        self._phase = (self._phase - block.shape[0]) % 3
        return np.asarray(picked @ self._h, dtype=np.float64)


class Framer:
    """Keeps the last NFFT samples of each channel and returns their windowed spectrum."""

    def __init__(self, channels: int) -> None:
        self._buf = np.zeros((NFFT, channels))
        self._win = np.hanning(NFFT)[:, None]

    def push(self, frame: F64) -> C128:
        """Add a (FRAME, channels) frame; return rfft (NFFT//2+1, channels)."""
        n = frame.shape[0]
        self._buf = np.concatenate([self._buf[n:], frame], axis=0)
        return np.asarray(np.fft.rfft(self._buf * self._win, axis=0), dtype=np.complex128)


def band_matrix(lo_hz: float, hi_hz: float, bands: int) -> F64:
    """(bands, NFFT//2+1) 0/1 matrix summing bins into log-spaced bands."""
    freqs = np.fft.rfftfreq(NFFT, 1 / RATE)
    edges = np.geomspace(lo_hz, hi_hz, bands + 1)
    m = np.zeros((bands, freqs.size))
    for b in range(bands):
        m[b, (freqs >= edges[b]) & (freqs < edges[b + 1])] = 1.0
    empty = m.sum(axis=1) == 0
    if empty.any():
        idx = np.searchsorted(freqs, edges[:-1][empty])
        m[np.flatnonzero(empty), np.minimum(idx, freqs.size - 1)] = 1.0
    return m


def to_int16_bytes(x: F64) -> bytes:
    return bytes(np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2").tobytes())


def db(x: npt.ArrayLike) -> F64:
    return np.asarray(10.0 * np.log10(np.maximum(x, 1e-20)), dtype=np.float64)

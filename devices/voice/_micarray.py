"""Microphone-array sources: the interface and the scripted stand-in.

``ScriptedMicArray`` plays a multichannel recording (a WAV file or an array) as 10 ms blocks,
with the matching playout reference, so the demo, the self-test and the tests drive the voice
pipeline exactly as the real array would. Time is the block's own timestamp (start + n * 10 ms),
not the wall clock.
"""

from __future__ import annotations

import logging
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class MicBlock:
    """One capture block: ``mics`` (frames, channels) and ``ref`` (frames,) float32 in [-1, 1]."""

    t: float
    mics: F32
    ref: F32
    rate: int


class MicArraySource(Protocol):
    """What the voice pipeline needs from a microphone array (real or scripted).

    A source may say ``carries_reference = False`` (a live capture): its blocks' ``ref`` is not
    the loudspeakers' playout, so without a separate playout ring the gate cannot decide.
    """

    @property
    def rate(self) -> int: ...

    @property
    def channels(self) -> int: ...

    def blocks(self) -> Iterator[MicBlock]: ...


class ScriptedMicArray:
    """Plays ``mics`` (frames, channels) and optional ``ref`` (frames,) as 10 ms blocks."""

    carries_reference = True  # a recording without a reference channel had no far end playing

    def __init__(
        self, mics: npt.ArrayLike, rate: int, ref: npt.ArrayLike | None = None, start: float = 0.0
    ) -> None:
        arr = np.asarray(mics, dtype=np.float32)
        self._mics = arr.reshape(-1, 1) if arr.ndim == 1 else arr
        if self._mics.ndim != 2 or self._mics.shape[0] < self._mics.shape[1]:
            raise ValueError(f"mics shape {arr.shape}: expected (frames, channels)")
        n = self._mics.shape[0]
        self._ref = np.zeros(n, np.float32) if ref is None else np.asarray(ref, np.float32)
        if self._ref.shape != (n,):
            raise ValueError(f"ref shape {self._ref.shape}: expected ({n},)")
        self._rate = rate
        self._start = start

    @classmethod
    def from_wav(cls, path: Path, ref_path: Path | None = None) -> ScriptedMicArray:
        """A multichannel 16-bit or float WAV file, optionally with a mono reference WAV."""
        mics, rate = read_wav(path)
        ref = None
        if ref_path is not None:
            ref_all, ref_rate = read_wav(ref_path)
            if ref_rate != rate:
                raise ValueError(f"{ref_path}: {ref_rate} Hz, mic recording is {rate} Hz")
            ref = np.resize(ref_all[:, 0], mics.shape[0])
        return cls(mics, rate, ref)

    @property
    def rate(self) -> int:
        return self._rate

    @property
    def channels(self) -> int:
        return int(self._mics.shape[1])

    @property
    def duration_s(self) -> float:
        return float(self._mics.shape[0]) / self._rate

    def blocks(self) -> Iterator[MicBlock]:
        step = self._rate // 100
        for k, at in enumerate(range(0, self._mics.shape[0] - step + 1, step)):
            end = at + step
            yield MicBlock(self._start + k / 100, self._mics[at:end], self._ref[at:end], self._rate)


@dataclass(frozen=True)
class WavFormat:
    """What a WAV file's header says: sample rate, channels and length in frames."""

    rate: int
    channels: int
    frames: int


def wav_format(path: Path) -> WavFormat:
    """The header of a 16-bit PCM WAV file; ``ValueError`` for anything :func:`read_wav` refuses."""
    try:
        with wave.open(str(path), "rb") as w:
            found = WavFormat(w.getframerate(), w.getnchannels(), w.getnframes())
            width = w.getsampwidth()
    except (wave.Error, EOFError, OSError) as err:
        raise ValueError(f"{path}: not a readable WAV file ({err})") from err
    if width != 2:
        raise ValueError(f"{path}: {8 * width}-bit samples, expected 16-bit PCM")
    return found


def read_wav(path: Path) -> tuple[F32, int]:
    """(frames, channels) float32 and the rate of a 16-bit PCM WAV file."""
    wav_format(path)
    with wave.open(str(path), "rb") as w:
        raw = w.readframes(w.getnframes())
        data = np.frombuffer(raw, dtype="<i2").reshape(-1, w.getnchannels())
        return (data.astype(np.float32) / 32768.0), w.getframerate()


def write_wav(path: Path, data: npt.ArrayLike, rate: int) -> None:
    """Write (frames, channels) float samples in [-1, 1] as 16-bit PCM."""
    x = np.atleast_2d(np.asarray(data, dtype=np.float64))
    if x.shape[0] < x.shape[1]:
        x = x.T
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(pcm.shape[1])
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())

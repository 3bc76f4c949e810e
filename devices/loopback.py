"""Speakers to microphones: play a short chirp on the room speakers, find it on the mics.

:class:`SoundDeviceLoop` plays and records on the real devices at once;
:class:`SimulatedRoomPath` is its stand-in: the room's acoustic path from the loudspeaker to
each microphone of the array (output latency, distance, level, a reverberant tail, room
noise), seeded, with a switch for a dead speaker or amplifier. :func:`check_loopback`
finds the chirp by matched filtering and reports delay, level and the waveform.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import sounddevice as sd

from devices import _sd
from devices._verdict import CheckResult, Hint, Verdict, finding, passed

RATE = 48000
CHIRP_S = 0.3
TAIL_S = 0.5
FOUND_DB = 26.0  # matched-filter peak over its median (noise alone reaches ~17 dB)
QUIET_DBFS = -55.0
SLOW_S = 0.35

F32 = npt.NDArray[np.float32]

HINTS = {
    "none": Hint(
        "Không nghe thấy loa — kiểm tra nguồn và dây âm ly",
        "The speakers cannot be heard — check the amplifier's power and cables",
    ),
    "some": Hint(
        "Chỉ một số micro nghe thấy loa — kiểm tra dãy micro và vị trí loa",
        "Only some microphones hear the speakers — check the array and speaker placement",
    ),
    "quiet": Hint(
        "Loa quá nhỏ — tăng âm lượng âm ly hoặc âm lượng trong cấu hình",
        "The speakers are too quiet — turn the amplifier or the configured volume up",
    ),
    "slow": Hint(
        "Âm thanh trễ nhiều — kiểm tra cấu hình âm thanh (bộ khử vọng, thiết bị ra)",
        "The audio path is slow — check the audio set-up (echo canceller, output device)",
    ),
    "device": Hint(
        "Không mở được loa hoặc micro — kiểm tra dây cắm và chọn lại thiết bị",
        "Cannot open the speaker or microphone — check cables and the device choice",
    ),
}


class AcousticPath(Protocol):
    """Plays *signal* (mono) on the room speakers and returns what the microphones heard,
    from the start of playback: (frames, channels), at least ``len(signal)/rate + tail_s``."""

    def play_and_record(self, signal: F32, rate: int, tail_s: float) -> F32: ...


def chirp(rate: int = RATE, seconds: float = CHIRP_S, level: float = 0.25) -> F32:
    """A logarithmic sweep 300 Hz → 6 kHz with 10 ms fades."""
    t = np.arange(int(rate * seconds)) / rate
    f0, f1 = 300.0, 6000.0
    k = np.log(f1 / f0) / seconds
    wave = np.sin(2 * np.pi * f0 * (np.exp(k * t) - 1) / k)
    fade = np.minimum(1.0, np.minimum(t, seconds - t) / 0.01)
    return np.asarray(wave * fade * level, np.float32)


class SimulatedRoomPath:
    """The room between the loudspeaker and an array of *channels* microphones.

    ``speaker_alive=False`` is a dead speaker or an amplifier switched off: the mics
    hear only the room. Deterministic for a given *seed*.
    """

    def __init__(
        self, channels: int = 4, *, speaker_alive: bool = True, latency_s: float = 0.015,
        distance_m: float = 2.5, gain_db: float = -14.0, noise_dbfs: float = -60.0,
        seed: int = 7,
    ) -> None:  # fmt: skip
        self.channels, self.speaker_alive = channels, speaker_alive
        self.latency_s, self.distance_m, self.gain_db = latency_s, distance_m, gain_db
        self.noise_dbfs, self.seed = noise_dbfs, seed

    def _response(self, rate: int, rng: np.random.Generator) -> F32:
        """Direct sound then an exponentially decaying diffuse tail (RT60 ~0.4 s)."""
        n = int(0.25 * rate)
        tail = rng.standard_normal(n) * np.exp(-6.9 * np.arange(n) / (0.4 * rate)) * 0.05
        tail[: int(0.004 * rate)] = 0.0
        tail[0] = 1.0
        return np.asarray(tail, np.float32)

    def play_and_record(self, signal: F32, rate: int, tail_s: float) -> F32:
        rng = np.random.default_rng(self.seed)
        frames = len(signal) + int(tail_s * rate)
        noise = rng.standard_normal((frames, self.channels)) * 10 ** (self.noise_dbfs / 20)
        out = noise.astype(np.float32)
        if self.speaker_alive:
            heard = np.convolve(signal, self._response(rate, rng))[:frames]
            gain = 10 ** (self.gain_db / 20)
            for ch in range(self.channels):
                delay = self.latency_s + (self.distance_m + 0.02 * ch) / 343.0
                start = int(delay * rate)
                clip = heard[: max(0, frames - start)] * gain
                out[start : start + len(clip), ch] += clip
        return out


class SoundDeviceLoop:
    """Play on the speaker device while recording the microphone device (PortAudio)."""

    def __init__(self, speaker: str, microphone: str, channels: int) -> None:
        self.speaker, self.microphone, self.channels = speaker, microphone, channels

    def play_and_record(self, signal: F32, rate: int, tail_s: float) -> F32:
        got: list[F32] = []
        lock = threading.Lock()

        def on_input(data: Any, frames: int, when: Any, status: Any) -> None:
            with lock:
                got.append(np.array(data, dtype=np.float32))

        mic = _sd.open_stream(
            sd.InputStream, self.microphone, "input", samplerate=rate,
            channels=self.channels, dtype="float32", callback=on_input,
        )  # fmt: skip
        try:
            self._play(signal, rate)
            time.sleep(tail_s)
        finally:
            mic.close()
        with lock:
            return np.asarray(
                np.concatenate(got) if got else np.zeros((0, self.channels)), np.float32
            )

    def _play(self, signal: F32, rate: int) -> None:
        out = _sd.open_stream(sd.OutputStream, self.speaker, "output", samplerate=rate,
                              channels=1, dtype="float32")  # fmt: skip
        try:
            out.write(signal.reshape(-1, 1))
        finally:
            out.close()


def _matched(recording: F32, probe: F32) -> npt.NDArray[np.float64]:
    """|cross-correlation| of each channel with *probe*, by lag (frames × channels)."""
    size = 1 << int(np.ceil(np.log2(len(recording) + len(probe))))
    spectrum = np.conj(np.fft.rfft(probe, size))[:, None]
    corr = np.fft.irfft(np.fft.rfft(recording, size, axis=0) * spectrum, size, axis=0)
    return np.abs(corr[: len(recording)])


def _envelope(samples: F32, points: int = 240) -> list[float]:
    """Peak envelope in *points* buckets, for the report's waveform plot."""
    usable = samples[: len(samples) // points * points].reshape(points, -1)
    return [round(float(x), 4) for x in np.max(np.abs(usable), axis=1)]


def check_loopback(path: AcousticPath, rate: int = RATE) -> CheckResult:
    """Play the chirp through *path*; find it on every channel: delay and level."""
    probe = chirp(rate)
    try:
        recording = np.asarray(path.play_and_record(probe, rate, TAIL_S), np.float32)
    except (_sd.AudioDeviceError, sd.PortAudioError) as err:
        return finding("loopback", Verdict.FAIL, f"audio device: {err}", HINTS["device"])
    if recording.ndim == 1:
        recording = recording[:, None]
    if len(recording) < len(probe):
        return finding("loopback", Verdict.FAIL, "nothing recorded", HINTS["device"])
    corr = _matched(recording, probe)
    snr = 20 * np.log10(corr.max(axis=0) / np.maximum(np.median(corr, axis=0), 1e-12))
    lags = corr.argmax(axis=0)
    heard = snr >= FOUND_DB
    best = int(np.argmax(snr))
    result = _loopback_verdict(recording, probe, heard, lags, best, snr, rate)
    series = {"waveform": _envelope(recording[:, best]), "duration_s": len(recording) / rate,
              "chirp_at_s": float(lags[best]) / rate if heard[best] else None}  # fmt: skip
    return CheckResult(**{**result.__dict__, "series": series})


def _loopback_verdict(
    recording: F32, probe: F32, heard: npt.NDArray[np.bool_], lags: npt.NDArray[np.intp],
    best: int, snr: npt.NDArray[np.float64], rate: int,
) -> CheckResult:  # fmt: skip
    metrics: dict[str, Any] = {
        "channels_hearing": int(heard.sum()), "channels": int(len(heard)),
        "snr_db": [round(float(x), 1) for x in snr],
    }  # fmt: skip
    if not heard.any():
        return finding("loopback", Verdict.FAIL, "chirp not found on any microphone",
                       HINTS["none"], **metrics)  # fmt: skip
    delay = float(lags[best]) / rate
    seg = recording[lags[best] : lags[best] + len(probe), best].astype(np.float64)
    level = float(10 * np.log10(max(float(np.mean(seg**2)), 1e-12)))
    metrics |= {"delay_ms": round(delay * 1000, 1), "level_dbfs": round(level, 1)}
    summary = (
        f"chirp heard on {heard.sum()}/{len(heard)} mics, {delay * 1000:.0f} ms, {level:.0f} dBFS"
    )
    if not heard.all():
        return finding("loopback", Verdict.WARN, summary, HINTS["some"], **metrics)
    if level < QUIET_DBFS:
        return finding("loopback", Verdict.WARN, summary, HINTS["quiet"], **metrics)
    if delay > SLOW_S:
        return finding("loopback", Verdict.WARN, summary, HINTS["slow"], **metrics)
    return passed("loopback", summary, **metrics)

"""The room's microphone array at work: capture → gate + direction → director → call.

``VoiceMicrophone`` is a Microphone for the call (gated mono, 48 kHz) whose worker thread
runs the voice pipeline on every 10 ms block and publishes the director's decisions
(mute state for the panel and TV, camera target for the directed camera). The audio goes out
``gate.lookahead_ms`` late through a ``PreRoll``, so the gate's opening covers the soft start
of a turn; the panel's mute silences at once whatever is still waiting.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import sounddevice as sd

from devices import _sd
from devices._latest import LatestFrame
from devices._ring import AudioRing, Samples
from devices.voice import (
    CameraTarget,
    Decision,
    Director,
    MicArraySource,
    MicBlock,
    MicState,
    PreRoll,
    ScriptedMicArray,
    VoiceProcessor,
)

log = logging.getLogger(__name__)

RATE = 48000
BLOCK = RATE // 100


class ArrayCapture(_sd.StreamDevice):
    """A multichannel sound device captured in 10 ms blocks (a bounded queue of blocks)."""

    carries_reference = False  # its blocks' ``ref`` is silence: the playout comes separately

    def __init__(self, device: str, channels: int, rate: int = RATE) -> None:
        super().__init__(device)
        self._channels, self._rate = channels, rate
        self._blocks: collections.deque[tuple[float, Samples]] = collections.deque(maxlen=50)
        self._ready = threading.Condition()

    @property
    def rate(self) -> int:
        return self._rate

    @property
    def channels(self) -> int:
        return self._channels

    def start(self) -> None:
        """Open the array; one that offers fewer channels than configured is still opened
        (the voice pipeline then reports the mismatch and keeps the room audible)."""
        if self._open(sd.InputStream, "input", self._rate, self._channels):
            return
        offered = _input_channels(self.device)
        if 0 < offered < self._channels:
            log.warning("array %r offers %d of %d channels", self.device, offered, self._channels)
            self._open(sd.InputStream, "input", self._rate, offered)

    def _callback(self, data: Any, frames: int, when: Any, status: Any) -> None:
        with self._ready:
            self._blocks.append((time.monotonic(), np.array(data, dtype=np.float32)))
            self._ready.notify()

    def blocks(self) -> Iterator[MicBlock]:
        zeros = np.zeros(self._rate // 100, np.float32)
        while self._stream is not None:
            with self._ready:
                if not self._blocks and not self._ready.wait(timeout=0.5):
                    continue
                t, mics = self._blocks.popleft()
            yield MicBlock(t, mics, zeros[: len(mics)], self._rate)


class VoiceMicrophone:
    """Gated room audio for the call, plus the director's decisions for UI and camera."""

    def __init__(
        self,
        source: MicArraySource,
        processor: VoiceProcessor,
        director: Director,
        reference: AudioRing | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sample_rate = RATE
        self.source, self.processor, self.director = source, processor, director
        self.reference = reference
        self.decisions: LatestFrame[Decision] = LatestFrame()
        self._clock = clock
        self._lock = threading.Lock()
        self._out = AudioRing(RATE // 2)
        self._preroll = self._new_preroll()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warnings: tuple[str, ...] = ()
        # A live array with no playout ring cannot tell the far end's echo from the room:
        # the gate must not decide (it stays open, with a warning). A recording brings its own.
        self._no_reference = reference is None and not getattr(source, "carries_reference", True)
        if self._no_reference:
            log.warning("no loudspeaker playout reference: auto-mute stays open")

    @property
    def error(self) -> str | None:
        return getattr(self.source, "error", None)

    # -- panel actions (loop thread) ----------------------------------------------------------
    def set_manual_mute(self, muted: bool) -> None:
        with self._lock:
            self.director.set_manual_mute(muted)

    def choose_camera(self, target: CameraTarget) -> None:
        with self._lock:
            self.director.choose_camera(target)

    def reset_meeting(self) -> None:
        with self._lock:
            self.director.reset_meeting()

    # -- worker ------------------------------------------------------------------------------------
    def _new_preroll(self) -> PreRoll:
        # With auto-mute off the gain never changes: a delay would only add latency.
        gate = self.processor.config.gate
        return PreRoll(gate.lookahead_ms / 1000 if gate.enabled else 0.0)

    def start(self) -> None:
        starter = getattr(self.source, "start", None)
        if starter is not None:
            starter()
        self._preroll = self._new_preroll()  # nothing captured before a stop goes out after
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="voice:array", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        scripted = isinstance(self.source, ScriptedMicArray)
        begin = self._clock()
        while not self._stop.is_set():
            for block in self.source.blocks():
                if self._stop.is_set():
                    return
                # A live block carries its capture time; a recording plays in real time
                # (and loops), each block stamped with the moment it stands for.
                at = begin + block.t if scripted else block.t
                if scripted:
                    self._stop.wait(max(0.0, at - self._clock()))
                self.step(block, at)
            if not scripted:
                return
            begin = self._clock()

    def step(self, block: MicBlock, now: float) -> None:
        """Run the pipeline on one block captured at *now* (monotonic seconds); the worker
        calls it for every block (tests may call it directly, without the worker)."""
        ref = block.ref if self.reference is None else self._reference(len(block.mics))
        with self._lock:
            frame = self.processor.process(
                block.mics, ref, now, block.rate, reference_missing=self._no_reference
            )
            decision = self.director.update(
                now, gate=frame.gate.state, speech=frame.gate.speech, far_end=frame.gate.far_end,
                doa=frame.doa, warnings=tuple(str(fault) for fault in frame.faults),
            )  # fmt: skip
        if decision.warnings != self._warnings:
            self._warnings = decision.warnings
            if decision.warnings:
                log.warning("microphone array: %s", "; ".join(decision.warnings))
        muted = decision.mic is MicState.MUTED
        gain = 0.0 if decision.mic is MicState.AUTO_MUTED else frame.gate.gain
        mono = np.asarray(np.mean(block.mics, axis=1), dtype=np.float32)
        ceiling = 0.0 if muted else 1.0
        due = self._preroll.push(mono, block.rate, gain, ceiling, frame.gate.vad)
        for samples, applied in due:
            out = samples * np.float32(0.0 if muted else applied)
            self._out.write(_to_rate(out, block.rate))
        self.decisions.put(decision, now)

    def _reference(self, count: int) -> Samples:
        assert self.reference is not None
        ref = self.reference.read(count)
        return np.pad(ref, (0, count - len(ref))) if len(ref) < count else ref

    def read(self, count: int) -> Samples:
        self._out.trim(count + RATE // 5)
        out = self._out.read(count)
        return np.pad(out, (0, count - len(out))) if len(out) < count else out

    def stop(self) -> None:
        self._stop.set()
        stopper = getattr(self.source, "stop", None)
        if stopper is not None:
            stopper()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None


def _input_channels(device: str) -> int:
    try:
        name, _ = _sd.resolve(device, "input")
        return int(sd.query_devices(name, "input")["max_input_channels"])
    except (_sd.AudioDeviceError, ValueError, sd.PortAudioError):
        return 0


def _to_rate(mono: Samples, rate: int) -> Samples:
    if rate == RATE:
        return mono
    positions = np.arange(len(mono) * RATE // rate) * rate / RATE
    return np.interp(positions, np.arange(len(mono)), mono).astype(np.float32)

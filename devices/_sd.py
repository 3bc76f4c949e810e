"""Opening sounddevice streams by a configured name.

``pulse:NAME`` picks one PulseAudio/PipeWire sink or source through ALSA's pulse
device (the plugin reads PULSE_SINK / PULSE_SOURCE when a stream opens); any other
name is matched against PortAudio's device names.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sounddevice as sd

log = logging.getLogger(__name__)


class AudioDeviceError(RuntimeError):
    """A configured audio device cannot be found or opened."""


@contextmanager
def _pulse_target(variable: str, target: str | None) -> Iterator[None]:
    old = os.environ.get(variable)
    if target is not None:
        os.environ[variable] = target
    try:
        yield
    finally:
        if target is not None:
            if old is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = old


def resolve(name: str, kind: str) -> tuple[str | int | None, str | None]:
    """(PortAudio device, pulse target) for a configured *name*; kind is input/output."""
    if name.startswith("pulse:"):
        return "pulse", name.removeprefix("pulse:")
    if name in ("", "default"):
        return None, None
    try:
        sd.query_devices(name, kind)
    except (ValueError, sd.PortAudioError) as err:
        raise AudioDeviceError(f"{kind} device {name!r} not found ({err})") from err
    return name, None


def open_stream(factory: Any, name: str, kind: str, **options: Any) -> Any:
    """Create and start an InputStream/OutputStream for the device called *name*."""
    device, target = resolve(name, kind)
    variable = "PULSE_SOURCE" if kind == "input" else "PULSE_SINK"
    try:
        with _pulse_target(variable, target):
            stream = factory(device=device, **options)
            stream.start()
    except (sd.PortAudioError, ValueError) as err:
        raise AudioDeviceError(f"cannot open {kind} device {name!r}: {err}") from err
    return stream


class StreamDevice:
    """A sound device driven by one PortAudio stream of 10 ms float32 blocks.

    ``start`` opens the stream (a failure is kept in ``error``, never raised: the room
    keeps running and the panel says what is missing); ``stop`` closes it.
    """

    def __init__(self, device: str) -> None:
        self.device = device
        self._stream: Any = None
        self._error: str | None = None

    @property
    def error(self) -> str | None:
        return self._error

    def _open(self, factory: Any, kind: str, rate: int, channels: int) -> bool:
        try:
            self._stream = open_stream(
                factory, self.device, kind, samplerate=rate, channels=channels,
                dtype="float32", blocksize=rate // 100, callback=self._callback,
            )  # fmt: skip
        except AudioDeviceError as err:
            self._error = str(err)
            log.warning("%s", err)
            return False
        self._error = None
        return True

    def _callback(self, data: Any, frames: int, when: Any, status: Any) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        if self._stream is not None:
            stream, self._stream = self._stream, None
            stream.close()

"""A PulseAudio server with null devices, started as a user process for the test run."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

SINKS = ("room_a", "room_b", "mic_feed")
RATE = 48000


class AudioServer:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="diemcau-pulse-"))
        self.socket = self.dir / "native"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the server and point this process's clients (ALSA pulse plugin) at it."""
        if not shutil.which("pulseaudio"):
            raise RuntimeError("pulseaudio is not installed (see scripts/setup.sh)")
        env = {**os.environ, "HOME": str(self.dir), "XDG_RUNTIME_DIR": str(self.dir)}
        loads = [f"module-native-protocol-unix socket={self.socket} auth-anonymous=1"]
        loads += [f"module-null-sink sink_name={name} rate={RATE} channels=1" for name in SINKS]
        argv = [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--system=false",
            "--use-pid-file=false",
            "--disallow-exit",
            "--log-target=stderr",
        ]
        argv += [f"--load={load}" for load in loads]
        with open(self.dir / "pulse.log", "wb") as log:
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    "pulseaudio did not start:\n" + (self.dir / "pulse.log").read_text()
                )
            time.sleep(0.05)
        os.environ["PULSE_SERVER"] = f"unix:{self.socket}"
        os.environ.setdefault("XDG_RUNTIME_DIR", str(self.dir))

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)

    def record(self, sink: str, seconds: float) -> np.ndarray:
        """What played on *sink* during the next *seconds*, as float mono samples."""
        argv = [
            "parec",
            f"--device={sink}.monitor",
            "--format=s16le",
            f"--rate={RATE}",
            "--channels=1",
            "--raw",
            "--latency-msec=20",
        ]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        time.sleep(seconds)
        proc.terminate()
        data = proc.stdout.read() if proc.stdout else b""
        proc.wait()
        return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0

    def play(self, sink: str, samples: np.ndarray) -> subprocess.Popen[bytes]:
        """Play float mono *samples* into *sink* (returns the running player)."""
        argv = [
            "pacat",
            f"--device={sink}",
            "--format=s16le",
            f"--rate={RATE}",
            "--channels=1",
            "--raw",
            "--latency-msec=20",
        ]
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE)
        assert proc.stdin is not None
        proc.stdin.write((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
        proc.stdin.close()
        return proc


def dominant_frequency(samples: np.ndarray, rate: int = RATE) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(spectrum.argmax())])


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(samples)))) if len(samples) else 0.0

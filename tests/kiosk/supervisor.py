"""``diemcau run`` as a real process under a small supervisor that does what systemd's
``Restart=always`` does: whenever the kiosk ends (a crash, a SIGKILL) it is started again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def kiosk_argv(config: Path) -> list[str]:
    return [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config), "--windowed"]


class Supervisor:
    """Keeps one kiosk process running; ``starts`` holds the monotonic time of each start."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, delay: float = 0.1):
        self.argv, self.env, self.log_path, self.delay = argv, env, log, delay
        self.starts: list[float] = []
        self.proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="supervisor", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **self.env}
        with open(self.log_path, "ab") as out:
            self.starts.append(time.monotonic())
            return subprocess.Popen(self.argv, cwd=ROOT, env=env, stdout=out, stderr=out)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if self._stop.is_set():
                    return
                self.proc = self._spawn()
            self.proc.wait()
            self._stop.wait(self.delay)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def kill(self) -> float:
        """SIGKILL the running kiosk (a crash, a power cut); returns when it was sent."""
        assert self.proc is not None
        at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        return at

    def stop(self, timeout: float = 20.0) -> int | None:
        """End supervision, then the kiosk (SIGTERM: it leaves cleanly); its exit code."""
        with self._lock:
            self._stop.set()
        proc = self.proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.terminate()
        try:
            code = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        self._thread.join(timeout)
        return code

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

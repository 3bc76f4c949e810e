"""The real ``diemcau`` command, run as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from PyQt6.QtGui import QImage

DIEMCAU = shutil.which("diemcau", path=str(Path(sys.executable).parent)) or "diemcau"


def diemcau(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return subprocess.run(
        [DIEMCAU, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_version() -> None:
    done = diemcau("--version")
    assert done.returncode == 0 and done.stdout.startswith("diemcau 0.")


def test_check_config_valid_and_invalid(tmp_path: Path) -> None:
    good = tmp_path / "good.toml"
    good.write_text(
        '[site]\nname = "Xã Bản Vẽ"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 7\n'
    )
    done = diemcau("check-config", str(good))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK" in done.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[site]\nname = "X"\n[hub]\nurl = "http://x"\nrom = 7\n')
    done = diemcau("check-config", str(bad))
    assert done.returncode == 2
    assert "hub.url" in done.stdout and "hub.rom" in done.stdout and "room" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr


def test_unknown_command_is_a_usage_error() -> None:
    done = diemcau("fly")
    assert done.returncode == 2 and "invalid choice" in done.stderr


def test_demo_headless_joins_and_writes_screenshot(hub: Any, tmp_path: Path) -> None:
    """The README's main job: local hub + synthetic far end + kiosk, joined, screenshot."""
    shot = tmp_path / "meeting.png"
    done = diemcau("demo", "--headless", "--seconds", "4", "--screenshot", str(shot))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "call state: in-meeting" in done.stdout
    decoded = [line for line in done.stdout.splitlines() if "frames decoded" in line]
    assert decoded and int(decoded[0].split(":")[-1].split()[0]) >= 20
    image = QImage(str(shot)).convertToFormat(QImage.Format.Format_RGB888)
    assert image.width() >= 640
    data = np.frombuffer(image.constBits().asarray(image.sizeInBytes()), np.uint8)
    assert len(np.unique(data)) > 50, "screenshot must show a picture, not a blank screen"

"""No compositor, no display: ``diemcau run`` says so in one plain line and exits 78, the
status the unit does not restart (``RestartPreventExitStatus``), instead of Qt's abort that
systemd would restart over and over.  The real process, with a missing Wayland socket, a
stale one, and one where something answers that is not a compositor (Qt's own failure)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from kiosk import display

ROOT = Path(__file__).resolve().parents[2]
CONFIG = '[site]\nname = "Xã Bản Vẽ"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 7\n'
LINE = "diemcau: no display: "


def no_display_env() -> dict[str, str]:
    """This environment without anything that names a display (the harness sets offscreen)."""
    names = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")
    return {key: value for key, value in os.environ.items() if key not in names}


def run_kiosk(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "diemcau.toml"
    config.write_text(CONFIG + f'[state]\ndir = "{tmp_path / "state"}"\n')
    base = no_display_env()
    argv = [sys.executable, "-m", "kiosk.cli", "run", "--config", str(config)]
    return subprocess.run(
        argv,
        cwd=ROOT,
        env={**base, "XDG_RUNTIME_DIR": str(tmp_path), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=30,
    )


def only_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    assert lines[0].startswith(LINE), lines[0]
    return lines[0]


def test_the_unit_does_not_restart_on_our_code() -> None:
    unit = (ROOT / "packaging/systemd/diemcau.service").read_text()
    (codes,) = re.findall(r"^RestartPreventExitStatus=(.*)$", unit, re.M)
    assert str(display.NO_DISPLAY_EXIT) in codes.split()


def test_no_wayland_socket(tmp_path: Path) -> None:
    result = run_kiosk(tmp_path, QT_QPA_PLATFORM="wayland")
    assert result.returncode == 78
    line = only_line(result)
    assert "Wayland socket wayland-0 not found" in line and "cage" in line


def test_named_socket_missing(tmp_path: Path) -> None:
    result = run_kiosk(tmp_path, WAYLAND_DISPLAY="wayland-7")
    assert result.returncode == 78
    assert "Wayland socket wayland-7 not found" in only_line(result)


def test_stale_socket(tmp_path: Path) -> None:
    """The compositor died and left its socket file: nobody answers on it."""
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(tmp_path / "wayland-0"))
    result = run_kiosk(tmp_path, QT_QPA_PLATFORM="wayland")
    assert result.returncode == 78
    assert "nobody answers on the Wayland socket" in only_line(result)


@pytest.fixture
def not_a_compositor(tmp_path: Path) -> Iterator[str]:
    """A socket that accepts and hangs up: the check passes, Qt's own start fails."""
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp_path / "wl-liar"))
    server.listen(8)

    def hang_up() -> None:
        while True:
            try:
                peer, _ = server.accept()
            except OSError:
                return
            peer.close()

    thread = threading.Thread(target=hang_up, name="wl-liar", daemon=True)
    thread.start()
    yield "wl-liar"
    server.shutdown(socket.SHUT_RDWR)
    server.close()
    thread.join(5)


def test_qt_cannot_start_its_platform(tmp_path: Path, not_a_compositor: str) -> None:
    result = run_kiosk(tmp_path, QT_QPA_PLATFORM="wayland", WAYLAND_DISPLAY=not_a_compositor)
    assert result.returncode == 78, result.stdout  # not -6 (Qt's abort)
    assert "Qt cannot open its wayland platform" in only_line(result)


def test_offscreen_and_x11() -> None:
    """Tests and the headless demo want no display: no problem.  X11 is checked too."""
    assert display.problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display.problem({}) is None
    assert display.platform({"DISPLAY": ":0"}) == "xcb"
    assert display.platform({"QT_QPA_PLATFORM": "wayland;xcb", "DISPLAY": ":0"}) == "wayland"
    missing = "X display :9393 not found (/tmp/.X11-unix/X9393 is missing)"
    assert display.x11_problem({"DISPLAY": ":9393"}) == missing


# -- the unit's kiosk-session, with cage 0.1.4's habit of ending with 0 whatever its client did

FAKE_CAGE = """#!/bin/sh
while [ "$1" != "--" ]; do shift; done
shift
"$@" || true
exit 0
"""


def session_script(tmp_path: Path, kiosk: str) -> Path:
    """packaging/systemd/kiosk-session with cage, diemcau and the display device swapped."""
    (tmp_path / "card0").touch()
    cage = tmp_path / "cage"
    cage.write_text(FAKE_CAGE)
    diemcau = tmp_path / "diemcau"
    diemcau.write_text(f"#!/bin/sh\n{kiosk}\n")
    text = (ROOT / "packaging/systemd/kiosk-session").read_text()
    swaps = {"/dev/dri/card*": f"{tmp_path}/card*", "/usr/bin/cage": str(cage)}
    swaps["/usr/bin/diemcau"] = str(diemcau)
    for old, new in swaps.items():
        assert old in text
        text = text.replace(old, new)
    script = tmp_path / "kiosk-session"
    script.write_text(text)
    for path in (cage, diemcau, script):
        path.chmod(0o755)
    return script


def run_session(script: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    base = no_display_env()
    env = {**base, "XDG_RUNTIME_DIR": str(tmp_path), "QT_QPA_PLATFORM": "wayland"}
    env["DIEMCAU_CONFIG"] = str(tmp_path / "diemcau.toml")
    (tmp_path / "diemcau.toml").write_text(CONFIG + f'[state]\ndir = "{tmp_path}/state"\n')
    return subprocess.run(
        [str(script)], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_session_passes_the_kiosks_78_through_cage(tmp_path: Path) -> None:
    kiosk = f'cd {ROOT} && exec {sys.executable} -m kiosk.cli "$@"'
    result = run_session(session_script(tmp_path, kiosk), tmp_path)
    assert result.returncode == 78, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(LINE) and "wayland-0 not found" in line


def test_session_passes_a_crash_on_to_be_restarted(tmp_path: Path) -> None:
    result = run_session(session_script(tmp_path, "kill -KILL $$"), tmp_path)
    assert result.returncode == 128 + 9


@pytest.mark.skipif(bool(list(Path("/dev").glob("dri/card*"))), reason="this machine has a GPU")
def test_session_without_a_display_device(tmp_path: Path) -> None:
    script = ROOT / "packaging/systemd/kiosk-session"
    result = subprocess.run([str(script)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 78
    assert result.stderr.splitlines() == [
        "diemcau: no screen: no display device (/dev/dri/card*); is the graphics driver loaded?"
    ]

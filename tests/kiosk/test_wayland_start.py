"""The real start: ``diemcau run`` as a non-root user inside a real Wayland compositor
(weston, headless) with Qt's ``wayland`` platform, as the service runs it inside cage.

It tells a real NOTIFY_SOCKET READY=1, covers the whole 1280×720 output (no compositor
panel or background left: full screen), and the compositor's own screenshot shows the Join
screen.  No hub is needed: nobody taps Join.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.kiosk import wayland
from tests.kiosk.notify_socket import NotifySocket, has

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root to run the kiosk as a throwaway non-root user"
)

BACKGROUND = (0x10, 0x15, 0x1C)  # ui/window.py: the screen's background
JOIN_GREEN = (0x1F, 0x7A, 0x3D)  # ui/window.py: QPushButton#join
CONFIG = '[site]\nname = "Xã Bản Vẽ"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 7\n'


@pytest.fixture
def seat() -> Iterator[tuple[wayland.Weston, Path]]:
    """weston running as the throwaway user, and that user's private folder."""
    if not wayland.python_matches():
        pytest.skip(f"{wayland.PYTHON} is not Python {sys.version_info[:2]} (the venv's)")
    user = wayland.service_user()
    folder = wayland.private_folder(user)
    weston = wayland.Weston(folder, user)
    try:
        weston.wait_ready()
        yield weston, folder
    finally:
        weston.stop()
        shutil.rmtree(folder)


def start_kiosk(
    weston: wayland.Weston, folder: Path, notify: NotifySocket
) -> subprocess.Popen[bytes]:
    config = folder / "diemcau.toml"  # root's, 0644: the user reads it, as in /etc
    config.write_text(CONFIG + f'[state]\ndir = "{folder / "state"}"\n')
    env = wayland.user_env(
        folder,
        QT_QPA_PLATFORM="wayland",
        WAYLAND_DISPLAY=weston.name,
        NOTIFY_SOCKET=str(notify.path),
    )
    with open(folder / "kiosk.log", "wb") as out:
        return subprocess.Popen(
            wayland.kiosk_argv(config),
            cwd=folder,
            env=env,
            stdout=out,
            stderr=out,
            **weston.as_user(),  # type: ignore[arg-type]
        )


def join_pixels(screen: np.ndarray) -> np.ndarray:
    """(y, x) of every pixel in the Join button's colour."""
    return np.argwhere(np.all(screen == JOIN_GREEN, axis=2))


def wait_for_join_screen(weston: wayland.Weston, timeout: float = 10.0) -> np.ndarray:
    """Screenshots until the Join button is on the output (its first frame may lag READY)."""
    deadline = time.monotonic() + timeout
    while True:
        screen = wayland.pixels(weston.screenshot())
        if len(join_pixels(screen)) > 20_000 or time.monotonic() > deadline:
            return screen


def test_kiosk_starts_full_screen_on_wayland_and_says_ready(
    seat: tuple[wayland.Weston, Path],
) -> None:
    weston, folder = seat
    notify = NotifySocket(folder / "notify")
    wayland.give(notify.path, weston.user)  # the kiosk may send to it
    kiosk = start_kiosk(weston, folder, notify)
    log = folder / "kiosk.log"
    try:
        started = time.monotonic()
        try:
            ready = notify.wait_for(has("READY", "1"), 20, alive=lambda: kiosk.poll() is None)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{log.read_text(errors='replace')[-3000:]}") from err
        assert ready.fields["STATUS"] == "idle, room 7, microphone on"
        assert Path(f"/proc/{kiosk.pid}").stat().st_uid == weston.user.pw_uid != 0
        screen = wait_for_join_screen(weston)
    finally:
        kiosk.terminate()
        code = kiosk.wait(20)
        notify.close()
    text = log.read_text(errors="replace")
    assert code == 0, text
    assert "Traceback" not in text, text
    print(f"READY after {ready.at - started:.2f} s on weston")
    assert screen.shape == (wayland.HEIGHT, wayland.WIDTH, 3)
    corners = [screen[0, 0], screen[0, -1], screen[-1, 0], screen[-1, -1], screen[5, 640]]
    assert all(tuple(c) == BACKGROUND for c in corners), "the window covers the whole output"
    button = join_pixels(screen)
    assert len(button) > 20_000, "the Join button is on screen"
    middle = (button.min(axis=0) + button.max(axis=0)) / 2
    assert abs(middle[1] - wayland.WIDTH / 2) < 20, "and centred"
    bright = np.all(screen > 200, axis=2).sum()
    assert bright > 500, "words are drawn (the name, the hint, the button's label)"
    colours = len(np.unique(screen.reshape(-1, 3), axis=0))
    assert colours > 20, "not a blank picture"

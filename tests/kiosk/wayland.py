"""A real Wayland compositor for the start test: weston's headless backend (pixman, no GPU)
run as a throwaway non-root system user, and the kiosk run as that same user with Qt's
``wayland`` platform.

cage, the compositor of the room PC, cannot run here (DESIGN.md §6: it refuses root and its
wlroots needs a DRM render node); weston can.  weston has no wlr-screencopy for ``grim``, but
started with ``--debug`` it lets ``weston-screenshooter`` save what it composed: the picture is
the compositor's output, not the app's idea of its window.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
from PyQt6.QtGui import QImage

ROOT = Path(__file__).resolve().parents[2]
USER = "diemcau-wl"
WIDTH, HEIGHT = 1280, 720
# The service runs Debian's own python3 (the .deb's venv is built from it); here it gets
# the dev venv's libraries (same minor version) and the working tree, nothing from /root.
PYTHON = "/usr/bin/python3"
BOOT = (
    "import site, sys; site.addsitedir({site!r}); sys.path.insert(0, {root!r}); "
    "from kiosk.cli import main; sys.exit(main(sys.argv[1:]))"
)


def service_user() -> pwd.struct_passwd:
    """The throwaway system user (created once, reused): no home, no shell, no groups."""
    try:
        return pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent"]
            + ["--shell", "/usr/sbin/nologin", USER],
            check=True,
        )
        return pwd.getpwnam(USER)


def private_folder(user: pwd.struct_passwd) -> Path:
    """The user's XDG_RUNTIME_DIR (0700, theirs), also holding the config and the state."""
    folder = Path(tempfile.mkdtemp(prefix="diemcau-wayland-"))
    os.chown(folder, user.pw_uid, user.pw_gid)
    folder.chmod(0o700)
    return folder


def give(path: Path, user: pwd.struct_passwd) -> Path:
    os.chown(path, user.pw_uid, user.pw_gid)
    return path


def user_env(folder: Path, **extra: str) -> dict[str, str]:
    base = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8"}
    return {**base, "XDG_RUNTIME_DIR": str(folder), **extra}


def kiosk_argv(config: Path) -> list[str]:
    boot = BOOT.format(site=sysconfig.get_paths()["purelib"], root=str(ROOT))
    return [PYTHON, "-c", boot, "run", "--config", str(config)]


def python_matches() -> bool:
    """Debian's python3 can load the dev venv's compiled libraries (same 3.x)."""
    out = subprocess.run(
        [PYTHON, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    )
    return out.stdout.strip() == str(sys.version_info[:2])


class Weston:
    """weston, headless, 1280×720, on socket *name* in *folder*, as *user*."""

    def __init__(self, folder: Path, user: pwd.struct_passwd, name: str = "wl-diemcau") -> None:
        self.folder, self.user, self.name = folder, user, name
        self.log = folder / "weston.log"
        argv = [
            "weston",
            "--backend=headless-backend.so",
            "--use-pixman",
            f"--width={WIDTH}",
            f"--height={HEIGHT}",
            f"--socket={name}",
            "--idle-time=0",
            "--debug",  # lets weston-screenshooter read the output
        ]
        with open(self.log, "wb") as out:
            self.proc = subprocess.Popen(
                argv, env=user_env(folder), stdout=out, stderr=out, **self.as_user()
            )

    def as_user(self) -> dict[str, object]:
        return {"user": self.user.pw_uid, "group": self.user.pw_gid, "extra_groups": []}

    def wait_ready(self, timeout: float = 10.0) -> None:
        """The socket is there (weston binds it once its output is up)."""
        socket, deadline = self.folder / self.name, time.monotonic() + timeout
        while not socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"weston did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.05)

    def screenshot(self) -> QImage:
        """What weston composed on its output, as an image."""
        shots = Path(tempfile.mkdtemp(dir=self.folder))
        os.chown(shots, self.user.pw_uid, self.user.pw_gid)
        try:
            subprocess.run(
                ["weston-screenshooter"],
                cwd=shots,
                env=user_env(self.folder, WAYLAND_DISPLAY=self.name),
                check=True,
                timeout=10,
                **self.as_user(),  # type: ignore[arg-type]
            )
            (png,) = shots.glob("*.png")
            return QImage(str(png)).convertToFormat(QImage.Format.Format_RGB888)
        finally:
            shutil.rmtree(shots)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def pixels(image: QImage) -> np.ndarray:
    """The image as an (height, width, 3) array of RGB bytes."""
    w, h, stride = image.width(), image.height(), image.bytesPerLine()
    data = image.constBits()
    assert data is not None
    data.setsize(image.sizeInBytes())
    rows = np.frombuffer(data, np.uint8).reshape(h, stride)
    return rows[:, : w * 3].reshape(h, w, 3).copy()

"""Is there a screen to draw on?  Asked before Qt is started, so that a missing compositor
costs one plain line in the journal and exit 78 (the unit's ``RestartPreventExitStatus``),
not a Qt abort that systemd restarts over and over.

Qt picks its platform from ``QT_QPA_PLATFORM`` (the unit sets ``wayland``), or from
``WAYLAND_DISPLAY`` / ``DISPLAY``; Wayland's socket is ``$XDG_RUNTIME_DIR/$WAYLAND_DISPLAY``
(``wayland-0`` when unset) and something must be listening on it.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

NO_DISPLAY_EXIT = 78  # EX_CONFIG; packaging/systemd/diemcau.service does not restart on it
HINT = "is cage running on the TV seat?"


def platform(env: Mapping[str, str]) -> str:
    """The Qt platform that will be used: ``wayland``, ``xcb``, or another (offscreen…)."""
    wanted = env.get("QT_QPA_PLATFORM", "").split(";")[0].split(":")[0].strip()
    if wanted:
        return wanted
    if env.get("WAYLAND_DISPLAY"):
        return "wayland"
    return "xcb" if env.get("DISPLAY") else "offscreen"


def _listening(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC) as probe:
        probe.settimeout(2.0)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True


def wayland_problem(env: Mapping[str, str]) -> str | None:
    name = env.get("WAYLAND_DISPLAY") or "wayland-0"
    runtime = env.get("XDG_RUNTIME_DIR", "")
    if not name.startswith("/") and not runtime:
        return f"XDG_RUNTIME_DIR is not set, so the Wayland socket {name} cannot be found — {HINT}"
    path = Path(runtime, name)
    if not path.exists():
        return f"Wayland socket {name} not found in {runtime or '/'} — {HINT}"
    if not _listening(path):
        return f"nobody answers on the Wayland socket {path} — {HINT}"
    return None


def x11_problem(env: Mapping[str, str]) -> str | None:
    display = env.get("DISPLAY", "")
    host, _, number = display.partition(":")
    if host or not number:  # a remote or unusual display: Qt will say
        return None
    path = Path("/tmp/.X11-unix", f"X{number.split('.')[0]}")
    return None if path.exists() else f"X display {display} not found ({path} is missing)"


def problem(env: Mapping[str, str] = os.environ) -> str | None:
    """Why the kiosk cannot open its display, in one line; None when it can (or when it
    runs offscreen, as in tests and the headless demo)."""
    kind = platform(env)
    if kind == "wayland":
        return wayland_problem(env)
    if kind == "xcb":
        return x11_problem(env)
    return None


def say_no_display(reason: str) -> int:
    """The one line for the journal; the exit code that keeps systemd from retrying."""
    sys.stderr.write(f"diemcau: no display: {reason}\n")
    sys.stderr.flush()
    return NO_DISPLAY_EXIT

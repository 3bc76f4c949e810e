"""sd_notify: tell systemd that the kiosk is ready, still alive, and what the call is doing.

A few lines over the ``NOTIFY_SOCKET`` datagram socket (no dependency): ``READY=1`` once the
Join button can be tapped, ``WATCHDOG=1`` from the event loop (a frozen loop stops the pings
and systemd restarts the service), ``STATUS=`` for ``systemctl status``.  Outside systemd
(no ``NOTIFY_SOCKET``) every call does nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _address(raw: str) -> str | bytes:
    """``@name`` is Linux's abstract namespace (a leading NUL byte)."""
    return b"\0" + raw[1:].encode() if raw.startswith("@") else raw


def watchdog_interval(env: Mapping[str, str] = os.environ) -> float | None:
    """Seconds between pings (half of systemd's ``WatchdogSec``), or None without a watchdog."""
    usec, pid = env.get("WATCHDOG_USEC", ""), env.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 2_000_000


class Notifier:
    """The service manager's notification socket (or nothing, when there is none)."""

    def __init__(self, env: Mapping[str, str] = os.environ) -> None:
        raw = env.get("NOTIFY_SOCKET", "")
        self._address = _address(raw) if raw else None
        self._sock: socket.socket | None = None
        self._failed = False
        self._interval = watchdog_interval(env)
        self._status = ""

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def send(self, *lines: str) -> None:
        """One datagram of ``KEY=value`` lines; a failure is logged once, never raised."""
        if self._address is None:
            return
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto("\n".join(lines).encode(), self._address)
        except OSError as err:
            if not self._failed:
                log.warning("cannot notify the service manager: %s", err)
            self._failed = True

    def ready(self, status: str) -> None:
        self._status = status
        self.send("READY=1", f"STATUS={status}")

    def status(self, text: str) -> None:
        if text != self._status:
            self._status = text
            self.send(f"STATUS={text}")

    def stopping(self) -> None:
        self.send("STOPPING=1")

    async def watchdog(self) -> None:
        """Ping from the event loop for as long as it turns (run as a task)."""
        if self._interval is None or self._address is None:
            return
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(self._interval)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

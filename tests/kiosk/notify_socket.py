"""A stand-in for systemd's notification socket: bind it, export its path as NOTIFY_SOCKET,
read what the kiosk says (``READY=1``, ``WATCHDOG=1``, ``STATUS=…``) exactly as systemd would."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Message:
    at: float  # time.monotonic() when received
    fields: dict[str, str]


class NotifySocket:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.messages: list[Message] = []

    def env(self, watchdog_s: float | None = None) -> dict[str, str]:
        env = {"NOTIFY_SOCKET": str(self.path)}
        if watchdog_s is not None:
            env["WATCHDOG_USEC"] = str(int(watchdog_s * 1_000_000))
        return env

    def _receive(self, timeout: float) -> Message | None:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except TimeoutError:
            return None
        pairs = (line.split("=", 1) for line in data.decode().splitlines() if "=" in line)
        message = Message(time.monotonic(), {key: value for key, value in pairs})
        self.messages.append(message)
        return message

    def wait_for(
        self,
        match: Callable[[Message], bool],
        timeout: float,
        alive: Callable[[], bool] = lambda: True,
    ) -> Message:
        """The first message (already received or arriving within *timeout*) that matches."""
        for message in self.messages:
            if match(message):
                return message
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if not alive():
                raise AssertionError("the process ended while waiting")
            message = self._receive(min(left, 0.5))
            if message is not None and match(message):
                return message
        raise AssertionError(f"no matching notification in {timeout} s; got {self.messages[-5:]}")

    def forget(self) -> None:
        self.messages.clear()

    def close(self) -> None:
        self.sock.close()


def has(key: str, value: str | None = None) -> Callable[[Message], bool]:
    return lambda m: key in m.fields and (value is None or m.fields[key] == value)


def status_has(text: str) -> Callable[[Message], bool]:
    return lambda m: text in m.fields.get("STATUS", "")

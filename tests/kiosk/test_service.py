"""The real ``diemcau run`` process talks to the service manager: READY=1 once the Join
button works, WATCHDOG=1 from its loop, STATUS= with the call state, a clean stop on SIGTERM.

No hub is needed: nobody taps Join.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kiosk.notify import Notifier, watchdog_interval
from tests.kiosk.notify_socket import Message, NotifySocket, has
from tests.kiosk.supervisor import Supervisor, kiosk_argv

CONFIG = '[site]\nname = "Xã Bản Vẽ"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 7\n'


def watchdog_after(at: float) -> Callable[[Message], bool]:
    return lambda m: "WATCHDOG" in m.fields and m.at > at


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def test_ready_watchdog_status_and_stop(tmp_path: Path, notify: NotifySocket) -> None:
    config = tmp_path / "diemcau.toml"
    config.write_text(CONFIG + f'[state]\ndir = "{tmp_path / "state"}"\n')
    env = notify.env(watchdog_s=0.4)
    kiosk = Supervisor(kiosk_argv(config), env, tmp_path / "kiosk.log").start()
    try:
        ready = notify.wait_for(has("READY", "1"), timeout=60, alive=kiosk.alive)
        assert ready.fields["STATUS"] == "idle, room 7, microphone on"
        pings = [notify.wait_for(watchdog_after(ready.at), timeout=10)]
        for _ in range(2):  # each one after the one before
            pings.append(notify.wait_for(watchdog_after(pings[-1].at), timeout=10))
        assert all(p.fields["WATCHDOG"] == "1" for p in pings)
        assert len({p.at for p in pings}) == 3, "the pings keep coming from the loop"
    finally:
        code = kiosk.stop()
    assert code == 0, kiosk.log_text()
    notify.wait_for(has("STOPPING", "1"), timeout=5)
    assert len(kiosk.starts) == 1
    assert "Traceback" not in kiosk.log_text()


def test_no_socket_means_no_notifications() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    notifier.ready("idle")  # does nothing, raises nothing


def test_abstract_socket_address(tmp_path: Path) -> None:
    import socket

    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"diemcau-test-{tmp_path.name}"
    server.bind(b"\0" + name.encode())
    try:
        Notifier({"NOTIFY_SOCKET": "@" + name}).ready("idle")
        server.settimeout(5)
        assert server.recv(100) == b"READY=1\nSTATUS=idle"
    finally:
        server.close()


def test_watchdog_interval_is_half_of_watchdogsec() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None

"""A local district hub (Janus) for the demo, the self-test and the test suite.

The configuration comes from the project's own templates in ``packaging/hub``:
only the plugins and transports a meeting uses, ICE limited to one interface,
signaling on a free loopback port. The meeting room exists twice, with one number and
PIN: in the VideoRoom (video) and in the AudioBridge (audio, mixed on the hub).
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import shutil
import socket
import string
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk import netns

log = logging.getLogger(__name__)

JANUS_LIB = Path("/usr/lib/x86_64-linux-gnu/janus")
_TEMPLATE_DIRS = (
    Path(__file__).resolve().parent.parent / "packaging" / "hub",
    Path("/usr/share/diemcau/hub"),
)


class HubError(RuntimeError):
    """The local hub could not be started."""


@dataclass(frozen=True)
class HubRoom:
    """The meeting room the local hub serves."""

    room: int = 1234
    pin: str = "2468"
    description: str = "Họp giao ban huyện"


def template_dir() -> Path:
    for folder in _TEMPLATE_DIRS:
        if (folder / "janus.jcfg.in").is_file():
            return folder
    raise HubError("hub configuration templates not found (packaging/hub)")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _lib_dir() -> Path:
    for base in (JANUS_LIB, Path("/usr/lib/janus")):
        if (base / "plugins").is_dir():
            return base
    raise HubError("Janus plugins not found: install the Debian package 'janus'")


@dataclass(frozen=True)
class HubCertificate:
    """The hub's TLS certificate and key (PEM files): signaling then runs on wss:// only."""

    cert_pem: Path
    key_pem: Path


def render_config(
    folder: Path,
    room: HubRoom,
    ws_port: int,
    interface: str,
    tls: HubCertificate | None = None,
    ws_ip: str = "127.0.0.1",
) -> None:
    """Fill the templates into *folder* (one .jcfg per template)."""
    lib = _lib_dir()
    values = {
        "configs_folder": str(folder),
        "plugins_folder": str(lib / "plugins"),
        "transports_folder": str(lib / "transports"),
        "events_folder": str(lib / "events"),
        "loggers_folder": str(lib / "loggers"),
        "debug_level": "4",
        "rtp_port_range": "20000-40000",
        "ice_enforce_list": interface,
        "admin_key": secrets.token_hex(12),
        "room": str(room.room),
        "pin": room.pin,
        "description": room.description,
        "ws": "false" if tls else "true",
        "ws_port": str(ws_port),
        "ws_ip": ws_ip,
        "wss": "true" if tls else "false",
        "wss_port": str(ws_port),
        "cert_pem": str(tls.cert_pem) if tls else "",
        "cert_key": str(tls.key_pem) if tls else "",
    }
    for template in template_dir().glob("*.jcfg.in"):
        text = string.Template(template.read_text()).substitute(values)
        if template.name == "janus.jcfg.in":  # the self-test's media-path probe
            text = text.replace("libjanus_echotest.so,", "")
        (folder / template.name.removesuffix(".in")).write_text(text)


class LocalHub:
    """A Janus process serving one room on ``ws://127.0.0.1:<port>/`` (``wss://localhost``
    with a certificate)."""

    def __init__(
        self,
        room: HubRoom | None = None,
        interface: str = netns.INTERFACE,
        tls: HubCertificate | None = None,
        ws_ip: str = "127.0.0.1",
    ) -> None:
        self.room = room or HubRoom()
        self.interface = interface
        self.tls = tls
        self.ws_ip = ws_ip  # netns.ADDRESS: reachable from rooms in other namespaces
        self.port = 0
        self._folder: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_path: Path | None = None

    @property
    def url(self) -> str:
        if self.tls:
            return f"wss://localhost:{self.port}/"
        host = "127.0.0.1" if self.ws_ip in ("127.0.0.1", "0.0.0.0") else self.ws_ip
        return f"ws://{host}:{self.port}/"

    @property
    def log_text(self) -> str:
        if self._log_path and self._log_path.exists():
            return self._log_path.read_text(errors="replace")
        return ""

    def start(self, timeout: float = 15.0) -> LocalHub:
        janus = shutil.which("janus") or shutil.which("janus", path="/usr/bin:/usr/local/bin")
        if not janus:
            raise HubError("the 'janus' program is missing: install the Debian package 'janus'")
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="diemcau-hub-")
            self.port = self.port or free_port()
        folder = Path(self._folder.name)
        render_config(folder, self.room, self.port, self.interface, self.tls, self.ws_ip)
        self._log_path = folder / "janus.log"
        argv = [janus, "-C", str(folder / "janus.jcfg"), "-F", str(folder), "-o"]
        with open(self._log_path, "ab") as out:
            self._proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)
        self._wait_ready(timeout)
        log.info("local hub ready at %s (room %s)", self.url, self.room.room)
        return self

    def kill(self) -> None:
        """End the hub at once (SIGKILL, as a crash or power cut); ``start`` brings it back
        on the same port with the same configuration, remembering nothing."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        self._proc = None

    def restart(self, room: HubRoom | None = None, timeout: float = 15.0) -> LocalHub:
        """Kill and start again on the same port (optionally with another room setup)."""
        self.kill()
        self.room = room or self.room
        return self.start(timeout)

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise HubError(f"janus exited with {self._proc.returncode}:\n{self.log_text}")
            host = "127.0.0.1" if self.ws_ip == "0.0.0.0" else self.ws_ip
            with (
                contextlib.suppress(OSError),
                socket.create_connection((host, self.port), timeout=0.2),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise HubError(f"janus did not open its port within {timeout:.0f} s")

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._proc = None
        if self._folder is not None:
            self._folder.cleanup()
            self._folder = None

    def __enter__(self) -> LocalHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def interface_present(name: str = netns.INTERFACE) -> bool:
    """Whether *name* exists in this process's network namespace."""
    try:
        socket.if_nametoindex(name)
    except OSError:
        return False
    return True

"""Impaired links for tests and benches: a child network namespace behind a relay.

The kernel here has no ``netem``, so an impaired link is a user-space relay that real
packets pass through. Each :class:`ImpairedLink` is a child network namespace joined to
this one's LAN segment (the veth ``dc0``, 198.18.0.1/24, made by ``kiosk.netns``) by two
TAP devices with a relay process between them that applies an :class:`Impairment` per
direction: random or bursty (Gilbert-Elliott) loss, delay, jitter, a rate cap with a
tail-drop queue, a full cut. Settings change live.

Run it where the suite runs, inside ``python -m kiosk.netns`` (root, or root in a user
namespace: it needs ``/dev/net/tun``, the ``bridge`` kernel module, ``ip`` and
``nsenter``)::

    from tests.linklab import ImpairedLink, Impairment

    with ImpairedLink(1) as link:  # the child namespace is 198.18.0.11 on the hub's LAN
        room = link.popen([sys.executable, "room.py", "ws://198.18.0.1:8188/"])
        link.set(up=Impairment(loss=0.05, burst=3), down=Impairment(delay_ms=150, jitter_ms=30))
        link.cut()       # both directions, packets in flight too
        link.restore()   # the cut ends; the other settings stay
        link.counters()  # {"up": {"forwarded": ..., "loss": ..., ...}, "down": {...}}

Link *index* n (1..200) puts the child at ``198.18.0.{10+n}/24`` (device ``dcl<n>f``,
MAC ``02:dc:00:00:00:<n in hex>``, fixed so this side's ARP cache stays right when a link
is made again; default route via 198.18.0.1). The other end, ``dcl<n>n``, is a port of
the bridge ``dclab`` that holds ``dc0``'s veth peer: the link sits on ``dc0``'s own
segment because Janus (libnice) pins its media sockets to the ICE interface
(``IP_UNICAST_IF``), so its replies leave through ``dc0`` whatever the routes say. A hub
with ICE on ``dc0`` alone serves rooms behind any number of links. The bridge ports are
isolated: each child reaches only this namespace. "up" is child → this namespace, "down"
the other way; every frame counts, ARP included, and a rate cap counts whole Ethernet
frames (IP packet + 14 bytes).

A process started with :meth:`ImpairedLink.popen` (or :meth:`ImpairedLink.command` for
asyncio) reaches 198.18.0.1 only through the relay, TCP and UDP alike; services that
listen on 127.0.0.1 here are out of its reach (``LocalHub(ws_ip="0.0.0.0")`` serves it
at ``ws://198.18.0.1:<port>/``). :meth:`ImpairedLink.stop` (also run at exit) ends those
processes, anything else left in the child namespace, and the relay; the devices, the
namespace and (with the last link) the bridge go with them. If the owning process is
killed outright the relay still ends and takes the child's processes with it; only the
empty bridge stays until the test namespace goes.
"""

from __future__ import annotations

import atexit
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from kiosk import netns
from tests._linkmodel import Impairment, ImpairmentError

__all__ = ["ImpairedLink", "Impairment", "ImpairmentError", "LinkError"]

ROOT = Path(__file__).resolve().parent.parent
MAX_INDEX = 200
MTU = 1500
BRIDGE = "dclab"
_SBIN = "/usr/sbin:/sbin"

_NO_IPV6 = (
    'if [ -d /proc/sys/net/ipv6 ]; then echo 1 > "/proc/sys/net/ipv6/conf/$1/disable_ipv6"; fi'
)

# this namespace: $1 bridge, $2 the veth peer of dc0, $3 the link's near TAP, $4 MTU
_NEAR_SETUP = f"""
set -e
no_ipv6() {{ {_NO_IPV6}; }}
if ! ip link show "$1" >/dev/null 2>&1; then
    ip link add "$1" type bridge || ip link show "$1" >/dev/null
    no_ipv6 "$1"
fi
ip link set "$2" master "$1"
ip link set "$1" up
no_ipv6 "$3"
ip link set "$3" mtu "$4" master "$1"
ip link set "$3" type bridge_slave isolated on
ip link set "$3" up
"""

# the child namespace: $1 its TAP, $2 its address/prefix, $3 the gateway, $4 MTU, $5 MAC
# (fixed per index, so a link made again is not shadowed by this side's ARP cache)
_FAR_SETUP = f"""
set -e
ip link set lo up
no_ipv6() {{ {_NO_IPV6}; }}
no_ipv6 "$1"
ip link set "$1" address "$5" mtu "$4" up
ip address add "$2" dev "$1"
ip route add default via "$3" dev "$1"
"""

# this namespace, after a link's relay ended: the bridge goes when only dc0's peer is left
_BRIDGE_TEARDOWN = """
ip -o link show master "$1" 2>/dev/null | grep -qv ": $2@" || ip link del "$1" 2>/dev/null
true
"""


class LinkError(RuntimeError):
    """The link could not be set up, or its relay stopped answering."""


class ImpairedLink:
    """A child network namespace joined to this one through an impairing relay."""

    def __init__(self, index: int = 1, seed: int = 0) -> None:
        if not 1 <= index <= MAX_INDEX:
            raise ValueError(f"link index {index!r}: must be within 1..{MAX_INDEX}")
        self.index, self.seed = index, seed
        self.near, self.far = netns.ADDRESS, f"198.18.0.{10 + index}"
        self.near_device, self.far_device = f"dcl{index}n", f"dcl{index}f"
        self.mac = f"02:dc:00:00:00:{index:02x}"
        self.up, self.down = Impairment(), Impairment()
        self._relay: subprocess.Popen[bytes] | None = None
        self._pending = b""
        self._children: list[subprocess.Popen[Any]] = []
        self._lock = threading.Lock()

    @property
    def pid(self) -> int:
        """The relay's process id; it lives in (and holds) the child namespace."""
        if self._relay is None:
            raise LinkError(f"link {self.index} is not started")
        return self._relay.pid

    def start(self, timeout: float = 10.0) -> ImpairedLink:
        """Start the relay, make the child namespace and address both ends."""
        argv = [sys.executable, "-m", "tests._linkrelay", self.near_device, self.far_device]
        self._relay = subprocess.Popen(
            [*argv, "--seed", str(self.seed)], cwd=ROOT, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, bufsize=0, env=_env(),
        )  # fmt: skip
        _live.add(self)
        try:
            self._read_reply(timeout)
            self._configure()
        except BaseException:
            self.stop()
            raise
        return self

    def _configure(self) -> None:
        _run(["ip", "link", "set", self.far_device, "netns", str(self.pid)])
        peer = netns.INTERFACE + "p"
        _run(["sh", "-c", _NEAR_SETUP, "near", BRIDGE, peer, self.near_device, str(MTU)])
        far_args = [self.far_device, f"{self.far}/24", self.near, str(MTU), self.mac]
        _run(self.command(["sh", "-c", _FAR_SETUP, "far", *far_args]))

    def set(self, up: Impairment | None = None, down: Impairment | None = None) -> None:
        """Change what each direction does, at once; None leaves a direction as it is."""
        ways = {"up": up, "down": down}
        self._request({"op": "set", **{k: v.to_dict() for k, v in ways.items() if v is not None}})
        self.up = self.up if up is None else up
        self.down = self.down if down is None else down

    def cut(self) -> None:
        """Drop everything both ways, packets in flight included; other settings stay."""
        self.set(replace(self.up, cut=True), replace(self.down, cut=True))

    def restore(self) -> None:
        """End a cut; loss, delay and the rest stay as they were set."""
        self.set(replace(self.up, cut=False), replace(self.down, cut=False))

    def counters(self) -> dict[str, dict[str, int]]:
        """Per direction: frames ``forwarded`` (and their ``bytes``), dropped by ``loss``,
        ``cut`` or ``queue`` (rate-cap tail drop), and ``error`` (device down)."""
        counters: dict[str, dict[str, int]] = self._request({"op": "counters"})["counters"]
        return counters

    def command(self, argv: list[str]) -> list[str]:
        """*argv* wrapped to run inside the child namespace (for asyncio subprocesses)."""
        nsenter = shutil.which("nsenter") or "nsenter"
        return [nsenter, "-t", str(self.pid), "-n", "--", *argv]

    def popen(self, argv: list[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start *argv* inside the child namespace; :meth:`stop` ends it if still running."""
        proc: subprocess.Popen[Any] = subprocess.Popen(self.command(argv), **kwargs)
        self._children.append(proc)
        return proc

    def stop(self) -> None:
        """End the processes in the child namespace, then the relay (idempotent)."""
        for proc in self._children:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self._children:
            _end(proc)
        self._children.clear()
        if self._relay is not None:  # it kills what else is left in the namespace
            self._end_relay(self._relay)
            peer = netns.INTERFACE + "p"
            subprocess.run(["sh", "-c", _BRIDGE_TEARDOWN, "teardown", BRIDGE, peer], env=_env())
        self._relay = None
        _live.discard(self)

    def _end_relay(self, relay: subprocess.Popen[bytes]) -> None:
        if relay.stdin is not None:
            relay.stdin.close()  # end of stdin ends the relay
        _end(relay)
        if relay.stdout is not None:
            relay.stdout.close()

    def _request(self, message: dict[str, object], timeout: float = 5.0) -> dict[str, Any]:
        with self._lock:
            if self._relay is None or self._relay.stdin is None:
                raise LinkError(f"link {self.index} is not started")
            try:
                self._relay.stdin.write(json.dumps(message).encode() + b"\n")
            except OSError as err:
                raise LinkError(f"link {self.index}: the relay is gone ({err})") from err
            answer = self._read_reply(timeout)
        if not answer.get("ok"):
            raise LinkError(f"relay refused {message}: {answer.get('error')}")
        return answer

    def _read_reply(self, timeout: float) -> dict[str, Any]:
        assert self._relay is not None and self._relay.stdout is not None
        fd, deadline = self._relay.stdout.fileno(), time.monotonic() + timeout
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise LinkError(f"link {self.index}: the relay did not answer in {timeout} s")
            chunk = os.read(fd, 65536)
            if not chunk:
                raise LinkError(f"link {self.index}: the relay exited ({self._relay.poll()})")
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def __enter__(self) -> ImpairedLink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<ImpairedLink {self.index} {self.far} up={self.up} down={self.down}>"


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": os.environ.get("PATH", "") + ":" + _SBIN}


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, env=_env(), timeout=10, check=False)
    if done.returncode != 0:
        raise LinkError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")


def _end(proc: subprocess.Popen[Any], grace: float = 3.0) -> None:
    """Wait for *proc* to end (it has been asked to); kill it after *grace* seconds."""
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


_live: set[ImpairedLink] = set()


@atexit.register
def _stop_all() -> None:
    for link in list(_live):
        link.stop()

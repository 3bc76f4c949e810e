"""Run a command inside a private network namespace with one veth link.

Janus never gathers ICE candidates on loopback and aioice ignores 127.0.0.1, so a
local hub needs a non-loopback interface; a fresh namespace gives one that can reach
nothing outside it (address from the benchmarking range 198.18.0.0/15).

    python -m kiosk.netns COMMAND [ARG...]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

ENV_MARK = "DIEMCAU_NETNS"
INTERFACE = "dc0"
ADDRESS = "198.18.0.1"

_SETUP = f"""
set -e
ip link set lo up
ip link add {INTERFACE} type veth peer name {INTERFACE}p
ip addr add {ADDRESS}/24 dev {INTERFACE}
ip link set {INTERFACE} up
ip link set {INTERFACE}p up
exec "$@"
"""


class NetnsUnavailable(RuntimeError):
    """The kernel or the tools here do not allow a private network namespace."""


def inside() -> bool:
    """True when this process already runs in a namespace made by this module."""
    return os.environ.get(ENV_MARK) == "1"


def command(argv: list[str]) -> list[str]:
    """The full command line that runs *argv* inside a fresh private namespace."""
    unshare = shutil.which("unshare")
    ip = shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
    if not unshare or not ip:
        raise NetnsUnavailable("needs 'unshare' (util-linux) and 'ip' (iproute2)")
    flags = "-n" if os.geteuid() == 0 else "-rn"
    return [unshare, flags, "sh", "-c", _SETUP, "diemcau-netns", *argv]


def probe() -> bool:
    """Whether a private namespace can be made here (tried for real, quickly)."""
    try:
        argv = command(["true"])
    except NetnsUnavailable:
        return False
    env = {**os.environ, "PATH": os.environ.get("PATH", "") + ":/usr/sbin:/sbin"}
    done = subprocess.run(argv, capture_output=True, timeout=10, env=env, check=False)
    return done.returncode == 0


def exec_inside(argv: list[str]) -> None:
    """Replace this process with *argv* running inside a fresh private namespace."""
    full = command(argv)
    os.environ[ENV_MARK] = "1"
    os.environ["PATH"] = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
    os.execv(full[0], full)


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit("usage: python -m kiosk.netns COMMAND [ARG...]")
    try:
        exec_inside(sys.argv[1:])
    except (NetnsUnavailable, OSError) as err:
        sys.exit(f"diemcau: cannot create a private network namespace: {err}")


if __name__ == "__main__":
    main()

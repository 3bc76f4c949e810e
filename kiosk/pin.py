"""The technician PIN: stored hashed with scrypt in a 0600 file; five wrong tries lock the
technician area for five minutes, counted across restarts (the count and the lock end are
kept in a second 0600 file, on the wall clock since a restart resets the monotonic one).

    diemcau set-pin [--file PATH]     # asks twice, writes the hash
"""

from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kiosk._files import write_private

DEFAULT_PIN_FILE = Path("/var/lib/diemcau/technician.pin")
MAX_TRIES = 5
LOCK_SECONDS = 300.0
MIN_DIGITS, MAX_DIGITS = 4, 12
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}  # ~50 ms and 16 MB per try


class PinError(ValueError):
    """A PIN that cannot be set (too short, not digits) or a PIN file that cannot be read."""


@dataclass(frozen=True)
class Attempt:
    """The answer to one try: ``ok``; else tries left, or seconds until the lock ends."""

    ok: bool
    tries_left: int = MAX_TRIES
    locked_for: float = 0.0


def _derive(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def set_pin(path: Path, pin: str) -> None:
    """Store *pin* (4–12 digits) hashed; the lock count starts again."""
    if not (pin.isdigit() and MIN_DIGITS <= len(pin) <= MAX_DIGITS):
        raise PinError(f"the PIN must be {MIN_DIGITS} to {MAX_DIGITS} digits")
    salt = secrets.token_bytes(16)
    record = {"kdf": "scrypt", **_SCRYPT, "salt": salt.hex(),
              "hash": _derive(pin, salt, **_SCRYPT).hex()}  # fmt: skip
    write_private(path, json.dumps(record))
    _lock_path(path).unlink(missing_ok=True)


def _lock_path(path: Path) -> Path:
    return path.with_name(path.name + ".lock")


class PinGate:
    """Checks tries against the stored hash; *clock* is the wall clock (injectable)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self.path, self._clock = path, clock

    @property
    def configured(self) -> bool:
        return self.path.is_file()

    def _state(self) -> tuple[int, float]:
        try:
            data = json.loads(_lock_path(self.path).read_text())
            return int(data["failures"]), float(data["locked_until"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0, 0.0

    def _save(self, failures: int, locked_until: float) -> None:
        state = {"failures": failures, "locked_until": locked_until}
        write_private(_lock_path(self.path), json.dumps(state))

    def locked_for(self) -> float:
        """Seconds until a lock ends (0 when not locked)."""
        return max(0.0, self._state()[1] - self._clock())

    def attempt(self, pin: str) -> Attempt:
        failures, until = self._state()
        now = self._clock()
        if until > now:
            return Attempt(False, 0, until - now)
        if until:  # a lock that ended: a fresh set of tries
            failures = 0
        if self._matches(pin):
            self._save(0, 0.0)
            return Attempt(True)
        failures += 1
        if failures >= MAX_TRIES:
            self._save(failures, now + LOCK_SECONDS)
            return Attempt(False, 0, LOCK_SECONDS)
        self._save(failures, 0.0)
        return Attempt(False, MAX_TRIES - failures)

    def _matches(self, pin: str) -> bool:
        try:
            record = json.loads(self.path.read_text())
            salt, stored = bytes.fromhex(record["salt"]), bytes.fromhex(record["hash"])
            got = _derive(pin, salt, int(record["n"]), int(record["r"]), int(record["p"]))
        except (OSError, ValueError, KeyError, TypeError):
            return False
        return hmac.compare_digest(got, stored)


def set_pin_command(path: str) -> int:
    """Ask for the PIN twice (without echo on a terminal) and store it."""
    ask = getpass.getpass if sys.stdin.isatty() else (lambda prompt: sys.stdin.readline())
    first = ask("Mã PIN kỹ thuật mới (4–12 chữ số): ").strip()
    second = ask("Nhập lại mã PIN: ").strip()
    if first != second:
        print("Hai lần nhập không khớp; mã PIN chưa được đặt.", file=sys.stderr)
        return 2
    try:
        set_pin(Path(path), first)
    except (PinError, OSError) as err:
        print(f"Không đặt được mã PIN: {err}", file=sys.stderr)
        return 2
    print(f"Đã đặt mã PIN kỹ thuật ({path}, chỉ chủ sở hữu đọc được).")
    return 0

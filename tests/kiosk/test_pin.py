"""The technician PIN: hashed, 0600, five wrong tries lock for five minutes across restarts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.pin import LOCK_SECONDS, MAX_TRIES, PinError, PinGate, set_pin

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def test_the_pin_is_stored_hashed_in_a_private_file(tmp_path: Path) -> None:
    path = tmp_path / "technician.pin"
    set_pin(path, "482913")
    text = path.read_text()
    assert "482913" not in text and json.loads(text)["kdf"] == "scrypt"
    assert oct(path.stat().st_mode)[-3:] == "600"
    gate = PinGate(path)
    assert gate.attempt("482913").ok and not gate.attempt("482914").ok
    with pytest.raises(PinError):
        set_pin(path, "12a4")


def test_five_wrong_tries_lock_for_five_minutes_even_after_a_restart(tmp_path: Path) -> None:
    path, clock = tmp_path / "technician.pin", Clock()
    set_pin(path, "2468")
    gate = PinGate(path, clock)
    tries = [gate.attempt("0000").tries_left for _ in range(MAX_TRIES - 1)]
    assert tries == [4, 3, 2, 1]
    locked = gate.attempt("0000")
    assert not locked.ok and locked.locked_for == LOCK_SECONDS
    restarted = PinGate(path, clock)  # a new process reads the same files
    clock.now += 60
    refused = restarted.attempt("2468")  # even the right PIN waits
    assert not refused.ok and refused.locked_for == pytest.approx(LOCK_SECONDS - 60)
    clock.now += LOCK_SECONDS - 59
    assert restarted.locked_for() == 0 and restarted.attempt("2468").ok
    assert restarted.attempt("1111").tries_left == MAX_TRIES - 1  # counting starts again


def test_set_pin_command_writes_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pin"
    argv = [sys.executable, "-m", "kiosk.cli", "set-pin", "--file", str(path)]
    done = subprocess.run(argv, input="135790\n135790\n", cwd=ROOT, capture_output=True,
                          text=True, timeout=30)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert PinGate(path).attempt("135790").ok
    again = subprocess.run(argv, input="1111\n2222\n", cwd=ROOT, capture_output=True,
                           text=True, timeout=30)  # fmt: skip
    assert again.returncode == 2 and PinGate(path).attempt("135790").ok

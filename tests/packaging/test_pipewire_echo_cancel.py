"""The PipeWire echo-cancel drop-in, checked against the installed PipeWire in a private daemon.

The live check (packaging/pipewire/check-echo-cancel.sh) runs its own pipewire + wireplumber
in a temporary runtime directory, never the test session's PulseAudio, and stops them on exit.
Floors sit well below what it measured on Debian 12 / PipeWire 0.3.65 (ERLE 49-56 dB,
near-end pass-through +0.1 dB, noise floor -0.3 dB, forwarding 0.0 dB; see
packaging/pipewire/README.md).
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
HERE = ROOT / "packaging" / "pipewire"
CONF = HERE / "60-diemcau-echo-cancel.conf"


@pytest.fixture
def check(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(HERE))
    return importlib.import_module("check_echo_cancel")


def _processes_using(path: Path) -> list[int]:
    """Pids whose environment mentions *path* (the private daemon's runtime directory)."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and str(path).encode() in (proc / "environ").read_bytes():
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def test_live_pipewire_cancels_the_echo_and_passes_the_near_end(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    run = subprocess.run(
        [sys.executable, str(HERE / "check_echo_cancel.py")],
        env=env, capture_output=True, text=True, timeout=90,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    metrics = dict(line.split(": ", 1) for line in run.stdout.splitlines() if ": " in line)
    number = {k: float(v.split()[0]) for k, v in metrics.items() if k != "aec.check"}
    assert number["conf.unknown_keys"] == 0
    assert number["aec.source_channels"] == 4
    assert number["aec.source_rate"] == 48000
    assert number["aec.sink_channels"] >= 2
    assert number["aec.erle"] >= 20.0
    assert -3.0 <= number["aec.near_passthrough"] <= 3.0
    assert number["aec.noise_passthrough"] >= -3.0  # noise suppression off
    assert abs(number["aec.forward_gain"]) <= 1.0
    assert metrics["aec.check"] == "ok"
    assert _processes_using(tmp_path) == []  # pipewire, wireplumber, pw-cat all gone
    assert list(tmp_path.iterdir()) == []  # and their directory removed


def test_misspelt_options_are_named_with_a_suggestion(check: ModuleType) -> None:
    conf = CONF.read_text().replace("webrtc.delay_agnostic", "webrtc.delay_agnostik")
    conf = conf.replace("monitor.mode", "monitor_mode")
    problems = check.unknown_keys(check.module_args(conf))
    assert problems == [
        "module argument 'monitor_mode' is not read by this PipeWire (did you mean monitor.mode?)",
        "aec.args key 'webrtc.delay_agnostik' is not read by this PipeWire "
        "(did you mean webrtc.delay_agnostic?)",
    ]


def test_the_drop_in_uses_only_known_options(check: ModuleType) -> None:
    args = check.module_args(CONF.read_text())
    assert check.unknown_keys(args) == []
    assert check.array_layout(args) == ["AUX0", "AUX1", "AUX2", "AUX3"]
    assert "audio.channels" not in args["sink.props"]  # ignored before PipeWire 0.3.69


def test_stream_targets_are_pointed_at_the_null_devices(check: ModuleType) -> None:
    args = check.module_args(check.pointed_at_null_devices(CONF.read_text()))
    assert args["capture.props"]["target.object"] == "fake_array"
    assert args["playback.props"]["target.object"] == "fake_speakers"
    assert "target.object" not in args["source.props"]

"""The kiosk runs numpy's matrix products on one thread (kiosk/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

PROBE = """
{first}
import ctypes
import numpy
path = next(line.split()[-1] for line in open("/proc/self/maps") if "openblas" in line)
lib = ctypes.CDLL(path)
names = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
         "openblas_get_num_threads")
print(next(getattr(lib, n) for n in names if hasattr(lib, n))())
"""


def _threads(first: str) -> int:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    code = PROBE.format(first=first)
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip())


def test_kiosk_process_uses_one_blas_thread() -> None:
    assert _threads("import kiosk.cli") == 1


def test_without_the_kiosk_numpy_would_use_every_core() -> None:
    # the control: the probe sees OpenBLAS's own default, one thread per core it may run on
    assert _threads("") == min(len(os.sched_getaffinity(0)), 64)

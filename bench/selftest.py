"""How long the field self-test takes: ``diemcau selftest --demo`` as a whole process
(private namespace, local hub, every check, the network part included), several runs.

    .venv/bin/python bench/selftest.py [--runs 5]

Last line: ``selftest_s: <median> s (min .., max ..)``; also the run's own figure (the
checks alone, from the report) and the HTML report's size.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(folder: Path, index: int) -> tuple[float, float, int]:
    out_json, out_html = folder / f"r{index}.json", folder / f"r{index}.html"
    argv = [sys.executable, "-m", "kiosk.cli", "selftest", "--demo",
            "--json", str(out_json), "--html", str(out_html)]  # fmt: skip
    start = time.monotonic()
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    wall = time.monotonic() - start
    if not out_json.exists():
        sys.exit(f"run {index} wrote no report (exit {done.returncode}):\n{done.stderr[-2000:]}")
    report = json.loads(out_json.read_text())
    print(f"run {index}: {wall:.1f} s (checks {report['seconds']:.1f} s), "
          f"verdict {report['verdict']}, exit {done.returncode}")  # fmt: skip
    return wall, float(report["seconds"]), out_html.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="diemcau-bench-") as folder:
        results = [one_run(Path(folder), i) for i in range(1, runs + 1)]
    walls, checks, sizes = zip(*results, strict=True)
    spread = f"(min {min(checks):.1f}, max {max(checks):.1f})"
    print(f"checks_s: {statistics.median(checks):.1f} s {spread}")
    print(f"report_html_kb: {max(sizes) / 1024:.0f}")
    print(
        f"selftest_s: {statistics.median(walls):.1f} s (min {min(walls):.1f}, max {max(walls):.1f})"
    )


if __name__ == "__main__":
    main()

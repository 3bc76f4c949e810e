"""``diemcau selftest``: run the self-test from a terminal with a progress bar and write
the reports. ``--demo`` runs it on the synthetic kit against the embedded local hub,
inside a private network namespace, exactly as ``diemcau demo`` starts them."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from kiosk import netns

if TYPE_CHECKING:  # the heavy imports wait until after the move into the namespace
    from devices import CheckResult
    from kiosk.selftest import Kit, Report

BAR = 30
MARKS = {"pass": "✓", "warn": "!", "fail": "✗"}


def progress_bar(done: int, total: int, result: CheckResult) -> None:
    """One bar on stderr, redrawn in place on a terminal (a line per check otherwise)."""
    filled = BAR * done // max(total, 1)
    line = (f"[{'#' * filled}{'.' * (BAR - filled)}] {done:2}/{total} "
            f"{MARKS[result.verdict.value]} {result.key}")  # fmt: skip
    if sys.stderr.isatty():
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{line:<72}{end}")
    else:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def _finish(report: Report, json_path: str | None, html_path: str | None, url: str | None) -> int:
    from kiosk.report import write_html, write_json
    from kiosk.selftest import summary_lines

    for line in summary_lines(report):
        print(line)
    if json_path:
        write_json(report, Path(json_path), url)
        print(f"JSON report: {json_path}")
    if html_path:
        write_html(report, Path(html_path), url)
        print(f"HTML report: {html_path} ({Path(html_path).stat().st_size // 1024} kB)")
    return report.exit_code


def _run(kit: Kit) -> Report:
    from kiosk.selftest import run_selftest

    return asyncio.run(run_selftest(kit, progress_bar))


def selftest_command(config: str, json_path: str | None, html_path: str | None, demo: bool) -> int:
    """Exit 0 when every check passes, 1 with warnings, 2 with any failure."""
    if demo:
        return _demo(json_path, html_path)
    from kiosk.config import ConfigError, load_config
    from kiosk.selftest import config_kit

    try:
        kit = config_kit(load_config(config))
    except ConfigError as err:
        print(err, file=sys.stderr)
        return 2
    url = kit.hub.url if kit.hub else None
    return _finish(_run(kit), json_path, html_path, url)


def _demo(json_path: str | None, html_path: str | None) -> int:
    if not netns.inside() and netns.probe():
        netns.exec_inside([sys.executable, "-m", "kiosk.cli", *sys.argv[1:]])
    from kiosk.hub import LocalHub
    from kiosk.selftest import demo_kit

    interface = netns.INTERFACE if netns.inside() else ""
    with (
        LocalHub(interface=interface) as hub,
        tempfile.TemporaryDirectory(prefix="diemcau-selftest-") as workdir,
    ):
        report = _run(demo_kit(hub.url, Path(workdir)))
        return _finish(report, json_path, html_path, hub.url)

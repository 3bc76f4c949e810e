"""The whole self-test: the synthetic kit against the real hub, faults, the reports, the CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from devices import CheckResult, SyntheticCamera, Verdict
from devices.loopback import SimulatedRoomPath
from devices.system import GB, DiskUsage
from kiosk.report import render_html, to_json
from kiosk.selftest import demo_kit, in_thread, run_selftest, total_checks
from tests._util import wait_until

ROOT = Path(__file__).resolve().parents[2]
HOST_DEPENDENT = {"clock", "cpu_temp"}  # this machine's own state, not the kit's


async def test_the_synthetic_kit_passes_within_the_budget(hub: Any, tmp_path: Path) -> None:
    kit = demo_kit(hub.url, tmp_path)
    kit.media_step_s = 0.6
    seen: list[tuple[int, int, str]] = []
    report = await run_selftest(kit, lambda done, total, r: seen.append((done, total, r.key)))
    assert len(report.results) == total_checks(kit) == len(seen) == seen[-1][0]
    failing = {r.key: r.summary for r in report.results
               if r.verdict is not Verdict.PASS and r.key not in HOST_DEPENDENT}  # fmt: skip
    assert failing == {}
    assert report.seconds < 15
    page = render_html(report, hub.url)
    assert len(page.encode()) < 1_000_000
    assert page.count("data:image/jpeg;base64,") == 1 and page.count("<svg") == 3
    data = to_json(report, hub.url)
    assert [c["key"] for c in data["checks"]][:3] == ["camera", "mic_array", "loopback"]


async def test_faults_give_their_verdicts_and_hints(tmp_path: Path) -> None:
    """Dead speaker, dead mic channel, full disk and no hub at once: each named."""
    kit = demo_kit("ws://127.0.0.1:9/", tmp_path)
    kit.acoustic = SimulatedRoomPath(4, speaker_alive=False)
    healthy = kit.mic_blocks

    def channel_three_dead() -> Any:
        for block in healthy():
            block = block.copy()
            block[:, 3] = 0.0
            yield block

    kit.mic_blocks = channel_three_dead
    kit.disk_usage = lambda path: DiskUsage(16 * GB, 16 * GB - GB // 10, GB // 10)
    report = await run_selftest(kit)
    got = {r.key: r for r in report.results}
    assert report.exit_code == 2
    assert got["loopback"].verdict is Verdict.FAIL and "âm ly" in got["loopback"].hint.vi
    assert got["mic_array"].verdict is Verdict.FAIL and "channel 3" in got["mic_array"].summary
    assert got["disk"].verdict is Verdict.FAIL and "đầy" in got["disk"].hint.vi
    assert got["net.tcp"].verdict is Verdict.FAIL and got["camera"].verdict is Verdict.PASS


async def test_a_hung_check_is_given_up_at_its_timeout() -> None:
    release = threading.Event()

    def hang() -> CheckResult:
        release.wait(30)
        return CheckResult("camera", Verdict.PASS, "late")

    start = time.monotonic()
    result = await in_thread("camera", hang, timeout=0.5)
    release.set()
    assert time.monotonic() - start < 2
    assert result.verdict is Verdict.FAIL and "within" in result.summary and result.hint.vi


async def test_a_black_camera_in_the_kit_fails(tmp_path: Path) -> None:
    class Black(SyntheticCamera):
        def render(self, counter: int, wall: float) -> Any:
            return super().render(counter, wall) * 0

    kit = replace(demo_kit("ws://127.0.0.1:9/", tmp_path), camera=Black("x", 320, 180, 15))
    got = {r.key: r for r in (await run_selftest(kit)).results}
    assert got["camera"].verdict is Verdict.FAIL and "đen" in got["camera"].hint.vi


def test_the_command_runs_the_demo_and_writes_both_reports(hub: Any, tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    argv = [sys.executable, "-m", "kiosk.cli", "selftest", "--demo",
            "--json", str(out_json), "--html", str(out_html)]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    data = json.loads(out_json.read_text())
    worst_kit = {c["verdict"] for c in data["checks"] if c["key"] not in HOST_DEPENDENT}
    assert worst_kit == {"pass"}, done.stdout
    assert done.returncode == {"pass": 0, "warn": 1, "fail": 2}[data["verdict"]]
    assert re.search(r"\] 14/14 . net|\] 14/14", done.stderr)  # the progress bar got to the end
    assert out_html.stat().st_size < 1_000_000 and oct(out_html.stat().st_mode)[-3:] == "600"
    assert "Báo cáo tự kiểm tra" in out_html.read_text()


async def test_a_check_watches_the_camera_the_kiosk_has_open(tmp_path: Path) -> None:
    """A V4L2 camera streams to one reader: while the kiosk runs, the self-test (scheduled
    or the technician's) checks the kiosk's own camera instead of opening the device again
    (which would fail), and leaves it running. Another device is opened as before."""
    from kiosk.config import parse_config
    from kiosk.selftest import config_kit, same_device

    text = '[site]\nname = "Xã A"\n[hub]\nurl = "ws://127.0.0.1:9/"\nroom = 1234\n'
    text += f'[state]\ndir = "{tmp_path}"\n[camera]\ndevice = "/dev/video7"\n'
    config = parse_config(text)
    running = SyntheticCamera("Xã A", 320, 180, 15)
    running.start()
    try:
        kit = config_kit(config, ("/dev/video7", running))
        assert kit.camera is running and not kit.own_camera
        kit = replace(kit, hub=None, acoustic=SimulatedRoomPath(kit.mic_channels))
        got = {r.key: r for r in (await run_selftest(kit)).results}
        assert got["camera"].verdict is Verdict.PASS, got["camera"]
        after = running.counter
        await wait_until(lambda: running.counter > after + 3, 10)  # still running
        other = config_kit(config, ("/dev/video0", running))
        assert other.camera is not running and other.own_camera
        by_id = tmp_path / "usb-Logitech-video-index0"  # /dev/v4l/by-id/... is a link
        by_id.symlink_to(tmp_path / "video7")
        assert same_device(str(by_id), str(tmp_path / "video7"))  # shared, not reopened
        assert not same_device("/dev/video0", str(tmp_path / "video7"))
    finally:
        running.stop()

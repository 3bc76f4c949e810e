"""The field self-test: every check of the kit, in parallel lanes, each with its own timeout.

A :class:`Kit` names what to test (the configured devices, or the synthetic kit of the
demo) and how to read the machine; :func:`run_selftest` runs the lanes at once — the
camera, the audio devices (array first, then the loopback, which would disturb it), the
machine, the network — and reports each result as it comes. A device check runs in a
named daemon thread: one that hangs is given up at its timeout and can never hold the run
(or the process) past it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import platform
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from devices import Camera, CheckResult, Hint, Verdict, open_camera, system, worst
from devices import checks as device_checks
from devices.loopback import AcousticPath, SimulatedRoomPath, SoundDeviceLoop, check_loopback
from devices.scene import render
from devices.voice import ScriptedMicArray
from endpoint.probe import HubTarget, probe_hub, skipped
from kiosk.config import Config

log = logging.getLogger(__name__)

RATE = 48000
TIMEOUTS = {"camera": 6.0, "mic_array": 5.0, "loopback": 6.0, "system": 4.0, "network": 28.0}
NET_KEYS = ["dns", "tcp", "tls", "websocket", "media"]
# The longest a run can take: its slowest lane, every check in it at its timeout.
MAX_SECONDS = max(
    TIMEOUTS["network"], TIMEOUTS["mic_array"] + TIMEOUTS["loopback"], 6 * TIMEOUTS["system"]
)
DEMO_SITE = "Xã Bản Vẽ (bộ thử)"

HUNG = Hint(
    "Kiểm tra bị treo quá thời gian — rút và cắm lại thiết bị rồi chạy lại",
    "The check hung past its timeout — replug the device and run again",
)
BROKEN = Hint(
    "Kiểm tra gặp lỗi bất ngờ — chạy lại; nếu vẫn lỗi, gửi báo cáo cho kỹ thuật",
    "The check failed unexpectedly — run again; if it persists, send the report to support",
)
NO_HUB = Hint("Chưa cấu hình máy chủ huyện", "No hub is configured")

Blocks = Callable[[], Iterable[np.ndarray]]


@dataclass
class Kit:
    """What the self-test looks at; every reader injectable (tests, the synthetic kit)."""

    site: str
    camera: Camera
    mic_blocks: Blocks
    mic_channels: int
    acoustic: AcousticPath
    hub: HubTarget | None
    disk_path: Path
    audio_server: Callable[[], CheckResult] = system.check_audio_server
    displays: Callable[[], list[tuple[str, str]]] = system.read_displays
    disk_usage: Callable[[Path], system.DiskUsage] | None = None
    clock: Callable[[], system.ClockState | None] = system.read_clock
    temperature: Callable[[], float | None] = system.read_temperature
    own_camera: bool = True
    mic_rate: int = RATE
    media_step_s: float = 1.0


@dataclass
class Report:
    site: str
    started: str
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    version: str = "unknown"

    @property
    def verdict(self) -> Verdict:
        return worst(self.results)

    @property
    def exit_code(self) -> int:
        return self.verdict.rank


Progress = Callable[[int, int, CheckResult], None]


# --- the kits ----------------------------------------------------------------------------------


def scripted_blocks(mics: np.ndarray) -> Blocks:
    """Capture blocks of a recording, as a fresh iterator each time."""
    return lambda: (block.mics for block in ScriptedMicArray(mics, RATE).blocks())


def demo_kit(hub_url: str, workdir: Path, camera: Camera | None = None) -> Kit:
    """The synthetic kit of ``diemcau demo``: test-pattern camera, a quiet four-microphone
    room, the room's acoustic path from the loudspeaker, one synthetic display."""
    room, _ = render([], 1.5, mics=4)
    return Kit(
        site=DEMO_SITE, camera=camera or device_checks_camera(DEMO_SITE),
        mic_blocks=scripted_blocks(room), mic_channels=4, acoustic=SimulatedRoomPath(4),
        hub=HubTarget(hub_url), disk_path=workdir,
        audio_server=lambda: _synthetic("audio_server", "synthetic kit: no sound server used"),
        displays=lambda: [("synthetic", "1280x720")],
    )  # fmt: skip


def device_checks_camera(site: str) -> Camera:
    return open_camera("synthetic", site, 640, 360, 15)


def _synthetic(key: str, summary: str) -> CheckResult:
    return CheckResult(key, Verdict.PASS, summary)


def config_kit(config: Config, running: tuple[str, Camera] | None = None) -> Kit:
    """The kit a configuration describes (real devices, or its synthetic stand-ins).

    *running*: the camera the kiosk has open and its device. When the configuration names
    that device, the check watches the kiosk's camera instead of opening the device again:
    a V4L2 camera streams to one reader, so a second open fails (EBUSY) and every check
    made while the kiosk runs would report the camera missing.
    """
    cam, mic, spk, voice = config.camera, config.microphone, config.speaker, config.voice
    shared = running is not None and same_device(running[0], cam.device)
    camera = running[1] if running is not None and shared else None
    channels = voice.mics if voice.enabled else 1
    hub = config.hub
    target = HubTarget(hub.url, str(hub.ca_file) if hub.ca_file else None,
                       hub.read_token(), tuple(hub.ice_servers))  # fmt: skip
    acoustic: AcousticPath = (
        SimulatedRoomPath(channels) if mic.synthetic and spk.synthetic
        else SoundDeviceLoop(spk.device, mic.device, channels)
    )  # fmt: skip
    return Kit(
        site=config.site.name,
        camera=camera or open_camera(cam.device, config.site.name, cam.width, cam.height, cam.fps),
        mic_blocks=_mic_blocks(config, channels), mic_channels=channels, acoustic=acoustic,
        hub=target, disk_path=_existing(config.state.dir), own_camera=camera is None,
    )  # fmt: skip


def same_device(a: str, b: str) -> bool:
    """Whether two device names are one device (``/dev/v4l/by-id/...`` is a link)."""
    return a == b or os.path.realpath(a) == os.path.realpath(b)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _mic_blocks(config: Config, channels: int) -> Blocks:
    mic, voice = config.microphone, config.voice
    if mic.synthetic and voice.enabled and voice.script_wav is not None:
        array = ScriptedMicArray.from_wav(voice.script_wav)
        return lambda: (b.mics[:, :channels] for b in array.blocks())
    if mic.synthetic:
        room, _ = render([], 1.5, mics=channels)
        return scripted_blocks(room)
    return lambda: _live_blocks(mic.device, channels)


def _live_blocks(device: str, channels: int) -> Iterator[np.ndarray]:
    from devices.room_voice import ArrayCapture

    capture = ArrayCapture(device, channels)
    capture.start()
    try:
        yield from (block.mics for block in capture.blocks())
    finally:
        capture.stop()


# --- running checks ----------------------------------------------------------------------------


async def in_thread(key: str, work: Callable[[], CheckResult], timeout: float) -> CheckResult:
    """*work* in a named daemon thread; a failure or a hang past *timeout* is a result."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[CheckResult] = loop.create_future()
    start = time.monotonic()

    def settle(result: CheckResult) -> None:
        if not future.done():
            future.set_result(result)

    def body() -> None:
        try:
            result = work()
        except Exception as err:  # noqa: BLE001 - a broken check is a failed check
            log.exception("self-test check %s failed", key)
            result = CheckResult(key, Verdict.FAIL, f"error: {type(err).__name__}: {err}", BROKEN)
        with contextlib.suppress(RuntimeError):  # the self-test was over (its loop closed)
            loop.call_soon_threadsafe(settle, result)

    threading.Thread(target=body, name=f"selftest:{key}", daemon=True).start()
    try:
        async with asyncio.timeout(timeout):
            result = await future
    except TimeoutError:
        log.warning("self-test check %s hung past %.0f s", key, timeout)
        result = CheckResult(key, Verdict.FAIL, f"no result within {timeout:.0f} s", HUNG)
    return replace(result, seconds=round(time.monotonic() - start, 2))


def _camera_lane(kit: Kit) -> list[tuple[str, Callable[[], CheckResult], float]]:
    return [("camera", lambda: device_checks.check_camera(kit.camera, own=kit.own_camera),
             TIMEOUTS["camera"])]  # fmt: skip


def _audio_lane(kit: Kit) -> list[tuple[str, Callable[[], CheckResult], float]]:
    def mic() -> CheckResult:
        return device_checks.check_mic_array(kit.mic_blocks(), kit.mic_rate, kit.mic_channels)

    return [("mic_array", mic, TIMEOUTS["mic_array"]),
            ("loopback", lambda: check_loopback(kit.acoustic), TIMEOUTS["loopback"])]  # fmt: skip


def _system_lane(kit: Kit) -> list[tuple[str, Callable[[], CheckResult], float]]:
    t = TIMEOUTS["system"]
    return [
        ("audio_server", kit.audio_server, t),
        ("displays", lambda: system.check_displays(kit.displays()), t),
        ("disk", lambda: system.check_disk(kit.disk_path, kit.disk_usage), t),
        ("clock", lambda: system.check_clock(kit.clock()), t),
        ("cpu_temp", lambda: system.check_temperature(kit.temperature()), t),
        ("version", version_check, t),
    ]


def version_check() -> CheckResult:
    versions = {name: _version(name) for name in ("diemcau", "aiortc", "PyQt6")}
    versions["python"] = platform.python_version()
    summary = ", ".join(f"{name} {v}" for name, v in versions.items())
    return CheckResult("version", Verdict.PASS, summary, metrics=versions)


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


LANES = (_camera_lane, _audio_lane, _system_lane)


def total_checks(kit: Kit) -> int:
    return sum(len(lane(kit)) for lane in LANES) + len(NET_KEYS)


async def run_selftest(kit: Kit, progress: Progress = lambda done, total, r: None) -> Report:
    """Every check of *kit*; *progress* hears each result as it comes."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    report = Report(kit.site, started, version=_version("diemcau"))
    total, begin = total_checks(kit), time.monotonic()

    def note(result: CheckResult) -> None:
        report.results.append(result)
        progress(len(report.results), total, result)

    async def lane(items: list[tuple[str, Callable[[], CheckResult], float]]) -> None:
        for key, work, timeout in items:
            note(await in_thread(key, work, timeout))

    await asyncio.gather(*(lane(make(kit)) for make in LANES), _network(kit, note))
    report.seconds = round(time.monotonic() - begin, 2)
    report.results.sort(key=lambda r: _ORDER.get(r.key, 99))
    return report


async def _network(kit: Kit, note: Callable[[CheckResult], None]) -> None:
    if kit.hub is None:
        for result in skipped(NET_KEYS, "no hub configured"):
            note(replace(result, hint=NO_HUB))
        return
    seen: list[str] = []

    def heard(result: CheckResult) -> None:
        seen.append(result.key)
        note(result)

    try:
        async with asyncio.timeout(TIMEOUTS["network"]):
            await probe_hub(kit.hub, heard, step_s=kit.media_step_s)
    except TimeoutError:
        left = [k for k in NET_KEYS if f"net.{k}" not in seen]
        for result in skipped(left, "network checks timed out"):
            note(replace(result, hint=HUNG))


_ORDER = {key: i for i, key in enumerate(
    ["camera", "mic_array", "loopback", "audio_server", "displays",
     *(f"net.{k}" for k in NET_KEYS), "disk", "clock", "cpu_temp", "version"]
)}  # fmt: skip


def failed_report(site: str, err: BaseException) -> Report:
    """The report of a self-test that could not run at all: one failed verdict."""
    started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    why = f"the self-test could not run: {type(err).__name__}: {err}"
    result = CheckResult("selftest", Verdict.FAIL, why, BROKEN)
    return Report(site, started, [result], version=_version("diemcau"))


def summary_lines(report: Report) -> Iterator[str]:
    """The verdict table as plain text lines (terminal)."""
    for r in report.results:
        hint = f"  → {r.hint.vi}" if r.hint.vi else ""
        yield f"{r.verdict.value.upper():4} {r.key:14} {r.summary}{hint}"
    yield f"verdict: {report.verdict.value} in {report.seconds:.1f} s"


def public_metrics(result: CheckResult) -> dict[str, Any]:
    """Metrics safe to show anywhere (nothing here carries a secret; kept as one place)."""
    return {k: v for k, v in result.metrics.items() if "token" not in k and "pin" not in k}

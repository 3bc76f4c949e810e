"""Self-test checks of the machine around the devices: audio server and echo canceller,
displays, disk space, clock synchronisation, CPU temperature.

Every reader is injectable (a path, a command runner, a function), so the tests and the
synthetic kit exercise the same judging code as the real machine.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from devices._verdict import CheckResult, Hint, Verdict, finding, passed

GB = 1 << 30
DISK_FAIL_BYTES = 1 * GB
DISK_WARN_BYTES = 5 * GB
HOT_WARN_C = 80.0
HOT_FAIL_C = 90.0

HINTS = {
    "audio.none": Hint(
        "Không thấy dịch vụ âm thanh — khởi động lại máy; nếu vẫn lỗi, gọi kỹ thuật",
        "No audio server is running — restart the kit; if it persists, call support",
    ),
    "audio.aec": Hint(
        "Chưa bật bộ khử tiếng vọng — cài lại gói diemcau (cấu hình PipeWire echo-cancel)",
        "The echo canceller is not loaded — reinstall diemcau (PipeWire echo-cancel drop-in)",
    ),
    "display.none": Hint(
        "Không thấy màn hình/TV — kiểm tra dây HDMI và bật TV đúng cổng vào",
        "No display connected — check the HDMI cable and the TV's input",
    ),
    "disk.full": Hint(
        "Ổ đĩa gần đầy — xóa bớt bản ghi cũ hoặc chép sang USB",
        "The disk is nearly full — delete old recordings or move them to a USB stick",
    ),
    "disk.low": Hint(
        "Ổ đĩa còn ít chỗ — nên dọn bản ghi cũ",
        "Disk space is getting low — clean up old recordings",
    ),
    "clock": Hint(
        "Đồng hồ máy chưa đồng bộ — kiểm tra mạng; giờ sai làm hỏng kết nối bảo mật",
        "The clock is not synchronised — check the network; a wrong time breaks TLS",
    ),
    "hot": Hint(
        "Máy quá nóng — để máy nơi thoáng, lau bụi khe gió",
        "The computer is too hot — give it air, clean the vents",
    ),
}


# --- audio server --------------------------------------------------------------------------


Runner = Callable[[list[str]], str | None]


def run_command(argv: list[str], timeout: float = 3.0) -> str | None:
    """stdout of *argv*, or None when it is missing or fails."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def check_audio_server(run: Runner = run_command) -> CheckResult:
    """The sound server answers (``pactl info``) and an echo canceller is loaded."""
    info = run(["pactl", "info"])
    if info is None:
        return finding("audio_server", Verdict.FAIL, "no audio server answers", HINTS["audio.none"])
    name = next((ln.split(":", 1)[1].strip() for ln in info.splitlines()
                 if ln.startswith("Server Name")), "unknown")  # fmt: skip
    modules = (run(["pactl", "list", "short", "modules"]) or "") + (
        run(["pactl", "list", "short", "sources"]) or ""
    )
    aec = "echo-cancel" in modules or "echo_cancel" in modules
    summary = f"{name}; echo canceller {'loaded' if aec else 'missing'}"
    if not aec:
        return finding("audio_server", Verdict.WARN, summary, HINTS["audio.aec"], server=name)
    return passed("audio_server", summary, server=name, echo_cancel=True)


# --- displays -------------------------------------------------------------------------------


def read_displays(drm: Path = Path("/sys/class/drm")) -> list[tuple[str, str]]:
    """Connected outputs and their preferred mode, from the kernel's DRM connectors."""
    found = []
    for connector in sorted(drm.glob("card*-*")):
        try:
            status = (connector / "status").read_text().strip()
            modes = (connector / "modes").read_text().split()
        except OSError:
            continue
        if status == "connected":
            found.append((connector.name.split("-", 1)[1], modes[0] if modes else "?"))
    return found


def check_displays(displays: list[tuple[str, str]]) -> CheckResult:
    """At least one display connected; each listed with its resolution."""
    if not displays:
        return finding("displays", Verdict.FAIL, "no display connected", HINTS["display.none"])
    listed = ", ".join(f"{name} {mode}" for name, mode in displays)
    return passed("displays", listed, displays=[list(d) for d in displays])


# --- disk, clock, temperature ---------------------------------------------------------------


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


def check_disk(path: Path, usage: Callable[[Path], DiskUsage] | None = None) -> CheckResult:
    """Free space where recordings and state are written."""
    read = usage or (lambda p: DiskUsage(*shutil.disk_usage(p)))
    try:
        disk = read(path)
    except OSError as err:
        return finding("disk", Verdict.FAIL, f"{path}: {err.strerror}", HINTS["disk.full"])
    free_gb = disk.free / GB
    metrics = {
        "path": str(path),
        "free_gb": round(free_gb, 2),
        "total_gb": round(disk.total / GB, 1),
    }
    summary = f"{free_gb:.1f} GB free of {disk.total / GB:.0f} GB at {path}"
    if disk.free < DISK_FAIL_BYTES:
        return finding("disk", Verdict.FAIL, summary, HINTS["disk.full"], **metrics)
    if disk.free < DISK_WARN_BYTES:
        return finding("disk", Verdict.WARN, summary, HINTS["disk.low"], **metrics)
    return passed("disk", summary, **metrics)


class ClockState(NamedTuple):
    synchronised: bool
    max_error_ms: float


class _Timex(ctypes.Structure):
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("_pad", ctypes.c_byte * 200)]  # fmt: skip


def read_clock() -> ClockState | None:
    """The kernel's view (adjtimex): TIME_ERROR (5) means not synchronised."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    timex = _Timex()
    state = int(ctypes.CDLL(name, use_errno=True).adjtimex(ctypes.byref(timex)))
    if state < 0:
        return None
    return ClockState(state != 5, timex.maxerror / 1000.0)


def check_clock(state: ClockState | None) -> CheckResult:
    if state is None:
        return finding("clock", Verdict.WARN, "clock state unreadable", HINTS["clock"])
    synced = "synchronised" if state.synchronised else "NOT synchronised"
    summary = f"{synced}, max error {state.max_error_ms:.0f} ms"
    if not state.synchronised:
        return finding("clock", Verdict.WARN, summary, HINTS["clock"], synchronised=False)
    return passed("clock", summary, synchronised=True, max_error_ms=state.max_error_ms)


def read_temperature(thermal: Path = Path("/sys/class/thermal")) -> float | None:
    """The hottest thermal zone in °C, None where none is readable."""
    temps = []
    for zone in thermal.glob("thermal_zone*/temp"):
        try:
            temps.append(int(zone.read_text().strip()) / 1000.0)
        except (OSError, ValueError):
            continue
    return max(temps) if temps else None


def check_temperature(celsius: float | None) -> CheckResult:
    if celsius is None:
        return passed("cpu_temp", "not readable on this machine", readable=False)
    summary = f"{celsius:.0f} °C"
    if celsius >= HOT_FAIL_C:
        return finding("cpu_temp", Verdict.FAIL, summary, HINTS["hot"], celsius=celsius)
    if celsius >= HOT_WARN_C:
        return finding("cpu_temp", Verdict.WARN, summary, HINTS["hot"], celsius=celsius)
    return passed("cpu_temp", summary, celsius=celsius)

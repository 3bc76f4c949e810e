"""The kiosk's side of the technician area: PIN gate, self-test on the kiosk's own kit,
settings with secrets masked, recent log lines, export of the last report to a USB stick.

``attach_technician(app)`` builds the area for a running :class:`kiosk.app.KioskApp` and
opens it from the window's discreet «Kỹ thuật» entry.  The last report (the area's own run or
a scheduled check, see :mod:`kiosk.autocheck`) is kept in the state folder, so it can be
exported after a restart too; the device choice is kept there as well
(:mod:`kiosk.device_choice`) and used from the next start.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from pathlib import Path
from typing import Any

from devices import Camera, CheckResult
from kiosk import device_choice as dc
from kiosk.config import Config
from kiosk.pin import DEFAULT_PIN_FILE, Attempt, PinGate
from kiosk.report import (
    LAST_JSON,
    copy_last,
    export_name,
    safe_url,
    save_last,
    write_html,
    write_json,
)
from kiosk.selftest import Kit, Report, config_kit, run_selftest
from ui import texts

log = logging.getLogger(__name__)

USB_ROOTS = (Path("/media"), Path("/run/media"))
LOG_LINES = 200


class RecentLog(logging.Handler):
    """The last log lines, kept in memory for the technician screen."""

    def __init__(self, size: int = LOG_LINES) -> None:
        super().__init__(logging.INFO)
        self.lines: collections.deque[str] = collections.deque(maxlen=size)
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def usb_stick(roots: tuple[Path, ...] = USB_ROOTS) -> Path | None:
    """The first mounted removable volume we can write to (under /media or /run/media)."""
    for root in roots:
        for folder in sorted(root.glob("*/*")) + sorted(root.glob("*")):
            if folder.is_dir() and folder.is_mount():
                return folder
    return None


class KioskTechnician:
    """The :class:`ui.technician.TechnicianBackend` of a kiosk; ``config`` is the
    configuration as its file says (the device choice is laid over it here)."""

    def __init__(
        self, config: Config, kit: Kit | None = None, *, pin_file: Path = DEFAULT_PIN_FILE,
        clock: Any = time.time, usb: Any = usb_stick, recent: RecentLog | None = None,
        version: str = "unknown", running: tuple[str, Camera] | None = None,
    ) -> None:  # fmt: skip
        """*running*: the kiosk's open camera and its device (see ``config_kit``)."""
        self.config, self.version = config, version
        self._kit, self._running = kit, running
        self.gate = PinGate(pin_file, clock)
        self._usb = usb
        self.recent = recent or RecentLog()
        self.last: Report | None = None
        self.state_dir = config.state.dir
        self.chosen = dc.load_choice(self.state_dir, self.config)
        self.lock = asyncio.Lock()  # one self-test at a time: this area's or a scheduled one

    def attempt(self, pin: str) -> Attempt:
        return self.gate.attempt(pin)

    async def run_selftest(self, progress: Any) -> Report:
        kit = self._kit or config_kit(dc.apply_choice(self.config, self.chosen), self._running)
        async with self.lock:  # a scheduled check that runs is waited for
            report = await run_selftest(kit, progress)
        self.keep(report)
        save_last(report, self.state_dir, self.config.hub.url)
        return report

    def keep(self, report: Report) -> None:
        """*report* (this area's run, or a scheduled check) is the last one."""
        self.last = report

    def last_report(self) -> Report | None:
        return self.last

    def can_export(self) -> bool:
        return self.last is not None or (self.state_dir / LAST_JSON).is_file()

    def export(self) -> str:
        """The last report onto the USB stick (from memory, or as kept in the state folder
        by an earlier run); the HTML's path."""
        target = self._usb()
        if target is None:
            raise OSError("no USB stick mounted")
        if self.last is None:
            return str(copy_last(self.state_dir, Path(target)))
        html = Path(target) / export_name(self.last.started)
        write_html(self.last, html, self.config.hub.url)
        write_json(self.last, html.with_suffix(".json"), self.config.hub.url)
        return str(html)

    def settings(self) -> list[tuple[str, str]]:
        hub = self.config.hub
        secret = {True: texts.SECRET_SET, False: texts.SECRET_UNSET}
        return [
            ("Địa chỉ máy chủ", safe_url(hub.url)),
            ("Phòng họp", str(hub.room)),
            ("Mã PIN phòng", secret[hub.pin_file is not None]),
            ("Mã xác thực", secret[hub.token_file is not None]),
            ("Tệp CA", str(hub.ca_file) if hub.ca_file else "hệ thống"),
            ("Máy chủ STUN/TURN", ", ".join(safe_url(u) for u in hub.ice_servers) or "không"),
        ]

    def device_choices(self) -> dict[str, list[str]]:
        """Per kind, the devices to offer: the current one first, then the configured one."""
        found = {
            "camera": _video_devices(),
            "microphone": _audio_devices("max_input_channels"),
            "speaker": _audio_devices("max_output_channels"),
        }
        defaults = dc.defaults(self.config)
        return {
            kind: _choices(self.current_device(kind)[0], [defaults[kind], *found[kind]])
            for kind in dc.KINDS
        }

    def current_device(self, kind: str) -> tuple[str, bool]:
        """The device used for *kind* and whether the technician chose it."""
        chosen = self.chosen.get(kind)
        return (chosen, True) if chosen else (dc.defaults(self.config)[kind], False)

    def choose_device(self, kind: str, name: str) -> bool:
        """Kept in the state folder: used by the next self-test at once and by the room from
        its next start.  The configured device means «as configured»; False if not saved."""
        if name == dc.defaults(self.config)[kind]:
            self.chosen.pop(kind, None)
        else:
            self.chosen[kind] = name
        return dc.save_choice(self.chosen, self.state_dir, self.config)

    def reset_devices(self) -> bool:
        """Back to the devices of the configuration file."""
        self.chosen = {}
        return dc.save_choice(self.chosen, self.state_dir, self.config)

    def log_lines(self) -> list[str]:
        return list(self.recent.lines)[-50:]


def _choices(current: str, others: list[str]) -> list[str]:
    return [current, *(o for o in [*others, "synthetic"] if o != current)]


def _video_devices() -> list[str]:
    return sorted(str(p) for p in Path("/dev").glob("video*"))


def _audio_devices(channels: str) -> list[str]:
    """The sound system's devices with ``channels`` (inputs or outputs), by name."""
    try:
        import sounddevice as sd

        listed = sd.query_devices()
    except Exception as err:  # no PortAudio, no sound server: only the configured ones
        log.warning("cannot list the sound devices: %s", err)
        return []
    return [str(d["name"]) for d in listed if d.get(channels, 0) > 0]


def summary(result: CheckResult) -> str:
    return f"{result.key}: {result.verdict.value}"


def attach_technician(app: Any, pin_file: Path = DEFAULT_PIN_FILE) -> Any:
    """Open the technician area from *app*'s window (a :class:`kiosk.app.KioskApp`);
    returns the area (a window of its own, PIN first every time it opens)."""
    from importlib import metadata

    from ui.technician import TechnicianArea

    recent = RecentLog()
    logging.getLogger().addHandler(recent)
    try:
        version = metadata.version("diemcau")
    except metadata.PackageNotFoundError:
        version = "unknown"
    running = (app.config.camera.device, app.devices.camera)
    backend = KioskTechnician(
        app.file_config, pin_file=pin_file, recent=recent, version=version, running=running
    )
    area = TechnicianArea(backend)

    def open_area() -> None:
        area.lock()
        area.resize(1000, 700)
        area.show()

    app.window.technicianRequested.connect(open_area)
    return area

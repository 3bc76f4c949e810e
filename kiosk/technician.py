"""The kiosk's side of the technician area: PIN gate, self-test on the kiosk's own kit,
settings with secrets masked, recent log lines, export of the last report to a USB stick.

``attach_technician(app)`` builds the area for a running :class:`kiosk.app.KioskApp` and
opens it from the window's discreet «Kỹ thuật» entry.
"""

from __future__ import annotations

import collections
import logging
import time
from pathlib import Path
from typing import Any

from devices import CheckResult
from kiosk.config import Config
from kiosk.pin import DEFAULT_PIN_FILE, Attempt, PinGate
from kiosk.report import safe_url, write_html, write_json
from kiosk.selftest import Kit, Report, config_kit, run_selftest
from ui import texts

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
    """The :class:`ui.technician.TechnicianBackend` of a kiosk."""

    def __init__(
        self, config: Config, kit: Kit | None = None, *, pin_file: Path = DEFAULT_PIN_FILE,
        clock: Any = time.time, usb: Any = usb_stick, recent: RecentLog | None = None,
        version: str = "unknown",
    ) -> None:  # fmt: skip
        self.config, self.version = config, version
        self._kit = kit
        self.gate = PinGate(pin_file, clock)
        self._usb = usb
        self.recent = recent or RecentLog()
        self.last: Report | None = None
        self.chosen: dict[str, str] = {}

    def attempt(self, pin: str) -> Attempt:
        return self.gate.attempt(pin)

    async def run_selftest(self, progress: Any) -> Report:
        kit = self._kit or config_kit(self.config)
        self.last = await run_selftest(kit, progress)
        return self.last

    def export(self) -> str:
        if self.last is None:
            raise OSError("no report yet")
        target = self._usb()
        if target is None:
            raise OSError("no USB stick mounted")
        stamp = self.last.started.replace(":", "").replace("-", "")[:15]
        html = Path(target) / f"diemcau-selftest-{stamp}.html"
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
        c = self.config
        return {
            "camera": _choices(c.camera.device, _video_devices()),
            "microphone": _choices(c.microphone.device, []),
            "speaker": _choices(c.speaker.device, []),
        }

    def choose_device(self, kind: str, name: str) -> None:
        """Remembered for the next self-test and shown; writing the config file is the
        configuration tool's job (``check-config`` validates it)."""
        self.chosen[kind] = name

    def log_lines(self) -> list[str]:
        return list(self.recent.lines)[-50:]


def _choices(current: str, others: list[str]) -> list[str]:
    return [current, *(o for o in [*others, "synthetic"] if o != current)]


def _video_devices() -> list[str]:
    return sorted(str(p) for p in Path("/dev").glob("video*"))


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
    backend = KioskTechnician(app.config, pin_file=pin_file, recent=recent, version=version)
    area = TechnicianArea(backend)

    def open_area() -> None:
        area.lock()
        area.resize(1000, 700)
        area.show()

    app.window.technicianRequested.connect(open_area)
    return area

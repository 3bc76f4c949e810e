"""The self-test's common currency: one check's verdict, facts and fix hint.

Device checks (``devices.checks``), system checks (``devices.system``) and network checks
(``endpoint.probe``) all return :class:`CheckResult`; the kiosk runs them and writes the
report, the technician screen shows them. Everything in ``metrics`` and ``series`` is
plain JSON (numbers, strings, lists); ``picture`` is a small JPEG (the camera snapshot).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class Verdict(enum.Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"pass": 0, "warn": 1, "fail": 2}[self.value]


@dataclass(frozen=True)
class Hint:
    """What to do about it, in plain Vietnamese and in English (one line each)."""

    vi: str
    en: str


NO_HINT = Hint("", "")

# What each check is called, on the technician screen and in the report a technician sends.
CHECK_TITLES = {
    "camera": "Camera", "mic_array": "Dãy micro", "loopback": "Loa → micro",
    "audio_server": "Dịch vụ âm thanh", "displays": "Màn hình",
    "net.dns": "Mạng: tên máy chủ (DNS)", "net.tcp": "Mạng: kết nối (TCP)",
    "net.tls": "Mạng: chứng chỉ TLS", "net.websocket": "Mạng: máy chủ",
    "net.media": "Mạng: đường hình/tiếng", "disk": "Ổ đĩa", "clock": "Đồng hồ",
    "cpu_temp": "Nhiệt độ CPU", "version": "Phiên bản", "selftest": "Tự kiểm tra",
}  # fmt: skip


def check_title(key: str) -> str:
    return CHECK_TITLES.get(key, key)


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome: ``key`` ("camera", "net.tls", …), verdict, a one-line
    English ``summary`` of the facts, the fix ``hint``, and data for the report."""

    key: str
    verdict: Verdict
    summary: str
    hint: Hint = NO_HINT
    metrics: dict[str, Any] = field(default_factory=dict)
    series: dict[str, Any] = field(default_factory=dict)
    picture: bytes | None = None
    seconds: float = 0.0


def worst(results: list[CheckResult]) -> Verdict:
    """The run's verdict: the worst of its checks (pass for none)."""
    return max((r.verdict for r in results), key=lambda v: v.rank, default=Verdict.PASS)


def passed(key: str, summary: str, **metrics: Any) -> CheckResult:
    return CheckResult(key, Verdict.PASS, summary, metrics=metrics)


def finding(key: str, verdict: Verdict, summary: str, hint: Hint, **metrics: Any) -> CheckResult:
    return CheckResult(key, verdict, summary, hint, metrics=metrics)

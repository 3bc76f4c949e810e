"""The self-test report: JSON for machines, one self-contained HTML page for people.

The HTML carries everything inline (the camera snapshot as a small JPEG data URI, plots as
SVG) so a technician can send the one file through a chat app; it stays well under 1 MB.
Nothing secret is in either: the hub address without user, password or query, no PIN, no
token.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from devices import CheckResult, Verdict, check_title
from kiosk.selftest import Report, public_metrics

log = logging.getLogger(__name__)

LAST_JSON, LAST_HTML = "last-selftest.json", "last-selftest.html"
COLOURS = {Verdict.PASS: "#1f7a3d", Verdict.WARN: "#b07900", Verdict.FAIL: "#b3261e"}
LABELS = {Verdict.PASS: "ĐẠT", Verdict.WARN: "CẢNH BÁO", Verdict.FAIL: "LỖI"}


def safe_url(url: str) -> str:
    """*url* without credentials, query or fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _entry(result: CheckResult) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "key": result.key, "title": check_title(result.key),
        "verdict": result.verdict.value, "summary": result.summary,
        "hint_vi": result.hint.vi, "hint_en": result.hint.en,
        "seconds": result.seconds, "metrics": public_metrics(result), "series": result.series,
    }  # fmt: skip
    if result.picture:
        entry["picture_jpeg_base64"] = base64.b64encode(result.picture).decode()
    return entry


def to_json(report: Report, hub_url: str | None = None) -> dict[str, Any]:
    return {
        "diemcau": report.version, "site": report.site, "started": report.started,
        "hub": safe_url(hub_url) if hub_url else None, "seconds": report.seconds,
        "verdict": report.verdict.value, "checks": [_entry(r) for r in report.results],
    }  # fmt: skip


def write_private(path: Path, text: str) -> None:
    """Write *text* to *path* atomically, readable by the owner only."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def write_json(report: Report, path: Path, hub_url: str | None = None) -> None:
    write_private(path, json.dumps(to_json(report, hub_url), ensure_ascii=False, indent=1))


def write_html(report: Report, path: Path, hub_url: str | None = None) -> None:
    write_private(path, render_html(report, hub_url))


def save_last(report: Report, state_dir: Path, hub_url: str | None = None) -> bool:
    """Keep *report* as the kiosk's last one (JSON and HTML, 0600) in *state_dir*, where the
    technician area finds it to export; best effort: a full disk costs only the copy."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        write_json(report, state_dir / LAST_JSON, hub_url)
        write_html(report, state_dir / LAST_HTML, hub_url)
    except OSError as err:
        log.warning("cannot keep the self-test report in %s: %s", state_dir, err)
        return False
    return True


def export_name(started: str) -> str:
    """``diemcau-selftest-20250303T003000.html`` for a report started at that (UTC) time."""
    return f"diemcau-selftest-{started.replace(':', '').replace('-', '')[:15]}.html"


def copy_last(state_dir: Path, target: Path) -> Path:
    """Copy the last report kept in *state_dir* to *target*; the HTML's new path.  OSError
    when there is none (or it cannot be read)."""
    try:
        started = json.loads((state_dir / LAST_JSON).read_text(encoding="utf-8"))["started"]
    except (ValueError, KeyError, TypeError) as err:
        raise OSError(f"the kept report is damaged: {err}") from err
    html_path = target / export_name(str(started))
    shutil.copyfile(state_dir / LAST_HTML, html_path)
    shutil.copyfile(state_dir / LAST_JSON, html_path.with_suffix(".json"))
    return html_path


# --- HTML --------------------------------------------------------------------------------------

_CSS = """
body{font-family:"Noto Sans","DejaVu Sans",sans-serif;margin:16px;color:#1b1f24;max-width:900px}
h1{font-size:22px}h2{font-size:17px;margin-top:22px}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:6px;
text-align:left;vertical-align:top;font-size:14px}
.v{color:#fff;padding:2px 8px;border-radius:4px;font-weight:bold;white-space:nowrap}
.hint{font-weight:bold}.en{color:#555;font-size:12px}.facts{color:#333;font-size:12px}
svg{background:#fafbfc;border:1px solid #e3e6ea}
"""


def _badge(verdict: Verdict) -> str:
    return f'<span class="v" style="background:{COLOURS[verdict]}">{LABELS[verdict]}</span>'


def _row(r: CheckResult) -> str:
    e = html.escape
    hint = (f'<div class="hint">{e(r.hint.vi)}</div><div class="en">{e(r.hint.en)}</div>'
            if r.hint.vi else "")  # fmt: skip
    return (f"<tr><td>{_badge(r.verdict)}</td><td>{e(check_title(r.key))}</td>"
            f'<td>{hint}<div class="facts">{e(r.summary)}</div></td></tr>')  # fmt: skip


def render_html(report: Report, hub_url: str | None = None) -> str:
    e = html.escape
    head = (f"<h1>Báo cáo tự kiểm tra — {e(report.site)}</h1><p>{_badge(report.verdict)} "
            f"{e(report.started)} · {report.seconds:.1f} s · diemcau {e(report.version)}"
            f"{' · máy chủ ' + e(safe_url(hub_url)) if hub_url else ''}</p>")  # fmt: skip
    rows = "".join(_row(r) for r in report.results)
    table = f"<h2>Kết quả</h2><table><tr><th></th><th>Mục</th><th>Chi tiết</th></tr>{rows}</table>"
    body = head + table + "".join(_figures(report))
    head_tag = f'<head><meta charset="utf-8"><title>diemcau {e(report.site)}</title>'
    head_tag += f"<style>{_CSS}</style></head>"
    return f'<!doctype html><html lang="vi">{head_tag}<body>{body}</body></html>'


def _figures(report: Report) -> list[str]:
    by_key = {r.key: r for r in report.results}
    parts = []
    if (camera := by_key.get("camera")) and camera.picture:
        data = base64.b64encode(camera.picture).decode()
        parts.append(f'<h2>Ảnh camera</h2><img alt="camera" src="data:image/jpeg;base64,{data}">')
    if (mics := by_key.get("mic_array")) and "levels" in mics.series:
        parts.append("<h2>Mức micro từng kênh (dBFS)</h2>" + level_bars(mics.series["levels"]))
    if (loop := by_key.get("loopback")) and "waveform" in loop.series:
        parts.append("<h2>Tiếng chirp từ loa về micro</h2>" + waveform(loop.series))
    if (media := by_key.get("net.media")) and media.series.get("steps"):
        parts.append("<h2>Mạng: tốc độ và mất gói</h2>" + network_chart(media.series["steps"]))
    return parts


def _scale(value: float, low: float, high: float, size: float) -> float:
    return max(0.0, min(size, (value - low) / (high - low) * size))


def level_bars(levels: dict[str, list[float]], width: int = 600) -> str:
    """One bar per channel: RMS level, with the noise floor marked; -90..0 dBFS."""
    rows = []
    for ch, (level, floor) in enumerate(
        zip(levels["level_dbfs"], levels["noise_floor_dbfs"], strict=False)
    ):
        y = 10 + ch * 26
        bar = _scale(level, -90, 0, width - 160)
        mark = 80 + _scale(floor, -90, 0, width - 160)
        rows.append(
            f'<text x="4" y="{y + 14}" font-size="12">kênh {ch + 1}</text>'
            f'<rect x="80" y="{y}" width="{bar:.0f}" height="18" fill="#3d7bd9"/>'
            f'<line x1="{mark:.0f}" x2="{mark:.0f}" y1="{y - 2}" y2="{y + 20}" stroke="#b3261e"/>'
            f'<text x="{width - 76}" y="{y + 14}" font-size="12">{level:.0f} / {floor:.0f}</text>'
        )
    height = 20 + 26 * len(rows)
    note = f'<text x="4" y="{height - 2}" font-size="10">mức / nền ồn (vạch đỏ)</text>'
    return f'<svg width="{width}" height="{height + 6}">{"".join(rows)}{note}</svg>'


def waveform(series: dict[str, Any], width: int = 600, height: int = 140) -> str:
    """The recorded envelope, with the detected chirp marked."""
    env = series["waveform"]
    peak = max(max(env, default=0.0), 1e-6)
    mid = height / 2
    points = " ".join(
        f"{i * width / max(len(env) - 1, 1):.1f},{mid - v / peak * (mid - 6):.1f}"
        for i, v in enumerate(env)
    )
    lower = " ".join(
        f"{i * width / max(len(env) - 1, 1):.1f},{mid + v / peak * (mid - 6):.1f}"
        for i, v in enumerate(env)
    )
    svg = f'<polyline points="{points}" fill="none" stroke="#3d7bd9"/>'
    svg += f'<polyline points="{lower}" fill="none" stroke="#3d7bd9"/>'
    if series.get("chirp_at_s") is not None:
        x = series["chirp_at_s"] / series["duration_s"] * width
        svg += f'<line x1="{x:.0f}" x2="{x:.0f}" y1="0" y2="{height}" stroke="#1f7a3d"/>'
        ms = series["chirp_at_s"] * 1000
        svg += f'<text x="{x + 4:.0f}" y="14" font-size="12">chirp {ms:.0f} ms</text>'
    return f'<svg width="{width}" height="{height}">{svg}</svg>'


def network_chart(steps: list[dict[str, Any]], width: int = 600, height: int = 200) -> str:
    """Per probed rate: sent and received kbit/s as bars, round-trip loss as a red line."""
    top = max(max(s["kbps"] for s in steps), 1)
    slot = width / len(steps)
    parts, loss_points = [], []
    for i, s in enumerate(steps):
        x = i * slot + 20
        for j, (value, colour) in enumerate(((s["kbps"], "#9fb0c6"),
                                             (s["received_kbps"], "#3d7bd9"))):  # fmt: skip
            h = value / top * (height - 50)
            parts.append(f'<rect x="{x + j * 34:.0f}" y="{height - 30 - h:.0f}" width="30" '
                         f'height="{h:.0f}" fill="{colour}"/>')  # fmt: skip
        parts.append(f'<text x="{x:.0f}" y="{height - 12}" font-size="12">{s["kbps"]} kbit/s · '
                     f'mất {s["loss_pct"]}%</text>')  # fmt: skip
        loss_points.append(f"{x + 32:.0f},{height - 30 - s['loss_pct'] / 100 * (height - 50):.0f}")
    parts.append(f'<polyline points="{" ".join(loss_points)}" fill="none" stroke="#b3261e" '
                 'stroke-width="2"/>')  # fmt: skip
    legend = '<text x="4" y="14" font-size="11">xám: gửi · xanh: nhận lại · đỏ: mất gói (%)</text>'
    return f'<svg width="{width}" height="{height}">{legend}{"".join(parts)}</svg>'

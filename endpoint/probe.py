"""The network to the hub, step by step: DNS, TCP, TLS, WebSocket + Janus ``info``, media.

Each step has its own timeout and gives one :class:`devices.CheckResult`; a step that
cannot run because an earlier one failed says so (fail, "not tried") instead of waiting
for its own timeout. TLS is verified exactly as the call verifies it (system CAs or the
configured ``ca_file``); on a refused certificate the probe reads it once more, unverified,
only to say why (expired on …, issued for another name, unknown issuer). The token is sent
where Janus needs it and never reported.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from cryptography import x509

from devices import CheckResult, Hint, Verdict
from endpoint import _echoprobe
from endpoint._janus_ws import JanusClient
from endpoint.errors import EndpointError

STEP_TIMEOUT = {"dns": 3.0, "tcp": 3.0, "tls": 4.0, "websocket": 4.0, "media": 18.0}
EXPIRY_WARN_DAYS = 14
RATES = (180, 360, 600)  # kbit/s: the tiers' needs (150, 300, 500) with 20 % headroom

# OpenSSL verify codes
_EXPIRED, _NOT_YET_VALID, _HOSTNAME = 10, 9, 62

HINTS = {
    "dns": Hint(
        "Không tìm thấy địa chỉ máy chủ huyện — kiểm tra mạng, modem và địa chỉ trong cấu hình",
        "The hub's name does not resolve — check the network/modem and the hub address",
    ),
    "tcp": Hint(
        "Không kết nối được tới máy chủ huyện — kiểm tra cáp mạng, modem; hỏi huyện máy chủ có bật",
        "Cannot connect to the hub — check cables and modem; ask the district if the hub is up",
    ),
    "tls.expired": Hint(
        "Chứng chỉ bảo mật của máy chủ huyện đã hết hạn ({date}) — báo quản trị huyện gia hạn",
        "The hub's TLS certificate expired on {date} — ask the district admin to renew it",
    ),
    "tls.name": Hint(
        "Chứng chỉ máy chủ không khớp địa chỉ — kiểm tra địa chỉ máy chủ trong cấu hình",
        "The hub's certificate is for another name — check the hub address in the config",
    ),
    "tls.unknown": Hint(
        "Chứng chỉ máy chủ không được tin cậy — cài đúng tệp CA của tỉnh (hub.ca_file)",
        "The hub's certificate is not trusted — install the province's CA file (hub.ca_file)",
    ),
    "tls.soon": Hint(
        "Chứng chỉ máy chủ sắp hết hạn ({days} ngày) — báo quản trị huyện gia hạn",
        "The hub's certificate expires in {days} days — ask the district admin to renew it",
    ),
    "tls.clock": Hint(
        "Chứng chỉ máy chủ chưa có hiệu lực — đồng hồ máy sai, kiểm tra ngày giờ",
        "The hub's certificate is not valid yet — the kit's clock is wrong, check date and time",
    ),
    "websocket": Hint(
        "Máy chủ huyện không trả lời đúng (WebSocket/Janus) — báo quản trị huyện",
        "The hub does not answer as a Janus hub (WebSocket) — tell the district admin",
    ),
    "echotest": Hint(
        "Máy chủ chưa bật EchoTest nên chưa đo được đường hình/tiếng — báo quản trị huyện",
        "The hub has no EchoTest plugin, so the media path was not measured — tell the admin",
    ),
    "media": Hint(
        "Không truyền được hình/tiếng tới máy chủ (UDP bị chặn?) — kiểm tra tường lửa/modem",
        "No media reaches the hub (UDP blocked?) — check the firewall/modem",
    ),
    "skipped": Hint("Sửa lỗi ở bước trước", "Fix the step above first"),
}


@dataclass(frozen=True)
class HubTarget:
    """Where the hub is and how to trust it; ``token`` is never shown."""

    url: str
    ca_file: str | None = None
    token: str | None = None
    ice_servers: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"HubTarget(url={self.url!r}, ca_file={self.ca_file!r})"

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "wss" else 80)

    @property
    def tls(self) -> bool:
        return self.url.startswith("wss:")

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)


def _result(key: str, verdict: Verdict, summary: str, hint: Hint | None = None,
            **metrics: Any) -> CheckResult:  # fmt: skip
    return CheckResult(f"net.{key}", verdict, summary, hint or Hint("", ""), metrics)


def _fill(hint: Hint, **values: object) -> Hint:
    return Hint(hint.vi.format(**values), hint.en.format(**values))


# --- steps -------------------------------------------------------------------------------------


async def check_dns(target: HubTarget) -> tuple[CheckResult, str | None]:
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as err:
        return _result("dns", Verdict.FAIL, f"{target.host}: {err}", HINTS["dns"]), None
    address = str(infos[0][4][0])
    return _result("dns", Verdict.PASS, f"{target.host} → {address}", address=address), address


async def check_tcp(target: HubTarget, address: str) -> CheckResult:
    start = time.monotonic()
    try:
        _, writer = await asyncio.open_connection(address, target.port)
    except OSError as err:
        summary = f"{address}:{target.port}: {err.strerror or err}"
        return _result("tcp", Verdict.FAIL, summary, HINTS["tcp"])
    ms = round(1000 * (time.monotonic() - start), 1)
    writer.close()
    return _result("tcp", Verdict.PASS, f"{address}:{target.port} in {ms} ms", connect_ms=ms)


async def _peer_certificate(target: HubTarget, address: str, verify: bool) -> x509.Certificate:
    context = target.ssl_context() if verify else ssl._create_unverified_context()  # noqa: S323
    _, writer = await asyncio.open_connection(
        address, target.port, ssl=context, server_hostname=target.host
    )
    try:
        transport_ssl = writer.get_extra_info("ssl_object")
        der = transport_ssl.getpeercert(binary_form=True)
        return x509.load_der_x509_certificate(der)
    finally:
        writer.close()


def _expiry(cert: x509.Certificate, now: dt.datetime) -> tuple[str, int]:
    ends = cert.not_valid_after_utc
    return ends.date().isoformat(), (ends - now).days


async def check_tls(target: HubTarget, address: str, now: dt.datetime) -> CheckResult:
    if not target.tls:
        return _result("tls", Verdict.PASS, "not used (ws:// to a hub on this machine)")
    try:
        cert = await _peer_certificate(target, address, verify=True)
    except ssl.SSLCertVerificationError as err:
        return await _refused(target, address, err, now)
    except (ssl.SSLError, OSError) as err:
        return _result("tls", Verdict.FAIL, f"handshake failed: {err}", HINTS["tcp"])
    date, days = _expiry(cert, now)
    summary = f"certificate valid until {date} ({days} days)"
    if days < EXPIRY_WARN_DAYS:
        hint = _fill(HINTS["tls.soon"], days=days)
        return _result("tls", Verdict.WARN, summary, hint, expires=date, days_left=days)
    return _result("tls", Verdict.PASS, summary, expires=date, days_left=days)


async def _refused(
    target: HubTarget, address: str, err: ssl.SSLCertVerificationError, now: dt.datetime
) -> CheckResult:
    """Why the certificate was refused, with its dates read unverified."""
    try:
        date, days = _expiry(await _peer_certificate(target, address, verify=False), now)
    except (ssl.SSLError, OSError, ValueError):
        date, days = "?", 0
    code = err.verify_code
    metrics = {"verify_code": code, "expires": date, "days_left": days}
    summary = f"certificate refused: {err.verify_message}"
    if code == _EXPIRED:
        return _result("tls", Verdict.FAIL, summary, _fill(HINTS["tls.expired"], date=date),
                       **metrics)  # fmt: skip
    key = {_HOSTNAME: "tls.name", _NOT_YET_VALID: "tls.clock"}.get(code, "tls.unknown")
    return _result("tls", Verdict.FAIL, summary, HINTS[key], **metrics)


async def check_websocket(target: HubTarget) -> tuple[CheckResult, list[str]]:
    """The WebSocket handshake and Janus ``info``; returns the hub's plugins too."""
    ssl_arg: ssl.SSLContext | bool = target.ssl_context() if target.tls else False
    start = time.monotonic()
    try:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(target.url, protocols=("janus-protocol",), ssl=ssl_arg) as ws,
        ):
            ms = round(1000 * (time.monotonic() - start), 1)
            info = await _info(ws, target.token)
    except (aiohttp.ClientError, OSError, ValueError, KeyError) as err:
        return _result("websocket", Verdict.FAIL, f"{type(err).__name__}: {err}"[:200],
                       HINTS["websocket"]), []  # fmt: skip
    plugins = sorted(info.get("plugins", {}))
    version = str(info.get("version_string", "?"))
    summary = f"Janus {version} answered in {ms} ms; {len(plugins)} plugins"
    return _result("websocket", Verdict.PASS, summary, handshake_ms=ms, janus=version,
                   plugins=plugins), plugins  # fmt: skip


async def _info(ws: aiohttp.ClientWebSocketResponse, token: str | None) -> dict[str, Any]:
    transaction = secrets.token_hex(6)
    request: dict[str, Any] = {"janus": "info", "transaction": transaction}
    if token:
        request["token"] = token
    await ws.send_str(json.dumps(request))
    while True:
        reply = json.loads(await ws.receive_str())
        if reply.get("transaction") == transaction:
            if reply.get("janus") != "server_info":
                raise ValueError(f"hub answered info with {reply.get('janus')!r}")
            return dict(reply)


async def check_media(target: HubTarget, plugins: list[str], step_s: float) -> CheckResult:
    if _echoprobe.PLUGIN not in plugins:
        return _result("media", Verdict.WARN, "EchoTest plugin not on the hub", HINTS["echotest"])
    start = time.monotonic()
    client = JanusClient(target.url, token=target.token, ca_file=target.ca_file)
    try:
        await client.connect(STEP_TIMEOUT["websocket"])
        steps, jitter = await _echoprobe.measure(client, RATES, step_s, target.ice_servers)
    except (EndpointError, ConnectionError) as err:
        return _result("media", Verdict.FAIL, f"media path: {err}"[:200], HINTS["media"])
    finally:
        await client.close()
    return _echoprobe.media_result(steps, jitter, time.monotonic() - start)


# --- the whole probe ---------------------------------------------------------------------------


Report = Callable[[CheckResult], None]


async def _timed(key: str, work: Awaitable[Any], timeout: float | None = None) -> Any:
    """*work* within its step's timeout; a timeout becomes a failed result."""
    try:
        async with asyncio.timeout(timeout or STEP_TIMEOUT[key]):
            return await work
    except TimeoutError:
        hint = HINTS["media" if key == "media" else "tcp"]
        return _result(key, Verdict.FAIL, f"no answer within {timeout or STEP_TIMEOUT[key]} s",
                       hint)  # fmt: skip


def skipped(keys: list[str], why: str) -> list[CheckResult]:
    return [_result(k, Verdict.FAIL, f"not tried: {why}", HINTS["skipped"]) for k in keys]


async def probe_hub(
    target: HubTarget, report: Report = lambda r: None, *, step_s: float = 1.0,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> list[CheckResult]:  # fmt: skip
    """Every network step in order; *report* hears each result as it is known."""
    results: list[CheckResult] = []

    def done(result: CheckResult) -> CheckResult:
        results.append(result)
        report(result)
        return result

    found = await _timed("dns", check_dns(target))
    dns, address = found if isinstance(found, tuple) else (found, None)
    if done(dns).verdict is Verdict.FAIL or address is None:
        return _skip(results, done, "dns")
    if done(await _timed("tcp", check_tcp(target, address))).verdict is Verdict.FAIL:
        return _skip(results, done, "tcp")
    if done(await _timed("tls", check_tls(target, address, now()))).verdict is Verdict.FAIL:
        return _skip(results, done, "tls")
    found = await _timed("websocket", check_websocket(target))
    ws, plugins = found if isinstance(found, tuple) else (found, [])
    if done(ws).verdict is Verdict.FAIL:
        return _skip(results, done, "websocket")
    done(await _timed("media", check_media(target, plugins, step_s)))
    return results


def _skip(
    results: list[CheckResult], done: Callable[[CheckResult], CheckResult], failed: str
) -> list[CheckResult]:
    for result in skipped(_after(failed), failed.upper() if failed != "websocket" else "WebSocket"):
        done(result)
    return results


def _after(key: str) -> list[str]:
    order = ["dns", "tcp", "tls", "websocket", "media"]
    return order[order.index(key) + 1 :]

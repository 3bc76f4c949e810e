"""The network self-test against the real hub: healthy, hub down, expired and wrong TLS
certificates, and 10 % loss on the path through the impairment relay."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from devices import Verdict
from endpoint.probe import HINTS, HubTarget, probe_hub
from kiosk.hub import HubCertificate, LocalHub, free_port
from tests.linklab import ImpairedLink, Impairment

NOW = dt.datetime.now(dt.UTC)


def by_key(results: list[Any]) -> dict[str, Any]:
    return {r.key.removeprefix("net."): r for r in results}


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def issue(folder: Path, host: str, not_after: dt.datetime) -> tuple[Path, Path, Path]:
    """A CA and a hub certificate for *host* signed by it, valid until *not_after*."""
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("So TTTT")).issuer_name(_name("So TTTT"))
          .public_key(ca_key.public_key()).serial_number(1)
          .not_valid_before(NOW - dt.timedelta(days=30))
          .not_valid_after(NOW + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))  # fmt: skip
    cert = (x509.CertificateBuilder().subject_name(_name(host)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2)
            .not_valid_before(NOW - dt.timedelta(days=20)).not_valid_after(not_after)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(ca_key, hashes.SHA256()))  # fmt: skip
    paths = folder / "ca.pem", folder / "hub.pem", folder / "hub.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))  # fmt: skip
    return paths


def tls_hub(folder: Path, host: str, not_after: dt.datetime) -> tuple[LocalHub, str]:
    ca, cert, key = issue(folder, host, not_after)
    return LocalHub(tls=HubCertificate(cert, key)).start(), str(ca)


async def test_a_healthy_hub_passes_every_step(hub: Any) -> None:
    heard: list[str] = []
    results = await probe_hub(HubTarget(hub.url), lambda r: heard.append(r.key), step_s=0.6)
    steps = by_key(results)
    assert (
        list(steps)
        == ["dns", "tcp", "tls", "websocket", "media"]
        == [k.removeprefix("net.") for k in heard]
    )
    assert all(r.verdict is Verdict.PASS for r in results), [r.summary for r in results]
    assert "janus.plugin.echotest" in steps["websocket"].metrics["plugins"]
    media = steps["media"]
    assert media.metrics["tier"] == "640x360@15" and media.metrics["loss_pct"] < 2
    assert [s["kbps"] for s in media.series["steps"]] == [180, 360, 600]
    assert all(s["received_kbps"] > 0.85 * s["kbps"] for s in media.series["steps"])


async def test_hub_down_fails_at_tcp_with_the_hint() -> None:
    results = by_key(await probe_hub(HubTarget(f"ws://127.0.0.1:{free_port()}/")))
    assert results["dns"].verdict is Verdict.PASS
    assert results["tcp"].verdict is Verdict.FAIL and results["tcp"].hint == HINTS["tcp"]
    assert all("not tried" in results[k].summary for k in ("tls", "websocket", "media"))


async def test_an_expired_certificate_fails_with_its_date(tmp_path: Path) -> None:
    ended = NOW - dt.timedelta(days=3)
    local, ca = tls_hub(tmp_path, "localhost", ended)
    try:
        results = by_key(await probe_hub(HubTarget(local.url, ca_file=ca)))
    finally:
        local.stop()
    tls = results["tls"]
    assert tls.verdict is Verdict.FAIL and tls.metrics["verify_code"] == 10
    assert ended.date().isoformat() in tls.hint.vi and "hết hạn" in tls.hint.vi
    assert results["websocket"].verdict is Verdict.FAIL  # not tried


async def test_a_certificate_for_another_name_or_unknown_issuer_fails(tmp_path: Path) -> None:
    local, ca = tls_hub(tmp_path, "hub.other.example", NOW + dt.timedelta(days=90))
    try:
        wrong_name = by_key(await probe_hub(HubTarget(local.url, ca_file=ca)))["tls"]
        unknown = by_key(await probe_hub(HubTarget(local.url)))["tls"]
    finally:
        local.stop()
    assert wrong_name.verdict is Verdict.FAIL and wrong_name.hint == HINTS["tls.name"]
    assert unknown.verdict is Verdict.FAIL and unknown.hint == HINTS["tls.unknown"]


async def test_a_certificate_near_its_end_warns(tmp_path: Path) -> None:
    local, ca = tls_hub(tmp_path, "localhost", NOW + dt.timedelta(days=5, hours=1))
    try:
        results = by_key(await probe_hub(HubTarget(local.url, ca_file=ca), step_s=0.5))
    finally:
        local.stop()
    assert results["tls"].verdict is Verdict.WARN and results["tls"].metrics["days_left"] == 5
    assert results["websocket"].verdict is Verdict.PASS


# --- 10 % loss on the path, the probe run behind the impairment relay ---------------------------


@pytest.fixture
def link(hub: Any) -> Iterator[ImpairedLink]:
    with ImpairedLink(17, seed=21) as made:
        yield made


PROBE = """
import asyncio, json, sys
from endpoint.probe import HubTarget, probe_hub
results = asyncio.run(probe_hub(HubTarget(sys.argv[1]), step_s=1.5))
print(json.dumps({r.key: [r.verdict.value, r.metrics, r.hint.vi, r.summary] for r in results}))
"""


def test_ten_percent_loss_on_the_path_limits_the_tier(
    open_hub: LocalHub, link: ImpairedLink
) -> None:
    link.set(up=Impairment(loss=0.10), down=Impairment(loss=0.10))
    url = f"ws://{link.near}:{open_hub.port}/"
    root = Path(__file__).resolve().parents[2]
    proc = link.popen([sys.executable, "-c", PROBE, url], stdout=subprocess.PIPE, cwd=root,
                      text=True)  # fmt: skip
    out, _ = proc.communicate(timeout=60)
    media_verdict, metrics, hint, summary = json.loads(out.strip().splitlines()[-1])["net.media"]
    assert media_verdict == "warn", summary
    assert metrics["tier"] == "320x180@10"
    assert 8 <= metrics["loss_pct"] <= 36  # round trip: 1 - 0.9 ** 2 = 19 %
    assert 4 <= metrics["one_way_loss_pct"] <= 20
    assert "mất gói" in hint and "320x180@10" in hint
    assert link.counters()["up"]["loss"] > 20

"""TLS to the hub is verified: an unknown certificate is refused, the district's CA is trusted."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from endpoint import CallState, FailReason
from kiosk.hub import HubCertificate, LocalHub


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A provincial CA and a hub certificate for localhost signed by it."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=So TTTT",
            "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))  # fmt: skip
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(d / "hub.key"), "-out", str(d / "hub.csr"))  # fmt: skip
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", str(d / "hub.csr"), "-CA", str(d / "ca.pem"),
            "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2",
            "-extfile", str(d / "san.ext"), "-out", str(d / "hub.pem"))  # fmt: skip
    return {"ca": d / "ca.pem", "cert": d / "hub.pem", "key": d / "hub.key"}


@pytest.fixture(scope="module")
def tls_hub(pki: dict[str, Path], hub: Any) -> Iterator[LocalHub]:
    local = LocalHub(tls=HubCertificate(pki["cert"], pki["key"])).start()
    yield local
    local.stop()


async def test_hub_certificate_from_configured_ca_is_trusted(
    room: Any, tls_hub: LocalHub, pki: dict[str, Path]
) -> None:
    assert tls_hub.url.startswith("wss://")
    call = room("Xã A", url=tls_hub.url, ca_file=str(pki["ca"]))
    await call.join()
    assert call.state is CallState.IN_MEETING


async def test_unknown_certificate_is_refused(room: Any, tls_hub: LocalHub) -> None:
    call = room("Xã A", url=tls_hub.url, connect_timeout=3.0)
    await call.join()
    assert call.state is CallState.FAILED
    assert call.failure is not None and call.failure.reason is FailReason.TLS

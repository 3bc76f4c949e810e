"""``packaging/build-offline-bundle.sh``: the .deb plus every package a stock Debian 12 lacks.

Run in list-only mode (BUNDLE_DOWNLOAD=0: no network; this machine's apt index only) on a
stand-in .deb with the real package's control file (the Depends are what matters here).  The
bundle must hold the .deb and an install.sh, and its list must be closed: every Depends of
the .deb and of each listed package is met by the list or by the stock system, and nothing
of the stock system is carried.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "packaging/build-offline-bundle.sh"


def apt_index_present() -> bool:
    out = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(FILENAME)", "Created-By: Packages"],
        capture_output=True,
        text=True,
    )
    return bool(shutil.which("apt-get")) and bool(out.stdout.strip())


pytestmark = pytest.mark.skipif(
    not shutil.which("apt-get") or not apt_index_present(),
    reason="no apt index on this machine (apt-get update) to resolve the dependencies",
)


@dataclass
class Bundle:
    folder: Path
    deb: Path
    listed: dict[str, str]  # name -> version
    stock: dict[str, str]


def stand_in_deb(folder: Path) -> Path:
    stage = folder / "stage"
    (stage / "DEBIAN").mkdir(parents=True)
    control = (ROOT / "packaging/debian/control.in").read_text()
    control = control.replace("@VERSION@", "0.0.1").replace("@ARCH@", "amd64")
    (stage / "DEBIAN/control").write_text(control.replace("@SIZE@", "1"))
    deb = folder / "diemcau_0.0.1_amd64.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "--build", stage, deb], check=True)
    return deb


def pairs(path: Path) -> dict[str, str]:
    lines = path.read_text().split("\n")
    return dict(line.split()[0].split("=", 1) for line in lines if line.strip())


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundle]:
    work = tmp_path_factory.mktemp("bundle")
    deb = stand_in_deb(work)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "BUNDLE_DOWNLOAD": "0", "DEB": str(deb)}
    out = subprocess.run(
        ["bash", str(SCRIPT)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    folder = Path(out.stdout.strip().splitlines()[-1])
    listed, stock = pairs(folder / "packages.txt"), pairs(folder / "stock-debian12.txt")
    yield Bundle(folder, deb, listed, stock)
    shutil.rmtree(folder)
    Path(f"{folder}.tar").unlink()


def groups(field: str) -> list[list[tuple[str, str]]]:
    """``a (>= 1) | b, c`` → [[("a", ">= 1"), ("b", "")], [("c", "")]] (arch qualifiers off)."""
    result = []
    for group in filter(None, (g.strip() for g in field.split(","))):
        alternatives = []
        for alt in group.split("|"):
            m = re.match(r"\s*([^\s(:]+)(?::\S+)?\s*(?:\(([^)]*)\))?", alt)
            assert m, alt
            alternatives.append((m.group(1), m.group(2) or ""))
        result.append(alternatives)
    return result


def show(packages: dict[str, str]) -> list[dict[str, str]]:
    """apt's records for these exact versions."""
    argv = ["apt-cache", "show", *(f"{n}={v}" for n, v in sorted(packages.items()))]
    text = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    records = []
    for stanza in filter(None, text.split("\n\n")):
        fields = dict(re.findall(r"^([\w-]+): (.*(?:\n .*)*)", stanza, re.M))
        records.append(fields)
    return records


def provided(records: list[dict[str, str]]) -> set[str]:
    names = {r["Package"] for r in records}
    for r in records:
        names |= {alts[0][0] for alts in groups(r.get("Provides", ""))}
    return names


def test_the_folder_holds_the_deb_install_and_readme(bundle: Bundle) -> None:
    assert (bundle.folder / bundle.deb.name).read_bytes() == bundle.deb.read_bytes()
    install = bundle.folder / "install.sh"
    assert install.stat().st_mode & 0o111
    subprocess.run(["sh", "-n", str(install)], check=True)
    assert "--no-download" in install.read_text()
    assert "sh install.sh" in (bundle.folder / "README.txt").read_text()
    with tarfile.open(f"{bundle.folder}.tar") as tar:
        names = tar.getnames()
    assert f"{bundle.folder.name}/{bundle.deb.name}" in names
    assert f"{bundle.folder.name}/install.sh" in names


def test_each_listed_package_says_where_it_comes_from(bundle: Bundle) -> None:
    lines = (bundle.folder / "packages.txt").read_text().splitlines()
    assert len(lines) == len(bundle.listed) > 20
    for line in lines:
        name_version, file, size, sha, uri = line.split()
        assert file.endswith(".deb") and file.startswith(name_version.split("=")[0] + "_")
        assert int(size) > 0 and re.fullmatch(r"[0-9a-f]{64}", sha)
        assert uri.startswith(("http://", "https://", "file:")), uri


def test_the_debs_depends_are_met(bundle: Bundle) -> None:
    control = subprocess.run(
        ["dpkg-deb", "-f", str(bundle.deb), "Depends"], capture_output=True, text=True
    ).stdout
    have = set(bundle.listed) | set(bundle.stock)
    for alternatives in groups(control):
        assert any(name in have for name, _ in alternatives), alternatives
    for name in ("cage", "pipewire", "wireplumber", "libportaudio2", "fonts-noto-core"):
        assert name in bundle.listed, f"{name} is not on a stock Debian 12"
    assert bundle.listed["python3"].startswith("3.11."), bundle.listed["python3"]


def test_the_list_is_closed_and_carries_nothing_stock(bundle: Bundle) -> None:
    assert not set(bundle.listed) & set(bundle.stock)
    listed = show(bundle.listed)
    assert {r["Package"] for r in listed} == set(bundle.listed)
    have = provided(listed) | provided(show(bundle.stock))
    for record in listed:
        for field in ("Pre-Depends", "Depends"):
            for alternatives in groups(record.get(field, "")):
                assert any(n in have for n, _ in alternatives), (record["Package"], alternatives)

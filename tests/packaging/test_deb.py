"""The Debian package: built by packaging/build-deb.sh, checked, installed with dpkg -i on
this (throwaway, root) machine, upgraded over itself keeping a changed configuration and the
secret files' modes, removed, and purged.

The install steps change the machine (a system user, /opt/diemcau, /etc/diemcau): they run
only as root with DIEMCAU_DEB_TEST=1 or under CI; the build and contents checks always run.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = "/lib/systemd/system/diemcau.service"
INSTALL_OK = os.geteuid() == 0 and bool(os.environ.get("CI") or os.environ.get("DIEMCAU_DEB_TEST"))


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if check and done.returncode != 0:  # say what went wrong, not just the exit status
        raise AssertionError(f"{argv} exited {done.returncode}:\n{done.stderr[-4000:]}")
    return done


@pytest.fixture(scope="module")
def deb() -> Path:
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb missing")
    out = run("bash", str(ROOT / "packaging" / "build-deb.sh")).stdout.strip().splitlines()[-1]
    path = Path(out)
    assert path.name.startswith("diemcau_") and path.name.endswith(".deb") and path.is_file()
    return path


def test_contents_and_fields(deb: Path) -> None:
    listing = run("dpkg-deb", "--contents", str(deb)).stdout
    for needed in (
        "./opt/diemcau/bin/python",
        "./usr/bin/diemcau -> /opt/diemcau/bin/diemcau",
        f".{UNIT}",
        "./usr/libexec/diemcau/kiosk-session",
        "./lib/udev/rules.d/70-diemcau.rules",
        "./usr/share/pipewire/pipewire.conf.d/60-diemcau-echo-cancel.conf",
        "./usr/share/diemcau/diemcau.toml.example",
        "./usr/share/diemcau/hub/janus.plugin.videoroom.jcfg.in",
        "./usr/share/doc/diemcau/copyright",
    ):
        assert needed in listing, needed
    assert "./etc/" not in listing  # the configuration is made by postinst, never replaced
    assert "/work/" not in listing and "__pycache__" not in listing
    info = run("dpkg-deb", "--field", str(deb), "Package", "Architecture", "Depends").stdout
    assert "Package: diemcau" in info and "cage" in info and "python3 (>= 3.11)" in info
    staged = ROOT / "build" / "deb" / deb.stem / "opt" / "diemcau"
    assert (staged / "pyvenv.cfg").read_text().startswith("home = /usr/bin")
    shebang = (staged / "bin" / "diemcau").read_text().splitlines()[0]
    assert shebang == "#!/opt/diemcau/bin/python"  # not the build folder


def test_lintian_clean_with_reasoned_overrides(deb: Path) -> None:
    """Lintian takes minutes over the venv's 600 MB: run with DIEMCAU_LINTIAN=1."""
    if not shutil.which("lintian") or not os.environ.get("DIEMCAU_LINTIAN"):
        pytest.skip("lintian missing or DIEMCAU_LINTIAN unset")
    result = run(
        "lintian", "--no-tag-display-limit", "--fail-on", "error,warning", str(deb), check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def installed(deb: Path) -> Iterator[Path]:
    if not INSTALL_OK:
        pytest.skip("installs into the machine: root and CI=1 or DIEMCAU_DEB_TEST=1 only")
    run("dpkg", "--purge", "diemcau", check=False)
    result = run("dpkg", "-i", str(deb), check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    yield deb
    run("dpkg", "--purge", "diemcau", check=False)


def test_install_user_files_modes_and_unit(installed: Path) -> None:
    user = pwd.getpwnam("diemcau")
    assert user.pw_uid < 1000 and user.pw_shell == "/usr/sbin/nologin"
    assert user.pw_dir == "/var/lib/diemcau"
    for group in ("video", "audio", "render", "input"):
        try:
            members = grp.getgrnam(group).gr_mem
        except KeyError:
            continue  # not on this machine
        assert "diemcau" in members, group
    state = os.stat("/var/lib/diemcau")
    assert state.st_uid == user.pw_uid and stat.S_IMODE(state.st_mode) == 0o750
    conf = os.stat("/etc/diemcau/diemcau.toml")
    assert conf.st_uid == 0 and conf.st_gid == user.pw_gid and stat.S_IMODE(conf.st_mode) == 0o640
    assert os.path.islink("/etc/systemd/system/graphical.target.wants/diemcau.service")
    assert run("/usr/bin/diemcau", "--version").stdout.startswith("diemcau ")
    checked = run("/usr/bin/diemcau", "check-config", "/etc/diemcau/diemcau.toml", check=False)
    assert checked.returncode == 0, checked.stdout
    verify = run("systemd-analyze", "verify", "--man=no", UNIT, check=False)
    assert verify.returncode == 0 and "diemcau.service" not in verify.stderr, verify.stderr


def test_upgrade_keeps_local_config_and_secret_modes_then_remove_and_purge(
    installed: Path,
) -> None:
    conf = Path("/etc/diemcau/diemcau.toml")
    edited = conf.read_text().replace("Xã Bản Vẽ", "Xã Nậm Pồ")
    conf.write_text(edited)
    pin = Path("/etc/diemcau/pin")
    pin.write_text("2468\n")
    os.chown(pin, pwd.getpwnam("diemcau").pw_uid, pwd.getpwnam("diemcau").pw_gid)
    pin.chmod(0o600)
    (Path("/var/lib/diemcau") / "meeting.json").write_text("{}")
    result = run("dpkg", "-i", str(installed), check=False)  # the same version over itself
    assert result.returncode == 0, result.stdout + result.stderr
    assert conf.read_text() == edited
    assert stat.S_IMODE(pin.stat().st_mode) == 0o600 and pin.stat().st_uid != 0
    run("dpkg", "--remove", "diemcau")
    assert not Path("/opt/diemcau").exists() and not Path(UNIT).exists()
    assert conf.read_text() == edited and Path("/var/lib/diemcau/meeting.json").exists()
    run("dpkg", "--purge", "diemcau")
    assert not Path("/etc/diemcau").exists() and not Path("/var/lib/diemcau").exists()

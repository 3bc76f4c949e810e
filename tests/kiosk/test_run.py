"""``diemcau run`` picks its configuration: a bad file never stops the kiosk."""

from __future__ import annotations

from pathlib import Path

import pytest

from kiosk import run, state
from ui import texts

GOOD = '[site]\nname = "Xã Bản Vẽ"\n[hub]\nurl = "wss://hub.example/janus"\nroom = 7\n'


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "state"
    monkeypatch.setattr(run, "FALLBACK_STATE", folder)
    return folder


def write(path: Path, text: str, state_dir: Path) -> Path:
    path.write_text(text + f'[state]\ndir = "{state_dir}"\n')
    return path


@pytest.mark.parametrize("text", [None, "[hub\nurl=", '[site]\nname = "X"\n[hub]\nroom = "7"\n'])
def test_bad_config_without_fallback_gives_notice(
    tmp_path: Path, state_dir: Path, text: str | None
) -> None:
    path = tmp_path / "diemcau.toml"
    if text is not None:
        path.write_text(text)
    config, notice = run.choose_config(str(path))
    assert config is None
    assert notice.startswith(texts.CONFIG_BAD_NO_FALLBACK)


def test_bad_config_falls_back_to_last_good(tmp_path: Path, state_dir: Path) -> None:
    path = write(tmp_path / "diemcau.toml", GOOD, state_dir)
    config, notice = run.choose_config(str(path))
    assert config is not None and notice == ""
    saved = state_dir / state.LAST_GOOD
    assert saved.is_file() and saved.stat().st_mode & 0o077 == 0
    path.write_text(GOOD.replace("room = 7", 'room = "bảy"'))
    config, notice = run.choose_config(str(path))
    assert config is not None and config.hub.room == 7 and config.site.name == "Xã Bản Vẽ"
    assert notice.startswith(texts.CONFIG_BAD) and "hub.room" in notice


def test_placeholder_config_is_valid() -> None:
    assert run.placeholder_config().hub.room == 1

"""Persisted state: the last configuration that was valid (used when the current one is not)."""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from kiosk.config import Config, ConfigError, load_config

log = logging.getLogger(__name__)

LAST_GOOD = "last-good.toml"


def remember_good(config_path: Path, state_dir: Path) -> None:
    """Keep a copy of a configuration that just validated (best effort)."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        target = state_dir / LAST_GOOD
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(config_path, tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as err:
        log.warning("cannot keep a copy of the good configuration in %s: %s", state_dir, err)


def last_good(state_dir: Path) -> Config | None:
    path = state_dir / LAST_GOOD
    if not path.is_file():
        return None
    try:
        return load_config(path)
    except ConfigError as err:
        log.warning("the saved configuration is not valid either: %s", err)
        return None

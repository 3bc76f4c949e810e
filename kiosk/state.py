"""Persisted state: the last configuration that was valid (used when the current one is not).

It is saved self-contained: the validated config written out as TOML with every path absolute
(a byte copy would resolve relative paths against the state folder), only after reading it
back gives the same configuration, atomically and readable by its owner only (it names the
secret files; secrets themselves never reach it).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kiosk.config import Config, ConfigError, dump_config, load_config, parse_config

log = logging.getLogger(__name__)

LAST_GOOD = "last-good.toml"
_HEADER = "# Written by diemcau: the last configuration that worked (paths are absolute).\n\n"


def remember_good(config: Config, state_dir: Path) -> None:
    """Keep ``config``, which just started the kiosk, as the last good one (best effort)."""
    try:
        text = _HEADER + dump_config(config)
        if parse_config(text, "<last good>", base_dir=state_dir) != config:
            raise ValueError("it does not read back as the same configuration")
        _write_private(state_dir / LAST_GOOD, text)
    except (OSError, ValueError, ConfigError) as err:
        log.warning("cannot keep the good configuration in %s: %s", state_dir, err)


def _write_private(target: Path, text: str) -> None:
    """Replace ``target`` with ``text`` in one step (tmp file + rename), mode 0600."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    with os.fdopen(os.open(tmp, flags, 0o600), "w", encoding="utf-8") as out:
        os.fchmod(out.fileno(), 0o600)  # a leftover tmp file may have had a wider mode
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, target)


def last_good(state_dir: Path) -> Config | None:
    path = state_dir / LAST_GOOD
    if not path.is_file():
        return None
    try:
        return load_config(path)
    except ConfigError as err:
        log.warning("the saved configuration is not valid either: %s", err)
        return None

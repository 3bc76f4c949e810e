"""Writing the kiosk's own small files: atomically, owner-only, safe over a power cut."""

from __future__ import annotations

import os
from pathlib import Path


def write_private(target: Path, text: str) -> None:
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
    _sync_dir(target.parent)  # the rename itself survives a power cut


def _sync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)

"""Persisted state: the last configuration that was valid (used when the current one is not),
and the room's meeting (:class:`Memory`: in a meeting or not, which room, mute, the camera shot)
so that a crash, a SIGKILL or a power cut ends in the same meeting again.

It is saved self-contained: the validated config written out as TOML with every path absolute
(a byte copy would resolve relative paths against the state folder), only after reading it
back gives the same configuration, atomically and readable by its owner only (it names the
secret files; secrets themselves never reach it).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from kiosk._files import write_private
from kiosk.config import Config, ConfigError, dump_config, load_config, parse_config

log = logging.getLogger(__name__)

LAST_GOOD = "last-good.toml"
MEMORY = "meeting.json"
MEMORY_VERSION = 1
RECORD_VERSION = 1
T = TypeVar("T")
_HEADER = "# Written by diemcau: the last configuration that worked (paths are absolute).\n\n"


def remember_good(config: Config, state_dir: Path) -> None:
    """Keep ``config``, which just started the kiosk, as the last good one (best effort)."""
    try:
        text = _HEADER + dump_config(config)
        if parse_config(text, "<last good>", base_dir=state_dir) != config:
            raise ValueError("it does not read back as the same configuration")
        write_private(state_dir / LAST_GOOD, text)
    except (OSError, ValueError, ConfigError) as err:
        log.warning("cannot keep the good configuration in %s: %s", state_dir, err)


def last_good(state_dir: Path) -> Config | None:
    path = state_dir / LAST_GOOD
    if not path.is_file():
        return None
    try:
        return load_config(path)
    except ConfigError as err:
        log.warning("the saved configuration is not valid either: %s", err)
        return None


# --- the meeting -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Memory:
    """What the room was doing, kept across restarts.

    ``room`` is the Janus room of the meeting (a scheduled meeting may use another room than
    [hub] room); ``camera`` the label of a shot chosen on the panel ("" while automatic);
    ``skipped`` the scheduled meetings the room left or cancelled (not to be joined again);
    ``session`` the hub session of the meeting's connection: after a crash the next start
    ends it, or the other rooms would see this room twice until the hub times it out.
    """

    in_meeting: bool = False
    room: int | None = None
    muted: bool = False
    camera: str = ""
    skipped: tuple[str, ...] = field(default=())
    session: int | None = None


_TYPES: dict[str, tuple[type, ...]] = {
    "in_meeting": (bool,),
    "room": (int, type(None)),
    "muted": (bool,),
    "camera": (str,),
    "skipped": (list,),
    "session": (int, type(None)),
}


def _memory_from(data: Any) -> Memory:
    if not isinstance(data, dict) or data.get("version") != MEMORY_VERSION:
        raise ValueError("not a meeting state of this version")
    values = {key: data[key] for key in _TYPES if key in data}
    for key, value in values.items():
        numbered = key in ("room", "session")
        if not isinstance(value, _TYPES[key]) or (numbered and isinstance(value, bool)):
            raise ValueError(f"{key} has the wrong type ({type(value).__name__})")
    skipped = values.pop("skipped", [])
    if not all(isinstance(item, str) for item in skipped):
        raise ValueError("skipped must hold strings")
    return Memory(**values, skipped=tuple(skipped))


def load_memory(state_dir: Path) -> Memory:
    """The saved meeting state; a missing file is a fresh start, a damaged one is reported
    (in the log) and ignored: the kiosk starts idle rather than not at all."""
    path = state_dir / MEMORY
    try:
        return _memory_from(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return Memory()
    except (OSError, ValueError, TypeError) as err:  # JSONDecodeError and UnicodeError too
        log.error("the saved meeting state %s is damaged and ignored: %s", path, err)
        return Memory()


def save_memory(memory: Memory, state_dir: Path) -> bool:
    """Write ``memory`` atomically (best effort: a full disk costs only the memory)."""
    data = {"version": MEMORY_VERSION, **asdict(memory), "skipped": list(memory.skipped)}
    try:
        write_private(state_dir / MEMORY, json.dumps(data, ensure_ascii=False) + "\n")
    except OSError as err:
        log.warning("cannot keep the meeting state in %s: %s", state_dir, err)
        return False
    return True


# --- other small records (device choice, scheduled checks) -----------------------------------


def load_record(state_dir: Path, name: str, parse: Callable[[dict[str, Any]], T], default: T) -> T:
    """The JSON record ``name`` read through ``parse`` (which raises ValueError on a bad
    value); a missing file is ``default``, a damaged one is reported in the log and ignored."""
    path = state_dir / name
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            raise ValueError(f"not a record of version {RECORD_VERSION}")
        return parse(data)
    except FileNotFoundError:
        return default
    except (OSError, ValueError, TypeError) as err:  # JSONDecodeError and UnicodeError too
        log.error("the saved state %s is damaged and ignored: %s", path, err)
        return default


def save_record(state_dir: Path, name: str, data: dict[str, Any]) -> bool:
    """Write the record ``name`` atomically, mode 0600 (best effort: logged when it fails)."""
    text = json.dumps({"version": RECORD_VERSION, **data}, ensure_ascii=False) + "\n"
    try:
        write_private(state_dir / name, text)
    except OSError as err:
        log.warning("cannot keep %s in %s: %s", name, state_dir, err)
        return False
    return True

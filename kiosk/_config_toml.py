"""A small TOML writer for what a validated Config holds (``tomllib`` only reads).

Sections are dataclasses written as ``[name]`` tables; nested dataclasses (seating zones) as
inline tables.  Values: bool, int, float, str, absolute paths, and lists of these.  A field
that is None is left out: every such field defaults to None.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from pathlib import PurePath

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def dump_sections(sections: Mapping[str, object]) -> str:
    """``[name]`` followed by ``key = value`` lines, for each dataclass in ``sections``."""
    return "\n".join(f"[{name}]\n{_lines(section)}" for name, section in sections.items())


def _pairs(record: object) -> list[tuple[str, object]]:
    if not is_dataclass(record) or isinstance(record, type):
        raise TypeError(f"cannot write {type(record).__name__} as a TOML table")
    pairs = [(fld.name, getattr(record, fld.name)) for fld in fields(record)]
    return [(name, value) for name, value in pairs if value is not None]


def _lines(section: object) -> str:
    return "".join(f"{name} = {value(item)}\n" for name, item in _pairs(section))


def value(item: object) -> str:
    """``item`` as a TOML value."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        return _float(item)
    if isinstance(item, str):
        return string(item)
    if isinstance(item, PurePath):
        return string(_absolute(item))
    if isinstance(item, tuple | list):
        return "[" + ", ".join(value(x) for x in item) + "]"
    return "{ " + ", ".join(f"{name} = {value(x)}" for name, x in _pairs(item)) + " }"


def _float(number: float) -> str:
    if math.isnan(number):
        return "nan"
    return repr(number)  # "0.045", "1e-05", "inf", "-inf": all TOML floats


def _absolute(path: PurePath) -> str:
    if not path.is_absolute():
        raise ValueError(f"path {str(path)!r} is relative: it would not survive a move")
    return str(path)


def string(text: str) -> str:
    """A basic TOML string; the control characters TOML forbids are escaped."""
    return '"' + "".join(_char(c) for c in text) + '"'


def _char(c: str) -> str:
    if c in _ESCAPES:
        return _ESCAPES[c]
    if "\ud800" <= c <= "\udfff":
        raise ValueError("a lone surrogate cannot be written as TOML")
    if c < " " or c == "\x7f":
        return f"\\u{ord(c):04x}"
    return c

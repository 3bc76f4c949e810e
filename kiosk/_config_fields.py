"""Field converters for :mod:`kiosk.config`.

Each converter takes a raw value (as tomllib produced it) and a :class:`Context`, and either
returns the typed value or raises :class:`Invalid` naming the rule that was broken.  The schema
in ``config.py`` is a table of these converters, one per key.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, urlsplit

from kiosk._config_issues import ConfigError, ConfigIssue

SYNTHETIC = "synthetic"
ICE_SCHEMES = ("stun:", "turn:", "turns:")
WS_RULE = "ws:// is unencrypted; use wss:// (ws:// is allowed only to localhost)"
URL_EXAMPLE = "e.g. wss://hub.example.vn/janus"
_BAD_CATEGORIES = frozenset({"Cc", "Cs"})  # control characters, lone surrogates


class Invalid(Exception):
    """A raw value broke a rule.

    ``hide`` means the raw value may itself be a secret and must not be echoed.  ``parts``
    carries per-item failures of a list as ``(suffix, item, Invalid)``.
    """

    def __init__(
        self,
        rule: str,
        *,
        hide: bool = False,
        parts: Sequence[tuple[str, object, Invalid]] = (),
    ) -> None:
        super().__init__(rule)
        self.rule = rule
        self.hide = hide
        self.parts = tuple(parts)


@dataclass(frozen=True)
class Context:
    """What converters need besides the value: the directory relative paths start from."""

    base_dir: Path


Convert = Callable[[object, Context], Any]


# --- scalars ---------------------------------------------------------------------------------


def _within(value: int | float, lo: int | float, hi: int | float) -> None:
    if not lo <= value <= hi:  # also rejects NaN
        raise Invalid(f"must be between {lo} and {hi}")


def integer(lo: int, hi: int) -> Convert:
    """An int (not a bool) in ``lo..hi``."""

    def convert(raw: object, ctx: Context) -> int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise Invalid("must be an integer")
        _within(raw, lo, hi)
        return raw

    return convert


def number(lo: float, hi: float) -> Convert:
    """An int or float (not a bool) in ``lo..hi``, returned as float."""

    def convert(raw: object, ctx: Context) -> float:
        if isinstance(raw, bool) or not isinstance(raw, int | float):
            raise Invalid("must be a number")
        _within(raw, lo, hi)
        return float(raw)

    return convert


def _string(raw: object, rule: str = "must be a string") -> str:
    if not isinstance(raw, str):
        raise Invalid(rule)
    return raw


def _clean(raw: object) -> str:
    """Stripped, NFC-normalised text without control characters."""
    text = unicodedata.normalize("NFC", _string(raw).strip())
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in text):
        raise Invalid("must not contain control characters (newline, tab, …)")
    return text


def label(max_len: int) -> Convert:
    """Human-readable text, 1..max_len characters after stripping (e.g. "Xã Bản Vẽ")."""

    def convert(raw: object, ctx: Context) -> str:
        text = _clean(raw)
        if not 1 <= len(text) <= max_len:
            raise Invalid(f"must be 1 to {max_len} characters (after removing outer spaces)")
        return text

    return convert


# --- devices ---------------------------------------------------------------------------------


def _device(raw: object, rule: str) -> str:
    text = _clean(_string(raw, rule))
    return SYNTHETIC if text.lower() == SYNTHETIC else text


def camera_device(raw: object, ctx: Context) -> str:
    """``synthetic`` or a path under /dev/; existence is checked when opening (hot-plug)."""
    rule = 'must be "synthetic" or a device path under /dev/ (e.g. /dev/video0)'
    device = _device(raw, rule)
    if device == SYNTHETIC:
        return device
    if not device.startswith("/dev/") or len(device) == len("/dev/") or " " in device:
        raise Invalid(rule)
    return device


def audio_device(raw: object, ctx: Context) -> str:
    """``synthetic`` or a non-empty device name (as the sound system lists it)."""
    rule = 'must be "synthetic" or a device name'
    device = _device(raw, rule)
    if not device:
        raise Invalid(rule)
    return device


# --- lists -----------------------------------------------------------------------------------


def list_of(item: Convert) -> Convert:
    """A list whose items all pass ``item``; every bad item is reported, as ``key[i]``."""

    def convert(raw: object, ctx: Context) -> tuple[Any, ...]:
        if not isinstance(raw, list):
            raise Invalid("must be a list, e.g. []")
        good: list[Any] = []
        bad: list[tuple[str, object, Invalid]] = []
        for i, value in enumerate(raw):
            try:
                good.append(item(value, ctx))
            except Invalid as err:
                bad.append((f"[{i}]", value, err))
        if bad:
            raise Invalid("has invalid items", parts=bad)
        return tuple(good)

    return convert


def ice_server(raw: object, ctx: Context) -> str:
    """A STUN/TURN URI of our own infrastructure; credentials never go here."""
    rule = 'must start with "stun:", "turn:" or "turns:" followed by a host'
    uri = _string(raw, rule)
    if "@" in uri:
        raise Invalid("must not contain credentials", hide=True)
    scheme = next((s for s in ICE_SCHEMES if uri.startswith(s)), None)
    if scheme is None or len(uri) == len(scheme) or any(c.isspace() for c in uri):
        raise Invalid(rule)
    return uri


# --- hub URL ---------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _split_url(url: str) -> SplitResult:
    if any(c.isspace() or unicodedata.category(c) in _BAD_CATEGORIES for c in url):
        raise Invalid("must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as err:
        raise Invalid(f"is not a valid URL ({URL_EXAMPLE})") from err
    if port == 0:
        raise Invalid("port must be between 1 and 65535")
    return parts


def hub_url(raw: object, ctx: Context) -> str:
    """wss://host[:port][/path]; ws:// only to a loopback host."""
    url = _string(raw)
    parts = _split_url(url)
    if parts.username is not None or parts.password is not None:
        raise Invalid("must not contain a user name or password (use token_file)", hide=True)
    scheme = parts.scheme.lower()
    if scheme not in ("wss", "ws") or not url[len(scheme) :].startswith("://"):
        raise Invalid(f"must start with wss:// ({URL_EXAMPLE})")
    if not parts.hostname:
        raise Invalid(f"must include a host name ({URL_EXAMPLE})")
    if scheme == "ws" and not _is_loopback(parts.hostname):
        raise Invalid(WS_RULE)
    return url


# --- paths -----------------------------------------------------------------------------------


def _looks_like_path(raw: str) -> bool:
    """Whether echoing ``raw`` is safe even if it was meant to be a secret's file name."""
    return raw.startswith(("/", "./", "../"))


def _to_path(raw: object, ctx: Context, *, secret: bool = False) -> Path:
    if not isinstance(raw, str) or not raw.strip():
        raise Invalid("must be a non-empty path (a string)", hide=secret)
    if any(unicodedata.category(c) in _BAD_CATEGORIES for c in raw):
        raise Invalid("must not contain control characters", hide=secret)
    return ctx.base_dir / raw  # an absolute raw path replaces base_dir


def any_path(raw: object, ctx: Context) -> Path:
    """A path, relative to the config file's directory; existence not required."""
    return _to_path(raw, ctx)


def _stat_file(path: Path, raw: str, secret: bool) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError as err:
        raise Invalid("does not exist", hide=secret and not _looks_like_path(raw)) from err
    except OSError as err:
        raise Invalid(f"cannot be checked ({err.strerror})") from err
    if not stat.S_ISREG(st.st_mode):
        raise Invalid("must be a regular file")
    return st


def existing_file(*, private: bool = False) -> Convert:
    """An existing regular file; ``private`` ones (secrets) must not be group/other accessible."""

    def convert(raw: object, ctx: Context) -> Path:
        path = _to_path(raw, ctx, secret=private)
        st = _stat_file(path, str(raw), private)
        mode = stat.S_IMODE(st.st_mode)
        if private and mode & 0o077:
            raise Invalid(f"must have mode 0600 (chmod 600 {path}); it has {mode:04o}")
        return path

    return convert


def _read_private(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not block us
        with os.fdopen(fd, "rb") as stream:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise Invalid("must be a regular file")
            if stat.S_IMODE(st.st_mode) & 0o077:
                raise Invalid(f"must have mode 0600 (chmod 600 {path})")
            return stream.read()
    except OSError as err:
        raise Invalid(f"cannot read ({err.strerror})") from err


def read_secret(path: Path, key: str) -> str:
    """Read a secret file now, re-checking its mode; errors never contain its content."""
    try:
        secret = _read_private(path).decode("utf-8").rstrip("\r\n")
        if not secret:
            raise Invalid("is empty")
    except UnicodeDecodeError:
        rule = "is not valid UTF-8"
    except Invalid as err:
        rule = err.rule
    else:
        return secret
    raise ConfigError([ConfigIssue(key, str(path), rule)], str(path))

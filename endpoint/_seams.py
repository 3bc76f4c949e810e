"""Every place where diemcau replaces a piece of aiortc 1.16, in one list.

Each seam is a module with ``install()`` (idempotent; it warns or raises when aiortc no
longer has the shape the seam expects) and ``uninstall()`` (puts aiortc's own piece back).
``endpoint`` installs them all on import. ``plain_aiortc()`` takes them all out and turns
off the adaptive layers that sit on top of them (quality tiers, receive-side pause, SDP
munging): the links benchmark runs that as its baseline, "unmodified aiortc".
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seam:
    name: str
    install: Callable[[], object]
    uninstall: Callable[[], None]


_SEAMS: list[Seam] = []
_enabled = True


def register(seam: Seam) -> None:
    if all(s.name != seam.name for s in _SEAMS):
        _SEAMS.append(seam)


def install_all() -> None:
    global _enabled
    _enabled = True
    for seam in _SEAMS:
        seam.install()


def plain_aiortc() -> None:
    """Baseline for benchmarks: aiortc 1.16 exactly as shipped, none of our layers."""
    global _enabled
    _enabled = False
    for seam in _SEAMS:
        seam.uninstall()
    log.warning("running on plain aiortc: diemcau's media seams are off (baseline)")


def enabled() -> bool:
    """False once ``plain_aiortc()`` ran: adaptive layers must then stay out of the way."""
    return _enabled


def names() -> list[str]:
    return [s.name for s in _SEAMS]


def source_holds(cls: type, lines: Sequence[str], methods: Sequence[str] = ()) -> bool:
    """Whether aiortc's *cls* still has *methods* and its source still holds each of *lines*:
    how a seam checks that aiortc keeps the shape it was written against."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return False
    has_methods = all(callable(getattr(cls, m, None)) for m in methods)
    return has_methods and all(line in source for line in lines)

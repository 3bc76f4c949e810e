"""ConfigIssue and ConfigError: how configuration problems are reported (see kiosk.config)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def _short_repr(value: object, limit: int = 80) -> str:
    text = str(value).lower() if isinstance(value, bool) else repr(value)  # TOML spelling
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class ConfigIssue:
    """One problem: ``key`` ("hub.room", "" for the whole file), the offending value, the rule.

    ``value`` is None when there is nothing to show (missing key) or when it may be a secret.
    """

    key: str
    value: object | None
    rule: str

    def __str__(self) -> str:
        where = self.key
        if self.value is not None:
            shown = _short_repr(self.value)
            where = f"{where} = {shown}" if where else shown
        return f"{where}: {self.rule}" if where else self.rule


class ConfigError(Exception):
    """The configuration is unusable; ``issues`` lists every problem found in ``source``."""

    def __init__(self, issues: Iterable[ConfigIssue], source: str = "<string>") -> None:
        self.issues = list(issues)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(f"{self.source}: {issue}" for issue in self.issues)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.issues, self.source))

"""A benchmark's child process and the JSON lines it prints, read on a thread as they come."""

from __future__ import annotations

import json
import subprocess
import threading
from typing import Any


class JsonLines:
    """Collects every JSON line *proc* prints (others are skipped); ``of(event)`` filters."""

    def __init__(self, proc: subprocess.Popen[str], name: str = "bench-lines") -> None:
        self.proc = proc
        self.lines: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, name=name, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                self.lines.append(json.loads(line))
            except ValueError:
                continue

    def of(self, event: str) -> list[dict[str, Any]]:
        return [x for x in list(self.lines) if x["event"] == event]

"""Owned background tasks: every task has an owner, a name, and is cancelled at teardown.

One helper instead of bare ``create_task``/``ensure_future`` calls whose results nobody
keeps: a failure is logged with the task's name, and ``close()`` cancels and awaits
whatever is still running, so nothing outlives the part that started it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class Tasks:
    """The background tasks of one owner (``owner:name``); a name runs at most once."""

    def __init__(self, owner: str) -> None:
        self.owner = owner
        self._running: dict[str, asyncio.Task[Any]] = {}

    def spawn(self, name: str, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Start *coro* as ``owner:name``; a task already running under that name is cancelled."""
        self.cancel(name)
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.owner}:{name}")
        self._running[name] = task
        task.add_done_callback(lambda done: self._finished(name, done))
        return task

    def _finished(self, name: str, task: asyncio.Task[Any]) -> None:
        if self._running.get(name) is task:
            del self._running[name]
        if not task.cancelled() and task.exception() is not None:
            log.warning("task %s failed: %r", task.get_name(), task.exception())

    def cancel(self, name: str) -> None:
        task = self._running.pop(name, None)
        if task is not None:
            task.cancel()

    def running(self, name: str) -> bool:
        return name in self._running

    def names(self) -> list[str]:
        return sorted(self._running)

    async def wait(self) -> None:
        """Wait (without cancelling) until every task running now has ended."""
        current = asyncio.current_task()
        tasks = [task for task in self._running.values() if task is not current]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Cancel every task (except the caller's own) and wait until they are gone."""
        current = asyncio.current_task()
        tasks = [task for task in self._running.values() if task is not current]
        self._running.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __len__(self) -> int:
        return len(self._running)

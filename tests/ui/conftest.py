"""Fixtures for the UI tests: a qasync loop driven by the Qt application."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterator
from typing import Any

import pytest
import qasync


@pytest.fixture
def run(qapp: Any) -> Iterator[Any]:
    """Run a coroutine to completion on a qasync loop driven by the Qt application."""
    qapp.setQuitOnLastWindowClosed(False)  # as in the app: closing a window must not stop the loop
    loop = qasync.QEventLoop(qapp)
    asyncio.set_event_loop(loop)

    def runner(coro: Coroutine[Any, Any, None]) -> None:
        loop.run_until_complete(asyncio.wait_for(coro, 60))

    yield runner
    asyncio.set_event_loop(None)

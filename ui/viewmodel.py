"""Turns the call's events into Qt signals and the panel's taps into call actions."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from PyQt6.QtCore import QObject, pyqtSignal

from endpoint import Call, CallEvent, CallState, Participant, StateChanged
from ui import texts

log = logging.getLogger(__name__)


class CallViewModel(QObject):
    """The only bridge between widgets and the call; widgets hold no call logic."""

    stateChanged = pyqtSignal(object, str)  # CallState, status text
    participantsChanged = pyqtSignal()
    mutedChanged = pyqtSignal(bool)

    def __init__(self, call: Call) -> None:
        super().__init__()
        self.call = call
        self.status = texts.STATE[call.state]
        self._pending: set[asyncio.Task[None]] = set()
        call.listen(self._on_event)

    @property
    def state(self) -> CallState:
        return self.call.state

    @property
    def participants(self) -> list[Participant]:
        return list(self.call.participants.values())

    def _on_event(self, event: CallEvent) -> None:
        if isinstance(event, StateChanged):
            self.status = (
                texts.failure_text(event.reason)
                if event.state is CallState.FAILED
                else texts.STATE[event.state]
            )
            self.stateChanged.emit(event.state, self.status)
        self.participantsChanged.emit()

    def _run(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    def join(self) -> None:
        self._run(self.call.join())

    def leave(self) -> None:
        self._run(self.call.leave())

    def toggle_mute(self) -> None:
        self.call.set_muted(not self.call.muted)
        self.mutedChanged.emit(self.call.muted)

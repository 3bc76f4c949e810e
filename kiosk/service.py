"""The kiosk as a boot-time service: the service manager hears when it is ready, that its loop
still turns, and what the call is doing (``STATUS=``)."""

from __future__ import annotations

import logging

from endpoint import CallEvent, CallState, StateChanged, Tasks
from kiosk.app import KioskApp
from kiosk.notify import Notifier

log = logging.getLogger(__name__)


def status_line(state: CallState, room: int, muted: bool) -> str:
    """``in-meeting, room 1234, microphone muted``: for ``systemctl status`` and the tests."""
    return f"{state.value}, room {room}, microphone {'muted' if muted else 'on'}"


class Service:
    """Ties one running :class:`KioskApp` to the service manager."""

    def __init__(self, kiosk: KioskApp, notifier: Notifier | None = None) -> None:
        self.kiosk = kiosk
        self.notifier = notifier or Notifier()
        self._tasks = Tasks("service")
        self._unlisten = kiosk.call.listen(self._on_call)
        kiosk.model.mutedChanged.connect(self._on_muted)

    def status(self) -> str:
        call = self.kiosk.call
        return status_line(call.state, call.settings.room, call.muted)

    def started(self) -> None:
        """The window is up and the Join button can be tapped: READY, then watchdog pings."""
        self.notifier.ready(self.status())
        self._tasks.spawn("watchdog", self.notifier.watchdog())
        log.info("ready (%s)", self.status())

    def _on_call(self, event: CallEvent) -> None:
        if isinstance(event, StateChanged):
            self.notifier.status(self.status())

    def _on_muted(self, muted: bool) -> None:
        self.notifier.status(self.status())

    async def stop(self) -> None:
        self.notifier.stopping()
        self._unlisten()
        await self._tasks.close()
        self.notifier.close()

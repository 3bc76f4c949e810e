"""The kiosk as a boot-time service.

The service manager hears when the kiosk is ready, that its loop still turns, and what the
call is doing (``STATUS=``).  The meeting is remembered on disk (:class:`state.Memory`): a
kiosk that was in a meeting when it crashed, was killed or lost power joins it again by
itself at start, with the microphone and the camera shot as they were.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

from endpoint import CallEvent, CallState, FailReason, StateChanged, Tasks
from kiosk import state
from kiosk.app import KioskApp
from kiosk.notify import Notifier

log = logging.getLogger(__name__)

RESUME_RETRY_S = 3.0  # a remembered meeting the hub cannot take yet (network still coming up)
RETRYABLE = frozenset(
    {
        FailReason.HUB_UNREACHABLE,
        FailReason.CONNECTION_LOST,
        FailReason.MEDIA,
        FailReason.HUB_ERROR,
        FailReason.PROTOCOL,
    }
)


def status_line(state: CallState, room: int, muted: bool) -> str:
    """``in-meeting, room 1234, microphone muted``: for ``systemctl status`` and the tests."""
    return f"{state.value}, room {room}, microphone {'muted' if muted else 'on'}"


class Service:
    """Ties one running :class:`KioskApp` to the service manager and to its saved meeting."""

    def __init__(self, kiosk: KioskApp, notifier: Notifier | None = None) -> None:
        self.kiosk = kiosk
        self.notifier = notifier or Notifier()
        self.state_dir = kiosk.config.state.dir
        self.memory = state.load_memory(self.state_dir)
        self._resuming = False
        self._camera_pending = ""
        self._tasks = Tasks("service")
        self._unlisten = kiosk.call.listen(self._on_call)
        kiosk.model.mutedChanged.connect(self._on_muted)
        kiosk.model.cameraChanged.connect(self._on_camera)

    def status(self) -> str:
        call = self.kiosk.call
        return status_line(call.state, call.settings.room, call.muted)

    def started(self) -> None:
        """The window is up and the Join button can be tapped: READY, then watchdog pings;
        a meeting the room was in before is joined again."""
        self.notifier.ready(self.status())
        self._tasks.spawn("watchdog", self.notifier.watchdog())
        log.info("ready (%s)", self.status())
        if self.memory.in_meeting and self.kiosk.join_allowed:
            log.info("the room was in a meeting (room %s): joining it again", self.memory.room)
            self._camera_pending = self.memory.camera
            self.kiosk.call.stale_session = self.memory.session  # the crashed run's, ended first
            self._resume()

    def use_room(self, room: int) -> None:
        """The next join goes to ``room`` (a scheduled meeting, a remembered one)."""
        call = self.kiosk.call
        if call.settings.room != room:
            call.settings = dataclasses.replace(call.settings, room=room)

    def _resume(self) -> None:
        self._resuming = True
        if self.memory.room is not None:
            self.use_room(self.memory.room)
        if self.memory.muted != self.kiosk.call.muted:
            self.kiosk.model.toggle_mute()
        self.kiosk.model.join()

    async def _retry_resume(self) -> None:
        await asyncio.sleep(RESUME_RETRY_S)
        if self._resuming and self.kiosk.call.state is CallState.FAILED:
            self._resume()

    # -- what happens is remembered -------------------------------------------------------
    def _remember(self, **changes: object) -> None:
        memory = dataclasses.replace(self.memory, **changes)  # type: ignore[arg-type]
        if memory != self.memory:
            self.memory = memory
            state.save_memory(memory, self.state_dir)

    def remember_skips(self, keys: tuple[str, ...]) -> None:
        """The scheduled meetings not to be joined again (cancelled, left, over)."""
        self._remember(skipped=keys)

    def _on_call(self, event: CallEvent) -> None:
        if not isinstance(event, StateChanged):
            return
        self.notifier.status(self.status())
        if event.state is CallState.IN_MEETING:
            self._in_meeting()
        elif event.state is CallState.IDLE:
            self._resuming = False
            self._remember(in_meeting=False, camera="", session=None)
        elif event.state is CallState.FAILED:
            if self._resuming and event.reason in RETRYABLE:
                log.info("the remembered meeting cannot be joined yet; trying again soon")
                self._tasks.spawn("resume", self._retry_resume())
            else:
                self._resuming = False
                self._remember(in_meeting=False, camera="", session=None)

    def _in_meeting(self) -> None:
        self._resuming = False
        room, muted = self.kiosk.call.settings.room, self.kiosk.call.muted
        session = self.kiosk.call.hub_session
        self._remember(in_meeting=True, room=room, muted=muted, session=session)
        pending, self._camera_pending = self._camera_pending, ""
        labels = [label for label, _ in self.kiosk.model.camera_choices]
        if pending in labels:
            self.kiosk.model.choose_camera(labels.index(pending))

    def _on_muted(self, muted: bool) -> None:
        self.notifier.status(self.status())
        if self._resuming and self.kiosk.call.state is CallState.FAILED:
            return  # the panel's end-of-meeting reset, not a choice: the retry keeps the mute
        self._remember(muted=muted)

    def _on_camera(self, zone: str, auto: bool) -> None:
        if self.kiosk.call.state is CallState.IN_MEETING and not self._camera_pending:
            self._remember(camera="" if auto else self._manual_shot())

    def _manual_shot(self) -> str:
        """The label of the shot on air (the panel's choices are labelled targets)."""
        voice = self.kiosk.devices.voice
        decision = voice.decisions.get()[0] if voice is not None else None
        target = getattr(decision, "target", None)
        return next((label for label, t in self.kiosk.model.camera_choices if t == target), "")

    async def stop(self) -> None:
        """Stop listening before the kiosk leaves: a stop by the service manager (a reboot,
        an upgrade) keeps the meeting in memory, and the kiosk comes back into it."""
        self.notifier.stopping()
        self._unlisten()
        self.kiosk.model.mutedChanged.disconnect(self._on_muted)
        self.kiosk.model.cameraChanged.disconnect(self._on_camera)
        await self._tasks.close()
        self.notifier.close()

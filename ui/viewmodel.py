"""Turns the call's events into Qt signals and the panel's taps into call actions."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from PyQt6.QtCore import QObject, QTimer, pyqtSignal

from devices import LatestFrame
from endpoint import (
    Call,
    CallEvent,
    CallState,
    LinkQuality,
    Participant,
    StateChanged,
    Tasks,
)
from ui import texts

log = logging.getLogger(__name__)


VOICE_POLL_MS = 200
RECONNECT_TICK_MS = 1000  # the reconnecting banner counts the seconds


class RoomVoice(Protocol):
    """What the panel needs from the microphone array's director (devices.room_voice)."""

    decisions: LatestFrame[Any]

    def set_manual_mute(self, muted: bool) -> None: ...
    def choose_camera(self, target: Any) -> None: ...
    def reset_meeting(self) -> None: ...


class CallViewModel(QObject):
    """The only bridge between widgets and the call; widgets hold no call logic."""

    stateChanged = pyqtSignal(object, str)  # CallState, status text
    participantsChanged = pyqtSignal()
    mutedChanged = pyqtSignal(bool)
    micStateChanged = pyqtSignal(str)  # open | muted | auto_muted | open_warning
    cameraChanged = pyqtSignal(str, bool)  # shot on air (zone name or ""), auto-switching on
    linkChanged = pyqtSignal(object)  # LinkQuality, or None outside a meeting

    def __init__(
        self,
        call: Call,
        voice: RoomVoice | None = None,
        camera_choices: Sequence[tuple[str, Any]] = (),
    ) -> None:
        super().__init__()
        self.call = call
        self.voice = voice
        self.camera_choices = list(camera_choices)  # (label, target) for the panel
        self.status = texts.STATE[call.state]
        self.mic_state = "open"
        self.camera_shot: tuple[str, bool] = ("", True)
        self.link: LinkQuality | None = None
        self._tasks = Tasks("panel")
        call.listen(self._on_event)
        self._timer = QTimer(self)
        self._timer.setInterval(VOICE_POLL_MS)
        self._timer.timeout.connect(self._poll_voice)
        if voice is not None:
            self._timer.start()
        self._ticker = QTimer(self)
        self._ticker.setInterval(RECONNECT_TICK_MS)
        self._ticker.timeout.connect(self._tick)

    def _poll_voice(self) -> None:
        assert self.voice is not None
        decision = self.voice.decisions.get()[0]
        if decision is None:
            return
        self._set_mic_state(decision.mic.value)
        shot = (decision.zone or "", bool(decision.auto_camera))
        if shot != self.camera_shot:
            self.camera_shot = shot
            self.cameraChanged.emit(*shot)

    def _set_mic_state(self, state: str) -> None:
        if state != self.mic_state:
            self.mic_state = state
            self.micStateChanged.emit(state)

    @property
    def state(self) -> CallState:
        return self.call.state

    @property
    def participants(self) -> list[Participant]:
        return list(self.call.participants.values())

    def _on_event(self, event: CallEvent) -> None:
        if isinstance(event, LinkQuality):
            self._set_link(event if self.call.state is CallState.IN_MEETING else None)
            return
        if isinstance(event, StateChanged):
            self.status = self._status_text(event)
            self.stateChanged.emit(event.state, self.status)
            reconnecting = event.state is CallState.RECONNECTING
            if reconnecting != self._ticker.isActive():
                (self._ticker.start if reconnecting else self._ticker.stop)()
            if event.state in (CallState.IDLE, CallState.FAILED):
                self._meeting_over()
            in_meeting = event.state is CallState.IN_MEETING
            self._set_link(self.call.link if in_meeting else None)
        self.participantsChanged.emit()

    def _set_link(self, link: LinkQuality | None) -> None:
        """The link indicator shows only in a meeting (reconnecting says enough)."""
        if link != self.link:
            self.link = link
            self.linkChanged.emit(link)

    def _status_text(self, event: StateChanged) -> str:
        if event.state is CallState.FAILED:
            return texts.failure_text(event.reason)
        if event.state is CallState.RECONNECTING:
            since = self.call.clock() if event.since is None else event.since
            return texts.reconnecting_text(self.call.clock() - since, event.attempt)
        return texts.STATE[event.state]

    def _tick(self) -> None:
        """While reconnecting, the banner shows how long it has been trying."""
        event = self.call.reconnecting
        if event is not None and self.call.state is CallState.RECONNECTING:
            self.status = self._status_text(event)
            self.stateChanged.emit(event.state, self.status)

    def _meeting_over(self) -> None:
        """Manual mute and camera choices last one meeting; the next starts fresh."""
        if self.voice is not None:
            self.voice.reset_meeting()
        if self.call.muted:
            self.toggle_mute()

    def join(self) -> None:
        if not self._tasks.running("join"):  # a second tap while joining changes nothing
            self._tasks.spawn("join", self.call.join())

    def leave(self) -> None:
        if not self._tasks.running("leave"):
            self._tasks.spawn("leave", self.call.leave())

    async def close(self) -> None:
        """Stop whatever the panel started (a join still under way, a leave)."""
        await self._tasks.close()

    def toggle_mute(self) -> None:
        """The panel's mute always wins over auto-mute."""
        muted = not self.call.muted
        self.call.set_muted(muted)
        if self.voice is not None:
            self.voice.set_manual_mute(muted)
        self.mutedChanged.emit(muted)
        if self.voice is None or muted:
            self._set_mic_state("muted" if muted else "open")

    def choose_camera(self, index: int) -> None:
        """A manual shot: shown at once; auto-switching pauses for the rest of the meeting."""
        if self.voice is not None and 0 <= index < len(self.camera_choices):
            self.voice.choose_camera(self.camera_choices[index][1])

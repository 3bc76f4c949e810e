"""A kiosk killed in a meeting (SIGKILL: a crash, a power cut) comes back under its supervisor
and rejoins by itself with the microphone still muted; taps on the panel are remembered."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PyQt6.QtWidgets import QApplication

from devices.voice import write_wav
from endpoint import CallState
from kiosk import state
from kiosk.app import KioskApp
from kiosk.config import load_config
from kiosk.notify import Notifier
from kiosk.service import Service
from tests._util import wait_until
from tests.kiosk import restart_lab as lab
from tests.kiosk.notify_socket import NotifySocket, has


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


@pytest.fixture
async def far(hub: Any) -> Any:
    call, camera = lab.far_room(hub)
    await call.join()
    assert call.state is CallState.IN_MEETING
    yield call
    await call.leave()
    camera.stop()


async def test_sigkill_in_a_meeting_rejoins_with_mute_kept(
    hub: Any, far: Any, tmp_path: Path, notify: NotifySocket
) -> None:
    config = lab.write_config(tmp_path, hub)
    lab.seed_meeting(tmp_path, hub.room.room, muted=True)
    kiosk = lab.supervised(config, notify, tmp_path / "kiosk.log").start()
    try:
        await lab.wait_notify(notify, lab.in_meeting(muted=True), kiosk, 60)
        first = await lab.frames_from(far, lab.SITE, exclude=set())
        killed = kiosk.kill()
        await lab.wait_notify(notify, lambda m: m.at > killed and has("READY")(m), kiosk, 60)
        await lab.wait_notify(notify, lab.in_meeting(muted=True, since=killed), kiosk, 60)
        again = await lab.frames_from(far, lab.SITE, exclude={first})
        assert again != first and len(kiosk.starts) == 2
        # The crashed run's hub session was ended at the rejoin: the others see the room
        # once, long before the hub would have timed the old one out (20 s after the kill).
        await wait_until(lambda: lab.feeds_named(far, lab.SITE) == [again], timeout=8)
        memory = state.load_memory(tmp_path / "state")
        assert isinstance(memory.session, int)
        expected = state.Memory(in_meeting=True, room=hub.room.room, muted=True)
        assert dataclasses.replace(memory, session=None) == expected
    finally:
        code = kiosk.stop()
    assert code == 0, kiosk.log_text()[-3000:]
    assert "Traceback" not in kiosk.log_text()


async def test_panel_taps_are_remembered_and_restored(hub: Any, tmp_path: Path, qtbot: Any) -> None:
    """Mute and a chosen shot are written while in the meeting; the next start rejoins with
    both; a leave is written too, and then nothing is rejoined."""
    wav = tmp_path / "room.wav"
    write_wav(wav, np.zeros((4800, 5)), 48000)
    path = lab.write_config(tmp_path, hub)
    zone = '{ name = "Bàn chủ tọa", angles = [330, 30], crop = [0.3, 0.05, 0.4, 0.55] }'
    path.write_text(
        path.read_text() + f'[voice]\nenabled = true\nscript_wav = "{wav}"\nzones = [{zone}]\n'
    )
    first = start(load_config(path), qtbot)
    await first.kiosk.call.join()
    first.kiosk.model.toggle_mute()
    first.kiosk.model.choose_camera(1)
    memory = state.Memory(in_meeting=True, room=hub.room.room, muted=True, camera="Bàn chủ tọa")
    await wait_until(qt(lambda: dataclasses.replace(first.memory, session=None) == memory), 10)
    assert state.load_memory(tmp_path / "state") == first.memory
    await stop(first)  # as the service manager stops it: the meeting stays remembered

    again = start(load_config(path), qtbot)
    await wait_until(lambda: again.kiosk.call.state is CallState.IN_MEETING, timeout=30)
    assert again.kiosk.call.muted and again.kiosk.window.mute_button.text() == "Bật micro"
    chosen = again.kiosk.model.camera_choices[1][1]
    await wait_until(lambda: on_air(again) == (chosen, False), timeout=10)
    assert again.memory.camera == "Bàn chủ tọa"
    again.kiosk.model.leave()
    await wait_until(lambda: again.kiosk.call.state is CallState.IDLE, timeout=15)
    assert state.load_memory(tmp_path / "state") == state.Memory(room=hub.room.room)
    await stop(again)


def qt(predicate: Callable[[], bool]) -> Callable[[], bool]:
    """``predicate`` after Qt's due timers have run (this test's loop is plain asyncio)."""

    def check() -> bool:
        QApplication.processEvents()
        return predicate()

    return check


def on_air(service: Service) -> tuple[Any, bool] | None:
    voice = service.kiosk.devices.voice
    decision = voice.decisions.get()[0] if voice is not None else None
    return None if decision is None else (decision.target, decision.auto_camera)


def start(config: Any, qtbot: Any) -> Service:
    kiosk = KioskApp(config)
    qtbot.addWidget(kiosk.window)
    service = Service(kiosk, Notifier({}))
    kiosk.start()
    service.started()
    return service


async def stop(service: Service) -> None:
    await service.stop()
    await service.kiosk.stop()
    await asyncio.sleep(0)

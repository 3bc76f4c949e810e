from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from devices import Playout, SoundDeviceSpeaker, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, HubSettings
from tests._util import wait_until  # noqa: F401 - re-exported for the tests
from tests.linklab import ImpairedLink
from tests.room_process import RemoteRoom


def settings(hub: Any, display: str, **overrides: Any) -> HubSettings:
    values: dict[str, Any] = dict(
        url=hub.url, room=hub.room.room, display=display, pin=hub.room.pin
    )
    values.update(overrides)
    return HubSettings(**values)


@pytest.fixture
async def room(hub: Any) -> AsyncIterator[Callable[..., Call]]:
    """Factory of endpoints (synthetic camera + tone, optional real speaker sink)."""
    made: list[tuple[Call, SyntheticCamera, Any]] = []

    def make(
        display: str,
        tone: float = 440.0,
        sink: str | None = None,
        level: float = 0.3,
        **overrides: Any,
    ) -> Call:
        camera = SyntheticCamera(display, 320, 180, 15)
        camera.start()
        playout = Playout()
        speaker = None
        if sink is not None:
            speaker = SoundDeviceSpeaker(f"pulse:{sink}", playout, volume=100)
            speaker.start()
            assert speaker.error is None, speaker.error
        microphone = SyntheticMicrophone(tone, level=level)
        call = Call(settings(hub, display, **overrides), camera, microphone, playout)
        made.append((call, camera, speaker))
        return call

    yield make
    for call, camera, speaker in made:
        await call.leave()
        camera.stop()
        if speaker is not None:
            speaker.stop()


# A room behind an impaired link: the test module supplies ``link`` (its own index, seed).
@pytest.fixture
def open_hub(link: ImpairedLink) -> Iterator[Any]:
    """A hub the link's child namespace reaches: signaling on every address (ICE stays on
    dc0, the link's segment)."""
    from kiosk.hub import LocalHub

    local = LocalHub(ws_ip="0.0.0.0")
    yield local.start()
    local.stop()


@pytest.fixture
def remote(open_hub: Any, link: ImpairedLink) -> Iterator[RemoteRoom]:
    """Room "Xã Xa" as its own process behind the link, joined to ``open_hub``."""
    from kiosk import netns

    url = f"ws://{netns.ADDRESS}:{open_hub.port}/"
    argv = RemoteRoom.argv(url, open_hub.room.room, "Xã Xa")
    env = {**os.environ, "ROOM_PIN": open_hub.room.pin}
    proc = link.popen(argv, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, env=env)
    room = RemoteRoom(proc)
    yield room
    room.stop()


async def meet_across_link(room: Any, open_hub: Any, remote: RemoteRoom) -> Call:
    """Room "Xã Gần" here joins ``open_hub``; returns once both rooms decode each other."""
    from tests.endpoint.test_recovery import frames_flow

    near: Call = room("Xã Gần", url=open_hub.url, room=open_hub.room.room, pin=open_hub.room.pin)
    await near.join()
    await frames_flow(near, "Xã Xa", timeout=30)
    await wait_until(lambda: remote.frames("Xã Gần") > 10, timeout=15)
    return near

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from devices import Playout, SoundDeviceSpeaker, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, HubSettings
from tests._util import wait_until  # noqa: F401 - re-exported for the tests


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

    def make(display: str, tone: float = 440.0, sink: str | None = None, **overrides: Any) -> Call:
        camera = SyntheticCamera(display, 320, 180, 15)
        camera.start()
        playout = Playout()
        speaker = None
        if sink is not None:
            speaker = SoundDeviceSpeaker(f"pulse:{sink}", playout, volume=100)
            speaker.start()
            assert speaker.error is None, speaker.error
        call = Call(settings(hub, display, **overrides), camera, SyntheticMicrophone(tone), playout)
        made.append((call, camera, speaker))
        return call

    yield make
    for call, camera, speaker in made:
        await call.leave()
        camera.stop()
        if speaker is not None:
            speaker.stop()

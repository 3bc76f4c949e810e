"""Pieces of the restart test and ``bench/restart.py``: a kiosk configuration for a local hub,
a far-end room that watches the kiosk's frames, and a supervised kiosk with its notify socket."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devices import Playout, SyntheticCamera, SyntheticMicrophone
from endpoint import Call, HubSettings
from kiosk import state
from tests.kiosk.notify_socket import Message, NotifySocket
from tests.kiosk.supervisor import Supervisor, kiosk_argv

SITE = "Xã Bản Vẽ"
FAR = "Xã Nà Hỳ"


def write_config(folder: Path, hub: Any) -> Path:
    """The kiosk's TOML for ``hub`` (PIN in a 0600 file, state under ``folder/state``)."""
    pin = folder / "room.pin"
    pin.touch(mode=0o600)
    pin.write_text(hub.room.pin + "\n")
    path = folder / "diemcau.toml"
    path.write_text(
        f'[site]\nname = "{SITE}"\n'
        f'[hub]\nurl = "{hub.url}"\nroom = {hub.room.room}\npin_file = "{pin}"\n'
        f'[camera]\nwidth = 320\nheight = 180\n[state]\ndir = "{folder / "state"}"\n'
    )
    return path


def far_room(hub: Any) -> tuple[Call, SyntheticCamera]:
    camera = SyntheticCamera(FAR, 320, 180, 15)
    camera.start()
    settings = HubSettings(url=hub.url, room=hub.room.room, display=FAR, pin=hub.room.pin)
    return Call(settings, camera, SyntheticMicrophone(), Playout()), camera


async def frames_from(
    call: Call, display: str, exclude: set[int], more: int = 10, timeout: float = 30.0
) -> int:
    """Wait until ``call`` decodes ``more`` new frames from a room called ``display`` whose
    feed is not in ``exclude`` (a kiosk that came back publishes as a new feed); its feed."""
    deadline = time.monotonic() + timeout
    start: dict[int, int] = {}
    while time.monotonic() < deadline:
        for feed, p in list(call.participants.items()):
            if p.display == display and feed not in exclude:
                start.setdefault(feed, p.video.seq)
                if p.video.seq - start[feed] >= more:
                    return feed
        await asyncio.sleep(0.05)
    raise AssertionError(f"no frames from {display} (excluding feeds {exclude}) in {timeout} s")


def feeds_named(call: Call, display: str) -> list[int]:
    """The feeds ``call`` lists under ``display``."""
    return [feed for feed, p in list(call.participants.items()) if p.display == display]


def in_meeting(muted: bool, since: float = 0.0) -> Callable[[Message], bool]:
    """A STATUS= saying the kiosk is in its meeting with the microphone as given."""
    tail = "microphone muted" if muted else "microphone on"

    def match(m: Message) -> bool:
        text = m.fields.get("STATUS", "")
        return m.at > since and text.startswith("in-meeting,") and text.endswith(tail)

    return match


def seed_meeting(config_folder: Path, room: int, muted: bool) -> None:
    """The state a kiosk leaves when it is in a meeting (as the restart test's first boot)."""
    state.save_memory(
        state.Memory(in_meeting=True, room=room, muted=muted), config_folder / "state"
    )


async def wait_notify(notify: NotifySocket, match: Any, kiosk: Supervisor, timeout: float) -> Any:
    return await asyncio.to_thread(notify.wait_for, match, timeout, kiosk.alive)


def supervised(config: Path, notify: NotifySocket, log: Path) -> Supervisor:
    return Supervisor(kiosk_argv(config), notify.env(watchdog_s=2.0), log)

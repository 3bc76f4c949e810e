"""``diemcau run``: the kiosk app on the room's touchscreen and TV."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Iterator
from dataclasses import dataclass

from PyQt6.QtWidgets import QApplication

from kiosk import display, state
from kiosk.app import KioskApp, headless_wanted, run_qt
from kiosk.autojoin import AutoJoin
from kiosk.config import Config, ConfigError, StateConfig, load_config
from kiosk.service import Service
from ui import texts

log = logging.getLogger(__name__)

# The last good configuration must be found when the current one cannot be read,
# so it lives in the default state folder whatever [state] dir says.
FALLBACK_STATE = StateConfig().dir


@dataclass(frozen=True)
class Choice:
    """A configuration to start the kiosk with, and what the screen says about it."""

    name: str  # for the log: "the file", "the last good configuration", "a placeholder"
    config: Config
    notice: str = ""
    join_allowed: bool = True
    remember: bool = False  # keep it as the last good configuration once it has started


def choices(path: str) -> Iterator[Choice]:
    """What to start with, best first: the file at ``path``, then the last good
    configuration, then a placeholder that cannot join.  A bad file never stops the kiosk;
    the screen says which one runs (the details go to the log)."""
    try:
        config = load_config(path)
    except ConfigError as err:
        log.error("configuration problems:\n%s", err)
        yield from _fallbacks("\n".join(str(issue) for issue in err.issues[:5]))
        return
    if config.voice_issues:
        log.error("[voice] problems, voice is off:\n%s", ConfigError(config.voice_issues, path))
    if config.schedule_issues:
        problems = ConfigError(config.schedule_issues, path)
        log.error("[schedule] problems, those meetings are left out:\n%s", problems)
    clean = not (config.voice_issues or config.schedule_issues)
    yield Choice("the file", config, remember=clean)
    yield from _fallbacks("")


def _fallbacks(details: str) -> Iterator[Choice]:
    fallback = state.last_good(FALLBACK_STATE)
    if fallback is not None:
        yield Choice("the last good configuration", fallback, f"{texts.CONFIG_BAD}\n{details}")
    notice = f"{texts.CONFIG_BAD_NO_FALLBACK}\n{details}"
    yield Choice("a placeholder", placeholder_config(), notice, join_allowed=False)


def placeholder_config() -> Config:
    """Enough to draw the screen when no usable configuration exists (join disabled)."""
    return Config.from_dict(
        {"site": {"name": "diemcau"}, "hub": {"url": "ws://127.0.0.1:9/", "room": 1}},
        source="<placeholder>",
    )


def open_kiosk(path: str) -> KioskApp:
    """The kiosk for the first of :func:`choices` that starts (kept as the last good
    configuration when it is clean); see :func:`open_choice`."""
    kiosk, choice = open_choice(path)
    remember(choice)
    return kiosk


def open_choice(path: str) -> tuple[KioskApp, Choice]:
    """The kiosk for the first of :func:`choices` that starts, and that choice; an error
    while building it (a device, the voice pipeline, anything) moves on to the next choice,
    never crashes."""
    failure: Exception | None = None
    for choice in choices(path):
        try:
            kiosk = KioskApp(
                choice.config, notice=choice.notice.strip(), join_allowed=choice.join_allowed
            )
        except Exception as err:  # the room must get a screen whatever went wrong
            log.error("cannot start with %s: %s", choice.name, err, exc_info=True)
            failure = err
            continue
        return kiosk, choice
    raise RuntimeError("the kiosk cannot start, not even with a placeholder") from failure


def remember(choice: Choice) -> None:
    if choice.remember:
        state.remember_good(choice.config, FALLBACK_STATE)


async def _main(app: QApplication, path: str, full: bool) -> int:
    kiosk, choice = open_choice(path)
    service = Service(kiosk)
    kiosk.start(full_screen=full)
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):  # systemctl stop: leave the meeting cleanly
        loop.add_signal_handler(signum, closed.set)
    await asyncio.sleep(0)  # the window's first events are handled: the Join button works
    service.started()
    # Not needed for the Join button, so after READY: the file written with fsync (slow
    # on a busy eMMC at boot), the technician area and its imports (report, self-test).
    remember(choice)
    from kiosk.autocheck import AutoCheck
    from kiosk.technician import attach_technician

    technician = attach_technician(kiosk)  # «Kỹ thuật»: PIN, self-test, devices, logs
    autojoin = AutoJoin(service)
    autojoin.start()
    autocheck = AutoCheck(kiosk, technician=technician.backend)  # the morning check
    technician.opened.connect(autocheck.dismiss)
    autocheck.start()
    await closed.wait()
    autojoin.stop()
    await autocheck.stop()
    await service.stop()
    technician.close()
    await kiosk.stop()
    return 0


def run(path: str, full_screen: bool = True) -> int:
    """The kiosk until it is stopped; without a display one line and exit 78 (not retried)."""
    reason = display.problem()
    if reason is not None:
        return display.say_no_display(reason)
    return run_qt(lambda app: _main(app, path, full_screen), headless_wanted(False))

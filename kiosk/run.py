"""``diemcau run``: the kiosk app on the room's touchscreen and TV."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from PyQt6.QtWidgets import QApplication

from kiosk import state
from kiosk.app import KioskApp, headless_wanted, run_qt
from kiosk.config import Config, ConfigError, StateConfig, load_config
from ui import texts

log = logging.getLogger(__name__)

# The last good configuration must be found when the current one cannot be read,
# so it lives in the default state folder whatever [state] dir says.
FALLBACK_STATE = StateConfig().dir


def choose_config(path: str) -> tuple[Config | None, str]:
    """The configuration to run with and a notice for the screen.

    A bad file never stops the kiosk: the last good configuration is used instead,
    and the screen says so (the details go to the log).
    """
    try:
        config = load_config(path)
    except ConfigError as err:
        log.error("configuration problems:\n%s", err)
        fallback = state.last_good(FALLBACK_STATE)
        details = "\n".join(str(issue) for issue in err.issues[:5])
        if fallback is None:
            return None, f"{texts.CONFIG_BAD_NO_FALLBACK}\n{details}"
        return fallback, f"{texts.CONFIG_BAD}\n{details}"
    state.remember_good(Path(path), FALLBACK_STATE)
    return config, ""


def placeholder_config() -> Config:
    """Enough to draw the screen when no usable configuration exists (join disabled)."""
    return Config.from_dict(
        {"site": {"name": "diemcau"}, "hub": {"url": "ws://127.0.0.1:9/", "room": 1}},
        source="<placeholder>",
    )


async def _main(app: QApplication, config: Config, notice: str, usable: bool, full: bool) -> int:
    kiosk = KioskApp(config, notice=notice, join_allowed=usable)
    kiosk.start(full_screen=full)
    closed = asyncio.Event()
    app.lastWindowClosed.connect(closed.set)
    await closed.wait()
    await kiosk.stop()
    return 0


def run(path: str, full_screen: bool = True) -> int:
    config, notice = choose_config(path)
    usable = config is not None
    chosen = config if config is not None else placeholder_config()
    return run_qt(
        lambda app: _main(app, chosen, notice, usable, full_screen), headless_wanted(False)
    )

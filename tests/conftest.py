"""Test harness: a real audio server, a real Janus hub, a private network namespace.

The test run enters its namespace through ``python -m kiosk.netns`` (see README);
the audio server starts before anything loads PortAudio so its devices are seen.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests._audio_server import AudioServer

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Started on import: the initial conftests (which load PortAudio) come before any hook.
_audio = AudioServer()
_audio.start()


def pytest_unconfigure(config: pytest.Config) -> None:
    _audio.stop()


@pytest.fixture(scope="session")
def audio_server() -> AudioServer:
    return _audio


@pytest.fixture(scope="session")
def hub() -> Iterator[object]:
    """One Janus per test session, ICE limited to the namespace's veth interface."""
    from kiosk import netns
    from kiosk.hub import LocalHub, interface_present

    if not (netns.inside() and interface_present()):
        pytest.fail(
            "hub tests must run inside the private network namespace: "
            "python -m kiosk.netns pytest (see README)"
        )
    local = LocalHub().start()
    yield local
    local.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Attach the hub's log to failing tests that used it."""
    outcome = yield
    report = outcome.get_result()
    hub = getattr(item, "funcargs", {}).get("hub")
    if report.failed and hub is not None:
        report.sections.append(("janus log (tail)", hub.log_text[-4000:]))

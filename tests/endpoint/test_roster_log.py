"""The log says what happened to the other rooms: joined, left, media stopped."""

from __future__ import annotations

import logging

import pytest

from devices import Playout
from endpoint._roster import Roster
from endpoint._videoroom import Feed


def test_joins_leaves_and_stopped_media_are_logged_with_a_safe_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    roster = Roster(Playout(), lambda event: None, lambda: now[0])
    huge = "Xã \x1b[31mĐỏ" + "x" * 10_000
    with caplog.at_level(logging.INFO, logger="endpoint._roster"):
        roster.arrive([Feed(7, huge, ("v0",)), Feed(8, "Xã Đức Phong", ("v1",))])
        now[0] = 60.0  # no media from anyone for a minute
        roster.check()
        roster.drop(7)
    lines = [r.getMessage() for r in caplog.records]
    assert "room 'Xã Đức Phong' joined (feed 8)" in lines
    assert "room 'Xã Đức Phong': its media stopped" in lines
    joined = next(line for line in lines if "(feed 7)" in line and "joined" in line)
    assert "\x1b" not in joined and "\\x1b" in joined and len(joined) < 120
    assert any(line.endswith("left (feed 7)") for line in lines)

"""A room whose uplink loses packets steps its video down, and keeps being seen.

The publishing room runs as its own process behind a real impaired link (tests.linklab)
with 10 % seeded random loss on its uplink. The hub's receiver reports tell it; the tier
policy (endpoint/_adapt.py) steps down within about 5 s and, since random loss is not
cured by sending less, stops at 320x180@10: the room that stayed keeps decoding it and
never marks it «mất kết nối». The step up needs 30 s clean, left to the unit tests.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from endpoint import Call, CallState
from endpoint._adapt import LOWEST_VIDEO, TIERS, TOP
from kiosk.hub import LocalHub
from tests._util import wait_until
from tests.endpoint.conftest import meet_across_link
from tests.linklab import ImpairedLink, Impairment
from tests.room_process import RemoteRoom

LOSS = 0.10
STEP_DOWN_WITHIN = 6.0  # s: the policy's 5 s, plus a report period and a loaded machine
LOSSY_SECONDS = 12.0
CAP_KBPS = 120.0  # below 320x180@10 with its audio (190 kbit/s)
TOP_NAME, LOW_NAME = TIERS[TOP].name, TIERS[LOWEST_VIDEO].name


@pytest.fixture
def link(hub: Any) -> Iterator[ImpairedLink]:
    with ImpairedLink(6, seed=12) as made:
        yield made


def tier_since(remote: RemoteRoom, since: float) -> tuple[float, str] | None:
    """When the room first reported sending another tier than the top one after *since*."""
    return next(
        ((x["t"], x["tier"]) for x in remote.reports(since) if x.get("tier") != TOP_NAME), None
    )


def mean_kbps(remote: RemoteRoom, tier: str, since: float) -> float:
    rates = [x["send_kbps"] for x in remote.reports(since) if x.get("tier") == tier]
    rates = rates[len(rates) // 3 :]  # the rate is averaged over 2 s: skip the change
    return sum(rates) / len(rates) if rates else 0.0


def frames_of(near: Call, display: str) -> tuple[int, bool]:
    participant = next(p for p in near.participants.values() if p.display == display)
    return participant.video.seq, participant.stale


async def test_ten_percent_uplink_loss_steps_the_tier_down_within_5_s(
    room: Any, open_hub: LocalHub, remote: RemoteRoom, link: ImpairedLink
) -> None:
    near = await meet_across_link(room, open_hub, remote)
    await wait_until(lambda: (remote.reports() or [{}])[-1].get("send_kbps", 0) > 100, 10)
    clean = time.monotonic()
    await asyncio.sleep(4.0)
    assert tier_since(remote, clean) is None, "stepped down on a clean link"
    top_kbps = mean_kbps(remote, TOP_NAME, clean)

    link.set(up=Impairment(loss=LOSS))
    lossy = time.monotonic()
    await wait_until(lambda: tier_since(remote, lossy) is not None, STEP_DOWN_WITHIN + 10)
    stepped = tier_since(remote, lossy)
    assert stepped is not None
    frames_then, _ = frames_of(near, "Xã Xa")
    stale_seen = False
    while time.monotonic() < lossy + LOSSY_SECONDS:
        stale_seen = stale_seen or frames_of(near, "Xã Xa")[1]
        await asyncio.sleep(0.2)
    fps = (frames_of(near, "Xã Xa")[0] - frames_then) / (time.monotonic() - stepped[0])
    tiers = [x["tier"] for x in remote.reports(lossy)]
    low_kbps = mean_kbps(remote, LOW_NAME, stepped[0])
    print(
        f"\n{LOSS:.0%} uplink loss: first step down after {stepped[0] - lossy:.1f} s "
        f"(to {stepped[1]}); tiers seen {sorted(set(tiers), key=tiers.index)}; send "
        f"{top_kbps:.0f} kbit/s at {TOP_NAME}, {low_kbps:.0f} at {LOW_NAME}; the other "
        f"room decoded {fps:.1f} frames/s after the step; uplink {link.counters()['up']}"
    )
    assert stepped[0] - lossy <= STEP_DOWN_WITHIN, f"stepped down after {stepped[0] - lossy:.1f} s"
    assert tiers[-1] == LOW_NAME, f"ends at {tiers[-1]}: 10 % random loss keeps video"
    assert low_kbps < top_kbps, f"{low_kbps:.0f} kbit/s at {LOW_NAME}"
    assert fps >= 5.0 and not stale_seen, "the other room kept seeing this one"
    assert remote.state() == "in-meeting" and near.state is CallState.IN_MEETING


async def test_an_uplink_too_thin_for_video_sends_the_still_picture_and_stays_seen(
    room: Any, open_hub: LocalHub, remote: RemoteRoom, link: ImpairedLink
) -> None:
    near = await meet_across_link(room, open_hub, remote)
    link.set(up=Impairment(rate_kbps=CAP_KBPS))
    capped = time.monotonic()
    await wait_until(lambda: any(x["tier"] == "still" for x in remote.reports(capped)), 25)
    still = next(x["t"] for x in remote.reports(capped) if x["tier"] == "still")
    frames_then, _ = frames_of(near, "Xã Xa")
    stale_seen = False
    await asyncio.sleep(2.0)  # what was queued on the link before is through
    start = time.monotonic()
    while time.monotonic() < start + 6.0:
        stale_seen = stale_seen or frames_of(near, "Xã Xa")[1]
        await asyncio.sleep(0.2)
    fps = (frames_of(near, "Xã Xa")[0] - frames_then) / (time.monotonic() - still)
    tiers = [x["tier"] for x in remote.reports(capped)]
    kbps = mean_kbps(remote, "still", start)
    print(
        f"\nuplink capped at {CAP_KBPS:.0f} kbit/s: still picture after {still - capped:.1f} s; "
        f"tiers seen {sorted(set(tiers), key=tiers.index)}; send {kbps:.0f} kbit/s; the "
        f"other room decoded {fps:.1f} frames/s; uplink {link.counters()['up']}"
    )
    assert tiers[-1] == "still" and kbps < CAP_KBPS
    assert 0.5 <= fps <= 2.0 and not stale_seen, "a frame a second, never taken for gone"
    assert remote.state() == "in-meeting" and near.state is CallState.IN_MEETING

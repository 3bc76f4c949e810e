"""The AudioBridge part alone: its messages, and members of a real hub's bridge hearing
each other's tones in the mix."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from devices import SyntheticMicrophone
from endpoint._audiobridge import PLUGIN, AudioBridge, BridgeEvent, Member, bridge_event
from endpoint._janus_ws import JanusClient, Reply
from endpoint._tracks import MicrophoneTrack
from endpoint._videoroom import RoomAccess
from endpoint.errors import FailReason, HubProtocolError, HubRequestError
from tests._util import wait_until

RATE = 48000


# -- messages ------------------------------------------------------------------------------
def test_talking_events_name_the_member() -> None:
    assert bridge_event({"audiobridge": "talking", "id": 7}, own=1).talking == (7, True)
    assert bridge_event({"audiobridge": "stopped-talking", "id": 7}, own=1).talking == (7, False)


def test_members_arrive_and_leave_we_are_not_one_of_them() -> None:
    joined = {"audiobridge": "joined", "participants": [{"id": 7, "display": "Xã A"},
                                                        {"id": 1, "display": "us"}]}  # fmt: skip
    assert bridge_event(joined, own=1) == BridgeEvent(present=(Member(7, "Xã A"),))
    assert bridge_event({"audiobridge": "event", "leaving": 7}, own=1).left == 7
    assert bridge_event({"audiobridge": "event", "kicked": 7}, own=1).left == 7
    nameless = bridge_event({"audiobridge": "joined", "participants": [{"id": 9}]}, own=1)
    assert nameless.present == (Member(9, "9"),)


def test_the_bridge_gone_for_us() -> None:
    assert bridge_event({"audiobridge": "destroyed", "room": 1234}, own=1).gone
    assert bridge_event({"audiobridge": "event", "kicked": 1}, own=1).gone
    assert bridge_event({"audiobridge": "event", "result": "ok"}, own=1) == BridgeEvent()


@pytest.mark.parametrize(
    "data",
    [
        {"audiobridge": "event", "participants": "everyone"},
        {"audiobridge": "event", "participants": [{"display": "no id"}]},
        {"audiobridge": "event", "participants": [{"id": True}]},
        {"audiobridge": "event", "participants": [3]},
    ],
)
def test_malformed_member_lists_are_protocol_errors(data: dict[str, Any]) -> None:
    with pytest.raises(HubProtocolError):
        bridge_event(data, own=1)


class ScriptedHandle:
    """An AudioBridge handle whose hub is a script: the join reply lists *participants*
    (answered with a real SDP), and the test hands it events as the hub would."""

    id = 99

    def __init__(self, participants: list[dict[str, Any]]) -> None:
        self.participants = participants
        self.listener: Callable[[dict[str, Any]], None] = lambda message: None
        self._answerer = RTCPeerConnection(RTCConfiguration(iceServers=[]))

    async def request(self, body: dict[str, Any], jsep: dict[str, Any] | None = None) -> Reply:
        assert body["request"] == "join" and jsep is not None
        await self._answerer.setRemoteDescription(RTCSessionDescription(**jsep))
        await self._answerer.setLocalDescription(await self._answerer.createAnswer())
        answer = {"type": "answer", "sdp": self._answerer.localDescription.sdp}
        data = {"audiobridge": "joined", "id": body["id"], "participants": self.participants}
        return Reply(data, answer)

    def event(self, **data: Any) -> None:
        self.listener({"janus": "event", "plugindata": {"data": data}})

    async def close(self) -> None:
        await self._answerer.close()


async def scripted_bridge(
    participants: list[dict[str, Any]],
    joined: Callable[[list[Member]], None] = lambda members: None,
) -> tuple[AudioBridge, Any]:
    handle = ScriptedHandle(participants)
    part = AudioBridge(handle, RoomAccess(1234, None, "Xã A"), lambda track: None)  # type: ignore[arg-type]
    part.on_joined = joined
    await part.join(MicrophoneTrack(SyntheticMicrophone(440.0)), 1)
    return part, handle


async def test_our_join_says_who_talks_now() -> None:
    joined: list[list[Member]] = []
    part, handle = await scripted_bridge([
        {"id": 7, "display": "Xã B", "talking": True}, {"id": 8, "display": "Xã C"},
        {"id": 1, "display": "Xã A", "talking": True}], joined.append)  # fmt: skip
    await part.close()
    await handle.close()
    assert part.members == {7: "Xã B", 8: "Xã C"}
    assert joined == [[Member(7, "Xã B", talking=True), Member(8, "Xã C", talking=False)]]


async def test_a_member_that_leaves_stops_talking() -> None:
    part, handle = await scripted_bridge(
        [{"id": 7, "display": "Xã B"}, {"id": 8, "display": "Xã C"}]
    )
    talking: list[tuple[int, bool]] = []
    part.on_talking = lambda member, now: talking.append((member.id, now))
    try:
        handle.event(audiobridge="talking", room=1234, id=7)
        handle.event(audiobridge="talking", room=1234, id=8)
        handle.event(audiobridge="event", room=1234, leaving=7)  # no stopped-talking first
        handle.event(audiobridge="event", room=1234, kicked=8)
        handle.event(audiobridge="event", room=1234, leaving=7)  # said twice: once is enough
    finally:
        await part.close()
        await handle.close()
    assert talking == [(7, True), (8, True), (7, False), (8, False)]
    assert part.members == {}


# -- with the hub --------------------------------------------------------------------------
class Ear:
    """Drains the mix track and keeps its newest seconds of mono samples."""

    def __init__(self, seconds: float = 3.0) -> None:
        self.samples: deque[float] = deque(maxlen=int(seconds * RATE))
        self.frames = 0
        self._tasks: list[asyncio.Task[None]] = []

    def hear(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._drain(track)))

    async def _drain(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                pcm = frame.to_ndarray().reshape(-1, len(frame.layout.channels))  # type: ignore[union-attr]
                self.samples.extend(pcm.mean(axis=1) / 32768.0)
                self.frames += 1

    def tail(self, seconds: float) -> np.ndarray:
        return np.array(list(self.samples)[-int(seconds * RATE) :])

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()


def tone_strength(samples: np.ndarray, hz: float) -> float:
    """The spectrum's peak within 5 Hz of *hz*, relative to its highest peak: a tone in
    the mix is near 1, a missing one far below 0.01 (measured ~0.0006)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    freqs = np.fft.rfftfreq(len(samples), 1 / RATE)
    near = spectrum[np.abs(freqs - hz) <= 5.0]
    return float(near.max() / max(float(spectrum.max()), 1e-12))


Member_ = tuple[AudioBridge, JanusClient, Ear]


@pytest.fixture
async def bridge(hub: Any) -> AsyncIterator[Callable[..., Any]]:
    made: list[Member_] = []

    async def join(display: str, member: int, tone: float, pin: str | None = None) -> Member_:
        client = JanusClient(hub.url)
        await client.connect(5.0)
        access = RoomAccess(hub.room.room, pin or hub.room.pin, display)
        ear = Ear()
        part = AudioBridge(await client.attach(PLUGIN), access, ear.hear)
        made.append((part, client, ear))
        track = MicrophoneTrack(SyntheticMicrophone(tone, level=0.2))
        await part.join(track, member)
        return part, client, ear

    yield join
    for part, client, ear in made:
        ear.stop()
        await part.close()
        await client.close()


async def test_members_hear_each_other_in_the_mix(bridge: Any) -> None:
    a, _, ear_a = await bridge("Xã A", 1001, 440.0)
    b, _, ear_b = await bridge("Xã B", 1002, 660.0)
    talking: list[tuple[str, bool]] = []
    a.on_talking = lambda member, now: talking.append((member.display, now))
    assert b.members == {1001: "Xã A"}
    await wait_until(lambda: a.members == {1002: "Xã B"}, timeout=10)
    await wait_until(lambda: ear_a.frames > 100 and ear_b.frames > 100, timeout=15)
    await asyncio.sleep(1.0)
    heard_a, heard_b = ear_a.tail(1.0), ear_b.tail(1.0)
    assert tone_strength(heard_a, 660.0) > 0.5 and tone_strength(heard_a, 440.0) < 0.01
    assert tone_strength(heard_b, 440.0) > 0.5 and tone_strength(heard_b, 660.0) < 0.01
    await wait_until(lambda: ("Xã B", True) in talking, timeout=8)
    assert a.hears(1002, "?") and a.hears(5, "Xã B") and not a.hears(5, "Xã C")


async def test_a_wrong_pin_is_named(bridge: Any) -> None:
    with pytest.raises(HubRequestError) as caught:
        await bridge("Xã A", 1003, 440.0, pin="0000")
    assert caught.value.reason is FailReason.WRONG_PIN


async def test_our_id_still_taken_after_a_claim_is_a_quick_retry(monkeypatch: Any) -> None:
    from endpoint import _audiobridge
    from endpoint.call import QUICK_RETRY

    class IdTaken(ScriptedHandle):
        async def request(self, body: dict[str, Any], jsep: Any = None) -> Reply:
            self.tries = getattr(self, "tries", 0) + 1
            raise HubRequestError("User ID 1 already exists", 490, FailReason.HUB_ERROR)

    monkeypatch.setattr(_audiobridge, "JOIN_WAITS", (0.01, 0.01, None))
    handle = IdTaken([])
    part = AudioBridge(handle, RoomAccess(1234, None, "Xã A"), lambda track: None)  # type: ignore[arg-type]
    try:
        with pytest.raises(HubRequestError) as caught:
            await part.join(MicrophoneTrack(SyntheticMicrophone(440.0)), 1)
    finally:
        await part.close()
        await handle.close()
    assert handle.tries == 3 and caught.value.code == 490
    assert caught.value.reason in QUICK_RETRY, "a leftover of our lost link, not a refusal"


def test_a_failed_claim_attempt_hands_its_handles_to_the_next() -> None:
    from endpoint._session import Connection, Resume, Wiring

    wiring = Wiring(lambda *track: None, lambda message: None, lambda why: None)
    conn = Connection("ws://127.0.0.1:1/", RoomAccess(1234, None, "Xã A"), wiring)
    resume = Resume(session=1, publisher=10, subscriber=11, feed=5, private_id=7, audio=12)
    assert conn.resume_after_failure(resume) is resume, "nothing claimed: nothing left"
    conn.claimed, conn._detached, conn._attached = True, {11}, [21, 22]  # 12: link lost
    after = conn.resume_after_failure(resume)
    assert after is not None and after.old_handles() == [12, 21, 22]
    assert (after.publisher, after.feed, after.private_id) == (10, 5, 7)

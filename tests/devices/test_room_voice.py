"""The array runtime: auto-mute on and off, on a recorded scene played in real time."""

from __future__ import annotations

import time

import numpy as np
import pytest

from devices import AudioRing
from devices.room_voice import VoiceMicrophone
from devices.scene import Sound, render, speech
from devices.voice import (
    ArrayGeometry,
    CameraTarget,
    Director,
    DirectorConfig,
    GateConfig,
    MicBlock,
    MicState,
    ScriptedMicArray,
    VoiceConfig,
    VoiceProcessor,
)


@pytest.mark.parametrize("auto_mute", [True, False])
def test_quiet_room_is_auto_muted_only_when_enabled(auto_mute: bool) -> None:
    hum = np.sin(2 * np.pi * 100 * np.arange(48000) / 48000).astype(np.float32) * 0.01
    mics, _ = render([], 1.0, noise_dbfs=-50)
    mics += hum[:, None]
    processor = VoiceProcessor(
        VoiceConfig(array=ArrayGeometry.circular(4, 0.045), gate=GateConfig(enabled=auto_mute))
    )
    director = Director(DirectorConfig(overview=CameraTarget("main"), auto_mute=auto_mute))
    voice = VoiceMicrophone(ScriptedMicArray(mics, 48000), processor, director)
    states: list[MicState] = []
    voice.decisions.listen(lambda: states.append(voice.decisions.get()[0].mic))
    voice.start()
    time.sleep(0.6)
    voice.read(48000)  # drop what the start-up produced
    time.sleep(0.15)
    audio = voice.read(4800)
    voice.stop()
    assert len(states) > 10  # the pipeline ran (about 60 blocks in 0.6 s)
    if auto_mute:
        assert states[-1] is MicState.AUTO_MUTED and np.abs(audio).max() == 0.0
    else:
        assert MicState.AUTO_MUTED not in states and np.abs(audio).max() > 0.005


def test_manual_mute_silences_audio_still_in_the_lookahead() -> None:
    """The outgoing audio waits 100 ms for the gate; pressing mute mid-sentence must also
    silence what was captured just before the press and is still waiting."""
    talk = speech("Xin chào các đồng chí, xã Bản Vẽ xin báo cáo tình hình mưa lũ.")
    mics, _ = render([Sound(talk, 67.5, 1.0)], 3.0, noise_dbfs=-50)
    processor = VoiceProcessor(VoiceConfig(array=ArrayGeometry.circular(4, 0.045)))
    assert processor.config.gate.lookahead_ms == 100
    voice = VoiceMicrophone(
        ScriptedMicArray(mics, 48000),
        processor,
        Director(DirectorConfig(overview=CameraTarget("main"))),
    )
    silence = np.zeros(480, np.float32)

    def play(first: int, last: int) -> None:
        for k in range(first, last):
            voice.step(MicBlock(k / 100, mics[k * 480 : (k + 1) * 480], silence, 48000), k / 100)

    play(0, 200)  # up to 2.0 s, mid-sentence
    before = voice.read(24000)  # the newest 0.5 s that went out (all the ring holds)
    voice.set_manual_mute(True)
    play(200, 230)
    after = voice.read(30 * 480)  # all that went out after the press
    assert voice.decisions.get()[0].mic is MicState.MUTED
    assert np.abs(before).max() > 0.01  # the gate was open: the room was going out
    assert np.abs(after).max() == 0.0  # nothing captured before the press leaked after it


class _LiveArray:
    """A live capture stand-in: its blocks' ``ref`` is silence, not the loudspeakers' playout."""

    carries_reference = False
    rate = 48000
    channels = 4

    def blocks(self):  # pragma: no cover - the test steps the pipeline itself
        return iter(())


@pytest.mark.parametrize("wired", [False, True])
def test_without_a_playout_reference_the_room_stays_open_with_a_warning(wired, caplog) -> None:
    """Issue 11: a gate that cannot tell echo from the room (no reference) must not mute it."""
    mics, _ = render([], 3.0, noise_dbfs=-50)
    processor = VoiceProcessor(VoiceConfig(array=ArrayGeometry.circular(4, 0.045)))
    director = Director(DirectorConfig(overview=CameraTarget("main")))
    ring = AudioRing(24000) if wired else None
    with caplog.at_level("WARNING"):
        voice = VoiceMicrophone(_LiveArray(), processor, director, ring)
        silence = np.zeros(480, np.float32)
        for k in range(300):
            voice.step(MicBlock(k / 100, mics[k * 480 : (k + 1) * 480], silence, 48000), k / 100)
    decision = voice.decisions.get()[0]
    audio = voice.read(4800)
    if wired:  # with the playout ring a quiet room is muted as usual
        assert decision.mic is MicState.AUTO_MUTED and np.abs(audio).max() == 0.0
        return
    assert decision.mic is MicState.OPEN_WARNING
    assert any("no_reference" in w for w in decision.warnings)
    assert np.abs(audio).max() > 0.0
    assert "playout reference" in caplog.text

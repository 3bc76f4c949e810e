"""The scripted microphone array plays recordings as timestamped 10 ms blocks."""

import wave

import numpy as np
import pytest

from devices.voice import ScriptedMicArray, WavFormat, read_wav, wav_format, write_wav


def test_blocks_are_10ms_with_timestamps():
    mics = np.random.default_rng(0).uniform(-0.5, 0.5, (4800 + 100, 4)).astype(np.float32)
    ref = np.arange(mics.shape[0], dtype=np.float32) / 1e5
    src = ScriptedMicArray(mics, 48000, ref, start=2.0)
    blocks = list(src.blocks())
    assert len(blocks) == 10
    assert [b.t for b in blocks[:3]] == pytest.approx([2.0, 2.01, 2.02])
    assert blocks[3].mics.shape == (480, 4)
    np.testing.assert_array_equal(blocks[3].mics, mics[1440:1920])
    np.testing.assert_array_equal(blocks[3].ref, ref[1440:1920])
    assert src.channels == 4 and src.rate == 48000


def test_mono_input_and_bad_shapes():
    assert ScriptedMicArray(np.zeros(960), 48000).channels == 1
    with pytest.raises(ValueError, match="ref shape"):
        ScriptedMicArray(np.zeros((960, 2)), 48000, np.zeros(10))


def test_wav_round_trip(tmp_path):
    data = np.random.default_rng(1).uniform(-0.9, 0.9, (4800, 6))
    write_wav(tmp_path / "a.wav", data, 48000)
    back, rate = read_wav(tmp_path / "a.wav")
    assert rate == 48000 and back.shape == (4800, 6)
    assert np.max(np.abs(back - data)) < 1e-4
    src = ScriptedMicArray.from_wav(tmp_path / "a.wav")
    assert src.channels == 6 and abs(src.duration_s - 0.1) < 1e-9


def test_wav_format_reads_the_header_only(tmp_path):
    write_wav(tmp_path / "a.wav", np.zeros((1600, 5)), 16000)
    assert wav_format(tmp_path / "a.wav") == WavFormat(rate=16000, channels=5, frames=1600)


def test_wav_format_refuses_what_read_wav_cannot_play(tmp_path):
    (tmp_path / "junk.wav").write_bytes(b"RIFF")
    with pytest.raises(ValueError, match="not a readable WAV file"):
        wav_format(tmp_path / "junk.wav")
    with pytest.raises(ValueError, match="not a readable WAV file"):
        read_wav(tmp_path / "junk.wav")
    with pytest.raises(ValueError, match="not a readable WAV file"):
        wav_format(tmp_path / "missing.wav")
    with wave.open(str(tmp_path / "8bit.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(8000)
        w.writeframes(b"\x80" * 80)
    with pytest.raises(ValueError, match="8-bit samples"):
        wav_format(tmp_path / "8bit.wav")

"""Self-test device and machine checks against the stand-ins, healthy and with faults."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from devices import LatestFrame, SyntheticCamera, Verdict
from devices.checks import HINTS as CAMERA_HINTS
from devices.checks import check_camera, check_mic_array
from devices.loopback import HINTS as LOOP_HINTS
from devices.loopback import SimulatedRoomPath, check_loopback
from devices.scene import Sound, render, speech
from devices.system import GB, DiskUsage, check_disk, check_displays, read_displays


class StillCamera(SyntheticCamera):
    """The stand-in with a fault: every frame black, or the same frame over and over."""

    def __init__(self, fault: str) -> None:
        super().__init__("Xã Thử", 320, 180, 15)
        self.fault = fault

    def render(self, counter: int, wall: float) -> np.ndarray:
        if self.fault == "black":
            return np.zeros((self.height, self.width, 3), np.uint8)
        return super().render(7, 0.0)  # frozen: frame 7 again and again


def blocks(mics: np.ndarray) -> list[np.ndarray]:
    return [mics[i : i + 480] for i in range(0, len(mics), 480)]


def test_the_synthetic_camera_passes_with_a_snapshot() -> None:
    result = check_camera(SyntheticCamera("Xã Thử", 320, 180, 15), seconds=1.0)
    assert result.verdict is Verdict.PASS, result.summary
    assert (result.metrics["width"], result.metrics["height"]) == (320, 180)
    assert 10 <= result.metrics["fps"] <= 17
    assert result.picture is not None and result.picture[:2] == b"\xff\xd8"  # a JPEG
    assert 1_000 < len(result.picture) < 30_000
    decoded = cv2.imdecode(np.frombuffer(result.picture, np.uint8), cv2.IMREAD_COLOR)
    assert decoded.shape[1] == 320


@pytest.mark.parametrize("fault", ["black", "frozen"])
def test_black_and_frozen_cameras_fail_with_their_hint(fault: str) -> None:
    result = check_camera(StillCamera(fault), seconds=1.0)
    assert result.verdict is Verdict.FAIL
    assert result.hint == CAMERA_HINTS[f"camera.{fault}"]


def test_a_camera_without_frames_fails() -> None:
    class Dead(SyntheticCamera):
        def start(self) -> None:
            self.frames = LatestFrame()  # never fed

    result = check_camera(Dead("x", 320, 180, 15), seconds=0.5)
    assert result.verdict is Verdict.FAIL and result.hint == CAMERA_HINTS["camera.none"]


def test_a_quiet_room_passes_and_a_dead_channel_fails() -> None:
    room, _ = render([], 1.5, mics=4)
    ok = check_mic_array(blocks(room), 48000, 4)
    assert ok.verdict is Verdict.PASS, ok.summary
    assert ok.metrics["noise_floor_dbfs"] == pytest.approx([-60] * 4, abs=2)
    room[:, 2] = 0.0
    dead = check_mic_array(blocks(room), 48000, 4)
    assert dead.verdict is Verdict.FAIL and "channel 2" in dead.summary
    assert "micro" in dead.hint.vi


def test_wrong_channel_count_and_clipping() -> None:
    room, _ = render([], 1.5, mics=2)
    wrong = check_mic_array(blocks(room), 48000, 4)
    assert wrong.verdict is Verdict.FAIL and wrong.metrics["channels"] == 2
    loud, _ = render([Sound(speech("một hai ba bốn năm sáu", level=1.0) * 4, 90, 0.0)], 1.5)
    clipped = check_mic_array(blocks(np.clip(loud, -1, 1)), 48000, 4)
    assert clipped.verdict is Verdict.WARN and "gain" in clipped.hint.en


def test_the_chirp_is_found_through_the_room_and_not_without_speaker() -> None:
    ok = check_loopback(SimulatedRoomPath(4))
    assert ok.verdict is Verdict.PASS, ok.summary
    assert ok.metrics["delay_ms"] == pytest.approx(15 + 2500 / 343, abs=2)
    assert ok.series["chirp_at_s"] == pytest.approx(ok.metrics["delay_ms"] / 1000, abs=0.002)
    dead = check_loopback(SimulatedRoomPath(4, speaker_alive=False))
    assert dead.verdict is Verdict.FAIL
    assert dead.hint.vi == "Không nghe thấy loa — kiểm tra nguồn và dây âm ly"
    assert dead.hint == LOOP_HINTS["none"]


def test_a_full_disk_fails_and_a_low_one_warns(tmp_path: Path) -> None:
    full = check_disk(tmp_path, lambda p: DiskUsage(32 * GB, 32 * GB - GB // 4, GB // 4))
    assert full.verdict is Verdict.FAIL and "đầy" in full.hint.vi
    low = check_disk(tmp_path, lambda p: DiskUsage(32 * GB, 29 * GB, 3 * GB))
    assert low.verdict is Verdict.WARN
    real = check_disk(tmp_path)
    assert real.metrics["free_gb"] > 0 and real.metrics["path"] == str(tmp_path)


def test_displays_from_drm_connectors(tmp_path: Path) -> None:
    for name, status, modes in (("card0-HDMI-A-1", "connected", "1920x1080\n1280x720\n"),
                                ("card0-DP-1", "disconnected", "")):  # fmt: skip
        (tmp_path / name).mkdir()
        (tmp_path / name / "status").write_text(status + "\n")
        (tmp_path / name / "modes").write_text(modes)
    found = read_displays(tmp_path)
    assert found == [("HDMI-A-1", "1920x1080")]
    assert check_displays(found).verdict is Verdict.PASS
    assert check_displays(read_displays(tmp_path / "none")).verdict is Verdict.FAIL

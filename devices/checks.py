"""Self-test checks of the room's capture devices: each camera and the microphone array.

Each check is a plain blocking function (the kiosk runs it in a named daemon thread with its
own timeout) that returns a :class:`CheckResult` with a verdict and a fix hint. The array
check reuses the live pipeline's input rules (:class:`devices.voice.InputChecker`), so the
self-test calls a channel dead exactly when the auto-mute would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from devices._verdict import CheckResult, Hint, Verdict, finding
from devices.camera import Camera
from devices.framecode import Image
from devices.voice import FaultKind, InputChecker

BLACK_LUMA = 20.0  # mean luma below this, with little detail, is a black picture
OVEREXPOSED_SHARE = 0.5  # share of pixels at full white
FROZEN_DIFF = 0.05  # mean absolute difference between frames, grey levels
SNAPSHOT_WIDTH = 320
NOISY_FLOOR_DBFS = -40.0
IMBALANCE_DB = 10.0

HINTS = {
    "camera.none": Hint(
        "Camera không cho hình — cắm lại dây USB của camera, rồi kiểm tra lại",
        "No picture from the camera — replug its USB cable and test again",
    ),
    "camera.black": Hint(
        "Hình camera toàn màu đen — mở nắp che ống kính, bật đèn phòng",
        "The camera picture is black — remove the lens cap, switch the room light on",
    ),
    "camera.frozen": Hint(
        "Hình camera bị đứng — rút điện/dây USB camera 10 giây rồi cắm lại",
        "The camera picture is frozen — unplug the camera for 10 s and plug it back",
    ),
    "camera.bright": Hint(
        "Hình camera quá sáng — kéo rèm, không quay camera về phía cửa sổ",
        "The camera picture is over-exposed — close the curtains, turn it away from windows",
    ),
    "camera.slow": Hint(
        "Camera chậm hơn cấu hình — cắm camera vào cổng USB khác (USB 3 nếu có)",
        "The camera is slower than configured — use another USB port (USB 3 if there is one)",
    ),
    "mic.none": Hint(
        "Micro không thu được tiếng — cắm lại dây USB của dãy micro",
        "The microphone delivers nothing — replug the microphone array's USB cable",
    ),
    "mic.channels": Hint(
        "Số kênh micro không đúng cấu hình — kiểm tra đúng loại dãy micro và dây cắm",
        "The microphone channel count does not match the configuration — check the array model",
    ),
    "mic.dead": Hint(
        "Một micro trong dãy không thu tiếng — kiểm tra micro đó, có thể bị che hoặc hỏng",
        "A microphone of the array is silent — check it is not covered or broken",
    ),
    "mic.clipping": Hint(
        "Micro bị rè do âm lượng thu quá lớn — giảm mức thu (gain) của micro",
        "The microphone is clipping — lower the microphone gain",
    ),
    "mic.imbalance": Hint(
        "Các micro thu to nhỏ không đều — kiểm tra dãy micro đặt giữa bàn, không bị che",
        "The microphones differ in level — put the array mid-table, uncovered",
    ),
    "mic.noisy": Hint(
        "Phòng quá ồn — tắt quạt/điều hòa gần micro",
        "The room is noisy — switch off fans or air-conditioning near the microphones",
    ),
}


# --- camera ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Frames:
    images: list[Image]
    first_at: float
    last_at: float
    count: int


def _collect(camera: Camera, seconds: float, clock: Callable[[], float]) -> _Frames:
    """New frames for *seconds*: their number, times, and a few kept for analysis."""
    images: list[Image] = []
    count, first, last, seen = 0, 0.0, 0.0, camera.frames.seq
    end = clock() + seconds
    while clock() < end:
        image, seq = camera.frames.get()
        if image is not None and seq != seen:
            seen, count, last = seq, count + 1, clock()
            first = first or last
            if len(images) < 8 or count % 5 == 0:
                images = (images + [image])[-8:]
        time.sleep(0.5 / max(camera.fps, 1))
    return _Frames(images, first, last, count)


def _luma(image: Image) -> npt.NDArray[np.float32]:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    return np.asarray(grey, np.float32)


def snapshot_jpeg(image: Image, width: int = SNAPSHOT_WIDTH, quality: int = 70) -> bytes:
    """A small JPEG of *image* for the report (``width`` pixels wide)."""
    height = max(1, round(image.shape[0] * width / image.shape[1]))
    small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return bytes(data.tobytes()) if ok else b""


def check_camera(
    camera: Camera,
    seconds: float = 1.5,
    *,
    own: bool = True,
    key: str = "camera",
    clock: Callable[[], float] = time.monotonic,
) -> CheckResult:
    """Open *camera* (when *own*), watch it for *seconds*: frames, size, rate, content."""
    if own:
        camera.start()
    try:
        frames = _collect(camera, seconds, clock)
    finally:
        if own:
            camera.stop()
    return _judge_camera(camera, frames, key)


def _judge_camera(camera: Camera, frames: _Frames, key: str) -> CheckResult:
    if not frames.images:
        why = camera.error or "no frames"
        return finding(key, Verdict.FAIL, f"{camera.name}: {why}", HINTS["camera.none"])
    span = frames.last_at - frames.first_at
    fps = (frames.count - 1) / span if span > 0 else 0.0
    lumas = [_luma(image) for image in frames.images]
    last = lumas[-1]
    diffs = [float(np.mean(np.abs(a - b))) for a, b in zip(lumas, lumas[1:], strict=False)]
    metrics = {
        "width": int(frames.images[-1].shape[1]),
        "height": int(frames.images[-1].shape[0]),
        "fps": round(fps, 1),
        "configured": f"{camera.width}x{camera.height}@{camera.fps}",
        "mean_luma": round(float(last.mean()), 1),
        "white_share": round(float(np.mean(last >= 250)), 3),
        "motion": round(max(diffs, default=0.0), 2),
    }
    verdict, hint = _camera_verdict(camera, metrics, len(frames.images))
    summary = (
        f"{camera.name}: {metrics['width']}x{metrics['height']} at {fps:.1f} fps, "
        f"mean luma {metrics['mean_luma']}, motion {metrics['motion']}"
    )
    result = finding(key, verdict, summary, hint, **metrics)
    return CheckResult(**{**result.__dict__, "picture": snapshot_jpeg(frames.images[-1])})


def _camera_verdict(camera: Camera, m: dict[str, object], kept: int) -> tuple[Verdict, Hint]:
    luma, white, motion, fps = (float(m[k]) for k in ("mean_luma", "white_share", "motion", "fps"))  # type: ignore[arg-type]
    if luma < BLACK_LUMA:
        return Verdict.FAIL, HINTS["camera.black"]
    if kept >= 2 and motion < FROZEN_DIFF:
        return Verdict.FAIL, HINTS["camera.frozen"]
    if white > OVEREXPOSED_SHARE:
        return Verdict.WARN, HINTS["camera.bright"]
    if fps < 0.7 * camera.fps:
        return Verdict.WARN, HINTS["camera.slow"]
    return Verdict.PASS, Hint("", "")


# --- microphone array --------------------------------------------------------------------------


def capture_blocks(blocks: Iterable[npt.NDArray[np.float32]], frames: int) -> np.ndarray:
    """Join capture blocks (frames × channels) until *frames* frames are in."""
    got: list[npt.NDArray[np.float32]] = []
    total = 0
    for block in blocks:
        got.append(np.asarray(block, np.float32).reshape(len(block), -1))
        total += len(block)
        if total >= frames:
            break
    if not got:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(got)[:frames]


def _dbfs(power: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return np.asarray(10 * np.log10(np.maximum(power, 1e-12)), np.float64)


def channel_levels(audio: np.ndarray, rate: int) -> dict[str, list[float]]:
    """Per channel: RMS level, noise floor (quietest 50 ms windows), peak, all in dBFS."""
    window = rate // 20
    usable = audio[: len(audio) // window * window].astype(np.float64)
    blocks = usable.reshape(-1, window, audio.shape[1])
    floors = np.percentile(_dbfs(np.mean(blocks**2, axis=1)), 10, axis=0)
    peaks = 20 * np.log10(np.maximum(np.max(np.abs(usable), axis=0), 1e-6))
    rms = _dbfs(np.mean(usable**2, axis=0))
    return {
        "level_dbfs": [round(float(x), 1) for x in rms],
        "noise_floor_dbfs": [round(float(x), 1) for x in floors],
        "peak_dbfs": [round(float(x), 1) for x in peaks],
    }


def check_mic_array(
    blocks: Iterable[npt.NDArray[np.float32]], rate: int, channels: int, seconds: float = 1.2
) -> CheckResult:
    """Capture *seconds* from the array: channel count, dead channels, floor, clipping."""
    audio = capture_blocks(blocks, int(seconds * rate))
    if audio.size == 0 or len(audio) < rate // 2:
        return finding("mic_array", Verdict.FAIL, "no audio captured", HINTS["mic.none"])
    levels = channel_levels(audio, rate)
    metrics = {"channels": int(audio.shape[1]), "configured_channels": channels, **levels}
    faults = _input_faults(audio, rate, channels)
    verdict, hint, what = _mic_verdict(faults, levels)
    floor = float(np.median(levels["noise_floor_dbfs"]))
    summary = f"{audio.shape[1]}/{channels} channels, noise floor {floor:.0f} dBFS; {what}"
    result = finding("mic_array", verdict, summary, hint, **metrics)
    return CheckResult(**{**result.__dict__, "series": {"levels": levels}})


def _input_faults(audio: np.ndarray, rate: int, channels: int) -> dict[FaultKind, str]:
    checker = InputChecker(channels, rate)
    found: dict[FaultKind, str] = {}
    step = rate // 100
    for k in range(0, len(audio) - step + 1, step):
        for fault in checker.check(audio[k : k + step], rate, k / rate):
            found.setdefault(fault.kind, fault.detail)
    return found


def _mic_verdict(
    faults: dict[FaultKind, str], levels: dict[str, list[float]]
) -> tuple[Verdict, Hint, str]:
    order = (
        (FaultKind.NO_SIGNAL, "mic.none"),
        (FaultKind.CHANNEL_COUNT, "mic.channels"),
        (FaultKind.DEAD_CHANNEL, "mic.dead"),
    )
    for kind, hint in order:
        if kind in faults:
            return Verdict.FAIL, HINTS[hint], faults[kind]
    if FaultKind.CLIPPING in faults:
        return Verdict.WARN, HINTS["mic.clipping"], faults[FaultKind.CLIPPING]
    spread = max(levels["noise_floor_dbfs"]) - min(levels["noise_floor_dbfs"])
    if spread > IMBALANCE_DB:
        return Verdict.WARN, HINTS["mic.imbalance"], f"channels differ by {spread:.0f} dB"
    if float(np.median(levels["noise_floor_dbfs"])) > NOISY_FLOOR_DBFS:
        return Verdict.WARN, HINTS["mic.noisy"], "noise floor high"
    return Verdict.PASS, Hint("", ""), "all channels alive"

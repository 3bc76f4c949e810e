"""Run the voice pipeline (and plain webrtcvad baselines) over a corpus clip and score it.

Frame masks (10 ms):
  near      labelled near speech (any of the four talkers)
  noise     no near speech now or in the previous TAIL_S (hold + release + room reverb), and,
            in the echo condition, no far end either: what the gate must keep shut
  echo      far end audible, no near speech now or in the previous TAIL_S
The first WARMUP_S of each clip (the gate learning the room) is scored too.
The gate is scored as the room hears it: through the product's look-ahead (``PreRoll``), a
frame is open when the gain it goes out with is above zero.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np
import webrtcvad

from bench._voice_corpus import Clip
from devices.voice import (
    AngleRange,
    ArrayGeometry,
    CameraTarget,
    Director,
    DirectorConfig,
    DoaEstimate,
    GateConfig,
    PreRoll,
    VoiceConfig,
    VoiceProcessor,
    Zone,
    angle_diff,
)
from devices.voice._dsp import Decimator, to_int16_bytes

TAIL_S = 0.6
FLAP_S = 3.0
LONG_TURN_S = 1.5  # a turn this long must be shown
SHORT_TURN_MARGIN_S = 0.5  # turns shorter than switch_after_s + this: not in latency_max
EXCLUSION = (AngleRange(225.0, 315.0),)
ZONES = tuple(
    Zone(f"z{k}", AngleRange(lo, hi), CameraTarget("wide", None))
    for k, (lo, hi) in enumerate(((-30.0, 45.0), (45.0, 90.0), (90.0, 135.0), (135.0, 210.0)))
)


@dataclass
class Run:
    """Per-frame outputs of one pipeline run.

    open: the frame's audio goes out (after the look-ahead); zone: the director's shot.
    """

    open: np.ndarray
    zone: list[str | None]
    doa: list[DoaEstimate] = field(default_factory=list)
    faults: int = 0


def rate_of(clip: Clip) -> int:
    """Sample rate of a clip: the drawn-rooms corpus renders at 16 kHz, the fixed one at 48."""
    return int(getattr(clip, "rate", 48000))


def zones_of(clip: Clip) -> tuple[Zone, ...]:
    drawn = getattr(clip, "zones", None)
    if drawn is None:
        return ZONES
    return tuple(
        Zone(name, AngleRange(lo % 360.0, hi % 360.0), CameraTarget("wide", None))
        for name, lo, hi in drawn
    )


def exclusion_of(clip: Clip) -> tuple[AngleRange, ...]:
    drawn = getattr(clip, "exclusion", None)
    if drawn is None:
        return EXCLUSION
    return tuple(AngleRange(lo % 360.0, hi % 360.0) for lo, hi in drawn)


def voice_config(clip: Clip, gate: GateConfig | None = None, seats: bool = True) -> VoiceConfig:
    """The processor's config for ``clip``; ``seats`` False: the gate gets no seat zones."""
    geo = ArrayGeometry(tuple((float(x), float(y)) for x, y in clip.array.offsets()))
    gate = gate or GateConfig()
    if gate.sample_rate != rate_of(clip):
        gate = dataclasses.replace(gate, sample_rate=rate_of(clip))
    zones = tuple(z.angles for z in zones_of(clip)) if seats else ()  # the director's zones
    return VoiceConfig(array=geo, gate=gate, exclusion=exclusion_of(clip), seats=zones)


def director_config(clip: Clip | None = None) -> DirectorConfig:
    zones = ZONES if clip is None else zones_of(clip)
    exclusion = EXCLUSION if clip is None else exclusion_of(clip)
    return DirectorConfig(overview=CameraTarget("wide"), zones=zones, exclusion=exclusion)


def run_pipeline(clip: Clip, gate: GateConfig | None = None, seats: bool = True) -> Run:
    proc = VoiceProcessor(voice_config(clip, gate, seats))
    director = Director(director_config(clip), clock=lambda: 0.0)
    frame = rate_of(clip) // 100
    frames = clip.mics.shape[0] // frame
    run = Run(np.zeros(frames, bool), [])
    preroll = PreRoll(proc.config.gate.lookahead_ms / 1000)
    sent: list[float] = []  # gains the frames went out with, in capture order
    silence = np.zeros(frame, np.float32)
    for k in range(frames):
        sl = slice(k * frame, (k + 1) * frame)
        t = k / 100
        vf = proc.process(clip.mics[sl], clip.ref[sl], t)
        sent += [g for _, g in preroll.push(silence, frame * 100, vf.gate.gain, voiced=vf.gate.vad)]
        run.faults += bool(vf.faults)
        if vf.doa is not None:
            run.doa.append(vf.doa)
        g = vf.gate
        dec = director.update(t, gate=g.state, speech=g.speech, far_end=g.far_end, doa=vf.doa)
        run.zone.append(dec.zone)
    sent += [g for _, g in preroll.flush()]
    run.open[:] = np.asarray(sent) > 0
    return run


def vad_baseline(clip: Clip, mode: int) -> np.ndarray:
    """Plain webrtcvad on 30 ms frames of the 16 kHz channel mean, spread to 10 ms frames."""
    mono = np.mean(clip.mics, axis=1, keepdims=True)
    mono = (Decimator(1).process(mono) if rate_of(clip) != 16000 else mono)[:, 0]
    vad = webrtcvad.Vad(mode)
    frames = mono.size // 160
    out = np.zeros(frames, bool)
    for k in range(0, frames - 2, 3):
        out[k : k + 3] = vad.is_speech(to_int16_bytes(mono[k * 160 : (k + 3) * 160]), 16000)
    return out


def silero_baseline(clip: Clip, threshold: float = 0.5) -> np.ndarray:
    """Silero VAD alone (the bundled model) on the 16 kHz channel mean, per 10 ms frame: the
    probability of the newest complete 32 ms chunk over ``threshold``; no reference, no hold."""
    from devices.voice._speech import SpeechDetector

    mono = np.mean(clip.mics, axis=1, keepdims=True)
    mono = (Decimator(1).process(mono) if rate_of(clip) != 16000 else mono)[:, 0]
    det = SpeechDetector()
    frames = mono.size // 160
    return np.array([det.push(mono[k * 160 : (k + 1) * 160]) >= threshold for k in range(frames)])


def masks(clip: Clip, frames: int) -> dict[str, np.ndarray]:
    lab = clip.labels
    near = lab.near[:frames]
    tail = np.convolve(near, np.ones(int(TAIL_S * 100) + 1), "full")[:frames] > 0
    far_end = clip.noise in ("echo", "continuous")
    echo = lab.echo[:frames] if far_end else np.zeros(frames, bool)
    return {"near": near, "noise": ~tail & ~echo, "echo": echo & ~tail}


def gate_scores(clip: Clip, is_open: np.ndarray) -> dict[str, float]:
    m = masks(clip, is_open.size)
    return {k: _share(is_open, m[k]) for k in ("near", "noise", "echo")}


def _share(is_open: np.ndarray, mask: np.ndarray) -> float:
    return float(np.mean(is_open[mask])) if mask.any() else math.nan


def doa_errors(clip: Clip, estimates: list[DoaEstimate]) -> np.ndarray:
    """Error of each estimate whose block lies (>= 80 %) in one talker's speech."""
    talker = clip.labels.talker
    errs = []
    for e in estimates:
        ids = talker[int(e.t_start * 100) : int(e.t_end * 100) + 1]
        ids = ids[ids >= 0]
        if ids.size == 0:
            continue
        who = np.bincount(ids).argmax()
        if np.mean(ids == who) >= 0.8:
            errs.append(angle_diff(e.angle_deg, clip.talker_angles[who]))
    return np.asarray(errs)


def turns(clip: Clip, min_gap_s: float = 0.5) -> list[tuple[float, float, int]]:
    """(onset_s, end_s, talker) of each turn: one talker's speech with gaps < ``min_gap_s``."""
    talker = clip.labels.talker
    out: list[tuple[float, float, int]] = []
    for k in np.flatnonzero(talker >= 0):
        who = int(talker[k])
        if out and out[-1][2] == who and k / 100 - out[-1][1] < min_gap_s:
            out[-1] = (out[-1][0], k / 100, who)
        else:
            out.append((k / 100, k / 100, who))
    return out


def switch_latencies(clip: Clip, zones: list[str | None]) -> list[tuple[float, float]]:
    """(turn length s, switch latency s or inf) of every turn whose zone is not yet shown."""
    out = []
    for onset, end, who in turns(clip):
        want = _zone_of(clip, clip.talker_angles[who])
        k0 = int(onset * 100)
        if k0 >= len(zones) or zones[k0] == want:
            continue
        stop = min(len(zones), int(end * 100) + 50)
        hit = next((k for k in range(k0, stop) if zones[k] == want), None)
        out.append((end - onset, math.inf if hit is None else (hit - k0) / 100))
    return out


def director_scores(
    clip: Clip, zones: list[str | None], switch_after_s: float | None = None
) -> dict[str, float]:
    """Camera switch latency per turn that needs a cut, and flaps per minute.

    A turn shorter than ``switch_after_s`` (the director's) + ``SHORT_TURN_MARGIN_S`` cannot
    fairly be asked to switch: it is left out of ``latency_max`` (counted in ``short_turns``,
    and in ``short_turns_switched`` when the camera got there anyway). The median and the
    share switched within 1 s still cover every turn; ``long_unswitched`` counts turns of
    ``LONG_TURN_S`` or more the camera never reached.
    """
    need = (director_config(clip).switch_after_s if switch_after_s is None else switch_after_s) + (
        SHORT_TURN_MARGIN_S
    )
    pairs = switch_latencies(clip, zones)
    lat = [v for _, v in pairs]
    long_lat = [v for d, v in pairs if d >= need]
    short = sum(1 for d, _ in pairs if d < need)
    short_switched = sum(1 for d, v in pairs if d < need and math.isfinite(v))
    cuts = [k for k in range(1, len(zones)) if zones[k] != zones[k - 1]]
    flaps = sum(
        1
        for a, b in zip(cuts, cuts[1:], strict=False)
        if (b - a) / 100 < FLAP_S and zones[b] == zones[a - 1]
    )
    minutes = len(zones) / 6000
    arr = np.asarray(lat) if lat else np.asarray([math.nan])
    return {
        "latency_median": float(np.median(arr)),
        "latency_max": float(np.max(long_lat)) if long_lat else math.nan,
        "switched_within_1s": float(np.mean(arr <= 1.0)),
        "turns": float(len(lat)),
        "short_turns": float(short),
        "short_turns_switched": float(short_switched),
        "long_unswitched": float(sum(1 for d, v in pairs if d >= LONG_TURN_S and math.isinf(v))),
        "flaps_per_min": flaps / minutes,
    }


def _zone_of(clip: Clip, angle: float) -> str | None:
    return next((z.name for z in zones_of(clip) if z.angles.contains(angle)), None)

"""The voice bench on drawn rooms: development set, then held-out set (bench/voice.py).

Every room of a set is rendered (cached), each of its conditions (``_voice_rooms.conditions``)
runs through the whole pipeline (gate + DOA + director + look-ahead, as the kiosk runs it, at
16 kHz) and, as baselines, through Silero VAD alone and webrtcvad alone (mode 3). Frames are
pooled over the rooms per condition kind (noise, SNR); a target's figure is its worst condition.

The held-out rooms (``HELDOUT_SEEDS``, ``HELDOUT6_SEEDS``) are only ever scored: no setting was
chosen by looking at them; tune on ``--set dev`` only. Per-clip lines are printed for the
development set only; the held-out set prints pooled figures.
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from bench import _voice_rooms as rooms
from bench import _voice_score as score
from devices.voice import GateConfig

DURATION_S = 18.0
Counts = dict[str, float]


def emit(name: str, value: float, unit: str) -> None:
    text = "n/a" if math.isnan(value) else (f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}")
    print(f"{name}: {text} {unit}", flush=True)


def _count(clip: rooms.RoomClip, is_open: np.ndarray, prefix: str) -> Counts:
    m = score.masks(clip, is_open.size)
    out: Counts = {}
    for k in ("near", "noise", "echo"):
        out[f"{prefix}.{k}.open"] = float(np.sum(is_open[m[k]]))
        out[f"{prefix}.{k}.n"] = float(np.sum(m[k]))
    return out


def evaluate(clip: rooms.RoomClip, gate: GateConfig, baselines: bool) -> tuple[Counts, list]:
    started = time.process_time()
    run = score.run_pipeline(clip, gate)
    cpu = time.process_time() - started
    res = _count(clip, run.open, "gate")
    res["cpu"] = cpu
    res["seconds"] = clip.mics.shape[0] / clip.rate
    errs = score.doa_errors(clip, run.doa)
    res["doa.median_error"] = float(np.median(errs)) if errs.size else math.nan
    d = score.director_scores(clip, run.zone)
    res["director.long_unswitched"] = d["long_unswitched"]
    res["director.flaps"] = d["flaps_per_min"] * res["seconds"] / 60
    if baselines:
        res.update(_count(clip, score.silero_baseline(clip), "silero"))
        res.update(_count(clip, score.vad_baseline(clip, 3), "webrtcvad3"))
    return res, score.switch_latencies(clip, run.zone)


def share(c: Counts, key: str) -> float:
    n = c.get(f"{key}.n", 0.0)
    return c[f"{key}.open"] / n if n else math.nan


def run_set(name: str, seeds: tuple[int, ...], array: rooms.ArraySpec, args) -> dict:
    pooled: dict[str, Counts] = defaultdict(lambda: defaultdict(float))
    doa: dict[str, list[float]] = defaultdict(list)
    lats: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for seed in seeds:
        room = rooms.draw_room(seed)
        if name.startswith("dev"):
            print(f"# {room.describe()}", flush=True)
        images = rooms.load(room, array, DURATION_S, args.cache)
        for noise, snr in rooms.conditions(room)[: 3 if args.quick else None]:
            if args.only and noise not in args.only:
                continue
            clip = rooms.mix(room, images, array, noise, snr)
            res, lat = evaluate(clip, GateConfig(sample_rate=rooms.FS), not args.no_baselines)
            cond = f"{noise}/{snr:g}dB"
            for k, v in res.items():
                if k != "doa.median_error":
                    pooled[cond][k] += v
            if not math.isnan(res["doa.median_error"]):
                doa[cond].append(res["doa.median_error"])
            lats[cond] += lat
            if name.startswith("dev"):
                _clip_line(clip.name, res)
    return {"pooled": pooled, "doa": doa, "lats": lats}


def _clip_line(name: str, res: Counts) -> None:
    parts = [f"{k}={share(res, f'gate.{k}'):.3f}" for k in ("near", "noise", "echo")]
    print(f"#   {name}: " + " ".join(parts), flush=True)


def report(name: str, out: dict) -> list[tuple[str, float, str, bool]]:
    pooled, lats = out["pooled"], out["lats"]
    for cond, c in sorted(pooled.items()):
        for who in ("gate", "silero", "webrtcvad3"):
            for k, label in (("near", "speech_recall"), ("noise", "noise_open"),
                             ("echo", "echo_open")):  # fmt: skip
                if f"{who}.{k}.n" in c and c[f"{who}.{k}.n"] > 0:
                    emit(f"{name}/{cond}/{who}.{label}", share(c, f"{who}.{k}"), "ratio")
        if out["doa"][cond]:
            emit(f"{name}/{cond}/doa.median_error", float(np.median(out["doa"][cond])), "deg")
        long = [v for d, v in lats[cond] if d >= 1.0]
        if long:
            emit(f"{name}/{cond}/director.latency_p95", _p95(long), "s")
    return targets(name, out)


def _p95(values: list[float]) -> float:
    return float(np.percentile(np.asarray(values), 95)) if values else math.nan


def _worst(pooled: dict[str, Counts], key: str, pick: str, conds: list[str]) -> tuple[float, str]:
    vals = [(share(pooled[c], key), c) for c in conds if c in pooled]
    vals = [(v, c) for v, c in vals if not math.isnan(v)]
    if not vals:
        return math.nan, "-"
    return min(vals) if pick == "min" else max(vals)


def targets(name: str, out: dict) -> list[tuple[str, float, str, bool]]:
    """(description, measured, rule, met), each naming its worst condition."""
    pooled, lats = out["pooled"], out["lats"]
    conds = list(pooled)
    noise_at = {s: [c for c in conds if c.endswith(f"/{s}dB") and not _far(c)] for s in (10, 5)}
    rows = []

    def add(desc: str, value: float, rule: str, ok: bool, where: str) -> None:
        rows.append((f"{name}: {desc} [worst: {where}]", value, rule, ok))

    for who in ("gate", "silero", "webrtcvad3"):
        if not any(f"{who}.near.n" in c for c in pooled.values()):
            continue
        tag = "" if who == "gate" else f" ({who} alone)"
        for snr, floor in ((10, 0.97), (5, 0.90)):
            v, c = _worst(pooled, f"{who}.near", "min", noise_at[snr])
            add(f"speech recall at {snr} dB{tag}", v, f">= {floor}", v >= floor, c)
        for noise, limit in (("babble", 0.05), ("fan", 0.02), ("music", 0.02)):
            v, c = _worst(pooled, f"{who}.noise", "max", [f"{noise}/10dB"])
            add(f"{noise} noise-open at 10 dB{tag}", v, f"<= {limit}", v <= limit, c)
        v, c = _worst(pooled, f"{who}.noise", "max", noise_at[10])
        add(f"noise-open at 10 dB, any noise{tag}", v, "(info)", True, c)
        v, c = _worst(pooled, f"{who}.echo", "max", ["echo/10dB", "continuous/10dB"])
        add(f"echo-open at 10 dB{tag}", v, "<= 0.02", v <= 0.02, c)
        v, c = _worst(pooled, f"{who}.near", "min", ["continuous/10dB"])
        add(f"recall with a continuous far end{tag}", v, ">= 0.95", v >= 0.95, c)
    at10 = [x for c in conds if c.endswith("/10dB") for x in lats[c] if x[0] >= 1.0]
    v = _p95([lat for _, lat in at10])
    add("camera switch p95 (turns >= 1 s) at 10 dB", v, "<= 1.0 s", v <= 1.0, "10 dB pooled")
    v = float(sum(pooled[c]["director.long_unswitched"] for c in conds if c.endswith("/10dB")))
    add("turns >= 1.5 s never switched at 10 dB", v, "== 0", v == 0, "10 dB pooled")
    doa = out["doa"].get("babble/5dB", [])
    v = float(np.median(doa)) if doa else math.nan
    add("DOA median error, babble 5 dB", v, "<= 5 deg", v <= 5.0, "babble/5dB")
    flaps = sum(pooled[c]["director.flaps"] for c in conds)
    minutes = sum(pooled[c]["seconds"] for c in conds) / 60
    add("flaps per minute", flaps / minutes, "<= 1", flaps / minutes <= 1.0, "all pooled")
    cpu = sum(pooled[c]["cpu"] for c in conds) / sum(pooled[c]["seconds"] for c in conds)
    emit(f"{name}/pipeline.cpu_per_audio_second", cpu, "s")
    add("pipeline CPU, share of one core at 16 kHz", cpu, "<= 0.15", cpu <= 0.15, "mean")
    return rows


def _far(cond: str) -> bool:
    return cond.startswith(("echo", "continuous"))


SETS = {
    "dev": (rooms.DEV_SEEDS, rooms.ARRAY4),
    "dev6": (rooms.DEV6_SEEDS, rooms.ARRAY6),
    "heldout": (rooms.HELDOUT_SEEDS, rooms.ARRAY4),
    "heldout6": (rooms.HELDOUT6_SEEDS, rooms.ARRAY6),
}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--set", choices=("dev", "heldout", "all"), default="all")
    ap.add_argument("--quick", action="store_true", help="3 rooms per set, 3 conditions each")
    ap.add_argument("--no-baselines", action="store_true", help="skip Silero / webrtcvad alone")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/diemcau-voice-rooms"))
    ap.add_argument(
        "--only", type=lambda v: set(v.split(",")), default=set(),
        help="score only these conditions (e.g. echo,continuous: a far-end change); "
        "targets then cover only them",
    )  # fmt: skip
    args = ap.parse_args(argv)
    started = time.monotonic()
    names = ["dev", "dev6", "heldout", "heldout6"] if args.set == "all" else [args.set]
    if args.set in ("dev", "heldout"):
        names.append(f"{args.set}6")
    missed = 0
    for name in names:
        seeds, array = SETS[name]
        print(f"\n# set {name}: {len(seeds)} rooms, {array.name}", flush=True)
        out = run_set(name, seeds[:3] if args.quick else seeds, array, args)
        rows = report(name, out)
        for desc, value, rule, met in rows:
            if math.isnan(value):  # no room of the set has that noise: nothing to judge
                print(f"NODATA {desc}: n/a (target {rule})")
                continue
            if name == "heldout":
                missed += not met
            print(f"{'MET   ' if met else 'MISSED'} {desc}: {value:.3f} (target {rule})")
    emit("bench.elapsed", time.monotonic() - started, "s")
    return 0 if missed == 0 else 1

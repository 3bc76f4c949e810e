"""Evaluation harness for the voice director (auto-mute gate, DOA, camera director).

    python bench/voice.py [--set dev|heldout|all] [--quick] [--only COND,..] [--cache DIR]  # rooms
    python bench/voice.py --fixed [--quick] [--seed N] [--cache DIR] [--lookahead-ms MS]

By default it scores the drawn-rooms corpus (bench/_voice_rooms.py, see
bench/_voice_rooms_bench.py): the development set, then the held-out set, whose figures are
the ones that count. ``--fixed`` runs the older one-room corpus described next.

The fixed corpus (bench/_voice_corpus.py: espeak-ng talkers in a simulated reverberant
room, 4- and 6-mic circular arrays, fan / babble / music / far-end echo at 20/10/5/0 dB), runs
the gate + DOA + director and plain webrtcvad (modes 0-3, 30 ms frames) on every condition and
prints ``metric: value unit`` lines, then the issue's targets as met / missed. The gate is
scored on the audio as it goes out, after the product's look-ahead (default 100 ms;
``--lookahead-ms 0`` scores the bare gate).
Needs: scipy, pyroomacoustics (the ``bench`` extras) and the espeak-ng binary.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

# numpy's matrix products on one thread, as in the kiosk (kiosk/__init__.py): the CPU figure
# is the product's, and a second BLAS thread only spins
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _voice_corpus as corpus  # noqa: E402
from bench import _voice_score as score  # noqa: E402
from devices.voice import GateConfig  # noqa: E402

SNRS = (20.0, 10.0, 5.0, 0.0)
NOISES = ("fan", "babble", "music", "echo")
EXTRA = (("echo", -10.0),)  # far end 10 dB louder than the near talker at the array


def conditions(quick: bool) -> list[tuple[corpus.ArraySpec, str, float]]:
    out = []
    for array in corpus.ARRAYS:
        snrs = SNRS if not quick or array.n == 4 else (10.0, 5.0)
        out += [(array, n, s) for n in NOISES for s in snrs]
        out += [(array, n, s) for n, s in EXTRA]
    return out


def emit(name: str, value: float, unit: str) -> None:
    text = "n/a" if math.isnan(value) else (f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}")
    print(f"{name}: {text} {unit}", flush=True)


def evaluate(clip: corpus.Clip, gate: GateConfig) -> dict[str, float]:
    run = score.run_pipeline(clip, gate)
    res = {f"gate.{k}": v for k, v in score.gate_scores(clip, run.open).items()}
    errs = score.doa_errors(clip, run.doa)
    res["doa.median_error"] = float(np.median(errs)) if errs.size else math.nan
    res["doa.estimates"] = float(errs.size)
    res.update({f"director.{k}": v for k, v in score.director_scores(clip, run.zone).items()})
    for mode in range(4):
        base = score.gate_scores(clip, score.vad_baseline(clip, mode))
        res.update({f"vad{mode}.{k}": v for k, v in base.items()})
    return res


UNITS = {"latency": "s", "error": "deg", "flaps": "1/min", "estimates": "count", "turns": "count"}
LABELS = {"near": "speech_recall", "noise": "noise_open", "echo": "echo_open"}


def report(name: str, res: dict[str, float]) -> None:
    for key, value in res.items():
        head, _, tail = key.partition(".")
        unit = next((u for k, u in UNITS.items() if k in tail), "ratio")
        emit(f"{name}/{head}.{LABELS.get(tail, tail)}", value, unit)


def targets(results: dict[str, dict[str, float]]) -> list[tuple[str, float, str, bool]]:
    """(description, measured, rule, met) for each of the issue's targets."""

    def worst(key: str, pick: str, cond: str) -> float:
        vals = [r[key] for n, r in results.items() if cond in n and not math.isnan(r[key])]
        if not vals:
            return math.nan
        return min(vals) if pick == "min" else max(vals)

    rows = []
    for snr in ("/20dB", "/10dB"):
        v = worst("gate.near", "min", snr)
        rows.append((f"speech recall, worst condition at {snr[1:]}", v, ">= 0.97", v >= 0.97))
    for noise, limit in (("babble", 0.10), ("fan", 0.02), ("music", 0.02)):
        v = worst("gate.noise", "max", f"/{noise}/10dB")
        rows.append((f"gate open on {noise}-only time at 10 dB", v, f"<= {limit}", v <= limit))
    v = worst("gate.echo", "max", "/echo/10dB")
    rows.append(("gate open on echo-only time at 10 dB", v, "<= 0.02", v <= 0.02))
    v = worst("doa.median_error", "max", "circ4/babble/5dB")
    rows.append(("DOA median error, babble 5 dB, 4-mic", v, "<= 5 deg", v <= 5.0))
    v = worst("director.latency_max", "max", "/10dB")
    desc = "camera switch latency (max over turns not shorter than switch time + 0.5 s) at 10 dB"
    rows.append((desc, v, "<= 1.0 s", v <= 1.0))
    v = worst("director.flaps_per_min", "max", "dB")
    rows.append(("flaps per minute, worst condition", v, "<= 1", v <= 1.0))
    return rows


def short_turn_note(results: dict[str, dict[str, float]]) -> str:
    """How many turns the 10 dB latency max left out as too short, and how many switched anyway."""
    picked = [r for n, r in results.items() if "/10dB" in n]
    short = sum(int(r["director.short_turns"]) for r in picked)
    switched = sum(int(r["director.short_turns_switched"]) for r in picked)
    total = sum(int(r["director.turns"]) for r in picked)
    return (
        f"# latency max at 10 dB left out {short} of {total} turns as shorter than switch time "
        f"+ 0.5 s; {switched} of those {short} switched anyway"
    )


def fixed_main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="20 s clips, fewer 6-mic conditions")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/diemcau-voice-bench"))
    ap.add_argument(
        "--lookahead-ms", type=int, default=GateConfig().lookahead_ms,
        help="outgoing audio delay the gate's opening reaches back over (0: none)",
    )  # fmt: skip
    args = ap.parse_args(argv)
    try:
        gate = GateConfig(lookahead_ms=args.lookahead_ms)
    except ValueError as exc:
        ap.error(str(exc))
    print(f"# gate look-ahead: {gate.lookahead_ms} ms (extra outgoing audio latency)", flush=True)
    duration = 20.0 if args.quick else 60.0
    started = time.monotonic()
    results: dict[str, dict[str, float]] = {}
    images = {}
    for array, noise, snr in conditions(args.quick):
        if array.name not in images:
            images[array.name] = corpus.load_images(array, args.seed, duration, args.cache)
        clip = corpus.mix(images[array.name], array, noise, snr, args.seed)
        results[clip.name] = evaluate(clip, gate)
        report(clip.name, results[clip.name])
    print(f"\n# targets (corpus seed {args.seed}, {duration:.0f} s clips)")
    missed = 0
    for desc, value, rule, met in targets(results):
        missed += not met
        print(f"{'MET   ' if met else 'MISSED'} {desc}: {value:.3f} (target {rule})")
    print(short_turn_note(results))
    emit("bench.elapsed", time.monotonic() - started, "s")
    return 0 if missed == 0 else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--fixed" in argv:
        return fixed_main([a for a in argv if a != "--fixed"])
    from bench import _voice_rooms_bench

    return _voice_rooms_bench.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())

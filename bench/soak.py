"""Soak: the kiosk held in a meeting for N minutes. Does it stay in, and does it leak?

Runs ``diemcau demo --headless`` (a local hub, a synthetic far end and the kiosk, joined;
the demo puts itself in a private network namespace) and samples the demo process's RSS,
threads and open fds: once both rooms are in the meeting and a warm-up has passed, then
every 30 s, the last time just before the demo ends. The demo's log says whether a call
left the meeting on the way; its last lines whether the far end's video still decodes.

    python bench/soak.py [--minutes 20] [--log FILE]

Exit status 1 when the kiosk did not stay in the meeting throughout, or the far end's
video no longer decoded at the end.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

WARMUP = 30.0  # s in the meeting before the start sample
EVERY = 30.0  # s between samples
MARGIN = 20.0  # s the demo runs on after the end sample
JOIN_TIMEOUT = 90.0  # s for the hub to start and both rooms to join
# The far end joins first, then the kiosk: both are in after these state lines.
OPENING = ["connecting", "in-meeting", "connecting", "in-meeting"]
STATE_LINE = re.compile(r"endpoint\.call: call (\S+)")
REPORT_LINE = "call state: "
DECODING_LINE = "far-end video still decoding: "
TREND = 3  # samples at each end whose medians give the RSS growth
RUNAWAY_MB = 1024.0  # RSS growth at which the soak stops the demo early (a runaway leak)


@dataclass(frozen=True)
class Sample:
    """The demo process at *at* seconds after the start sample."""

    at: float
    rss_mb: float
    threads: int
    fds: int
    fd_kinds: collections.Counter[str]
    thread_names: collections.Counter[str]


class DemoLog:
    """The demo's stdout and stderr, one stream in order, read by a named thread."""

    def __init__(self, proc: subprocess.Popen[str], copy: Path | None) -> None:
        self.lines: list[str] = []
        self._proc, self._copy = proc, copy
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._read, name="soak:log", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        with open(self._copy or os.devnull, "w", encoding="utf-8") as copy:
            for line in self._proc.stdout:
                copy.write(line)
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_joined(self, timeout: float) -> bool:
        """Wait until both rooms are in the meeting (False: not within *timeout*)."""
        with self._changed:
            return (
                self._changed.wait_for(
                    lambda: states(self.lines) == OPENING or not self._thread.is_alive(), timeout
                )
                and states(self.lines) == OPENING
            )

    def join(self) -> None:
        self._thread.join()


def states(lines: list[str]) -> list[str]:
    """The call states logged, in order, up to the demo's report (the planned end)."""
    found = []
    for line in lines:
        if line.startswith(REPORT_LINE):
            break
        if match := STATE_LINE.search(line):
            found.append(match.group(1))
    return found


def reported(lines: list[str], prefix: str) -> str:
    """The value of the demo's last ``prefix…`` line, or '' when it printed none."""
    values = [line.removeprefix(prefix) for line in lines if line.startswith(prefix)]
    return values[-1].strip() if values else ""


def sample(pid: int, at: float) -> Sample:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    rss_mb = int(fields["VmRSS"].split()[0]) / 1024
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return Sample(at, rss_mb, int(fields["Threads"]), fds, fd_kinds(pid), thread_names(pid))


def fd_kinds(pid: int) -> collections.Counter[str]:
    """Open fds by kind (socket, pipe, anon_inode:[eventfd], or the file's path)."""
    kinds: collections.Counter[str] = collections.Counter()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed while listing
        kinds[re.sub(r":\[\d+\]$", "", target)] += 1
    return kinds


def thread_names(pid: int) -> collections.Counter[str]:
    names: collections.Counter[str] = collections.Counter()
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            names[Path(f"/proc/{pid}/task/{task}/comm").read_text().strip()] += 1
        except OSError:
            continue  # ended while listing
    return names


def sample_times(minutes: float) -> list[float]:
    total = minutes * 60
    times = [n * EVERY for n in range(int(total // EVERY) + 1)]
    return times if times[-1] == total else [*times, total]


def runaway(samples: list[Sample]) -> bool:
    return len(samples) > 1 and samples[-1].rss_mb - samples[0].rss_mb > RUNAWAY_MB


def watch(proc: subprocess.Popen[str], minutes: float) -> list[Sample]:
    """Sample the demo from the end of the warm-up to the end of the soak."""
    start = time.monotonic() + WARMUP
    samples: list[Sample] = []
    for at in sample_times(minutes):
        time.sleep(max(0.0, start + at - time.monotonic()))
        if proc.poll() is not None:
            break
        samples.append(sample(proc.pid, at))
        s = samples[-1]
        print(f"t={at:5.0f} s  rss {s.rss_mb:.1f} MB  threads {s.threads}  fds {s.fds}", flush=True)
        if runaway(samples):
            print(f"stopped early: RSS grew by more than {RUNAWAY_MB:.0f} MB", flush=True)
            break
    return samples


def print_rss(samples: list[Sample]) -> None:
    ends = max(1, min(TREND, len(samples) // 2))  # a short run: the two ends never overlap
    head = statistics.median(s.rss_mb for s in samples[:ends])
    tail = statistics.median(s.rss_mb for s in samples[-ends:])
    print(f"rss_growth = median of the last {ends} samples - median of the first {ends}")
    print(f"rss_start: {samples[0].rss_mb:.1f} MB")
    print(f"rss_end: {samples[-1].rss_mb:.1f} MB")
    print(f"rss_growth: {tail - head:.1f} MB")
    if len(samples) > 2:
        slope = statistics.linear_regression([s.at for s in samples], [s.rss_mb for s in samples])
        print(f"rss_slope: {slope.slope * 60:.2f} MB/min")


def print_counts(samples: list[Sample]) -> None:
    """Threads and fds at the start and the end, and the most seen at any sample."""
    for name in ("threads", "fds"):
        counts = [getattr(s, name) for s in samples]
        print(f"{name}_start: {counts[0]}")
        print(f"{name}_end: {counts[-1]}")
        print(f"{name}_max: {max(counts)}")


def print_diff(what: str, start: collections.Counter[str], end: collections.Counter[str]) -> None:
    """What grew or shrank between the start and the end sample (only if anything did)."""
    grown, shrunk = end - start, start - end
    if grown or shrunk:
        print(f"{what} more at the end: {dict(grown)}; fewer: {dict(shrunk)}")


def verdict(lines: list[str], joined: bool) -> bool:
    changes = states(lines)[len(OPENING) :] if joined else states(lines)
    final = reported(lines, REPORT_LINE)
    stayed = joined and not changes and final == "in-meeting"
    decoding = reported(lines, DECODING_LINE) == "yes"
    warnings = sum(line.startswith(("WARNING", "ERROR", "CRITICAL")) for line in lines)
    print(f"state_changes: {', '.join(changes) or 'none'} (call state at the end: {final})")
    print(f"log_warnings: {warnings}")
    print(f"far_end_decoding_at_end: {'yes' if decoding else 'no'}")
    print(f"in_meeting_throughout: {'yes' if stayed else 'no'}")
    return stayed and decoding


def start_demo(seconds: float) -> subprocess.Popen[str]:
    diemcau = Path(sys.executable).with_name("diemcau")
    cli = [str(diemcau)] if diemcau.exists() else [sys.executable, "-m", "kiosk.cli"]
    argv = [*cli, "demo", "--headless", "--seconds", f"{seconds:.0f}"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # report and log lines stay in order
    print(f"soak: diemcau {' '.join(argv[len(cli) :])}", flush=True)
    return subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,  # its own process group: the demo and its hub
    )


def stop_demo(proc: subprocess.Popen[str]) -> None:
    """Ctrl-C to the demo's process group first (the demo then stops its hub); whatever
    of the group is left after that is killed."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@dataclass
class Observed:
    """What the soak saw of the demo process."""

    joined: bool = False
    samples: list[Sample] = field(default_factory=list)
    returncode: int | None = None


def soak(minutes: float, copy: Path | None) -> int:
    proc = start_demo(WARMUP + minutes * 60 + MARGIN)
    log, seen = DemoLog(proc, copy), Observed()
    try:
        seen.joined = log.wait_joined(JOIN_TIMEOUT)
        if seen.joined:
            observe(proc, minutes, seen)
        if not runaway(seen.samples):
            proc.wait(timeout=MARGIN + 60)
    finally:
        stop_demo(proc)
    log.join()
    seen.returncode = proc.returncode
    return report(log.lines, seen)


def observe(proc: subprocess.Popen[str], minutes: float, seen: Observed) -> None:
    name = Path(f"/proc/{proc.pid}/comm").read_text().strip()
    print(f"kiosk process: pid {proc.pid} ({name}); {minutes:g} min after a "
          f"{WARMUP:.0f} s warm-up, sampled every {EVERY:.0f} s", flush=True)  # fmt: skip
    seen.samples = watch(proc, minutes)


def report(lines: list[str], seen: Observed) -> int:
    if not seen.joined:
        print("\n".join(lines[-30:]))
    if seen.samples:
        first, last = seen.samples[0], seen.samples[-1]
        print_rss(seen.samples)
        print_counts(seen.samples)
        print_diff("fds", first.fd_kinds, last.fd_kinds)
        print_diff("threads", first.thread_names, last.thread_names)
    print(f"demo_exit: {seen.returncode}")
    print(f"minutes: {seen.samples[-1].at / 60 if seen.samples else 0:g}")
    return 0 if verdict(lines, seen.joined) else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--log", type=Path, help="keep the demo's whole output here")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stops the demo too
    sys.exit(soak(max(args.minutes, EVERY / 60), args.log))


if __name__ == "__main__":
    main()

"""A district meeting on this machine: one real kiosk among N-1 light publishers.

The kiosk is the product as it runs on a room PC (``kiosk.app.KioskApp``: synthetic camera
encoded live, the call, the view-model and the TV meeting view, offscreen at 1920x1080);
the other rooms are light publishers (``bench/_district_room.py``, one process for all):
real RTP, replayed from media encoded once, video to the VideoRoom and voice to the
AudioBridge. Everything runs on a local hub (``kiosk.hub.LocalHub``) inside a private
network namespace, which the benchmark enters by itself.

Once every publisher is in, the kiosk taps «Tham gia họp»; after a warm-up, --windows
windows of --window-s seconds are measured while the talker changes every --talk-every
seconds, ± 0.5 s (the one talking goes quiet, another starts: a tone instead of silence). Prints
``district.<metric>: <median> <unit> (min .., max ..)`` over the windows:

- rooms_listed        other rooms the kiosk lists by name (participants named as joined)
- rooms_on_tv         other rooms named on a TV tile (large, thumbnails, name tiles; the
                      rest are counted in «+ N điểm cầu khác»)
- video_slots         other rooms holding one of the kiosk's video slots at the window's end
                      (at most the speaker and [meeting] video_slots thumbnails: 9)
- rooms_decoded       other rooms whose video the kiosk decoded in the window (more than
                      the slots: the slots move to the talkers by ``switch``)
- video_tiles         rooms the TV shows with video (the speaker and the thumbnails)
- cpu_pct             the kiosk process, % of one core (all its threads: decoders, encoder)
- down_kbps           everything the kiosk's peer connections received (SRTP, RTCP)
- video_down_kbps     of which the VideoRoom subscription
- audio_down_kbps     of which the AudioBridge connection (the mix)
- up_kbps             everything the kiosk's peer connections sent
- speaker_switch_s    a publisher starts talking → the TV's large tile shows it (each switch)
- join_s              the tap → in the meeting;  first_picture_s: the tap → the first
                      remote frame decoded; all_pictures_s: ... from every room that
                      holds a video slot (one join per run, into the meeting of N-1 rooms)
- hub_cpu_pct, publishers_cpu_pct: the hub and the light publishers (context: the machine)
- threads, rss_mb: the kiosk process at the end

    .venv/bin/python bench/district.py --rooms 25 [--windows 3] [--window-s 10]
        [--talk-every 4] [--video 320x180@10]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._lines import JsonLines  # noqa: E402
from kiosk import netns  # noqa: E402

ROOM_SCRIPT = str(ROOT / "bench" / "_district_room.py")
KIOSK_NAME = "Huyện Mộ Đức"
JOIN_TIMEOUT = 60.0
WARMUP_S = 5.0
TICK_HZ = os.sysconf("SC_CLK_TCK")
TARGETS = {  # issue 14, at 25 rooms
    "rooms_listed": "= rooms-1",
    "cpu_pct": "≤ 60",
    "down_kbps": "≤ 1500",
    "audio_down_kbps": "≤ 64",
    "up_kbps": "≤ 600",
    "speaker_switch_s": "≤ 1.5",
    "first_picture_s": "≤ 1",
}
UNITS = {
    "rooms_listed": "rooms",
    "rooms_on_tv": "rooms",
    "video_slots": "rooms",
    "rooms_decoded": "rooms",
    "video_tiles": "tiles",
    "cpu_pct": "% of one core",
    "down_kbps": "kbit/s",
    "video_down_kbps": "kbit/s",
    "audio_down_kbps": "kbit/s",
    "up_kbps": "kbit/s",
    "speaker_switch_s": "s",
    "join_s": "s",
    "first_picture_s": "s",
    "all_pictures_s": "s",
    "hub_cpu_pct": "% of one core",
    "publishers_cpu_pct": "% of one core",
}


def room_names(count: int) -> list[str]:
    return [f"Xã Phát {i + 1:02d}" for i in range(count)]


class Publishers:
    """The light publishers' process and its JSON lines (read on a thread as they come)."""

    def __init__(self, hub: Any, names: list[str], video: str) -> None:
        argv = [sys.executable, ROOM_SCRIPT, "--url", hub.url, "--room", str(hub.room.room),
                "--names", ",".join(names), "--video", video]  # fmt: skip
        env = {**os.environ, "ROOM_PIN": hub.room.pin or ""}
        err = None if os.environ.get("DIEMCAU_BENCH_LOG") else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True, env=env
        )
        self.output = JsonLines(self.proc, "bench-publishers")
        self.of = self.output.of

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def wait_ready(self, timeout: float) -> dict[int, int]:
        """Block until every room joined; index -> feed id."""
        deadline = time.monotonic() + timeout
        while not self.of("ready"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the light publishers did not all join (DIEMCAU_BENCH_LOG=1)")
            time.sleep(0.05)
        return {x["i"]: x["feed"] for x in self.of("joined")}

    def stop(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()  # every room leaves
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def cpu_seconds(pid: int | str = "self") -> float:
    """User + system CPU time of a process (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK_HZ


async def wire_bytes(call: Any) -> dict[str, int]:
    """Bytes on the wire of the kiosk's peer connections, by role and direction."""
    conn = call._conn  # noqa: SLF001 - a benchmark reads the call's own connections
    found: dict[str, int] = {}
    if conn is None:
        return found
    for role, pc in conn.peer_connections().items():
        try:
            report = await pc.getStats()
        except Exception:  # noqa: BLE001 - a connection closing mid-read
            continue
        for s in report.values():
            if s.type == "transport":
                found[f"{role}.in"] = found.get(f"{role}.in", 0) + int(s.bytesReceived)
                found[f"{role}.out"] = found.get(f"{role}.out", 0) + int(s.bytesSent)
    return found


class Watch:
    """What the kiosk shows: when its TV's large tile changed, when a first frame arrived."""

    def __init__(self, kiosk: Any) -> None:
        self.kiosk = kiosk
        self.view = kiosk.window.meeting
        self.large: list[tuple[float, int | None]] = []
        self.first_frames: dict[int, float] = {}  # feed -> its first decoded frame
        apply = self.view._apply  # noqa: SLF001 - timing the view's own layout changes

        def timed(layout: Any) -> None:
            apply(layout)
            if not self.large or self.large[-1][1] != layout.large:
                self.large.append((time.monotonic(), layout.large))

        self.view._apply = timed
        kiosk.call.listen(self._event)

    def _event(self, event: Any) -> None:
        for participant in self.kiosk.call.participants.values():
            if getattr(participant, "_bench_watched", False):
                continue
            participant._bench_watched = True
            participant.video.listen(self._first_frame(participant.feed))

    def _first_frame(self, feed: int) -> Callable[[], None]:
        def seen() -> None:
            self.first_frames.setdefault(feed, time.monotonic())

        return seen

    def large_at(self, feed: int, since: float) -> float | None:
        """When the large tile first showed *feed* after *since*."""
        return next((t for t, large in self.large if t >= since and large == feed), None)


class Meeting:
    """The kiosk in the meeting, the publishers talking in turn, figures per window."""

    def __init__(self, kiosk: Any, pubs: Publishers, feeds: dict[int, int], args: Any) -> None:
        self.kiosk, self.pubs, self.feeds, self.args = kiosk, pubs, feeds, args
        self.names = set(room_names(len(feeds)))
        self.watch = Watch(kiosk)
        self.rows: list[dict[str, float]] = []
        self.switches: list[float | None] = []
        self.order = random.Random(14)
        self.talker = -1
        self.reconnects = 0  # windows in which the kiosk's connections were replaced

    async def join(self) -> dict[str, float]:
        call = self.kiosk.call
        tap = time.monotonic()
        self.kiosk.window.join_button.click()  # the officer's tap
        while call.state.value != "in-meeting":
            if call.state.value == "failed" or time.monotonic() - tap > JOIN_TIMEOUT:
                raise SystemExit(f"the kiosk did not join: {call.failure}")
            await asyncio.sleep(0.005)
        joined = time.monotonic() - tap
        frames = self.watch.first_frames
        slots = min(len(self.feeds), call.slots.size)  # the rooms whose video we receive
        while len(frames) < slots and time.monotonic() - tap < JOIN_TIMEOUT:
            await asyncio.sleep(0.005)
        first = min(frames.values(), default=float("nan")) - tap
        every = max(frames.values()) - tap if len(frames) >= slots else float("nan")
        return {"join_s": joined, "first_picture_s": first, "all_pictures_s": every}

    async def next_talker(self) -> None:
        """The current talker goes quiet and another starts; its switch is timed later."""
        plan = self.watch.view.layout_plan
        large = plan.large if plan is not None else None
        choices = [i for i, feed in self.feeds.items() if i != self.talker and feed != large]
        self.talker = self.order.choice(choices)
        before = len(self.pubs.of("talk"))
        self.pubs.send(f"talk {self.talker}")
        while len(self.pubs.of("talk")) == before:
            await asyncio.sleep(0.01)
        started = self.pubs.of("talk")[-1]["t"]
        # Not a whole number of seconds: the hub decides talking per block of packets (1 s
        # in the template), and each switch should start at another point of its block.
        await asyncio.sleep(self.args.talk_every + self.order.uniform(-0.5, 0.5))
        shown = self.watch.large_at(self.feeds[self.talker], started)
        self.switches.append(None if shown is None else shown - started)

    async def window(self) -> dict[str, float]:
        call, hub_pid = self.kiosk.call, self.args.hub_pid
        seqs0 = {f: p.video.seq for f, p in call.participants.items()}
        bytes0, cpu0, wall0 = await wire_bytes(call), cpu_seconds(), time.monotonic()
        hub0, pubs0 = cpu_seconds(hub_pid), self._pub_cpu()
        end = wall0 + self.args.window_s
        while time.monotonic() < end:
            await self.next_talker()
        wall = time.monotonic() - wall0
        cpu, hub = cpu_seconds() - cpu0, cpu_seconds(hub_pid) - hub0
        pubs = self._pub_cpu() - pubs0
        moved = await wire_bytes(call)
        rate = {k: (v - bytes0.get(k, 0)) * 8 / wall / 1000 for k, v in moved.items()}
        if any(v < 0 for v in rate.values()):  # a new connection began counting from zero
            self.reconnects += 1
            rate = {k: float("nan") for k in rate}
        parts = call.participants
        decoded = [f for f, p in parts.items() if p.video.seq > seqs0.get(f, p.video.seq)]
        return {
            "rooms_listed": len(self.names & {p.display for p in parts.values()}),
            "rooms_on_tv": self._on_tv(),
            "video_slots": sum(1 for p in parts.values() if p.video_slot),
            "rooms_decoded": len(decoded),
            "video_tiles": len(self.watch.view.video_tiles()),
            "cpu_pct": 100 * cpu / wall,
            "down_kbps": sum(v for k, v in rate.items() if k.endswith(".in")),
            "video_down_kbps": rate.get("receiving.in", 0.0),
            "audio_down_kbps": rate.get("audio.in", 0.0),
            "up_kbps": sum(v for k, v in rate.items() if k.endswith(".out")),
            "hub_cpu_pct": 100 * hub / wall,
            "publishers_cpu_pct": 100 * pubs / wall,
        }

    def _on_tv(self) -> int:
        """Other rooms the TV names on a tile now (large, thumbnails, name tiles)."""
        view, plan = self.watch.view, self.watch.view.layout_plan
        if plan is None:
            return 0
        placed = [plan.large, *(f for f, _ in plan.thumbs), *(f for f, _ in plan.names)]
        return sum(1 for f in placed if f in view.tiles and view.tiles[f].name in self.names)

    def _pub_cpu(self) -> float:
        return cpu_seconds(self.pubs.proc.pid)


def figure(name: str, values: list[float]) -> str:
    unit = UNITS.get(name, "")
    target = f"; target {TARGETS[name]}" if name in TARGETS else ""
    if not values:
        return f"district.{name}: none {unit}{target}"
    mid = statistics.median(values)
    spread = f" (min {min(values):.2f}, max {max(values):.2f}, n {len(values)}{target})"
    return f"district.{name}: {mid:.2f} {unit}{spread}"


def report(meeting: Meeting, join: dict[str, float], rooms: int, still_in: bool) -> None:
    view = meeting.watch.view
    print(f"district.rooms: {rooms} rooms (1 kiosk + {rooms - 1} light publishers)")
    print(f"district.tv: {view.width()}x{view.height()} px, {meeting.args.video} publishers")
    for name in UNITS:
        if name in join:
            print(figure(name, [join[name]]))
        elif name == "speaker_switch_s":
            shown = [s for s in meeting.switches if s is not None]
            missed = len(meeting.switches) - len(shown)
            print(figure(name, shown) + (f"; {missed} switches never shown" if missed else ""))
        else:
            values = [row[name] for row in meeting.rows if not math.isnan(row[name])]
            print(figure(name, values))
    print(f"district.reconnected_windows: {meeting.reconnects} windows (their rates left out)")
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    print(f"district.threads: {status['Threads'].strip()} threads (kiosk process, at the end)")
    print(f"district.rss_mb: {int(status['VmRSS'].split()[0]) / 1024:.0f} MB (kiosk process)")
    print(f"district.in_meeting_at_end: {'yes' if still_in else 'no'}")


async def run(app: Any, hub: Any, args: argparse.Namespace) -> int:
    from kiosk.app import KioskApp
    from kiosk.config import Config

    names = room_names(args.rooms - 1)
    pubs = Publishers(hub, names, args.video)
    feeds = await asyncio.to_thread(pubs.wait_ready, JOIN_TIMEOUT)
    with tempfile.TemporaryDirectory(prefix="diemcau-district-") as workdir:
        pin_file = Path(workdir) / "room.pin"
        pin_file.touch(mode=0o600)
        pin_file.write_text(hub.room.pin + "\n")
        raw = {
            "site": {"name": KIOSK_NAME},
            "hub": {"url": hub.url, "room": hub.room.room, "pin_file": str(pin_file)},
            "state": {"dir": str(Path(workdir) / "state")},
        }
        kiosk = KioskApp(Config.from_dict(raw, source="<district>"))
        kiosk.start()
        kiosk.window.resize(1920, 1080)  # the TV
        meeting = Meeting(kiosk, pubs, feeds, args)
        try:
            join = await meeting.join()
            await asyncio.sleep(WARMUP_S)
            for _ in range(args.windows):
                meeting.rows.append(await meeting.window())
            still_in = kiosk.call.state.value == "in-meeting"
            report(meeting, join, args.rooms, still_in)
            return 0 if still_in else 1
        finally:
            await kiosk.stop()
            await asyncio.to_thread(pubs.stop)


def talk_packets(module: Any, packets: int) -> None:
    """An experiment: the hub's AudioBridge decides talking over *packets* packets."""
    render = module.render_config

    def rendered(folder: Path, *args: Any, **kwargs: Any) -> None:
        render(folder, *args, **kwargs)
        bridge = folder / "janus.plugin.audiobridge.jcfg"
        text = bridge.read_text().replace(
            "audio_active_packets = 50", f"audio_active_packets = {packets}"
        )
        bridge.write_text(text)

    module.render_config = rendered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=5, help="rooms in the meeting, kiosk included")
    parser.add_argument("--windows", type=int, default=3)
    parser.add_argument("--window-s", type=float, default=10.0)
    parser.add_argument("--talk-every", type=float, default=4.0)
    parser.add_argument("--video", choices=("320x180@10", "640x360@15"), default="320x180@10")
    parser.add_argument(
        "--hub-talk-packets", type=int, default=None,
        help="the AudioBridge's audio_active_packets (20 ms each) instead of the template's",
    )  # fmt: skip
    args = parser.parse_args()
    if args.rooms < 2:
        parser.error("--rooms: at least 2 (the kiosk and one other room)")
    if not netns.inside():
        netns.exec_inside([sys.executable, *sys.argv])
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from kiosk import hub as local_hub
    from kiosk.app import run_qt
    from kiosk.hub import LocalHub

    if args.hub_talk_packets is not None:
        talk_packets(local_hub, args.hub_talk_packets)

    with LocalHub() as hub:
        args.hub_pid = hub._proc.pid if hub._proc is not None else "self"  # noqa: SLF001
        return run_qt(lambda app: run(app, hub, args), headless=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Check the diemcau echo-cancel drop-in against the installed PipeWire, in a private daemon.

1. Every module argument and aec.args key of the drop-in must be a name the installed
   libpipewire-module-echo-cancel / AEC plugin looks up (a misspelt key is silently ignored).
2. Its own ``pipewire`` and ``wireplumber`` (own runtime, config and state directories under
   /tmp, no D-Bus, no real-time priority, no pipewire-pulse: other audio servers are untouched)
   load the drop-in, with null devices in place of the hardware: ``fake_array`` (a virtual
   source with the drop-in's channels) and ``fake_speakers`` (a stereo null sink); the
   drop-in's target.object lines are pointed at those two. The module must load the WebRTC
   plugin without an error, and diemcau_aec_source / diemcau_aec_sink must run the channels
   and rate their properties announce.
3. One player feeds, sample-locked, the far end into diemcau_aec_sink and the "array" (the far
   end through a synthetic room, then a near-end talker, then both) into fake_array; one
   recorder takes diemcau_aec_source, the array input and the loudspeakers' monitor in the same
   cycle (see echo_signals.py). The echo must be reduced, the near-end talker and the array's
   noise floor must pass (no noise suppression: the gate tracks the noise itself), and the far
   end must reach the loudspeakers unchanged.

Prints ``metric: value unit`` lines; exits 1 with the reason on stderr when a check fails, 2 when
a tool is missing. Needs python3 with numpy, pipewire, pipewire-bin (pw-cat, pw-link, pw-dump),
libspa-0.2-modules (the WebRTC AEC plugin) and wireplumber 0.4. Takes about 12 s.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from dropin import (  # noqa: F401  (the option-name checks, used by the tests from here)
    MODULE,
    Json,
    array_layout,
    module_args,
    pointed_at_null_devices,
    unknown_keys,
)
from echo_signals import (
    RATE,
    TOTAL,
    CheckError,
    Results,
    Scenario,
    analyse,
    read_wav,
    scenario,
    write_wav,
)

HERE = Path(__file__).resolve().parent
DEFAULT_CONF = HERE / "60-diemcau-echo-cancel.conf"
SOURCE, SINK = "diemcau_aec_source", "diemcau_aec_sink"
CAPTURE, PLAYBACK = "diemcau_aec_capture", "diemcau_aec_playback"
PLAYER, RECORDER = "diemcau_check_play", "diemcau_check_rec"
TOOLS = ("pipewire", "wireplumber", "pw-cat", "pw-link", "pw-dump", "spa-json-dump")
PACKAGES = "pipewire pipewire-bin libspa-0.2-modules wireplumber"


# --- the private daemon ------------------------------------------------------------------------

PIPEWIRE_CONF = """\
context.properties = {{
    core.daemon = true
    core.name   = pipewire-0
    default.clock.rate          = 48000
    default.clock.allowed-rates = [ 48000 ]
    log.level = 2
}}
context.spa-libs = {{
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}}
context.modules = [
    {{ name = libpipewire-module-protocol-native }}
    {{ name = libpipewire-module-profiler }}
    {{ name = libpipewire-module-metadata }}
    {{ name = libpipewire-module-spa-node-factory }}
    {{ name = libpipewire-module-client-node }}
    {{ name = libpipewire-module-client-device }}
    {{ name = libpipewire-module-access }}
    {{ name = libpipewire-module-adapter }}
    {{ name = libpipewire-module-link-factory }}
    {{ name = libpipewire-module-session-manager }}
]
context.objects = [
    {{ factory = spa-node-factory
      args = {{ factory.name = support.node.driver  node.name = Dummy-Driver
               node.group = pipewire.dummy  priority.driver = 20000 }} }}
    {{ factory = adapter
      args = {{ factory.name = support.null-audio-sink  node.name = fake_speakers
               node.description = "check: loudspeakers"  media.class = Audio/Sink
               audio.rate = 48000  audio.channels = 2  audio.position = [ FL FR ]
               priority.driver = 30000 }} }}
    {{ factory = adapter
      args = {{ factory.name = support.null-audio-sink  node.name = fake_array
               node.description = "check: microphone array"  media.class = Audio/Source/Virtual
               audio.rate = 48000  audio.channels = {channels}  audio.position = [ {positions} ]
               priority.driver = 29000 }} }}
]
"""

# pw-cat, pw-link and pw-dump read client(-rt).conf: no real-time module, nothing else to load.
CLIENT_CONF = """\
context.properties = { log.level = 2 }
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-metadata }
]
"""

WIREPLUMBER_CONF = """\
context.properties = {
    log.level = 2
    wireplumber.script-engine = lua-scripting
    support.dbus = false
}
context.spa-libs = {
    audio.convert.* = audioconvert/libspa-audioconvert
    support.*       = support/libspa-support
}
context.modules = [
    { name = libpipewire-module-protocol-native }
    { name = libpipewire-module-client-node }
    { name = libpipewire-module-client-device }
    { name = libpipewire-module-adapter }
    { name = libpipewire-module-metadata }
    { name = libpipewire-module-session-manager }
]
wireplumber.components = [
    { name = libwireplumber-module-lua-scripting, type = module }
    { name = main.lua, type = config/lua }
    { name = policy.lua, type = config/lua }
]
"""

# WirePlumber 0.4 reads main.lua.d/ from the first directory that has one: copy the pieces kept
# (access, default nodes) and enable them without ALSA/Bluetooth/V4L2 monitors, portal or
# persistent state; policy.lua.d (which links streams by target.object) is copied as shipped.
WIREPLUMBER_MAIN = (
    "00-functions.lua",
    "20-default-access.lua",
    "40-device-defaults.lua",
    "50-default-access-config.lua",
)
WIREPLUMBER_ENABLE = """\
load_module("metadata")
default_access.properties["enable-flatpak-portal"] = false
default_access.enable()
device_defaults.properties["use-persistent-storage"] = false
device_defaults.enable()
"""


def wireplumber_data_dir() -> Path:
    """WirePlumber 0.4's shipped Lua configuration."""
    version = subprocess.run(["wireplumber", "--version"], capture_output=True, text=True).stdout
    found = re.search(r"libwireplumber (\d+\.\d+)", version)
    if found is None or found.group(1) != "0.4":
        shown = found.group(0) if found else "no version"
        raise CheckError(f"this check drives WirePlumber 0.4 (Debian 12), found {shown}")
    data = Path(os.environ.get("WIREPLUMBER_DATA_DIR", "/usr/share/wireplumber"))
    if not (data / "policy.lua.d").is_dir():
        raise CheckError(f"{data}/policy.lua.d not found (WirePlumber 0.4's configuration)")
    return data


def _die_with_parent() -> None:
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: no orphaned daemons


def _wait(
    ready: Callable[[], bool],
    seconds: float,
    why: Callable[[], str],
    proc: subprocess.Popen[bytes] | None = None,
) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if (proc is not None and proc.poll() is not None) or time.monotonic() > deadline:
            raise CheckError(why())
        time.sleep(0.2)


class PrivateDaemon:
    """pipewire and wireplumber in a directory of their own; clients run with ``env``."""

    def __init__(self, root: Path, conf_text: str, layout: list[str]) -> None:
        self.root = root
        self.conf_text = conf_text
        self.layout = layout
        kept = {k: v for k, v in os.environ.items() if not k.startswith(("PIPEWIRE_", "PULSE_"))}
        kept.pop("DISPLAY", None)
        self.env = kept | {
            "XDG_RUNTIME_DIR": str(root / "run"),
            "PIPEWIRE_RUNTIME_DIR": str(root / "run"),
            "PIPEWIRE_CONFIG_DIR": str(root / "pipewire"),
            "WIREPLUMBER_CONFIG_DIR": str(root / "wireplumber"),
            "HOME": str(root / "home"),
            "XDG_CONFIG_HOME": str(root / "home" / ".config"),
            "XDG_STATE_HOME": str(root / "home" / ".state"),
            "DBUS_SESSION_BUS_ADDRESS": "disabled:",
            "PIPEWIRE_DEBUG": "W,mod.echo-cancel:I",
        }
        self.procs: list[subprocess.Popen[bytes]] = []

    def _write_config(self) -> None:
        conf = self.root / "pipewire"
        (conf / "pipewire.conf.d").mkdir(parents=True)
        layout = {"channels": len(self.layout), "positions": " ".join(self.layout)}
        (conf / "pipewire.conf").write_text(PIPEWIRE_CONF.format(**layout))
        (conf / "client.conf").write_text(CLIENT_CONF)
        (conf / "client-rt.conf").write_text(CLIENT_CONF)
        (conf / "pipewire.conf.d" / "60-diemcau-echo-cancel.conf").write_text(self.conf_text)
        wp, data = self.root / "wireplumber", wireplumber_data_dir()
        (wp / "main.lua.d").mkdir(parents=True)
        (wp / "wireplumber.conf").write_text(WIREPLUMBER_CONF)
        for name in WIREPLUMBER_MAIN:
            shutil.copy(data / "main.lua.d" / name, wp / "main.lua.d" / name)
        (wp / "main.lua.d" / "90-enable-all.lua").write_text(WIREPLUMBER_ENABLE)
        shutil.copytree(data / "policy.lua.d", wp / "policy.lua.d")
        for sub in ("run", "home"):
            (self.root / sub).mkdir(mode=0o700)

    def spawn(self, argv: list[str], log: str) -> subprocess.Popen[bytes]:
        with open(self.root / log, "wb") as out:
            proc = subprocess.Popen(
                argv, env=self.env, stdin=subprocess.DEVNULL, stdout=out,
                stderr=subprocess.STDOUT, preexec_fn=_die_with_parent,
            )  # fmt: skip
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        self._write_config()
        pipewire = self.spawn(["pipewire"], "pipewire.log")
        _wait(
            lambda: (self.root / "run" / "pipewire-0").exists(),
            10,
            lambda: "pipewire did not start (its log follows)",
            pipewire,
        )
        self.spawn(["wireplumber"], "wireplumber.log")

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        self.procs.clear()

    def cpu_seconds(self) -> float:
        """CPU time used so far by the pipewire daemon (it runs the echo canceller)."""
        stat = Path(f"/proc/{self.procs[0].pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")

    def run(self, argv: list[str]) -> str:
        done = subprocess.run(argv, env=self.env, capture_output=True, timeout=10)
        if done.returncode != 0:
            raise CheckError(f"{' '.join(argv)} failed: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode()

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.root / name
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def log_errors(self) -> str:
        text = (self.root / "pipewire.log").read_text(errors="replace")
        return "\n".join(line for line in text.splitlines() if line.startswith("[E]"))


# --- the graph ---------------------------------------------------------------------------------


class Graph:
    """One pw-dump snapshot, by node name."""

    def __init__(self, objects: list[Json]) -> None:
        self.nodes = {o["info"]["props"].get("node.name"): o for o in objects if _is(o, "Node")}
        self.port_objs = [o for o in objects if _is(o, "Port")]
        self.links = [o["info"] for o in objects if _is(o, "Link")]

    @classmethod
    def of(cls, daemon: PrivateDaemon) -> Graph:
        return cls(json.loads(daemon.run(["pw-dump"]) or "[]"))

    def node_id(self, name: str) -> int | None:
        node = self.nodes.get(name)
        return None if node is None else int(node["id"])

    def ports(self, name: str, direction: str, monitor: bool = False) -> list[int]:
        """Port ids of node *name*, "in" or "out", in channel order."""
        node_id, found = self.node_id(name), []
        for port in self.port_objs:
            props = port["info"]["props"]
            if (
                props.get("node.id") == node_id
                and props.get("port.direction") == direction
                and bool(props.get("port.monitor", False)) == monitor
            ):
                found.append((props.get("port.id", 0), int(port["id"])))
        return [port_id for _, port_id in sorted(found)]

    def link_count(self, out_node: str, in_node: str) -> int:
        ends = (self.node_id(out_node), self.node_id(in_node))
        return sum((li["output-node-id"], li["input-node-id"]) == ends for li in self.links)

    def props(self, name: str) -> Json:
        return dict(self.nodes[name]["info"]["props"])

    def format(self, name: str) -> Json:
        params = self.nodes[name]["info"].get("params", {})
        return dict((params.get("EnumFormat") or params.get("Format") or [{}])[0])


def _is(obj: Json, kind: str) -> bool:
    return str(obj.get("type", "")).endswith(f":{kind}")


def wait_for(daemon: PrivateDaemon, ready: Callable[[Graph], bool], why: str) -> Graph:
    graph = Graph([])

    def check() -> bool:
        nonlocal graph
        graph = Graph.of(daemon)
        return ready(graph)

    _wait(check, 10, lambda: why)
    return graph


def wait_for_module(daemon: PrivateDaemon, mics: int) -> Graph:
    """The module made its nodes and WirePlumber linked its streams to the null devices."""

    def ready(g: Graph) -> bool:
        return (
            g.link_count("fake_array", CAPTURE) == mics
            and g.link_count(PLAYBACK, "fake_speakers") >= 2
            and bool(g.ports(SOURCE, "out") and g.ports(SINK, "in"))
        )

    try:
        return wait_for(daemon, ready, "")
    except CheckError:
        graph = Graph.of(daemon)
        missing = [n for n in (SOURCE, SINK, CAPTURE, PLAYBACK) if n not in graph.nodes]
        errors = daemon.log_errors()
        raise CheckError(
            (f"nodes missing: {', '.join(missing)}; " if missing else "")
            + "the echo-cancel streams were not linked to the null devices within 10 s"
            + (f"\nPipeWire errors:\n{errors}" if errors else "")
            + f"\nwireplumber log:\n{daemon.log_tail('wireplumber.log', 10)}"
        ) from None


def check_nodes(graph: Graph, mics: int) -> None:
    """Classes, channels and rate of the two nodes the kiosk uses."""
    source, sink = graph.format(SOURCE), graph.format(SINK)
    metric("aec.source_channels", source.get("channels"), "ch")
    metric("aec.source_rate", source.get("rate"), "Hz")
    metric("aec.sink_channels", sink.get("channels"), "ch")
    classes = (graph.props(SOURCE).get("media.class"), graph.props(SINK).get("media.class"))
    if classes != ("Audio/Source", "Audio/Sink"):
        raise CheckError(f"media classes of {SOURCE}, {SINK}: {classes}")
    if source.get("channels") != mics or source.get("rate") != RATE:
        raise CheckError(
            f"{SOURCE} runs {source.get('channels')} channels at {source.get('rate')} Hz, "
            f"want {mics} at {RATE}"
        )
    if int(sink.get("channels") or 0) < 2:
        raise CheckError(f"{SINK} runs {sink.get('channels')} channels, want at least 2")
    for name, fmt in ((SOURCE, source), (SINK, sink)):
        said = graph.props(name).get("audio.channels")
        if said is not None and int(said) != fmt.get("channels"):
            raise CheckError(
                f"{name} announces audio.channels = {said} but runs {fmt.get('channels')}: "
                "PipeWire before 0.3.69 gives all four streams the module's audio.channels "
                "and ignores a per-stream channel count"
            )


# --- the run -----------------------------------------------------------------------------------


def _aux(n: int) -> str:
    return ",".join(f"AUX{i}" for i in range(n))


def _link(daemon: PrivateDaemon, outputs: list[int], inputs: list[int]) -> None:
    for out_port, in_port in zip(outputs, inputs, strict=True):
        daemon.run(["pw-link", str(out_port), str(in_port)])


def _ports_of(daemon: PrivateDaemon, stream: str, direction: str, count: int) -> Graph:
    return wait_for(
        daemon,
        lambda g: len(g.ports(stream, direction)) == count,
        f"{stream} did not get its {count} ports within 10 s",
    )


def play_and_record(daemon: PrivateDaemon, scene: Scenario) -> np.ndarray:
    """Play the scenario through the graph and return what the recorder took.

    Player: far end to the sink's first two channels, the mics to fake_array. Recorder:
    diemcau_aec_source, fake_array (the canceller's input), fake_speakers' monitor.
    """
    mics, play_wav, rec_wav = scene.mics, daemon.root / "play.wav", daemon.root / "rec.wav"
    write_wav(play_wav, np.column_stack([scene.far, scene.far, scene.mic]))
    width = 2 * mics + 2
    recorder = daemon.spawn(
        ["pw-record", "--target", "0", "--rate", str(RATE), "--channels", str(width),
         "--channel-map", _aux(width), "--format", "f32", "-P", f"{{ node.name = {RECORDER} }}",
         str(rec_wav)], "pw-record.log",
    )  # fmt: skip
    g = _ports_of(daemon, RECORDER, "in", width)
    # A virtual source's outputs are the monitor ports of what is played into it.
    sources = g.ports(SOURCE, "out") + g.ports("fake_array", "out", monitor=True)
    _link(daemon, sources + g.ports("fake_speakers", "out", monitor=True), g.ports(RECORDER, "in"))
    player = daemon.spawn(
        ["pw-play", "--target", "0", "--channel-map", _aux(mics + 2),
         "-P", f"{{ node.name = {PLAYER} }}", str(play_wav)], "pw-play.log",
    )  # fmt: skip
    g = _ports_of(daemon, PLAYER, "out", mics + 2)
    _link(daemon, g.ports(PLAYER, "out"), g.ports(SINK, "in")[:2] + g.ports("fake_array", "in"))
    try:
        player.wait(timeout=TOTAL + 10)
    except subprocess.TimeoutExpired:
        raise CheckError("the test signal did not finish playing: is the graph running?") from None
    if player.returncode != 0:
        raise CheckError(f"pw-play failed:\n{daemon.log_tail('pw-play.log')}")
    time.sleep(0.3)
    recorder.send_signal(signal.SIGINT)
    recorder.wait(timeout=5)
    return read_wav(rec_wav)


def metric(name: str, value: object, unit: str = "") -> None:
    shown = f"{value:.1f}" if isinstance(value, float) else str(value)
    print(f"{name}: {shown} {unit}".rstrip(), flush=True)


def report(res: Results, cpu: float) -> None:
    metric("aec.erle", res.erle, "dB")
    metric("aec.erle_first_second", res.erle_first_second, "dB")
    metric("aec.near_passthrough", res.near_passthrough, "dB")
    metric("aec.doubletalk_near", res.doubletalk_near, "dB")
    metric("aec.noise_passthrough", res.noise_passthrough, "dB")
    metric("aec.forward_gain", res.forward_gain, "dB")
    metric("aec.latency", res.latency_ms, "ms")
    metric("aec.lag_error_near", res.lag_error_near, "samples")
    metric("aec.lag_error_doubletalk", res.lag_error_doubletalk, "samples")
    metric("aec.daemon_cpu", cpu, "% of a core")
    metric("check.skipped_blocks", res.skipped_blocks)


def judge(res: Results, min_erle: float, min_near: float) -> list[str]:
    failures = []
    if res.erle < min_erle:
        failures.append(f"echo return loss enhancement {res.erle:.1f} dB < {min_erle:.1f} dB")
    if not min_near <= res.near_passthrough <= 3.0:
        failures.append(
            f"near-end talker passes at {res.near_passthrough:.1f} dB, want {min_near:.1f}..3 dB"
        )
    if res.noise_passthrough < -3.0:
        failures.append(
            f"the array's noise floor comes out {-res.noise_passthrough:.1f} dB lower: noise "
            "suppression is on (webrtc.noise_suppression), but the gate tracks the noise itself"
        )
    if abs(res.forward_gain) > 1.0:
        failures.append(
            f"the far end reaches the loudspeakers at {res.forward_gain:.1f} dB, want 0"
        )
    return failures


def check(conf_path: Path, root: Path, min_erle: float, min_near: float) -> None:
    """All the checks; raises CheckError at the first that fails."""
    conf_text = conf_path.read_text()
    args = module_args(conf_text)
    problems = unknown_keys(args)
    metric("conf.unknown_keys", len(problems))
    if problems:
        raise CheckError("; ".join(problems))
    layout = array_layout(args)
    daemon = PrivateDaemon(root, pointed_at_null_devices(conf_text), layout)
    try:
        daemon.start()
        scene = scenario(len(layout))
        check_nodes(wait_for_module(daemon, len(layout)), len(layout))
        log = (root / "pipewire.log").read_text(errors="replace")
        if daemon.log_errors() or "Using plugin AEC" not in log:
            raise CheckError("the module did not load its AEC plugin cleanly")
        cpu_before, wall_before = daemon.cpu_seconds(), time.monotonic()
        rec = play_and_record(daemon, scene)
        cpu = (daemon.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before) * 100
        res = analyse(rec, scene)
        report(res, cpu)
        errors = daemon.log_errors()
        if errors:
            raise CheckError(f"PipeWire logged errors during the run:\n{errors}")
        failures = judge(res, min_erle, min_near)
        if failures:
            raise CheckError("; ".join(failures))
    except CheckError as err:
        raise CheckError(
            f"{err}\npipewire log (tail):\n{daemon.log_tail('pipewire.log')}"
        ) from None
    finally:
        daemon.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--conf", type=Path, default=DEFAULT_CONF, help="drop-in to check")
    parser.add_argument("--min-erle", type=float, default=20.0, help="dB (default 20)")
    parser.add_argument(
        "--min-near", type=float, default=-3.0, help="lowest near-end pass-through, dB (-3)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the logs and recordings")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the clean-up
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        print(
            f"FAIL: not installed: {', '.join(missing)} (apt install {PACKAGES})", file=sys.stderr
        )
        return 2
    root = Path(tempfile.mkdtemp(prefix="diemcau-pw-check-"))
    try:
        check(args.conf, root, args.min_erle, args.min_near)
    except CheckError as err:
        print(f"FAIL: {err}", file=sys.stderr)
        return 1
    finally:
        if args.keep:
            print(f"logs and recordings kept in {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
    metric("aec.check", "ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The echo-cancel drop-in's text: parsed with PipeWire's own reader, its option names checked
against the installed module and AEC plugin (a misspelt key is silently ignored by PipeWire), its
array layout, and its stream targets pointed at the check's null devices."""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from echo_signals import CheckError

MODULE = "libpipewire-module-echo-cancel"

Json = dict[str, Any]


def parse_conf(text: str) -> Json:
    """The drop-in as PipeWire's own parser reads it (spa-json-dump, from pipewire-bin)."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf") as conf:
        conf.write(text)
        conf.flush()
        done = subprocess.run(["spa-json-dump", conf.name], capture_output=True, text=True)
    try:
        parsed = json.loads(done.stdout)
    except json.JSONDecodeError:
        parsed = None
    if done.returncode != 0 or not isinstance(parsed, dict):
        raise CheckError(f"spa-json-dump cannot read the drop-in: {done.stderr.strip()}")
    return parsed


def module_args(conf_text: str) -> Json:
    for module in parse_conf(conf_text).get("context.modules", []):
        if isinstance(module, dict) and module.get("name") == MODULE:
            return dict(module.get("args", {}))
    raise CheckError(f"the drop-in does not load {MODULE}")


def _library(relative: str, package: str) -> bytes:
    """A library under /usr/lib/<multiarch>/ (Debian) or /usr/lib{,64}/."""
    for pattern in (f"lib/*/{relative}", f"lib*/{relative}"):
        for path in sorted(Path("/usr").glob(pattern)):
            return path.read_bytes()
    raise CheckError(f"/usr/lib/*/{relative} not found (is {package} installed?)")


def _names(binary: bytes, prefix: str = "") -> set[str]:
    """Dotted option names compiled into a library: what it can look up."""
    found = {n.decode() for n in re.findall(rb"[a-z][a-z0-9_-]*(?:\.[a-z0-9_-]+)+", binary)}
    return {n for n in found if n.startswith(prefix)}


def _unknown(key: str, known: set[str], what: str) -> str:
    close = difflib.get_close_matches(key, sorted(known), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{what} '{key}' is not read by this PipeWire{hint}"


def unknown_keys(args: Json) -> list[str]:
    """Module arguments and aec.args keys that the installed PipeWire never looks up."""
    module = _library(f"pipewire-0.3/{MODULE}.so", "libpipewire-0.3-modules")
    known = _names(module)
    problems = [_unknown(key, known, "module argument") for key in args if key not in known]
    plugin = str(args.get("library.name", "aec/libspa-aec-webrtc"))
    known_aec = _names(_library(f"spa-0.2/{plugin}.so", "libspa-0.2-modules"), "webrtc.")
    aec_args = args.get("aec.args", {})
    for key in aec_args if isinstance(aec_args, dict) else []:
        if key not in known_aec:
            problems.append(_unknown(key, known_aec, "aec.args key"))
    return problems


def array_layout(args: Json) -> list[str]:
    """The array's channel positions as the module uses them (a position list wins)."""
    channels = int(args.get("audio.channels", 0) or 0)
    positions = args.get("audio.position")
    if isinstance(positions, str):
        positions = positions.replace(",", " ").split()
    if positions:
        return [str(p) for p in positions]
    if channels:
        return [f"AUX{i}" for i in range(channels)]
    raise CheckError("the drop-in sets neither audio.channels nor audio.position for the array")


TARGET_LINE = re.compile(r"^\s*#?\s*(target\.object|node\.target)\s*=.*\n?", re.MULTILINE)


def pointed_at_null_devices(conf: str) -> str:
    """The drop-in with its stream targets replaced by the null devices."""
    conf = TARGET_LINE.sub("", conf)
    for block, target in (("capture.props", "fake_array"), ("playback.props", "fake_speakers")):
        opening = re.search(rf"^(\s*){re.escape(block)}\s*=\s*\{{[^\n]*\n", conf, re.MULTILINE)
        if opening is None:
            raise CheckError(f"the drop-in has no '{block} = {{' block to point at {target}")
        line = f'{opening.group(1)}    target.object = "{target}"\n'
        conf = conf[: opening.end()] + line + conf[opening.end() :]
    return conf

"""The technician's choice of camera, microphone and speaker, kept across restarts.

A small record in the state folder (``devices.json``, written atomically, mode 0600) names
the devices chosen in the technician area; at start it is laid over the configuration's
[camera], [microphone] and [speaker] ``device``.  A kind not named follows the configuration
(choosing the configured device, or «back to the configuration», removes it).  A damaged
record is reported in the log and ignored.

The record also keeps, per kind, the configured device the choice was made over (``over``).
When the installer later edits that device in the configuration file, the edit is the newer
decision: the configuration's device is used and the old choice is logged and left out. (A
record written before ``over`` existed keeps its choice.)
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from kiosk import _config_fields as f
from kiosk import state
from kiosk.config import Config

log = logging.getLogger(__name__)

RECORD = "devices.json"
OVER = "over"  # per kind: the configured device the choice was made over
KINDS = {"camera": f.camera_device, "microphone": f.audio_device, "speaker": f.audio_device}

Choice = dict[str, str]


def _choice_from(data: dict[str, Any]) -> tuple[Choice, Choice]:
    """(the chosen devices, the configured ones they were chosen over) of a record."""
    over = data.get(OVER, {})
    if not isinstance(over, dict) or not all(isinstance(v, str) for v in over.values()):
        raise ValueError(f"{OVER!r} is not a table of device names")
    chosen = {key: value for key, value in data.items() if key not in ("version", OVER)}
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown device kind {unknown[0]!r}")
    ctx = f.Context(Path("/"))
    try:
        return {kind: KINDS[kind](name, ctx) for kind, name in chosen.items()}, dict(over)
    except f.Invalid as err:
        raise ValueError(err.rule) from err


def load_choice(state_dir: Path, config: Config) -> Choice:
    """The saved choice still standing over ``config`` ({} when there is none, or it is
    damaged: then it is logged); a kind whose configured device was edited since is left out."""
    none: tuple[Choice, Choice] = ({}, {})
    chosen, over = state.load_record(state_dir, RECORD, _choice_from, none)
    configured = defaults(config)
    for kind in sorted(k for k in chosen if k in over and over[k] != configured[k]):
        log.warning(
            "the configuration's %s is now %r (was %r when %r was chosen in the technician "
            "area): the configuration's is used",
            kind, configured[kind], over[kind], chosen.pop(kind),
        )  # fmt: skip
    return chosen


def save_choice(choice: Choice, state_dir: Path, config: Config) -> bool:
    """Keep ``choice`` (only the kinds the technician chose) with the devices ``config`` names
    for them; False when it cannot be written."""
    configured = defaults(config)
    record = {**choice, OVER: {kind: configured[kind] for kind in choice}}
    return state.save_record(state_dir, RECORD, record)


def defaults(config: Config) -> Choice:
    """The devices the configuration names, by kind."""
    return {kind: getattr(config, kind).device for kind in KINDS}


def apply_choice(config: Config, choice: Choice) -> Config:
    """``config`` with the chosen devices in place of the configured ones."""
    changes = {
        kind: dataclasses.replace(getattr(config, kind), device=name)
        for kind, name in choice.items()
        if kind in KINDS
    }
    return dataclasses.replace(config, **changes)

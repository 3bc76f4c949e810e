"""The technician's choice of camera, microphone and speaker, kept across restarts.

A small record in the state folder (``devices.json``, written atomically, mode 0600) names
the devices chosen in the technician area; at start it is laid over the configuration's
[camera], [microphone] and [speaker] ``device``.  A kind not named follows the configuration
(choosing the configured device, or «back to the configuration», removes it).  A damaged
record is reported in the log and ignored.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from kiosk import _config_fields as f
from kiosk import state
from kiosk.config import Config

RECORD = "devices.json"
KINDS = {"camera": f.camera_device, "microphone": f.audio_device, "speaker": f.audio_device}

Choice = dict[str, str]


def _choice_from(data: dict[str, Any]) -> Choice:
    chosen = {key: value for key, value in data.items() if key != "version"}
    unknown = sorted(set(chosen) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown device kind {unknown[0]!r}")
    ctx = f.Context(Path("/"))
    try:
        return {kind: KINDS[kind](name, ctx) for kind, name in chosen.items()}
    except f.Invalid as err:
        raise ValueError(err.rule) from err


def load_choice(state_dir: Path) -> Choice:
    """The saved choice ({} when there is none, or it is damaged: then it is logged)."""
    return state.load_record(state_dir, RECORD, _choice_from, {})


def save_choice(choice: Choice, state_dir: Path) -> bool:
    """Keep ``choice`` (only the kinds the technician chose); False when it cannot be written."""
    return state.save_record(state_dir, RECORD, dict(choice))


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

"""``diemcau check-config``: validate a configuration file exactly as ``diemcau run`` will."""

from __future__ import annotations

import sys
from typing import TextIO

from kiosk.config import DEFAULT_CONFIG_PATH, Config, ConfigError, load_config

__all__ = ["check_config_command"]


def _voice_summary(config: Config) -> str:
    voice = config.voice
    if config.voice_issues:
        return "off: [voice] has problems (listed above)"
    if not voice.enabled:
        return "off"
    return f"{voice.mics} microphones, {len(voice.zones)} seating zones"


def _summary(config: Config) -> list[str]:
    hub, cam = config.hub, config.camera
    return [
        f"  site        {config.site.name}",
        f"  hub         {hub.url}  room {hub.room}",
        f"  room PIN    {f'from {hub.pin_file}' if hub.pin_file else 'none'}",
        f"  token       {f'from {hub.token_file}' if hub.token_file else 'none'}",
        f"  camera      {cam.device} {cam.width}x{cam.height} @ {cam.fps} fps",
        f"  microphone  {config.microphone.device}",
        f"  speaker     {config.speaker.device}, volume {config.speaker.volume}%",
        f"  voice       {_voice_summary(config)}",
        f"  schedule    {len(config.schedule.meetings)} meetings",
    ]


def _problems(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''}"


def check_config_command(path: str = DEFAULT_CONFIG_PATH, out: TextIO = sys.stdout) -> int:
    """``diemcau check-config``: print OK and a summary (exit 0) or every problem (exit 2).

    Problems only in [voice] still exit 2, but the output says the room would run (and join
    its meetings) with voice off, and shows the summary of what would run.
    """
    try:
        config = load_config(path)
    except ConfigError as err:
        print(err, file=out)
        print(f"{_problems(len(err.issues))}: {path} is not valid", file=out)
        return 2
    issues = config.voice_issues + config.schedule_issues
    if issues:
        print(ConfigError(issues, path), file=out)
        print(f"{_problems(len(issues))}: {path} is not valid", file=out)
        print(_still_runs(config), file=out)
    else:
        print(f"OK: {path} is valid", file=out)
    print("\n".join(_summary(config)), file=out)
    return 2 if issues else 0


def _still_runs(config: Config) -> str:
    left_out = ["voice off"] if config.voice_issues else []
    left_out += ["the broken scheduled meetings left out"] if config.schedule_issues else []
    return f"The room would still run and join meetings, with {' and '.join(left_out)}:"

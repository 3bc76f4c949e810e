"""The ``diemcau`` command: run the kiosk, run the demo, check a configuration."""

from __future__ import annotations

import argparse
import logging
import sys
from importlib import metadata

from kiosk.check import check_config_command
from kiosk.config import DEFAULT_CONFIG_PATH


def _version() -> str:
    try:
        return metadata.version("diemcau")
    except metadata.PackageNotFoundError:
        return "unknown"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="diemcau", description="Commune meeting-room endpoint.")
    top.add_argument("--version", action="version", version=f"diemcau {_version()}")
    top.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the kiosk app")
    run.add_argument("--config", default=DEFAULT_CONFIG_PATH, help="TOML configuration file")
    run.add_argument("--windowed", action="store_true", help="not full screen (for set-up)")
    demo = sub.add_parser("demo", help="local hub + synthetic far-end commune + this kiosk")
    demo.add_argument("--headless", action="store_true", help="no window: run offscreen")
    demo.add_argument("--seconds", type=float, default=None, help="stop after N seconds")
    demo.add_argument("--screenshot", metavar="FILE.png", help="save the meeting screen")
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("file", nargs="?", default=DEFAULT_CONFIG_PATH)
    test = sub.add_parser("selftest", help="test camera, microphones, speakers, network, disk")
    test.add_argument("--config", default=DEFAULT_CONFIG_PATH, help="TOML configuration file")
    test.add_argument("--json", metavar="FILE", help="write the JSON report here")
    test.add_argument("--html", metavar="FILE", help="write the HTML report here")
    test.add_argument("--demo", action="store_true", help="the synthetic kit + a local hub")
    render = sub.add_parser("render-layouts", help="the TV and panel at 1-25 rooms, as PNG")
    render.add_argument("--out", default="layouts", help="folder for the PNG files")
    pin = sub.add_parser("set-pin", help="set the technician area's PIN (stored hashed, 0600)")
    pin.add_argument("--file", default="/var/lib/diemcau/technician.pin", help="the PIN file")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("aioice", "aiortc", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.command == "check-config":
        return check_config_command(args.file)
    if args.command == "set-pin":
        from kiosk.pin import set_pin_command

        return set_pin_command(args.file)
    if args.command == "selftest":
        from kiosk.selftest_cli import selftest_command

        return selftest_command(args.config, args.json, args.html, args.demo)
    if args.command == "render-layouts":
        from kiosk.render import render_command

        return render_command(args.out)
    if args.command == "demo":
        from kiosk.demo import demo

        return demo(args.headless, args.seconds, args.screenshot)
    from kiosk.run import run

    return run(args.config, full_screen=not args.windowed)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Set up (see setup.sh), check style and types, then run the whole test suite inside a
# private network namespace with a real Janus hub and a real audio server.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy devices endpoint kiosk ui
# the .deb's dependency venv needs the package index: build it (cached) before the namespace
bash packaging/build-deb.sh --deps >/dev/null
exec .venv/bin/python -m kiosk.netns .venv/bin/python -m pytest -q "$@"

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
if [ "$#" -gt 0 ]; then
    exec .venv/bin/python -m kiosk.netns .venv/bin/python -m pytest -q "$@"
fi
# The UI tests in a process of their own: twice, after ~800 tests in one process, Qt spun in
# its own event loop during a UI test (memory growing, no Python frame; cause not found).
.venv/bin/python -m kiosk.netns .venv/bin/python -m pytest -q --ignore=tests/ui
exec .venv/bin/python -m kiosk.netns .venv/bin/python -m pytest -q tests/ui

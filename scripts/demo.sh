#!/usr/bin/env bash
# Set up (see setup.sh), then run the demo: a local hub, a synthetic far-end commune and
# this kiosk, joined. Without a display it runs offscreen and saves a screenshot.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ $# -eq 0 ] && [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  set -- --headless --seconds 10 --screenshot meeting-screen.png
fi
exec .venv/bin/diemcau demo "$@"

#!/usr/bin/env bash
# Validate 60-diemcau-echo-cancel.conf (or --conf FILE) against the installed PipeWire, in a
# private daemon with null devices: option names, the two nodes, echo reduction, near-end
# pass-through, forwarding to the loudspeakers. Leaves the running audio servers alone.
# Prints "metric: value unit" lines; exits 1 with the reason on stderr when a check fails,
# 2 when something is not installed. See README.md. Options: --conf FILE --min-erle DB
# --min-near DB --keep (keep logs and recordings).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-}"
if [ -z "$python" ]; then
  python=python3
  [ -x "$here/../../.venv/bin/python" ] && python="$here/../../.venv/bin/python"
fi
if ! "$python" -c "import numpy" 2>/dev/null; then
  echo "FAIL: $python has no numpy (apt install python3-numpy)" >&2
  exit 2
fi
exec "$python" "$here/check_echo_cancel.py" "$@"

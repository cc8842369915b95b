#!/usr/bin/env bash
# GPU reference run of the whole zoo (see scripts/gpu_reference.py); extra arguments pass on.
# Usage: scripts/gpu_reference.sh [--dry-run] [--out FILE] [--models PATTERN] [--store PATH]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
python="${PYTHON:-$here/../.venv/bin/python}"
[ -x "$python" ] || python=python3
exec "$python" "$here/gpu_reference.py" "$@"

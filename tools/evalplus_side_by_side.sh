#!/usr/bin/env bash
# Runs tools/evalplus_side_by_side.py with the reference venv's python
# (${QROBUST_VENV:-tools/.venv}, made by tools/setup-venv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exec "${QROBUST_VENV:-tools/.venv}/bin/python" tools/evalplus_side_by_side.py "$@"

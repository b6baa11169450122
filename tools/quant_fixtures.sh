#!/usr/bin/env bash
# Regenerates tests/fixtures/quant/ with the real bitsandbytes (CPU backend).
# Uses the venv from tools/setup-venv.sh, or $QROBUST_VENV.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${QROBUST_VENV:-tools/.venv}/bin/python"
exec "$PY" tools/quant_fixtures.py "$@"

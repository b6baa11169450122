#!/usr/bin/env bash
# Regenerates tests/fixtures/mbart with transformers (see the .py file).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${QROBUST_VENV:-tools/.venv}/bin/python"
[ -x "$PY" ] || { echo "no python at $PY: run tools/setup-venv.sh or set QROBUST_VENV" >&2; exit 2; }
exec "$PY" tools/make_mbart_fixtures.py

#!/bin/sh
# Rewrites tests/fixtures/tok/ (tokenizer reference ids) with the Hugging Face
# libraries of the venv made by tools/setup-venv.sh (or QROBUST_VENV).
# Needs ../shared (datasets, tokenizer files). Run from the repository root.
set -e
PY="${QROBUST_VENV:-tools/.venv}/bin/python"
exec nice -n 10 "$PY" tools/tok_reference.py --shared "${QROBUST_SHARED:-../shared}" --out tests/fixtures/tok "$@"

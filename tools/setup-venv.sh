#!/usr/bin/env bash
# Creates tools/.venv with the reference libraries used to WRITE test fixtures
# and to run side-by-side comparisons. Never needed to build or test qrobust.
set -euo pipefail
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --upgrade pip
.venv/bin/pip install torch transformers tokenizers safetensors sentencepiece protobuf numpy bitsandbytes "accelerate>=1.1.0" evalplus nltk

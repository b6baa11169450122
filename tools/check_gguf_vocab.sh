#!/bin/sh
# Acceptance check: for every text of ../shared/tokenizers/gguf-vocab/*.inp,
# `qrobust tokenize` with the matching vocabulary GGUF prints exactly the
# corresponding line of the .out file (llama.cpp's reference ids).
#   tools/check_gguf_vocab.sh [DIR] [QROBUST]      (run from the repository root)
DIR="${1:-../shared/tokenizers/gguf-vocab}"
QR="${2:-./qrobust}"
exec python3 - "$DIR" "$QR" <<'PY'
import glob, os, subprocess, sys
d, qr = sys.argv[1], sys.argv[2]
total = bad = 0
for inp in sorted(glob.glob(os.path.join(d, "*.gguf.inp"))):
    gguf = inp[:-4]
    texts = open(inp, encoding="utf-8", newline="").read().split("\n__ggml_vocab_test__\n")[:-1]
    outs = open(gguf + ".out", encoding="utf-8").read().split("\n")
    nb = 0
    for i, t in enumerate(texts):
        r = subprocess.run([qr, "tokenize", "--tokenizer", gguf, "--file", "-"], input=t.encode(), capture_output=True)
        if r.returncode != 0 or r.stdout.decode().strip() != outs[i].strip():
            nb += 1
            print("MISMATCH %s text %d %r\n  want %s\n  got  %s %s" % (os.path.basename(gguf), i, t[:50], outs[i][:100],
                  r.stdout.decode().strip()[:100], r.stderr.decode().strip()))
    total += len(texts)
    bad += nb
    print("%-36s %3d texts, %d differ" % (os.path.basename(gguf), len(texts), nb))
print("TOTAL %d texts, %d differ" % (total, bad))
sys.exit(1 if bad or not total else 0)
PY

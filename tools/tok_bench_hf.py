#!/usr/bin/env python3
"""Side-by-side with bench/bench_tok.c: Hugging Face `tokenizers` load time
and single-threaded encode throughput over the same HumanEval + MBPP+ prompts
(CPU time of the process; each pass starts from a freshly loaded tokenizer, so
its word cache is cold, as in bench_tok). Run from the repository root:
  RAYON_NUM_THREADS=1 <venv>/bin/python tools/tok_bench_hf.py"""
import gzip
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
from tokenizers import Tokenizer

FX = "tests/fixtures/tok/"
rows = json.load(gzip.open(FX + "corpus.json.gz"))
prompts = [r["text"] for r in rows if "text" in r and r["id"].endswith("/prompt")]
nbytes = sum(len(p.encode()) for p in prompts)
secs = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
print("prompts: %d, %.1f KB; HF tokenizers, 1 thread, CPU time" % (len(prompts), nbytes / 1e3))
for name in ("llama3", "qwen3", "deepseek_v3", "mistral-7b", "codegen", "starcoder2", "deepseek-coder"):
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(gzip.open(FX + "hf/%s/tokenizer.json.gz" % name).read())
        f.flush()
        best = 1e9
        for _ in range(3):
            c0 = time.process_time()
            tk = Tokenizer.from_file(f.name)
            best = min(best, time.process_time() - c0)
        done, el = 0, 0.0
        while el < secs:
            tk = Tokenizer.from_file(f.name)
            c0 = time.process_time()
            for p in prompts:
                tk.encode(p, add_special_tokens=False)
            el += time.process_time() - c0
            done += nbytes
    print("%-16s load %7.1f ms  encode %6.2f MB/s" % (name, best * 1e3, done / el / 1e6))

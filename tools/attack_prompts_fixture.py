#!/usr/bin/env python3
"""Copies the prompts of HumanEval (164) and MBPP+ v0.2.0 (378) into small fixtures.

tests/fixtures/attack/prompts_humaneval.jsonl.gz and prompts_mbppplus.jsonl.gz hold
task_id, prompt and entry_point only, byte for byte as in the benchmark files, so
that the attack tests run without ../shared. Licences: HumanEval MIT (openai/human-eval),
MBPP+ Apache-2.0 (evalplus/mbppplus_release, derived from MBPP, CC BY 4.0); see
tests/fixtures/attack/LICENSES.md.

usage: tools/attack_prompts_fixture.py [DATA_DIR]   (default ../shared/data)
"""
import gzip, json, os, sys

src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data")
out = os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures", "attack")
for name, fn in [("humaneval", "HumanEval.jsonl.gz"), ("mbppplus", "MbppPlus.jsonl.gz")]:
    rows = []
    with gzip.open(os.path.join(src, fn), "rt") as f:
        for line in f:
            d = json.loads(line)
            rows.append(json.dumps({k: d[k] for k in ("task_id", "prompt", "entry_point")}, ensure_ascii=False))
    path = os.path.join(out, "prompts_%s.jsonl.gz" % name)
    with gzip.GzipFile(path, "wb", mtime=0) as f:
        f.write(("\n".join(rows) + "\n").encode())
    print("wrote %d prompts to %s" % (len(rows), os.path.normpath(path)))

#!/usr/bin/env python3
"""Writes the small dataset files under tests/fixtures/eval/ that the eval
tests run on (a few real tasks, plus inputs trimmed), from the project's own
copies in data/. Plain python3 (json, gzip) is enough; run from the repo root:
    python3 tools/make_eval_fixtures.py
"""
import gzip
import json
import os

OUT = "tests/fixtures/eval"


def load(name):
    with gzip.open(os.path.join("data", name), "rt") as f:
        return [json.loads(l) for l in f if l.strip()]


def write(name, rows):
    with open(os.path.join(OUT, name), "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


def pick(rows, ids, key="task_id", trim=30):
    out = []
    for r in rows:
        if r[key] in ids:
            if "plus_input" in r and isinstance(r["plus_input"], list):
                r["plus_input"] = r["plus_input"][:trim]
            out.append(r)
    assert len(out) == len(ids), ids
    return out


os.makedirs(OUT, exist_ok=True)
# HumanEval+: plain, floats with atol, the find_zero oracle, big ints
write("heplus.jsonl", pick(load("HumanEvalPlus.jsonl.gz"), ["HumanEval/0", "HumanEval/2", "HumanEval/32", "HumanEval/53"]))
# MBPP+: set-equality oracle, complex inputs, plain, not-None oracle
write("mbppplus.jsonl", pick(load("MbppPlus.jsonl.gz"), ["Mbpp/2", "Mbpp/124", "Mbpp/3", "Mbpp/787"]))
write("humaneval.jsonl", pick(load("HumanEval.jsonl.gz"), ["HumanEval/0", "HumanEval/2"]))
write("mbpp.jsonl", pick(load("mbpp.jsonl.gz"), [11, 12]))

#!/usr/bin/env python3
"""Prints what EvalPlus v0.3.1's codegen writes as the judged "solution" for a
hand-written base-model output of HumanEval/0 and Mbpp/2 (the expected values
of test_evalplus_postprocess in tests/test_run.c):
    prompt = task["prompt"].strip() + "\\n"                 # codegen.py:80
    impl   = output[:first EOS].replace("\\t", "    ")      # provider/hf.py:97-104
    sanitize(prompt + impl, entrypoint=task["entry_point"])  # codegen.py:88-91
with EvalPlus's own sanitize (tree-sitter).
    QROBUST_VENV=/work/venv; $QROBUST_VENV/bin/python tools/make_postprocess_cases.py
"""
import json

from evalplus.provider.utility import EOS, extra_eos_for_direct_completion
from evalplus.sanitize import sanitize

# The model outputs, as in tests/test_run.c.
CASES = [
    ("tests/fixtures/eval/heplus.jsonl", "HumanEval/0", "humaneval",
     "\tfor i, a in enumerate(numbers):\n\t\tfor b in numbers[i + 1:]:\n\t\t\tif abs(a - b) < threshold:\n"
     "\t\t\t\treturn True\n\treturn False\n\n\nUNUSED = 3\n\nif __name__ == \"__main__\":\n"
     "    print(has_close_elements([1.0, 2.0], 0.5))\n"),
    ("tests/fixtures/eval/mbppplus.jsonl", "Mbpp/2", "mbpp",
     "import math\n\ndef similar_elements(test_tup1, test_tup2):\n\treturn tuple(set(test_tup1) & _as_set(test_tup2))\n\n"
     "def _as_set(t):\n    return set(t)\n\ndef unused_helper():\n    return math.pi\n\n"
     "assert set(similar_elements((3, 4, 5, 6),(5, 7, 4, 10))) == set((4, 5))\n"),
]

for path, task_id, dataset, output in CASES:
    task = next(t for t in map(json.loads, open(path)) if t["task_id"] == task_id)
    eos = EOS + extra_eos_for_direct_completion(dataset)
    min_index = 10000
    for s in eos:
        if s in output:
            min_index = min(min_index, output.index(s))
    impl = output[:min_index].replace("\t", "    ")
    prompt = task["prompt"].strip() + "\n"
    print(json.dumps({"task_id": task_id, "completion": impl, "solution": sanitize(prompt + impl, entrypoint=task["entry_point"])}))

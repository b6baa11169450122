#!/usr/bin/env python3
"""Writes tests/fixtures/eval/sanitize.jsonl: texts a model might produce,
each with EvalPlus's own sanitize() result (tree-sitter based), which
qrobust's ast-based sanitizer must reproduce.
    QROBUST_VENV=/work/venv; $QROBUST_VENV/bin/python tools/make_sanitize_fixture.py
"""
import json

from evalplus.sanitize import sanitize

CASES = [
    ("def f(x):\n    return x + 1\n", "f"),
    ("Here is code:\n```python\nimport math\ndef f(x):\n    return g(x)\ndef g(x):\n    return x\ndef h():\n    return 1\nprint(f(2))\n```\nDone", "f"),
    ("import os\nfrom typing import List\n\ndef f(a: List[int]) -> int:\n    return sum(a)\n\nif __name__ == '__main__':\n    print(f([1]))\n", "f"),
    ("def f(x):\n    return x\n\nassert f(1) == 1\nassert f(2) == 2\n", "f"),
    ("LIMIT = 10\nOTHER = 3\ndef f(x):\n    return min(x, LIMIT)\n", "f"),
    ("class Node:\n    def __init__(self, v):\n        self.v = v\n\ndef f(x):\n    return Node(x).v\n", "f"),
    ("def f(x):\n    return helper(x) * 2\n\ndef helper(y):\n    return y + 1\n\ndef unused():\n    return 0\n", "f"),
    ("def f(x):\n    print(x)\n\ndef g(x):\n    return x\n", "g"),
    ("import functools\n@functools.lru_cache(None)\ndef fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\ndef f(n):\n    return fib(n)\n", "f"),
    ("def f(x):\n    return x\ndef f(x):\n    return x + 1\n", "f"),
    ("def f(x):\n    return x\n    this is not python\n", "f"),
    ("Sure! The answer:\n\ndef f(s):\n    return s[::-1]\n\nThis reverses the string.", "f"),
    ("```\ndef f(a, b):\n    return a * b\n```", "f"),
    ("def f(n):\n    total = 0\n    for i in range(n):\n        total += i\n    return total\n\n\n# test\nprint(f(3))", "f"),
    ("import re\nPAT = re.compile(r'a+')\ndef f(s):\n    return bool(PAT.match(s))\n", "f"),
    ("x = 1\ny: int = 2\na, b = 3, 4\ndef f():\n    return x + y + a\n", "f"),
    ("def g():\n    return 1\n", "f"),
    ("", "f"),
    ("just prose, no code at all", "f"),
    ("async def f(x):\n    return x\n", "f"),
    ('"""\nWrite a function.\nassert f(1) == 2\n"""\ndef f(x):\n    return x + 1\n', "f"),
    ("def f(x):\n\treturn x\n", "f"),
]

with open("tests/fixtures/eval/sanitize.jsonl", "w") as out:
    for text, entry in CASES:
        out.write(json.dumps({"text": text, "entry": entry, "expected": sanitize(text, entry)}) + "\n")
print("wrote %d cases" % len(CASES))

#!/usr/bin/env python3
"""Writes EvalPlus-style samples files of *wrong* solutions made by mutating
the canonical ones, for comparing qrobust's verdicts with EvalPlus's.

    python3 tools/make_mutants.py --dataset humaneval+ --per-task 2 --out mutants-he.jsonl
    python3 tools/make_mutants.py --dataset mbpp+ --per-task 1 --out mutants-mbpp.jsonl

Mutations (chosen with a fixed seed, applied to the entry point's body):
off-by-one on an integer constant, a flipped comparison, a swapped arithmetic
operator, a changed return value (None / str / negated), an exception raised
first, an infinite loop, an unbounded allocation. Some mutants stay correct
(equivalent mutants): that is fine, the comparison is about agreeing verdicts.
Every task gets --per-task samples (EvalPlus requires all tasks present), plus
optionally the canonical solution itself (--with-canonical).
Needs only python3 (ast); reads data/.
"""
import argparse
import ast
import gzip
import json
import random
import sys

FILES = {"humaneval+": "data/HumanEvalPlus.jsonl.gz", "mbpp+": "data/MbppPlus.jsonl.gz"}


class Mutator(ast.NodeTransformer):
    def __init__(self, kind, target, rng):
        self.kind, self.target, self.rng, self.count, self.done = kind, target, rng, 0, False

    def _hit(self):
        hit = self.count == self.target
        self.count += 1
        return hit and not self.done

    def visit_Constant(self, node):
        if self.kind == "const" and type(node.value) is int and self._hit():
            self.done = True
            return ast.copy_location(ast.Constant(node.value + 1), node)
        return node

    def visit_Compare(self, node):
        self.generic_visit(node)
        flip = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq}
        if self.kind == "compare" and type(node.ops[0]) in flip and self._hit():
            self.done = True
            node.ops[0] = flip[type(node.ops[0])]()
        return node

    def visit_BinOp(self, node):
        self.generic_visit(node)
        swap = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Add, ast.FloorDiv: ast.Mult, ast.Mod: ast.FloorDiv}
        if self.kind == "binop" and type(node.op) in swap and self._hit():
            self.done = True
            node.op = swap[type(node.op)]()
        return node

    def visit_Return(self, node):
        self.generic_visit(node)
        if self.kind.startswith("return") and node.value is not None and self._hit():
            self.done = True
            if self.kind == "return_none":
                node.value = ast.Constant(None)
            elif self.kind == "return_str":
                node.value = ast.Call(ast.Name("str", ast.Load()), [node.value], [])
            else:
                node.value = ast.UnaryOp(ast.Not(), node.value)
        return node


PREFIX = {
    "raise": "raise ValueError('mutant')",
    "loop": "while True:\n    pass",
    "alloc": "_x = [0] * (10 ** 11)",
}


def mutate(src, entry, kind, rng):
    tree = ast.parse(src)
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry), None)
    if fn is None:
        return None
    if kind in PREFIX:
        fn.body[0:0] = ast.parse(PREFIX[kind]).body
    else:
        m = Mutator(kind, 0, rng)
        m.visit(fn)  # count candidate sites
        if m.count == 0:
            return None
        m2 = Mutator(kind, rng.randrange(m.count), rng)
        m2.visit(fn)
        if not m2.done:
            return None
    ast.fix_missing_locations(tree)
    return ast.unparse(tree)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True, choices=sorted(FILES))
    ap.add_argument("--per-task", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--with-canonical", action="store_true")
    ap.add_argument("--slow-every", type=int, default=40, help="one in N tasks also gets a loop / alloc mutant")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    # subtle mutations first (they make realistic wrong answers), blunt ones as fallback
    subtle = ["const", "compare", "binop"]
    blunt = ["return_not", "return_str", "return_none", "raise"]
    n = 0
    with gzip.open(FILES[a.dataset], "rt") as f, open(a.out, "w") as out:
        for k, line in enumerate(f):
            p = json.loads(line)
            src = p["prompt"] + p["canonical_solution"]
            if a.with_canonical:
                out.write(json.dumps({"task_id": p["task_id"], "solution": src}) + "\n")
                n += 1
            a1, a2 = list(subtle), list(blunt)
            rng.shuffle(a1)
            rng.shuffle(a2)
            kinds = a1 + a2
            if a.slow_every and k % a.slow_every == 0:
                kinds.insert(0, "loop" if (k // a.slow_every) % 2 == 0 else "alloc")
            made = 0
            for kind in kinds:
                if made == a.per_task:
                    break
                m = mutate(src, p["entry_point"], kind, rng)
                if m is None or m == ast.unparse(ast.parse(src)):
                    continue
                out.write(json.dumps({"task_id": p["task_id"], "solution": m, "mutation": kind}) + "\n")
                made += 1
                n += 1
    print("wrote %d samples to %s" % (n, a.out), file=sys.stderr)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""qrobust evaluate vs EvalPlus on the same samples and the same data files.

    QROBUST_VENV=/work/venv tools/evalplus_side_by_side.sh --dataset humaneval+ --samples S.jsonl

(or run this file with a python that has `evalplus` installed: tools/setup-venv.sh)

For each sample it compares the verdicts: EvalPlus's base_status / plus_status
(pass, fail, timeout) with qrobust's (pass, fail, timeout, error). They agree
when both pass or both do not (EvalPlus reports an exception as "fail" and a
crashed worker as "timeout"; qrobust says "error" for both). It prints every
disagreement with both reasons, the wall-clock time of each tool, and writes a
JSON summary (--json). EvalPlus is pointed at the project's data files with
HUMANEVAL_OVERRIDE_PATH / MBPP_OVERRIDE_PATH; its expected outputs are cached in
~/.cache/evalplus (the first run computes them: run twice to time the cached
case). Neither tool is given a different time or memory limit than its default.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = {"humaneval+": ("humaneval", "HUMANEVAL_OVERRIDE_PATH", "data/HumanEvalPlus.jsonl.gz"),
        "mbpp+": ("mbpp", "MBPP_OVERRIDE_PATH", "data/MbppPlus.jsonl.gz")}


def run_evalplus(dataset, samples, parallel, tmp):
    ep_name, env_key, data = DATA[dataset]
    path = os.path.join(tmp, "evalplus_samples.jsonl")
    with open(samples) as f, open(path, "w") as g:
        for line in f:
            if line.strip():
                d = json.loads(line)
                g.write(json.dumps({"task_id": d["task_id"], "solution": d["solution"]}) + "\n")
    res = path.replace(".jsonl", "_eval_results.json")
    if os.path.exists(res):
        os.remove(res)
    env = dict(os.environ)
    env[env_key] = os.path.join(ROOT, data)
    cmd = [sys.executable, "-m", "evalplus.evaluate", "--dataset", ep_name, "--samples", path, "--i_just_wanna_run"]
    if parallel:
        cmd += ["--parallel", str(parallel)]
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit("evalplus failed:\n" + p.stdout[-3000:] + p.stderr[-3000:])
    computed = "Computing expected output" in p.stdout
    with open(res) as f:
        return json.load(f), wall, computed, p.stdout


def run_qrobust(dataset, samples, qrobust, parallel, tmp):
    out = os.path.join(tmp, "qrobust_results.json")
    cmd = [qrobust, "evaluate", "--dataset", dataset, "--samples", samples, "--out", out, "--quiet"]
    if parallel:
        cmd += ["--parallel", str(parallel)]
    t0 = time.time()
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.time() - t0
    if p.returncode != 0:
        sys.exit("qrobust failed:\n" + p.stdout + p.stderr)
    with open(out) as f:
        return json.load(f), wall, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dataset", required=True, choices=sorted(DATA))
    ap.add_argument("--samples", required=True, help="JSON lines with task_id and solution")
    ap.add_argument("--qrobust", default=os.path.join(ROOT, "qrobust"))
    ap.add_argument("--parallel", type=int, default=0, help="workers for both tools (0: each tool's default)")
    ap.add_argument("--json", help="write a summary here")
    a = ap.parse_args()
    samples = os.path.abspath(a.samples)
    meta = [json.loads(l) for l in open(samples) if l.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        ep, ep_wall, ep_computed, ep_out = run_evalplus(a.dataset, samples, a.parallel, tmp)
        qr, qr_wall, qr_out = run_qrobust(a.dataset, samples, a.qrobust, a.parallel, tmp)
    # pair the samples: both tools keep the file order within a task
    seen = {}
    rows = []
    for m in meta:
        k = seen.get(m["task_id"], 0)
        seen[m["task_id"]] = k + 1
        e = ep["eval"][m["task_id"]][k]
        q = qr["eval"][m["task_id"]][k]
        rows.append((m, e, q))
    dis = []
    agree = {"base": 0, "plus": 0}
    for m, e, q in rows:
        for s in ("base", "plus"):
            es, qs = e[s + "_status"], q[s + "_status"]
            if (es == "pass") == (qs == "pass"):
                agree[s] += 1
            else:
                dis.append({"task_id": m["task_id"], "set": s, "mutation": m.get("mutation", "canonical"),
                            "evalplus": es, "qrobust": qs, "qrobust_detail": q.get(s + "_detail", "")})
    n = len(rows)
    print("%s: %d samples" % (a.dataset, n))
    print("  verdicts agree: base %d/%d, plus %d/%d" % (agree["base"], n, agree["plus"], n))
    for d in dis:
        print("  DISAGREE %(task_id)s %(set)s [%(mutation)s]: evalplus=%(evalplus)s qrobust=%(qrobust)s (%(qrobust_detail)s)" % d)
    print("  wall: evalplus %.1f s (expected outputs %s), qrobust %.1f s (expected outputs %s); ratio qrobust/evalplus = %.3f"
          % (ep_wall, "computed" if ep_computed else "cached", qr_wall,
             "cached" if qr["ground_truth"]["from_cache"] else "computed", qr_wall / ep_wall))
    print("  evalplus pass@1: " + " | ".join(l.strip() for l in ep_out.splitlines() if "pass@" in l or "tests)" in l))
    print("  qrobust: " + " | ".join(l.strip() for l in qr_out.splitlines() if "pass@" in l))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"dataset": a.dataset, "samples": n, "agree": agree, "disagreements": dis,
                       "evalplus_wall_s": ep_wall, "evalplus_ground_truth": "computed" if ep_computed else "cached",
                       "qrobust_wall_s": qr_wall, "qrobust_ground_truth": "cached" if qr["ground_truth"]["from_cache"] else "computed",
                       "load_before": os.getloadavg()}, f, indent=1)


if __name__ == "__main__":
    main()

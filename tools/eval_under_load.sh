#!/usr/bin/env bash
# Two evaluations of the same samples, the second under a competing CPU load
# (BURNERS busy loops, default 2 per CPU), then a per-sample comparison of the
# statuses and failing indices. Exit status 1 when any differ.
#   tools/eval_under_load.sh humaneval+ samples.jsonl [BURNERS]
set -euo pipefail
cd "$(dirname "$0")/.."
ds=$1; samples=$2; burners=${3:-$((2 * $(nproc)))}
tmp=$(mktemp -d)
./qrobust evaluate --dataset "$ds" --samples "$samples" --out "$tmp/a.json" --quiet | sed 's/^/  quiet run: /'
pids=()
for _ in $(seq "$burners"); do sh -c 'while :; do :; done' & pids+=($!); done
echo "  $burners busy loops started; load $(cut -d' ' -f1 /proc/loadavg)"
./qrobust evaluate --dataset "$ds" --samples "$samples" --out "$tmp/b.json" --quiet | sed 's/^/  loaded run: /' || true
echo "  load at the end $(cut -d' ' -f1 /proc/loadavg)"
kill "${pids[@]}"
python3 - "$tmp/a.json" "$tmp/b.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
n = same = 0
for tid, rows in a["eval"].items():
    for x, y in zip(rows, b["eval"][tid]):
        n += 1
        kx = [x.get(k) for k in ("base_status", "plus_status", "base_first_fail", "plus_first_fail")]
        ky = [y.get(k) for k in ("base_status", "plus_status", "base_first_fail", "plus_first_fail")]
        if kx == ky:
            same += 1
        else:
            print("  DIFFERENT %s: %s vs %s (%s | %s)" % (tid, kx, ky, y.get("base_detail"), y.get("plus_detail")))
print("  identical statuses and failing indices: %d/%d samples; wall %.1f s quiet, %.1f s loaded"
      % (same, n, a["timing"]["wall_s"], b["timing"]["wall_s"]))
sys.exit(0 if same == n else 1)
PY
rc=$?
rm -rf "$tmp"
exit $rc

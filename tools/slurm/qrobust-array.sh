#!/usr/bin/env bash
# The robustness study as a Slurm job array: task i of N runs shard i/N of the
# plan into its own results directory; a final job merges them and writes the
# report. Every shard is resumable: resubmitting the array (or a failed task)
# continues where it stopped.
#
#   sbatch --array=0-11 tools/slurm/qrobust-array.sh study.json results/
#   # when all tasks are done (or chain with --dependency=afterok:<jobid>):
#   qrobust merge results/shard-* --out results/all && qrobust report results/all
#
# study.json holds the plan (see `qrobust run --help`), e.g.
#   {"models": ["/models/deepseek-coder-1.3b-base", "/models/starcoder2-3b"],
#    "precisions": ["fp32", "int8", "nf4"], "translator": "/models/mbart-large-50-many-to-many-mmt"}
#
#SBATCH --job-name=qrobust
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=16
#SBATCH --mem=64G
#SBATCH --time=24:00:00
#SBATCH --output=qrobust-%A_%a.log
set -euo pipefail
CONFIG=${1:?usage: sbatch --array=0-(N-1) qrobust-array.sh CONFIG.json RESULTS_DIR}
OUT=${2:?usage: sbatch --array=0-(N-1) qrobust-array.sh CONFIG.json RESULTS_DIR}
QROBUST=${QROBUST:-qrobust}
I=${SLURM_ARRAY_TASK_ID:?run this with sbatch --array}
N=${SLURM_ARRAY_TASK_COUNT:-$(( ${SLURM_ARRAY_TASK_MAX:?} + 1 ))}
mkdir -p "$OUT"
# Generation on the task's GPU (a `make CUDA=1` build; QROBUST_DEVICE=cpu for
# CPU-only nodes, then drop --gres); judging runs on the task's CPUs.
exec "$QROBUST" run --config "$CONFIG" --shard "$I/$N" --out "$OUT/shard-$I" \
     --threads "${SLURM_CPUS_PER_TASK:-0}" --device "${QROBUST_DEVICE:-cuda}"

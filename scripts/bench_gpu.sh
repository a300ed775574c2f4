#!/usr/bin/env bash
# GPU check (a few minutes): BassetCNN at 1 kb, trainer-style bf16 steps fed by the real
# IntervalDataset loader, once with uint8 codes one-hot encoded on the GPU (16x less
# host->device traffic) and once with float32 one-hot made on the CPU. Prints the JSON lines of
# scripts/bench_train.py plus the mean GPU utilisation sampled by nvidia-smi during each run.
#   bash scripts/bench_gpu.sh            (needs a CUDA GPU; CI never runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
WORKERS=${WORKERS:-8}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
for output in codes one_hot; do
  log=$(mktemp)
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$log" &
  smi=$!
  "$PY" scripts/bench_train.py --device cuda --precision bf16 --nets BassetCNN loader \
    --workers "$WORKERS" --loader-output "$output"
  kill "$smi"
  awk -v o="$output" '{s+=$1; n++} END {printf "{\"bench\": \"gpu_util_pct_%s\", \"value\": %.1f, \"unit\": \"%%\"}\n", o, s/n}' "$log"
  rm -f "$log"
done

#!/usr/bin/env bash
# GPU check (a few minutes; CI never runs it). Needs a CUDA GPU and seqnn installed.
# 1. Real `seqnn-train trainer=gpu` runs (bf16-mixed) of the default CNN at 1 kb on the embedded
#    E. coli data, with uint8 codes one-hot encoded on the GPU (data.output=codes) and with
#    float32 one-hot made on the CPU (data.output=one_hot), at batch 64 and 256: samples/s and
#    GPU utilisation per epoch from seqnn.callbacks.Throughput (scripts/bench_seqnn_train.py).
# 2. The same comparison for the bare training step fed by IntervalDataset's loader
#    (scripts/bench_train.py), with the mean GPU utilisation sampled by nvidia-smi.
# 3. seqnn-train of the human-scale experiments on a 1 Gb synthetic genome (below).
#   bash scripts/bench_gpu.sh      (PYTHON=python3 WORKERS=4 to change the interpreter / workers)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
WORKERS=${WORKERS:-4}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
"$PY" -c 'import torch, lightning; print("torch", torch.__version__, "lightning", lightning.__version__)'
"$PY" scripts/bench_seqnn_train.py --trainer gpu --output codes one_hot --batch 64 256 \
  --epochs 4 --workers "$WORKERS"
for output in codes one_hot; do
  log=$(mktemp)
  nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$log" &
  smi=$!
  "$PY" scripts/bench_train.py --device cuda --precision bf16 --nets loader \
    --workers "$WORKERS" --loader-output "$output"
  kill "$smi"
  awk -v o="$output" '{s+=$1; n++} END {printf "{\"bench\": \"gpu_util_pct_%s\", \"value\": %.1f, \"unit\": \"%%\"}\n", o, s/n}' "$log"
  rm -f "$log"
done
# 3. Human scale (issue 28): real seqnn-train runs of the two standard set-ups on the 1 Gb
#    hg38-shaped workload (scripts/scale_workload.py: written once, ~1 min, ~3 GB of disk):
#    experiment=basset_genome (tiled genome, 10 peak files) and experiment=bpnet_coverage
#    (peaks + 2 bigWigs through the coverage store), batch 256, 200 steps per epoch.
SCALE=${SCALE_WORKDIR:-/tmp/seqnn_scale}
"$PY" scripts/scale_workload.py --genome-gb 1 --tracks 10 --workdir "$SCALE"
"$PY" scripts/bench_seqnn_train.py --trainer gpu --experiment basset_genome bpnet_coverage \
  --workload "$SCALE/g1_s0" --batch 256 --epochs 3 --limit-batches 200 --workers "$WORKERS"

#!/usr/bin/env bash
# The GPU checks of the fast training path, in one call (about 5-8 minutes on an H200; every step
# has its own time limit, 580 s in all, and a failing step does not stop the others).
#
#   bash benchmarks/gpu_check.sh [OUTPUT_DIR]        (default: $OUT, else ./gpu-check)
#
# Writes into OUTPUT_DIR (7 files; the JSON files are rewritten after each part, so a step
# stopped by its time limit keeps what it measured):
#   gpu_check.log  everything printed, in order (the tables are in here, among them
#                  benchmarks/norm_speed.py's: instance norm + ReLU computed several ways)
#   speed.json     original fp32 vs fast (the defaults: bf16, CUDA graphs), no graphs, fp32,
#                  channels-last; batch 16 and 64
#   loss.json      300 iterations: defaults and bf16-without-graphs vs fp32 eager, and the
#                  spread that other random draws give
#   sync.json      50 iterations of the default path (graphs) under set_sync_debug_mode("error"),
#                  and a torch.profiler breakdown of 10 eager bf16 iterations (where the time goes)
#   pytest.log     tests/test_fast_path.py, with its CUDA-only tests
#   train.log      `stargan train` on a synthetic CelebA (real loader, prefetch thread, defaults)
#   compile.json   original vs --compile at batch 16 (compile time is not timed: warm-up)
set -u
export PYTHONUNBUFFERED=1  # output reaches the log even when a step is stopped by its limit
cd "$(dirname "$0")/.."
DEST="${1:-${OUT:-gpu-check}}"
mkdir -p "$DEST"
PY="${PYTHON:-python3}"
LOG="$DEST/gpu_check.log"
: > "$LOG"
step() {  # step SECONDS NAME COMMAND...: run with a time limit, log it, carry on
  local limit="$1" name="$2"; shift 2
  echo "=== $name ($(date +%T), limit ${limit}s)" | tee -a "$LOG"
  local start=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$LOG"
  echo "=== $name: exit ${PIPESTATUS[0]} after $((SECONDS - start))s" | tee -a "$LOG"
}

step 20 "machine" bash -c "nvidia-smi -L; $PY -c 'import torch; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.get_device_name())'"

step 170 "speed: batch 16 and 64" "$PY" benchmarks/train_speed.py --batch-sizes 16,64 \
  --variants original,fast,fast-nographs,fast-fp32,fast-cl --json "$DEST/speed.json"

step 80 "loss tracking: 300 iterations, batch 16" "$PY" benchmarks/train_speed.py --batch-sizes 16 \
  --loss-check 300 --json "$DEST/loss.json"

step 70 "host syncs (default path: CUDA graphs), then a profile of eager bf16" "$PY" benchmarks/train_speed.py \
  --batch-sizes 16 --sync-check 50 --profile 10 --json "$DEST/sync.json"

step 30 "instance norm + ReLU: ways to compute it (tables in this log)" "$PY" benchmarks/norm_speed.py \
  --batch-sizes 16,64

step 70 "tests" bash -c "$PY -m pytest tests/test_fast_path.py -q -rs > '$DEST/pytest.log' 2>&1; rc=\$?; tail -5 '$DEST/pytest.log'; exit \$rc"

step 60 "stargan train on synthetic CelebA (60 iterations, defaults)" bash -c "
  set -e
  WORK=\$(mktemp -d)
  export STARGAN_HOME=\$WORK/home
  $PY - \"\$WORK/celeba\" <<'EOF'
import sys
sys.path.insert(0, 'tests')
from pathlib import Path
from train_helpers import make_celeba
make_celeba(Path(sys.argv[1]), n=96)
EOF
  $PY -m stargan_cli train --data \"\$WORK/celeba\" --out \"\$WORK/run\" --iters 60 --log-every 20 \
    --save-every 60 --sample-every 60 --no-tensorboard -q > '$DEST/train.log' 2>&1 || { cat '$DEST/train.log'; exit 1; }
  cat '$DEST/train.log'
  $PY -c \"import json,sys; [print(json.dumps({k: r.get(k) for k in ('step','d_loss','g_loss','sec_per_iter')})) for r in map(json.loads, open(sys.argv[1]))]\" \"\$WORK/run/metrics.jsonl\"
  $PY -c \"import json,sys; print('resolved speed:', json.load(open(sys.argv[1]))['resolved']['speed'])\" \"\$WORK/run/config.json\"
"

step 80 "torch.compile: batch 16" "$PY" benchmarks/train_speed.py --batch-sizes 16 --variants original,fast-compile \
  --warmup 40 --windows 3 --json "$DEST/compile.json"

echo "done: results in $DEST" | tee -a "$LOG"

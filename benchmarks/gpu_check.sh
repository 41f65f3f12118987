#!/usr/bin/env bash
# The GPU checks of the fast training path, in one call (about 6-8 minutes on an H200).
#
#   bash benchmarks/gpu_check.sh [OUTPUT_DIR]        (default: $OUT, else ./gpu-check)
#
# Writes into OUTPUT_DIR (7 files):
#   gpu_check.log  everything printed, in order (the tables are in here)
#   pytest.log     tests/test_fast_path.py, with its CUDA-only tests
#   speed.json     original fp32 vs fast (defaults), no graphs, fp32, channels-last; batch 16 and 64
#   compile.json   original vs --compile at batch 16 (compile time is not timed: warm-up)
#   loss.json      300 iterations: defaults and bf16-without-graphs vs fp32 eager, and the
#                  spread that other random draws give
#   sync.json      50 iterations of the default path under set_sync_debug_mode("error")
#   train.log      `stargan train` on a synthetic CelebA (real loader, prefetch thread, graphs)
# Every step has its own time limit; a failing step does not stop the others.
set -u
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

step 90 "tests" bash -c "$PY -m pytest tests/test_fast_path.py -q -rs > '$DEST/pytest.log' 2>&1; tail -5 '$DEST/pytest.log'"

step 180 "speed: batch 16 and 64" "$PY" benchmarks/train_speed.py --batch-sizes 16,64 --cuda-graphs \
  --variants original,fast,fast-nographs,fast-fp32,fast-cl --json "$DEST/speed.json"

step 80 "loss tracking: 300 iterations, batch 16" "$PY" benchmarks/train_speed.py --batch-sizes 16 \
  --cuda-graphs --loss-check 300 --json "$DEST/loss.json"

step 40 "host syncs" "$PY" benchmarks/train_speed.py --batch-sizes 16 --sync-check 50 --json "$DEST/sync.json"

step 60 "stargan train on synthetic CelebA (60 iterations)" bash -c "
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
    --save-every 60 --sample-every 60 --no-tensorboard --cuda-graphs -q > '$DEST/train.log' 2>&1 || { cat '$DEST/train.log'; exit 1; }
  cat '$DEST/train.log'
  $PY -c \"import json,sys; [print(json.dumps({k: r.get(k) for k in ('step','d_loss','g_loss','sec_per_iter')})) for r in map(json.loads, open(sys.argv[1]))]\" \"\$WORK/run/metrics.jsonl\"
"

step 120 "torch.compile: batch 16" "$PY" benchmarks/train_speed.py --batch-sizes 16 --variants original,fast-compile \
  --warmup 40 --windows 3 --json "$DEST/compile.json"

echo "done: results in $DEST" | tee -a "$LOG"

#!/bin/bash
# Absurd sizes from the command line: exit code, first error line, wall time and peak RSS of each
# command, for the code before a change (OLD=/path/to/an/export/of/main) and this checkout.
# Each command runs under a 6 GB address-space cap, so that code without the checks fails with
# MemoryError instead of reaching the kernel's out-of-memory killer; a timeout of 180 s.
#
#   OLD=/tmp/old benchmarks/absurd_sizes.sh        # (git archive main stargan_cli | tar -x -C /tmp/old)
#   benchmarks/absurd_sizes.sh                     # this checkout only
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python}
WORK=$(mktemp -d /tmp/absurd-sizes.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"
PYTHONPATH=$HERE:$HERE/tests $PY - <<'EOF'
from pathlib import Path
import numpy as np
import torch
from PIL import Image
from train_helpers import make_celeba
from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.models import ModelConfig, build_discriminator, build_generator

make_celeba(Path("celeba"))
Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save("face.png")
config = ModelConfig(attributes=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), image_size=32,
                     g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2)
save_checkpoint(Checkpoint(config, build_generator(config).state_dict(), build_discriminator(config).state_dict()),
                Path("model.pt"))
EOF
T="--image-size 32 --g-conv-dim 8 --g-repeat 1 --d-conv-dim 8 --d-repeat 2 --batch-size 4 --num-workers 0 --no-tensorboard --no-cache --iters 1 -q"
run() {  # code-folder label args...
  code=$1; label=$2; shift 2
  rm -rf run-* sheet.png
  out=$( (ulimit -v 6000000; PYTHONPATH=$code STARGAN_HOME=$WORK/home /usr/bin/time -f "TIME %e s, %M KB" \
          timeout -s KILL 180 $PY -m stargan_cli "$@" 2>&1) )
  echo "| $(basename "$code") | $label | $(echo "$out" | grep -E '^Error' | head -1 | cut -c1-140) | $(echo "$out" | grep TIME) |"
}
for code in ${OLD:-} $HERE; do
  run $code "train --g-conv-dim 1000000" train --data celeba --out run-a $T --g-conv-dim 1000000
  run $code "train --image-size 1048576" train --data celeba --out run-b $T --image-size 1048576
  run $code "train --g-repeat 10000" train --data celeba --out run-c $T --g-repeat 10000
  run $code "train --g-conv-dim 2048 --d-conv-dim 2048" train --data celeba --out run-d $T --g-conv-dim 2048 --d-conv-dim 2048
  run $code "grid --cell-size 100000" grid face.png --no-detect -m model.pt --source-attrs none --cell-size 100000 -o sheet.png
  run $code "grid --padding 1000000" grid face.png --no-detect -m model.pt --source-attrs none --padding 1000000 -o sheet.png
  run $code "grid --font-size 100000" grid face.png --no-detect -m model.pt --source-attrs none --font-size 100000 -o sheet.png
  run $code "grid --cell-size 4096 (within bounds)" grid face.png --no-detect -m model.pt --source-attrs none --cell-size 4096 -o sheet.png
done

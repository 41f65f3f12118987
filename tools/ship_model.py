"""Write a training run's model into the package as the bundled default model.

    python tools/ship_model.py RUN_DIR/final.pt            # -> stargan_cli/assets/models/stargan-celeba-mini.pt

Weights only, fp16 (loading casts them back), G and D (D estimates the photo's own attributes).
The model card beside it is written by hand: keep its numbers in step with the shipped file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from stargan_cli.checkpoints import build_models, compact_checkpoint, save_checkpoint
from stargan_cli.loading import load_checkpoint
from stargan_cli.registry import ASSETS, DEFAULT_MODEL


def main(source: str, name: str = DEFAULT_MODEL) -> Path:
    checkpoint = load_checkpoint(source)
    compact = compact_checkpoint(checkpoint, half=True, keep_discriminator=True)
    compact.meta = {
        "name": name,
        "source": f"{Path(source).parent.name}/{Path(source).name}",
        "step": checkpoint.step,
        "licence": ASSETS[name].licence,
        "card": "MODEL_CARD.md",
    }
    target = ASSETS[name].target()
    target.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(compact, target)
    build_models(load_checkpoint(target))  # strict load of what was written
    print(f"{target}: {target.stat().st_size / 2**20:.2f} MiB, step {checkpoint.step}")
    return target


if __name__ == "__main__":
    main(*sys.argv[1:])

"""Does training learn? Two numbers per checkpoint of a CelebA run, on held-out test images.

    python benchmarks/learning_check.py RUN_DIR [--steps 0,100,final] [--limit 300] [--split test|train] [--device cpu]

(a) D's classification accuracy on real held-out images (per attribute, then the mean),
    next to the accuracy of always answering each attribute's majority value;
(b) the fraction of translations that D classifies as the target domain: every held-out image
    is translated to each single-domain target of the original's test grid (a hair colour set
    with the others off, any other attribute flipped), and a translation counts when D's
    prediction for the changed attribute matches the target. Only (image, target) pairs where
    the attribute really changes count.

Step ``0`` is the run's initial weights (rebuilt from its seed, as the trainer does); ``final``
is ``final.pt``; other numbers are ``checkpoints/NNNNNN.pt``. Prints numbers only: it writes no
images (CelebA images must not end up in the repository).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stargan_cli.attributes import HAIR_COLORS, single_domain_targets  # noqa: E402
from stargan_cli.checkpoints import build_models  # noqa: E402
from stargan_cli.data import load_celeba, sample_batch  # noqa: E402
from stargan_cli.devices import select_device  # noqa: E402
from stargan_cli.images import normalize  # noqa: E402
from stargan_cli.loading import load_checkpoint  # noqa: E402
from stargan_cli.models import build_discriminator, build_generator  # noqa: E402
from stargan_cli.training import read_run_config  # noqa: E402
from stargan_cli.training.runs import FINAL_NAME, checkpoint_path  # noqa: E402


def models_at(run: Path, step: str, device: torch.device):
    """(G, D, step number) of ``run`` at ``step`` (``0``, ``final`` or a checkpoint number)."""
    if step == "0":
        config = read_run_config(run)
        model = load_checkpoint(run / FINAL_NAME if (run / FINAL_NAME).exists() else
                                sorted((run / "checkpoints").glob("*.pt"))[-1]).config
        torch.manual_seed(config.seed)  # the trainer's initialisation
        G, D = build_generator(model), build_discriminator(model)
        return G.to(device).eval(), D.to(device).eval(), 0
    path = run / FINAL_NAME if step == "final" else checkpoint_path(run, int(step))
    checkpoint = load_checkpoint(path)
    G, D = build_models(checkpoint, device)
    return G, D, checkpoint.step


@torch.no_grad()
def evaluate(G, D, x: torch.Tensor, labels: torch.Tensor, attributes: list[str], batch: int = 50) -> dict:
    """Accuracy of D on real images and the rate of translations D assigns to their target."""
    correct = torch.zeros(len(attributes))
    hits = torch.zeros(len(attributes))
    pairs = torch.zeros(len(attributes))
    targets = single_domain_targets(labels, attributes)
    for i in range(0, len(x), batch):
        xb, lb = x[i : i + batch], labels[i : i + batch]
        logits = D(xb)[1].float().cpu()
        correct += ((logits > 0).float() == lb.cpu()).float().sum(0)
        for j, name in enumerate(attributes):
            tb = targets[j][i : i + batch]
            changes = (tb[:, j] != lb[:, j]).cpu()
            if not changes.any():
                continue
            fake_logits = D(G(xb[changes.to(xb.device)], tb[changes.to(tb.device)]))[1].float().cpu()
            want = tb[changes.to(tb.device)][:, j].cpu()
            hits[j] += ((fake_logits[:, j] > 0).float() == want).float().sum()
            pairs[j] += int(changes.sum())
    n = len(x)
    acc = correct / n
    rate = hits / pairs.clamp(min=1)
    return {
        "d_accuracy": {a: round(float(v), 4) for a, v in zip(attributes, acc)},
        "d_accuracy_mean": round(float(acc.mean()), 4),
        "to_target": {a: round(float(v), 4) for a, v in zip(attributes, rate)},
        "to_target_mean": round(float(hits.sum() / pairs.sum().clamp(min=1)), 4),
        "pairs": int(pairs.sum()),
    }


def main() -> None:  # noqa: D103
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a training run folder (CelebA)")
    parser.add_argument("--steps", default="0,final", help="comma-separated: 0, checkpoint numbers, final")
    parser.add_argument("--limit", type=int, default=300, help="held-out images to use (a fixed seeded choice)")
    parser.add_argument("--split", choices=("test", "train"), default="test",
                        help="images to measure on: held-out (default) or training images; D's accuracy "
                        "on train minus test is how far it has overfitted")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    config = read_run_config(args.run)
    if config.dataset != "celeba":
        sys.exit("learning_check.py handles CelebA runs (--dataset celeba)")
    device = select_device(args.device)
    source = load_celeba(config.data, list(config.attrs), config.image_size, quiet=True)
    pool = source.test if args.split == "test" else source.train
    images, labels = sample_batch(pool, min(args.limit, len(pool)), seed=0)
    x, labels = normalize(images).to(device), labels.to(device)
    attributes = list(config.attrs)
    majority = torch.maximum(labels.mean(0), 1 - labels.mean(0)).cpu()
    what = f"held-out images ({source.split})" if args.split == "test" else "training images"
    print(f"{len(x)} {what}; attributes {', '.join(attributes)}")
    print("majority-class accuracy: " + ", ".join(f"{a} {float(m):.3f}" for a, m in zip(attributes, majority))
          + f"; mean {float(majority.mean()):.3f}")
    hair = [a for a in attributes if a in HAIR_COLORS]
    results = []
    header = f"{'step':>7}  {'D acc (real)':>12}  {'to target':>9}  " + "  ".join(f"{a[:10]:>10}" for a in attributes)
    print(header)
    for step in args.steps.split(","):
        started = time.perf_counter()
        G, D, number = models_at(args.run, step.strip(), device)
        result = {"step": number, **evaluate(G, D, x, labels, attributes)}
        results.append(result)
        per = "  ".join(f"{result['d_accuracy'][a]:.2f}/{result['to_target'][a]:.2f}" .rjust(10) for a in attributes)
        print(f"{number:>7}  {result['d_accuracy_mean']:>12.3f}  {result['to_target_mean']:>9.3f}  {per}"
              f"   ({time.perf_counter() - started:.0f}s)")
    print("per attribute: D accuracy on real / translations classified as the target"
          + (f" (hair colours {', '.join(hair)} are set exclusively)" if hair else ""))
    if args.json:
        args.json.write_text(json.dumps({"run": str(args.run), "split": args.split, "images": len(x),
                                         "results": results}, indent=2))


if __name__ == "__main__":
    main()

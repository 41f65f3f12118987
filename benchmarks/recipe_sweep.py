"""Training recipes compared at equal wall-clock, judged by `stargan eval`.

    python benchmarks/recipe_sweep.py --data CELEBA_DIR [--seconds 300] [--n 300] [--out runs/sweep]
        [--variants paper,wgan-b8,hinge-nc1,hinge-nc1+warmup,hinge-nc1+warmup+augment] [--repeats 1]

Each variant trains a 64 px / 32-channel five-attribute model with `stargan train` for the same
number of seconds (then Ctrl-C, which saves a checkpoint), and that checkpoint is scored by
`stargan eval` on the same held-out images with the same judge (train it first with
`stargan eval --train-classifier --image-size 64 --data CELEBA_DIR`). The learning rates are
constant (`--decay-iters 0`) so that a winner can be continued with `stargan train --resume`.
Prints one row per variant and run: iterations reached, success per target, mean success,
preservation and cycle PSNR, and the mean success as a ratio to the first variant's (the
baseline, measured in the same sweep). Writes nothing but the run folders under --out.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

COMMON = ["--image-size", "64", "--g-conv-dim", "32", "--d-conv-dim", "32", "--decay-iters", "0",
          "--iters", "1000000", "--save-every", "1000000", "--sample-every", "250", "--log-every", "50",
          "--no-tensorboard", "-q"]
HINGE = ["--loss", "hinge", "--n-critic", "1", "--batch-size", "8", "--d-repeat", "5", "--d-lr", "2e-4"]
VARIANTS: dict[str, list[str]] = {
    "paper": ["--loss", "wgan-gp", "--n-critic", "5", "--batch-size", "16"],  # the paper's recipe
    "wgan-b8": ["--loss", "wgan-gp", "--n-critic", "5", "--batch-size", "8", "--d-repeat", "5"],
    "hinge-nc1": HINGE,
    "hinge-nc1+warmup": HINGE + ["--warmup-iters", "200"],
    "hinge-nc1+warmup+augment": HINGE + ["--warmup-iters", "200", "--augment", "translation,cutout"],
}


def stargan(*args: str) -> list[str]:
    """The command line of the stargan CLI under this interpreter."""
    return [sys.executable, "-m", "stargan_cli", *args]


def train_for(seconds: float, data: str, out: Path, flags: list[str]) -> int:
    """Train for ``seconds`` of wall-clock, then interrupt (a checkpoint is saved); the step reached."""
    process = subprocess.Popen(stargan("train", "--data", data, "--out", str(out), *COMMON, *flags),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        process.wait()
    checkpoints = sorted((out / "checkpoints").glob("*.pt"))
    if not checkpoints:
        sys.exit(f"{out}: no checkpoint was saved ({(process.stderr.read() or '').strip()[-300:]})")
    return int(checkpoints[-1].stem)


def evaluate(checkpoint: Path, data: str, n: int, json_path: Path) -> dict:
    """`stargan eval` of one checkpoint; its model entry from the JSON report."""
    subprocess.run(stargan("eval", "-m", str(checkpoint), "--data", data, "--n", str(n), "--fid", "off",
                           "--json", str(json_path)), check=True, stdout=subprocess.DEVNULL)
    return json.loads(json_path.read_text())["models"][0]


def main() -> None:  # noqa: D103
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="CelebA folder (attribute file, images, partition file)")
    parser.add_argument("--seconds", type=float, default=300.0, help="training wall-clock per variant")
    parser.add_argument("--n", type=int, default=300, help="held-out images per evaluation")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated; the first is the baseline")
    parser.add_argument("--repeats", type=int, default=1, help="runs per variant (seeds 1234, 1235, ...)")
    parser.add_argument("--out", type=Path, default=Path("runs/sweep"))
    args = parser.parse_args()
    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        sys.exit(f"unknown variant(s) {', '.join(unknown)}: choose from {', '.join(VARIANTS)}")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    rows = []
    for repeat in range(args.repeats):
        for name in names:
            out = args.out / f"{name}-{repeat}"
            started = time.perf_counter()
            step = train_for(args.seconds, args.data, out, VARIANTS[name] + ["--seed", str(1234 + repeat)])
            model = evaluate(out / "checkpoints" / f"{step:06d}.pt", args.data, args.n, out.with_suffix(".eval.json"))
            rows.append((name, repeat, step, model, time.perf_counter() - started))
            print(f"{name} run {repeat}: {step} iterations, mean success {model['mean']['success']:.3f}", flush=True)

    baseline = [r[3]["mean"]["success"] for r in rows if r[0] == names[0]]
    base = sum(baseline) / len(baseline)
    targets = list(rows[0][3]["targets"])
    print(f"\n{args.seconds:.0f} s of training per run; {args.n} held-out images; success ratio vs {names[0]}\n")
    print("| variant | run | iters | " + " | ".join(targets) + " | mean success | ratio | preserved | cycle PSNR |")
    print("|---|---:|---:|" + "---:|" * len(targets) + "---:|---:|---:|---:|")
    for name, repeat, step, model, _ in rows:
        mean = model["mean"]
        per = " | ".join(f"{100 * model['targets'][t]['success']:.1f}%" for t in targets)
        print(f"| {name} | {repeat} | {step} | {per} | {100 * mean['success']:.1f}% | "
              f"{mean['success'] / base:.2f}x | {100 * mean['preservation']:.1f}% | {mean['psnr']:.2f} dB |")


if __name__ == "__main__":
    main()

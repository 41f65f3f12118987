"""Training-data throughput: decoding the JPEGs vs the preprocessed uint8 cache.

    python benchmarks/data_speed.py [--data DIR] [--size 128] [--images 2000] [--runs 3]

Measures images/s of full passes of ``make_loader`` (shuffled, batch 16 as in StarGAN) over
the first ``--images`` training images of a CelebA folder, median of ``--runs`` passes after
one warm-up pass (so worker start-up and the first read from disk are not counted). The cache
is built in a temporary STARGAN_HOME (removed afterwards) unless ``--home`` is given, never in
the repository.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "celeba-subset"


def _passes(loader, runs: int) -> list[float]:
    """images/s of ``runs`` full passes, after one warm-up pass."""
    for _ in loader:
        pass
    rates = []
    for _ in range(runs):
        count = 0
        start = time.perf_counter()
        for images, _labels in loader:
            count += images.shape[0]
        rates.append(count / (time.perf_counter() - start))
    return rates


def _fetch_only(dataset, batch_size: int, runs: int, seed: int = 0) -> list[float]:
    """images/s of ``dataset.fetch`` on shuffled batches in this process (no DataLoader)."""
    from stargan_cli.data import epoch_batches

    rates = []
    for epoch in range(runs + 1):
        batches = epoch_batches(len(dataset), batch_size, epoch=epoch, seed=seed, shuffle=True, drop_last=True)
        start = time.perf_counter()
        count = sum(dataset.fetch(b)[0].shape[0] for b in batches)
        if epoch:  # the first is the warm-up
            rates.append(count / (time.perf_counter() - start))
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="CelebA folder (default: %(default)s)")
    parser.add_argument("--size", type=int, default=128, help="image size in pixels")
    parser.add_argument("--images", type=int, default=2000, help="training images per pass (0: all)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3, help="timed passes per row (median reported)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers for the JPEG rows (default: all CPUs)")
    parser.add_argument("--home", type=Path, default=None, help="STARGAN_HOME for the cache (default: a temporary folder)")
    args = parser.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="stargan-bench-"))
    os.environ["STARGAN_HOME"] = str(home)
    try:
        return _run(args)
    finally:
        if args.home is None:
            shutil.rmtree(home, ignore_errors=True)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from stargan_cli.data import load_celeba, make_loader
    from stargan_cli.data.loader import cpu_count
    from stargan_cli.errors import StarganError

    attrs = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"]
    try:
        plain = load_celeba(args.data, attrs, args.size, use_cache=False)
        start = time.perf_counter()
        cached = load_celeba(args.data, attrs, args.size, quiet=True)
        build_s = time.perf_counter() - start
    except StarganError as err:
        print(f"Error: {err}", file=sys.stderr)
        return 1
    n = len(plain.train) if args.images <= 0 else min(args.images, len(plain.train))
    subset = np.arange(n)
    jpeg, cache = plain.train.subset(subset), cached.train.subset(subset)
    workers = cpu_count() if args.workers is None else args.workers
    total = len(plain.train) + len(plain.test)

    rows: list[tuple[str, str, list[float]]] = []
    loader = make_loader(jpeg, args.batch_size, shuffle=True, seed=0, num_workers=workers)
    rows.append(("JPEG files", str(workers), _passes(loader, args.runs)))
    configs = [("cache, thread (default)", 0, 4), ("cache, no thread", 0, 0)]
    configs += [("cache, processes", w, 4) for w in sorted({2, workers})]
    for name, w, prefetch in configs:
        loader = make_loader(cache, args.batch_size, shuffle=True, seed=0, num_workers=w, prefetch=prefetch)
        rows.append((name, str(w), _passes(loader, args.runs)))
    rows.append(("cache fetch() only", "-", _fetch_only(cache, args.batch_size, args.runs)))

    base = statistics.median(rows[0][2])
    title = (
        f"{args.data.name}: {n:,} of {len(plain.train):,} training images, {args.size}px, batch {args.batch_size}, "
        f"{cpu_count()} CPUs; cache build {total:,} images in {build_s:.1f}s ({total / build_s:,.0f} img/s)"
    )
    header = ("pipeline", "workers", "images/s (median)", "min-max", "vs JPEG")
    table = [
        (name, w, f"{statistics.median(r):,.0f}", f"{min(r):,.0f}-{max(r):,.0f}", f"{statistics.median(r) / base:.1f}x")
        for name, w, r in rows
    ]
    try:
        from rich.console import Console
        from rich.table import Table

        out = Table(title=title)
        for i, col in enumerate(header):
            out.add_column(col, justify="left" if i == 0 else "right")
        for row in table:
            out.add_row(*row)
        Console().print(out)
    except ImportError:
        print(title)
        for row in (header, *table):
            print(" | ".join(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

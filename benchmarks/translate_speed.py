"""Translation speed of the full-size StarGAN generator (random weights).

Prints, per device (CPU, and CUDA when present), the median latency of one 128 px
translation, the throughput of a batch of 64, and the latency of a whole photo through
``Translator`` (face detection, crop, translation, paste-back) as a Markdown table::

    python benchmarks/translate_speed.py                 # cpu and cuda if present
    python benchmarks/translate_speed.py --device cuda --repeats 20 --batch-repeats 10

Weights are random: speed does not depend on them. On CUDA the Translator's policy applies
(autocast bf16/fp16); on CPU inference is fp32.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _timed(fn, device, repeats: int, warmup: int = 1) -> list[float]:
    import torch

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return times


def bench_device(name: str, repeats: int, batch_repeats: int, batch: int, size: int) -> list[tuple]:
    """Rows of (device, what, batch, runs, median ms, images/s) for one device."""
    import torch

    from stargan_cli.models import ModelConfig, build_discriminator, build_generator
    from stargan_cli.image_files import example_image_path
    from stargan_cli.translate import Translator

    torch.manual_seed(0)
    config = ModelConfig(attributes=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"), image_size=size)
    translator = Translator(
        generator=build_generator(config), discriminator=build_discriminator(config), config=config, device=name
    )
    device = translator.device
    precision = str(translator.dtype).replace("torch.", "") if device.type == "cuda" else "float32"
    rows = []
    for n, runs in ((1, repeats), (batch, batch_repeats)):
        x = torch.rand(n, 3, size, size) * 2 - 1
        labels = torch.zeros(n, config.c_dim)
        labels[:, 1] = 1
        # The batch-1 runs already warmed the CPU kernels; a CUDA batch needs its own warm-up.
        warmup = 1 if n == 1 or device.type == "cuda" else 0
        times = _timed(lambda: translator.generate(x, labels), device, runs, warmup)
        median = statistics.median(times)
        rows.append((f"{device} ({precision})", f"G forward {size} px", n, runs, median * 1000, n / median))
    photo = example_image_path()
    times = _timed(lambda: translator(photo, to="Blond_Hair", source="Brown_Hair"), device, repeats)
    median = statistics.median(times)
    rows.append((f"{device} ({precision})", "photo 512x512: detect+G+paste", 1, repeats, median * 1000, 1 / median))
    return rows


def main() -> None:
    """Parse flags, run the benchmark, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="all", help="cpu, cuda or all (default: cpu, plus cuda if present)")
    parser.add_argument("--repeats", type=int, default=10, help="timed runs of the single image (median taken)")
    parser.add_argument("--batch-repeats", type=int, default=3, help="timed runs of the batch (median taken)")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--size", type=int, default=128)
    args = parser.parse_args()

    import torch

    devices = [args.device] if args.device != "all" else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    rows = []
    for name in devices:
        rows += bench_device(name, args.repeats, args.batch_repeats, args.batch, args.size)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    print("| device | what | batch | runs | median ms | images/s |")
    print("|---|---|---:|---:|---:|---:|")
    for device, what, n, runs, ms, ips in rows:
        print(f"| {device} | {what} | {n} | {runs} | {ms:,.1f} | {ips:,.1f} |")


if __name__ == "__main__":
    main()

"""Instance norm + ReLU, the generator's most frequent memory-bound pair: ways to compute it.

    python benchmarks/norm_speed.py [--device auto] [--batch-sizes 16,64] [--json out.json]

For each way, forward and backward of ``relu(IN(x) * w + b)`` over the shapes of every norm
layer of the paper's generator (128 px, 64 channels, 6 residual blocks: 17 norm layers, 11 of
them followed by a ReLU; the ReLU is applied to all here, which is what a fused kernel would
replace), on bf16 tensors on CUDA (what the trainer's autocast feeds them), fp32 elsewhere. Each way is
first checked against an fp32 reference (output and input gradient), then timed: median of
``--repeats`` passes over the whole generator's set of shapes after warm-up. The table shows
milliseconds per generator-equivalent and the ratio to ``aten`` (what the models use now):

* ``aten``: ``F.instance_norm`` (PyTorch folds it into a batch norm over B*C channels), NCHW;
* ``aten-cl``: the same on channels-last tensors (PyTorch makes them contiguous first);
* ``var_mean``: statistics from ``torch.var_mean`` in fp32, then one affine expression; NCHW;
* ``var_mean-cl``: the same on channels-last tensors;
* ``group_norm``/``group_norm-cl``: ``F.group_norm`` with one group per channel (the same
  function), which has a channels-last kernel;
* ``compiled`` (``--compile``): ``torch.compile`` of ``var_mean`` (fused kernels).

A way that is faster here is a candidate for the models' norms; whether it pays inside a
whole training step is for ``train_speed.py`` to show.

``--generator N``: whole generator passes instead (inference, and forward + backward), the
models' norms as they are (``stargan_cli.models.norms.instance_norm``: a group norm on the
CPU) against ``F.instance_norm``, N interleaved runs each, median and ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stargan_cli.devices import select_device  # noqa: E402

EPS = 1e-5
Norm = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def generator_norm_shapes(image_size: int = 128, conv_dim: int = 64, repeat: int = 6) -> list[tuple[int, int, int]]:
    """(channels, height, width) of every instance norm of the generator, in order."""
    s, c = image_size, conv_dim
    shapes = [(c, s, s), (2 * c, s // 2, s // 2), (4 * c, s // 4, s // 4)]
    shapes += [(4 * c, s // 4, s // 4)] * (2 * repeat)
    shapes += [(2 * c, s // 2, s // 2), (c, s, s)]
    return shapes


def aten(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.relu(F.instance_norm(x, None, None, w, b, True, 0.0, EPS))


def var_mean(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    var, mean = torch.var_mean(x.float(), dim=(2, 3), keepdim=True, correction=0)
    scale = torch.rsqrt(var + EPS) * w[None, :, None, None]
    return F.relu((x - mean) * scale + b[None, :, None, None]).to(x.dtype)


def group_norm(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return F.relu(F.group_norm(x, x.size(1), w, b, EPS)).to(x.dtype)


def ways(compile_too: bool) -> dict[str, tuple[Norm, bool]]:
    """name -> (function, channels-last input)."""
    out: dict[str, tuple[Norm, bool]] = {
        "aten": (aten, False), "aten-cl": (aten, True),
        "var_mean": (var_mean, False), "var_mean-cl": (var_mean, True),
        "group_norm": (group_norm, False), "group_norm-cl": (group_norm, True),
    }
    if compile_too:
        out["compiled"] = (torch.compile(var_mean), False)
    return out


def make_inputs(batch: int, shapes: list[tuple[int, int, int]], device: torch.device, dtype: torch.dtype,
                channels_last: bool, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(x, weight, bias, upstream gradient) per shape; x and the gradient in ``dtype``."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for c, h, w in shapes:
        x = (torch.randn(batch, c, h, w, generator=g) * 2 + 0.5)
        grad = torch.randn(batch, c, h, w, generator=g)
        weight = 1 + 0.1 * torch.randn(c, generator=g)
        bias = 0.1 * torch.randn(c, generator=g)
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        x = x.to(device, dtype).contiguous(memory_format=fmt).requires_grad_(True)
        grad = grad.to(device, dtype).contiguous(memory_format=fmt)
        out.append((x, weight.to(device).requires_grad_(True), bias.to(device).requires_grad_(True), grad))
    return out


def check(fn: Norm, channels_last: bool, device: torch.device, dtype: torch.dtype) -> float:
    """Largest relative error of output and input gradient against fp32 ``aten`` (small shapes)."""
    shapes = [(8, 16, 16), (32, 8, 8)]
    worst = 0.0
    for (x, w, b, grad), (xr, wr, br, gradr) in zip(make_inputs(2, shapes, device, dtype, channels_last, seed=3),
                                                  make_inputs(2, shapes, device, torch.float32, False, seed=3)):
        y = fn(x, w, b)
        (gx,) = torch.autograd.grad(y, x, grad)
        yr = aten(xr, wr, br)
        (gxr,) = torch.autograd.grad(yr, xr, gradr)
        for got, ref in ((y, yr), (gx, gxr)):
            err = float((got.detach().float() - ref.detach()).norm() / ref.detach().norm())
            worst = max(worst, err)
    return worst


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_way(fn: Norm, inputs: list, device: torch.device, warmup: int, repeats: int) -> list[float]:
    """Seconds per pass (forward + backward) over all shapes."""

    def one_pass() -> None:
        for x, w, b, grad in inputs:
            y = fn(x, w, b)
            torch.autograd.grad(y, (x, w, b), grad)

    for _ in range(warmup):
        one_pass()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        one_pass()
        sync(device)
        times.append(time.perf_counter() - start)
    return times


def generator_passes(args: argparse.Namespace, device: torch.device, batches: list[int]) -> list[dict[str, Any]]:
    """The generator with its norms as they are vs with ``F.instance_norm``, interleaved runs."""
    from stargan_cli.models import ModelConfig, build_generator, norms

    ours = norms.instance_norm

    def plain(x: torch.Tensor, weight: Any = None, bias: Any = None, eps: float = EPS) -> torch.Tensor:
        return F.instance_norm(x, None, None, weight, bias, True, 0.0, eps)

    config = ModelConfig(attributes=("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"),
                         image_size=args.image_size, g_conv_dim=args.conv_dim)
    torch.manual_seed(0)
    G = build_generator(config).to(device)
    rows = []
    try:
        for batch in batches:
            x = torch.randn(batch, 3, args.image_size, args.image_size, device=device)
            c = torch.zeros(batch, 5, device=device)
            c[:, 1] = 1
            for mode in ("inference", "forward+backward"):
                times: dict[str, list[float]] = {"F.instance_norm": [], "ours": []}
                for run in range(args.generator + 1):  # the first round warms up
                    for name, fn in (("F.instance_norm", plain), ("ours", ours)):
                        norms.instance_norm = fn
                        sync(device)
                        start = time.perf_counter()
                        if mode == "inference":
                            with torch.inference_mode():
                                G(x, c)
                        else:
                            G(x, c).square().mean().backward()
                        sync(device)
                        if run:
                            times[name].append(time.perf_counter() - start)
                base, mine = (1000 * statistics.median(times[k]) for k in ("F.instance_norm", "ours"))
                rows.append({"batch": batch, "mode": mode, "instance_norm_ms": base, "ours_ms": mine,
                             "speedup": base / mine})
    finally:
        norms.instance_norm = ours
    print(f"\nGenerator passes ({args.image_size}px, conv {args.conv_dim}), median of {args.generator} interleaved runs")
    print("| batch | pass | F.instance_norm ms | models' norms ms | speed-up |")
    print("|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['batch']} | {r['mode']} | {r['instance_norm_ms']:,.1f} | {r['ours_ms']:,.1f} | {r['speedup']:.2f}x |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None)
    parser.add_argument("--batch-sizes", default="16,64")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--conv-dim", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--compile", action="store_true", help="also torch.compile the var_mean way")
    parser.add_argument("--generator", type=int, default=0, metavar="N",
                        help="time N whole generator passes per way instead (the models' norms vs F.instance_norm)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    device = select_device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    batches = [int(b) for b in args.batch_sizes.split(",") if b.strip()]
    if args.generator:
        rows = generator_passes(args, device, batches)
        if args.json:
            args.json.write_text(json.dumps({"torch": torch.__version__, "generator": rows}, indent=2) + "\n")
        return 0
    shapes = generator_norm_shapes(args.image_size, args.conv_dim)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}, torch {torch.__version__}, {dtype}, {len(shapes)} norm layers of the "
          f"{args.image_size}px generator", flush=True)
    results: dict[str, Any] = {"device": name, "torch": torch.__version__, "dtype": str(dtype), "rows": []}
    all_ways = ways(args.compile)
    errors = {}
    for way, (fn, cl) in all_ways.items():
        try:
            errors[way] = check(fn, cl, device, dtype)
        except Exception as err:  # noqa: BLE001 - reported in the table
            errors[way] = float("nan")
            print(f"  {way}: check failed: {type(err).__name__}: {str(err).splitlines()[0][:120]}", file=sys.stderr)
    tolerance = 3e-2 if dtype == torch.bfloat16 else 1e-4
    for batch in batches:
        rows = []
        base = None
        for way, (fn, cl) in all_ways.items():
            ok = errors[way] <= tolerance
            if not ok:
                rows.append({"batch": batch, "way": way, "ms": None, "rel_error": errors[way], "ok": False})
                continue
            inputs = make_inputs(batch, shapes, device, dtype, cl)
            try:
                times = time_way(fn, inputs, device, args.warmup, args.repeats)
            except Exception as err:  # noqa: BLE001
                rows.append({"batch": batch, "way": way, "ms": None, "rel_error": errors[way], "ok": False,
                             "error": f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"})
                continue
            ms = 1000 * statistics.median(times)
            base = ms if way == "aten" else base
            rows.append({"batch": batch, "way": way, "ms": ms, "min_ms": 1000 * min(times), "rel_error": errors[way],
                         "ok": True})
            del inputs
        print(f"\nbatch {batch}: forward + backward of IN + ReLU over the generator's norm layers")
        print("| way | ms (median) | min ms | vs aten | rel. error vs fp32 |")
        print("|---|---:|---:|---:|---:|")
        for r in rows:
            if r["ms"] is None:
                print(f"| {r['way']} | - | - | - | {r['rel_error']:.1e} (NOT OK{': ' + r['error'] if 'error' in r else ''}) |")
            else:
                ratio = f"{base / r['ms']:.2f}x" if base else "-"
                print(f"| {r['way']} | {r['ms']:.2f} | {r['min_ms']:.2f} | {ratio} | {r['rel_error']:.1e} |")
        results["rows"] += rows
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

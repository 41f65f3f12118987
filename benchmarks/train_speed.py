"""Training speed: the original StarGAN step (fp32) against our trainer's step, same machine.

    python benchmarks/train_speed.py [--device auto] [--batch-sizes 16,64] [--quick]
    python benchmarks/train_speed.py --variants original,fast,fast-nographs,fast-fp32,fast-cl
    python benchmarks/train_speed.py --loss-check 300 [--json out.json]
    python benchmarks/train_speed.py --sync-check 50
    python benchmarks/train_speed.py --profile 10

One iteration = one D step, plus a G step every ``--n-critic`` (5) iterations, on synthetic
data already on the device (the data pipeline is measured by ``data_speed.py``). Variants:

* ``original``: a re-creation of the original solver's step (yunjey/stargan ``solver.py``): D
  on real and fake images in separate passes, the penalty's critic pass, both optimizers'
  gradients reset, plain ``torch.optim.Adam``, ``.item()`` of every loss every iteration,
  labels drawn and moved to the device each step, stock ``nn.InstanceNorm2d`` with running
  statistics, fp32 (PyTorch's default TF32 convolutions on CUDA, as the original got);
* ``fast``: our trainer's :class:`TrainStep` with its defaults for the device (bf16 autocast,
  fused capturable Adam and CUDA graphs on CUDA; fp32 on the CPU), losses accumulated on the
  device as the trainer does;
* ``fast-nographs``, ``fast-fp32`` (fp32, no graphs), ``fast-cl`` (channels-last),
  ``fast-compile`` (torch.compile), ``fast-fp16``, ``fast-bf16``, ``fast-plainadam``
  (``torch.optim.Adam`` without fused kernels): the same with one setting changed;
  ``fast-bf16-cl``, ``fast-fp32-cl``, ``fast-fp32-compile``: a precision and one setting.

``--loss hinge --n-critic 1 --d-repeat 5 --batch-sizes 8 --quick`` is the bundled model's
recipe (``stargan_cli/assets/models/MODEL_CARD.md``); the defaults are the paper's network.

Each variant is warmed up (``--warmup`` iterations: the fast path captures its graphs then),
then timed over ``--windows`` windows of ``--window`` iterations, the variants' windows
interleaved so that a busy machine slows all alike; the table shows the median it/s and the
ratio to ``original``. ``--loss-check N`` trains N iterations from the same weights, data and
random draws with fp32 eager (the reference), the defaults, bf16 without graphs, and fp32 with
other random draws (the natural spread), and compares 20-iteration means of every loss.
``--sync-check N`` runs N iterations of the default fast path (after warm-up) under
``torch.cuda.set_sync_debug_mode("error")``: any host synchronisation fails it. ``--profile N``
profiles N eager iterations and groups the time (convolution, instance norm, optimizer,
elementwise): what a fused kernel could win.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from stargan_cli.devices import select_device  # noqa: E402
from stargan_cli.models import InstanceNorm, ModelConfig, build_discriminator, build_generator  # noqa: E402
from stargan_cli.training.cuda_graphs import TrainStep  # noqa: E402
from stargan_cli.label_layout import label_parts  # noqa: E402
from stargan_cli.training.networks import compile_networks, make_networks  # noqa: E402
from stargan_cli.training.speed import SpeedPlan, no_sync_context, plan_speed  # noqa: E402
from stargan_cli.training.step import D_LOSSES, G_LOSSES, LossWeights  # noqa: E402

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")
VARIANTS = ("original", "fast", "fast-nographs", "fast-fp32", "fast-cl", "fast-compile", "fast-fp16",
            "fast-plainadam", "fast-bf16", "fast-bf16-cl", "fast-fp32-cl", "fast-fp32-compile")


# ----------------------------------------------------------------------------- data
def synthetic_batches(n: int, batch: int, size: int, device: torch.device, seed: int = 0) -> list[tuple]:
    """``n`` batches of smooth random uint8 images (a coarse grid scaled up, like faces are
    smooth) and CelebA-like labels (one hair colour on, two binary attributes), on ``device``."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        coarse = torch.rand(batch, 3, 6, 5, generator=g)
        images = F.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)
        images = (images * 255).round().to(torch.uint8)
        hair = F.one_hot(torch.randint(0, 3, (batch,), generator=g), 3).float()
        other = (torch.rand(batch, 2, generator=g) > 0.5).float()
        out.append((images.to(device), torch.cat([hair, other], 1).to(device)))
    return out


# ----------------------------------------------------------------------------- original
def original_norms(G: nn.Module) -> nn.Module:
    """Replace our instance norms by stock ``nn.InstanceNorm2d(affine, track_running_stats)``,
    which also update running statistics in training mode, as the original's did."""
    for module in list(G.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, InstanceNorm):
                stock = nn.InstanceNorm2d(child.num_features, affine=True, track_running_stats=True)
                stock.load_state_dict(child.state_dict())
                setattr(module, name, stock.to(child.weight.device))
    return G


class OriginalStep:
    """The original solver's training iteration, re-created (see the module docstring)."""

    def __init__(self, G: nn.Module, D: nn.Module, device: torch.device, lr: float = 1e-4,
                 betas=(0.5, 0.999), lambda_cls=1.0, lambda_rec=10.0, lambda_gp=10.0):
        self.G, self.D, self.device = original_norms(G), D, device
        self.g_opt = torch.optim.Adam(G.parameters(), lr, list(betas))
        self.d_opt = torch.optim.Adam(D.parameters(), lr, list(betas))
        self.lambda_cls, self.lambda_rec, self.lambda_gp = lambda_cls, lambda_rec, lambda_gp
        self.log: dict[str, float] = {}

    @staticmethod
    def cls_loss(logit: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.binary_cross_entropy_with_logits(logit, target, reduction="sum") / logit.size(0)

    def penalty(self, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        ones = torch.ones(y.size()).to(self.device)
        grad = torch.autograd.grad(outputs=y, inputs=x, grad_outputs=ones, retain_graph=True,
                                   create_graph=True, only_inputs=True)[0]
        norm = torch.sqrt(torch.sum(grad.view(grad.size(0), -1) ** 2, dim=1))
        return torch.mean((norm - 1) ** 2)

    def reset_grad(self) -> None:
        self.g_opt.zero_grad()
        self.d_opt.zero_grad()

    def __call__(self, x_real: torch.Tensor, label_org: torch.Tensor, train_g: bool,
                 rand_idx: torch.Tensor | None = None) -> None:
        """One iteration; ``rand_idx`` fixes the target permutation (tests), else drawn."""
        if rand_idx is None:
            rand_idx = torch.randperm(label_org.size(0))
        label_trg = label_org[rand_idx]
        c_org, c_trg = label_org.clone(), label_trg.clone()
        x_real = x_real.to(self.device)
        c_org, c_trg = c_org.to(self.device), c_trg.to(self.device)
        label_org, label_trg = label_org.to(self.device), label_trg.to(self.device)

        out_src, out_cls = self.D(x_real)
        d_loss_real = -torch.mean(out_src)
        d_loss_cls = self.cls_loss(out_cls, label_org)
        x_fake = self.G(x_real, c_trg)
        out_src, out_cls = self.D(x_fake.detach())
        d_loss_fake = torch.mean(out_src)
        alpha = torch.rand(x_real.size(0), 1, 1, 1).to(self.device)
        x_hat = (alpha * x_real.data + (1 - alpha) * x_fake.data).requires_grad_(True)
        out_src, _ = self.D(x_hat)
        d_loss_gp = self.penalty(out_src, x_hat)
        d_loss = d_loss_real + d_loss_fake + self.lambda_cls * d_loss_cls + self.lambda_gp * d_loss_gp
        self.reset_grad()
        d_loss.backward()
        self.d_opt.step()
        self.log.update({"D/loss_real": d_loss_real.item(), "D/loss_fake": d_loss_fake.item(),
                         "D/loss_cls": d_loss_cls.item(), "D/loss_gp": d_loss_gp.item()})
        if not train_g:
            return
        x_fake = self.G(x_real, c_trg)
        out_src, out_cls = self.D(x_fake)
        g_loss_fake = -torch.mean(out_src)
        g_loss_cls = self.cls_loss(out_cls, label_trg)
        x_reconst = self.G(x_fake, c_org)
        g_loss_rec = torch.mean(torch.abs(x_real - x_reconst))
        g_loss = g_loss_fake + self.lambda_rec * g_loss_rec + self.lambda_cls * g_loss_cls
        self.reset_grad()
        g_loss.backward()
        self.g_opt.step()
        self.log.update({"G/loss_fake": g_loss_fake.item(), "G/loss_rec": g_loss_rec.item(),
                         "G/loss_cls": g_loss_cls.item()})


# ----------------------------------------------------------------------------- variants
@dataclass
class Variant:
    name: str
    run: Callable[[int], None]  # run(iteration)
    describe: str
    stepper: Any = None


def model_config(args: argparse.Namespace) -> ModelConfig:
    return ModelConfig(attributes=ATTRS, image_size=args.image_size, g_conv_dim=args.conv_dim,
                       d_conv_dim=args.conv_dim, g_repeat=args.repeat, d_repeat=args.d_repeat)


def fast_plan(name: str, args: argparse.Namespace, device: torch.device) -> SpeedPlan:
    """The trainer's plan for ``device``, with the flags and the variant's one change applied."""
    precision = next((p for p in ("fp32", "bf16", "fp16") if name.startswith(f"fast-{p}")), args.precision)
    graphs = False if name in ("fast-nographs", "fast-plainadam") or name.startswith("fast-fp32") else args.cuda_graphs
    return plan_speed(device, precision, graphs, compile=args.compile or name.endswith("-compile"),
                      channels_last=args.channels_last or name.endswith("-cl"))


def build_variant(name: str, args: argparse.Namespace, device: torch.device, batches: list[tuple],
                  seed: int = 1234, rng_seed: int | None = None, record: list | None = None) -> Variant:
    """Models with the trainer's initial weights for ``seed``, and the iteration function."""
    config = model_config(args)
    torch.manual_seed(seed)
    G, D = build_generator(config).to(device), build_discriminator(config).to(device)
    n_critic = args.n_critic
    if name == "original":
        step = OriginalStep(G, D, device)
        host = [(normalize_u8(images), labels.cpu()) for images, labels in batches]

        def run(i: int) -> None:
            x, labels = host[i % len(host)]
            step(x, labels, (i + 1) % n_critic == 0)

        return Variant(name, run, "fp32, separate passes, .item() every step, plain Adam")
    plan = fast_plan(name, args, device)
    nets = make_networks(G, D, device, plan, 1e-4, 1e-4, (0.5, 0.999))
    if name == "fast-plainadam":
        nets.g_optimizer = torch.optim.Adam(G.parameters(), 1e-4, (0.5, 0.999), fused=False, foreach=False)
        nets.d_optimizer = torch.optim.Adam(D.parameters(), 1e-4, (0.5, 0.999), fused=False, foreach=False)
    if plan.compile:
        compile_networks(nets)
    part = label_parts([(ATTRS, "multi")])[0]
    stepper = TrainStep(nets, LossWeights(args.loss), len(ATTRS), device, cuda_graphs=plan.cuda_graphs,
                        channels_last=plan.channels_last,
                        say=lambda text: print(f"[{name}] {text}", file=sys.stderr))
    rng = torch.Generator(device=device)
    rng.manual_seed(seed if rng_seed is None else rng_seed)
    d_sum = torch.zeros(len(D_LOSSES), device=device)
    g_sum = torch.zeros(len(G_LOSSES), device=device)
    no_g = torch.full((len(G_LOSSES),), float("nan"), device=device)

    def run(i: int) -> None:
        images, labels = batches[i % len(batches)]
        d, g = stepper(0, part, images, labels, rng, (i + 1) % n_critic == 0)
        d_sum.add_(d.values)
        if g is not None:
            g_sum.add_(g.values)
        if record is not None:
            record.append(torch.cat([d.values, g.values if g is not None else no_g]))

    return Variant(name, run, plan.describe() + (", plain Adam" if name == "fast-plainadam" else ""), stepper)


def normalize_u8(images: torch.Tensor) -> torch.Tensor:
    return (images.float() / 255.0 - 0.5) / 0.5


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# ----------------------------------------------------------------------------- speed
def _error_text(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0][:160] if text else ''}"


def measure(args: argparse.Namespace, device: torch.device, batch: int) -> list[dict[str, Any]]:
    """Time every variant at ``batch``; a variant that fails gets a row saying so and the
    others go on (one bad variant must not cost the whole run)."""
    batches = synthetic_batches(args.data_batches, batch, args.image_size, device)
    variants: list[Variant] = []
    failed: dict[str, str] = {}
    counters: dict[str, int] = {}
    for name in args.variants:
        start = time.perf_counter()
        try:
            v = build_variant(name, args, device, batches)
            counters[name] = 0
            for _ in range(args.warmup):
                v.run(counters[name])
                counters[name] += 1
            sync(device)
        except Exception as err:  # noqa: BLE001 - reported as the variant's row
            failed[name] = _error_text(err)
            print(f"  batch {batch}: {name} FAILED: {failed[name]}", file=sys.stderr, flush=True)
            continue
        variants.append(v)
        print(f"  batch {batch}: {name} warmed up ({args.warmup} iterations, {time.perf_counter() - start:.1f}s)",
              file=sys.stderr, flush=True)
    rates: dict[str, list[float]] = {v.name: [] for v in variants}
    for _ in range(args.windows):
        for v in variants:
            if v.name in failed:
                continue
            try:
                sync(device)
                start = time.perf_counter()
                for _ in range(args.window):
                    v.run(counters[v.name])
                    counters[v.name] += 1
                sync(device)
            except Exception as err:  # noqa: BLE001
                failed[v.name] = _error_text(err)
                print(f"  batch {batch}: {v.name} FAILED: {failed[v.name]}", file=sys.stderr, flush=True)
                continue
            rates[v.name].append(args.window / (time.perf_counter() - start))
            print(f"  batch {batch}: {v.name} window {len(rates[v.name])}: {rates[v.name][-1]:.3f} it/s",
                  file=sys.stderr, flush=True)
    timed = [v for v in variants if v.name not in failed and rates[v.name]]
    base_rates = rates[timed[0].name] if timed and timed[0].name == args.variants[0] else None
    base = statistics.median(base_rates) if base_rates else float("nan")
    best_base = max(base_rates) if base_rates else float("nan")  # others' load only ever slows a window down
    rows = []
    for name in args.variants:
        if name in failed:
            rows.append({"batch": batch, "variant": name, "error": failed[name], "setup": f"FAILED: {failed[name]}"})
            continue
        v = next(v for v in timed if v.name == name)
        median = statistics.median(rates[name])
        graphs = v.stepper.captured_graphs if v.stepper is not None else 0
        note = v.describe + (f", {graphs} graphs captured" if graphs else "")
        if v.stepper is not None and v.stepper.fallback_reason:
            note += f", graphs fell back: {v.stepper.fallback_reason}"
        rows.append({"batch": batch, "variant": name, "it_per_s": median, "min": min(rates[name]),
                     "max": max(rates[name]), "images_per_s": median * batch, "ratio": median / base,
                     "best_ratio": max(rates[name]) / best_base,
                     "setup": note})
    del variants, timed
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return rows


def speed_table(rows: list[dict[str, Any]]) -> list[tuple[str, ...]]:
    """The speed rows as table cells (a failed variant shows dashes and its error)."""
    out = []
    for r in rows:
        if "error" in r:
            out.append((str(r["batch"]), r["variant"], "-", "-", "-", "-", "-", r["setup"]))
            continue
        out.append((str(r["batch"]), r["variant"], f"{r['it_per_s']:.2f}", f"{r['min']:.2f}-{r['max']:.2f}",
                    f"{r['images_per_s']:.0f}", f"{r['ratio']:.2f}x", f"{r['best_ratio']:.2f}x", r["setup"]))
    return out


def write_json(path: Path | None, results: dict[str, Any]) -> None:
    """Write ``results`` to ``path`` (temp file, then rename): called after each part, so a run
    stopped by a time limit keeps what it measured."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=2) + "\n")
    tmp.replace(path)


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |")


# ----------------------------------------------------------------------------- loss check
def loss_check(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Train ``args.loss_check`` iterations per configuration from the same start; compare."""
    batch = args.batch_sizes[0]
    batches = synthetic_batches(args.data_batches, batch, args.image_size, device, seed=7)
    configs = [("fp32 (reference)", "fast-fp32", None), ("defaults", "fast", None)]
    if device.type == "cuda":
        configs.append(("bf16, no graphs", "fast-nographs", None))
    if args.compile:
        configs.append(("compiled", "fast-compile", None))
    configs.append(("fp32, other random draws", "fast-fp32", 99))
    curves: dict[str, torch.Tensor] = {}
    notes: dict[str, str] = {}
    for label, name, rng_seed in configs:
        record: list[torch.Tensor] = []
        start = time.perf_counter()
        try:
            variant = build_variant(name, args, device, batches, rng_seed=rng_seed, record=record)
            for i in range(args.loss_check):
                variant.run(i)
        except Exception as err:  # noqa: BLE001 - the configuration is reported as failed
            if label == "fp32 (reference)":
                raise
            notes[label] = f"FAILED: {_error_text(err)}"
            print(f"  {label}: {notes[label]}", file=sys.stderr, flush=True)
            continue
        curves[label] = torch.stack(record).float().cpu()
        notes[label] = variant.describe + (f"; graphs fell back: {variant.stepper.fallback_reason}"
                                           if variant.stepper.fallback_reason else "")
        print(f"  {label}: {args.loss_check} iterations in {time.perf_counter() - start:.1f}s ({notes[label]})",
              file=sys.stderr, flush=True)
    names = list(D_LOSSES) + list(G_LOSSES)
    ref = curves["fp32 (reference)"]
    window = min(20, max(args.n_critic, args.loss_check // 5))

    def window_means(curve: torch.Tensor) -> torch.Tensor:
        n = curve.size(0) // window
        return torch.stack([curve[k * window:(k + 1) * window].nanmean(0) for k in range(n)])

    ref_w = window_means(ref)
    g_rows = torch.tensor([(i + 1) % args.n_critic == 0 for i in range(args.loss_check)])
    n_d = len(D_LOSSES)

    def finite(curve: torch.Tensor) -> bool:
        """Every D loss, and every G loss of an iteration with a G step (the others are NaN)."""
        return bool(torch.isfinite(curve[:, :n_d]).all() and torch.isfinite(curve[g_rows, n_d:]).all())

    deviations = {}
    for label, curve in curves.items():
        if label == "fp32 (reference)":
            continue
        # A NaN window mean (a loss that became NaN throughout a window) is an infinite deviation.
        diff = (window_means(curve) - ref_w).abs().nan_to_num(float("inf"))
        deviations[label] = {n: float(diff[:, j].max()) for j, n in enumerate(names)}
        deviations[label]["finite"] = finite(curve)
    spread = deviations.get("fp32, other random draws", {n: 0.0 for n in names})
    verdict = {}
    for label, dev in deviations.items():
        if label == "fp32, other random draws":
            continue
        # Within tolerance: no loss moves further from fp32 than other random draws move it
        # (or than 2% of the loss's size, where that spread is tiny).
        scale = {n: float(ref_w[:, j].abs().nanmean()) for j, n in enumerate(names)}
        verdict[label] = dev["finite"] and all(dev[n] <= max(spread[n], 0.02 * scale[n], 1e-3) for n in names)
    header = ("configuration",) + tuple(names) + ("tracks fp32",)
    for label, note in notes.items():
        if note.startswith("FAILED"):
            verdict[label] = False
    rows = []
    for label, dev in deviations.items():
        rows.append((label, *[f"{dev[n]:.4f}" for n in names],
                     "-" if label not in verdict else ("yes" if verdict[label] else "NO")))
    for label, note in notes.items():
        if note.startswith("FAILED"):
            rows.append((label, *["-"] * len(names), f"NO ({note})"))
    print_table(f"Loss tracking, batch {batch}, {args.image_size}px conv {args.conv_dim}, "
                f"{args.loss_check} iterations: largest |difference| of {window}-iteration means from fp32 eager",
                header, rows)
    final = {label: {n: float(window_means(c)[-1, j]) for j, n in enumerate(names)} for label, c in curves.items()}
    return {"iterations": args.loss_check, "batch": batch, "window": window, "max_window_deviation": deviations,
            "tracks_fp32": verdict, "last_window_means": final, "setups": notes}


# Kernel and operator names grouped into what a fused or faster kernel could replace.
PROFILE_GROUPS = (
    ("convolution", ("conv", "cudnn", "gemm", "wgrad", "dgrad", "sm90_xmma", "cutlass", "implicit")),
    ("instance norm", ("instance_norm", "batch_norm", "group_norm", "bn_fw", "bn_bw", "welford", "var_mean")),
    ("optimizer", ("adam", "foreach", "multi_tensor")),
    ("elementwise", ("elementwise", "vectorized", "relu", "leaky", "add", "mul", "copy", "fill", "where",
                     "cat", "reduce", "sum", "mean", "abs", "flip")),
)


def profile_check(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Where an iteration's device time goes: ``args.profile`` eager iterations of the default
    precision without graphs (a replayed graph shows as one block) under torch.profiler, after
    warm-up; the top operators and the share of each group of kernels."""
    from torch.profiler import ProfilerActivity, profile

    batch = args.batch_sizes[0]
    variant = build_variant("fast-nographs", args, device, synthetic_batches(args.data_batches, batch,
                                                                             args.image_size, device))
    for i in range(args.warmup):
        variant.run(i)
    sync(device)
    cuda = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    with profile(activities=activities) as prof:
        for i in range(args.warmup, args.warmup + args.profile):
            variant.run(i)
        sync(device)
    events = prof.key_averages()

    def device_us(e: Any) -> float:
        if cuda:
            return float(getattr(e, "self_device_time_total", 0.0) or getattr(e, "self_cuda_time_total", 0.0))
        return float(e.self_cpu_time_total)

    rows = sorted(((e.key, device_us(e), e.count) for e in events), key=lambda r: -r[1])
    total = sum(t for _, t, _ in rows) or 1.0
    groups = {name: 0.0 for name, _ in PROFILE_GROUPS}
    groups["other"] = 0.0
    for key, t, _ in rows:
        low = key.lower()
        group = next((name for name, words in PROFILE_GROUPS if any(w in low for w in words)), "other")
        groups[group] += t
    per_iter_ms = total / 1000 / args.profile
    print_table(f"Profile: {variant.describe}, no graphs, batch {batch}, {args.profile} iterations, "
                f"{per_iter_ms:.2f} ms of {'device' if cuda else 'CPU'} time per iteration (self time)",
                ("group", "share", "ms per iteration"),
                [(g, f"{100 * t / total:.1f}%", f"{t / 1000 / args.profile:.3f}") for g, t in groups.items()])
    top = rows[:25]
    print_table("Top operators and kernels by self time", ("name", "share", "ms per iteration", "calls"),
                [(k[:90], f"{100 * t / total:.1f}%", f"{t / 1000 / args.profile:.3f}", str(c)) for k, t, c in top])
    return {"iterations": args.profile, "batch": batch, "setup": variant.describe, "ms_per_iteration": per_iter_ms,
            "groups_ms_per_iteration": {g: t / 1000 / args.profile for g, t in groups.items()},
            "top": [{"name": k, "ms_per_iteration": t / 1000 / args.profile, "calls": c} for k, t, c in top]}


def sync_check(args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """The default fast path, after warm-up, under set_sync_debug_mode("error")."""
    if device.type != "cuda":
        print("sync check: needs CUDA (skipped)")
        return {"skipped": True}
    batch = args.batch_sizes[0]
    variant = build_variant("fast", args, device, synthetic_batches(args.data_batches, batch, args.image_size, device))
    for i in range(args.warmup):
        variant.run(i)
    sync(device)
    try:
        with no_sync_context(device):
            for i in range(args.warmup, args.warmup + args.sync_check):
                variant.run(i)
        sync(device)
        result = {"ok": True, "iterations": args.sync_check, "graphs": variant.stepper.captured_graphs}
    except RuntimeError as err:
        result = {"ok": False, "error": str(err).splitlines()[0]}
    print(f"sync check ({args.sync_check} iterations under set_sync_debug_mode('error')): "
          + ("no host synchronisation" if result["ok"] else f"FAILED: {result['error']}"))
    return result


# ----------------------------------------------------------------------------- main
def machine(device: torch.device) -> dict[str, Any]:
    info = {"torch": torch.__version__, "python": platform.python_version(), "device": str(device),
            "threads": torch.get_num_threads(), "date": datetime.now().isoformat(timespec="seconds")}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        cpu = platform.processor() or "unknown"
    info["cpu"] = cpu
    return info


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cuda, cpu, ... (default: the best there is)")
    parser.add_argument("--batch-sizes", default="16,64", help="comma-separated (default: %(default)s)")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--conv-dim", type=int, default=64, help="first-layer channels of G and D")
    parser.add_argument("--repeat", type=int, default=6, help="residual blocks of G")
    parser.add_argument("--d-repeat", type=int, default=6, help="stride-2 layers of D")
    parser.add_argument("--n-critic", type=int, default=5)
    parser.add_argument("--loss", choices=("wgan-gp", "hinge"), default="wgan-gp", help="adversarial loss")
    parser.add_argument("--quick", action="store_true",
                        help="small settings for a CPU: 64 px, conv 32, 3 windows of 5 iterations, warm-up 5")
    parser.add_argument("--variants", default="original,fast", help=f"comma-separated of {', '.join(VARIANTS)}")
    parser.add_argument("--warmup", type=int, default=None, help="untimed iterations first (default: 30 on CUDA, 5 else)")
    parser.add_argument("--windows", type=int, default=None, help="timed windows per variant (default: 5, quick 3)")
    parser.add_argument("--window", type=int, default=None, help="iterations per window (default: 50 on CUDA, 5 else)")
    parser.add_argument("--data-batches", type=int, default=8, help="distinct synthetic batches cycled through")
    parser.add_argument("--precision", choices=("fp32", "bf16", "fp16"), default=None, help="of the fast path")
    parser.add_argument("--cuda-graphs", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--loss-check", type=int, default=0, metavar="N", help="compare losses over N iterations")
    parser.add_argument("--sync-check", type=int, default=0, metavar="N", help="N iterations with sync errors on")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile N eager iterations (default precision, no graphs): where the time goes")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)
    if args.quick:
        args.image_size, args.conv_dim = 64, 32
        args.windows = args.windows or 3
    args.batch_sizes = [int(b) for b in str(args.batch_sizes).split(",") if b.strip()]
    args.variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in args.variants if v not in VARIANTS]
    if unknown:
        parser.error(f"unknown variant(s) {', '.join(unknown)}; choose from {', '.join(VARIANTS)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    cuda = device.type == "cuda"
    args.warmup = args.warmup if args.warmup is not None else (30 if cuda else args.n_critic)
    args.windows = args.windows or 5
    args.window = args.window or (50 if cuda else args.n_critic)
    if cuda:
        torch.backends.cudnn.benchmark = True  # as the trainer (the original set it too)
    info = machine(device)
    results: dict[str, Any] = {"machine": info, "argv": sys.argv[1:],
                               "model": {"image_size": args.image_size, "conv_dim": args.conv_dim,
                                         "repeat": args.repeat, "d_repeat": args.d_repeat}}
    print(f"{info.get('gpu', info['cpu'])}, torch {info['torch']}, {args.image_size}px, conv {args.conv_dim}, "
          f"G repeat {args.repeat}, n_critic {args.n_critic}", flush=True)
    if args.sync_check:
        results["sync_check"] = sync_check(args, device)
        write_json(args.json, results)
    if args.loss_check:
        results["loss_check"] = loss_check(args, device)
        write_json(args.json, results)
    if args.profile:
        results["profile"] = profile_check(args, device)
        write_json(args.json, results)
    if not (args.sync_check or args.loss_check or args.profile):
        rows: list[dict[str, Any]] = []
        results["speed"] = rows
        for batch in args.batch_sizes:
            rows += measure(args, device, batch)
            print_table(f"Training iterations per second ({args.windows} windows of {args.window} iterations "
                        f"after {args.warmup} warm-up, median)",
                        ("batch", "variant", "it/s", "min-max", "images/s", f"vs {args.variants[0]}",
                         "best vs best", "setup"), speed_table(rows))
            write_json(args.json, results)
    write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())

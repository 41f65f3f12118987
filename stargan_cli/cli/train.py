"""`stargan train`: flags to a TrainConfig, then :func:`stargan_cli.training.train`."""

from __future__ import annotations

from pathlib import Path
from enum import Enum
from typing import Annotated, Any, Optional

import typer

from ..choices import (
    ADVERSARIAL_LOSSES, DATASETS, G_OUTPUTS, NORMS, PRECISIONS, RESUMABLE_SETTINGS, SCHEDULES, UPSAMPLES,
)
from .common import DeviceOption, console, err_console

HELP = """Train a StarGAN on CelebA, a folder-per-domain dataset, or both jointly.

By default it trains on the CelebA folder that `stargan download celeba` fills, with the paper's settings (128 px, 5 attributes, WGAN-GP, 200k iterations). Everything goes to a run folder: config.json, checkpoints/ (the last --keep), final.pt, samples/, metrics.jsonl, tensorboard/.

Several GPUs: start it with torchrun, e.g. `torchrun --nproc_per_node 4 -m stargan_cli train ...`; --batch-size is then per process.

Ctrl-C saves a checkpoint and exits (code 130). `--resume RUN_DIR` continues exactly where the last checkpoint stopped; a resumed run may change {resumable}, nothing else.

Examples:

  stargan train

  stargan train --attrs Blond_Hair,Male --image-size 64 --iters 50000

  stargan train --dataset folder --data faces/

  stargan train --resume RUN_DIR

  stargan train --init stargan-celeba-mini --data my-celeba/ --iters 5000
"""

# The flag of each TrainConfig field whose flag is not simply --field-name (None: no flag of
# its own here; `stargan study` sets it).
_FLAGS = {"tensorboard": "--no-tensorboard", "use_cache": "--no-cache",
          "cuda_graphs": "--cuda-graphs", "save_every_seconds": None}


def resumable_flags() -> list[str]:
    """The flags a resumed run may change (:data:`~stargan_cli.choices.RESUMABLE_SETTINGS`)."""
    flags = [_FLAGS.get(name, "--" + name.replace("_", "-")) for name in RESUMABLE_SETTINGS]
    return [flag for flag in flags if flag is not None]


HELP = HELP.replace("{resumable}", ", ".join(resumable_flags()))



def _choices(name: str, *values: str) -> type[Enum]:
    return Enum(name, {v.replace("-", "_"): v for v in values}, type=str)


DatasetChoice = _choices("DatasetChoice", *DATASETS)
NormChoice = _choices("NormChoice", *NORMS)
LossChoice = _choices("LossChoice", *ADVERSARIAL_LOSSES)
ScheduleChoice = _choices("ScheduleChoice", *SCHEDULES)
PrecisionChoice = _choices("PrecisionChoice", *PRECISIONS)
GOutputChoice = _choices("GOutputChoice", *G_OUTPUTS)
UpsampleChoice = _choices("UpsampleChoice", *UPSAMPLES)


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("train", help=HELP)
    def train_cmd(
        ctx: typer.Context,
        data: Annotated[Optional[Path], typer.Option(
            "--data", help="CelebA folder (default: the one `stargan download celeba` fills); with "
            "--dataset folder, the folder dataset (one subfolder of images per domain).",
            show_default=False)] = None,
        dataset: Annotated[DatasetChoice, typer.Option(
            "--dataset", case_sensitive=False,
            help="celeba, folder (--data DIR/<domain>/*.jpg), or both: joint training on CelebA and "
            "--folder-data with the paper's mask vector.")] = "celeba",
        folder_data: Annotated[Optional[Path], typer.Option(
            "--folder-data", help="The folder dataset for --dataset both.", show_default=False)] = None,
        attrs: Annotated[Optional[list[str]], typer.Option(
            "--attrs", help="CelebA attributes to train, comma-separated or repeated "
            "\\[default: Black_Hair,Blond_Hair,Brown_Hair,Male,Young].", show_default=False)] = None,
        image_size: Annotated[int, typer.Option("--image-size", help="Image side in pixels.")] = 128,
        norm: Annotated[NormChoice, typer.Option(
            "--norm", case_sensitive=False,
            help="concat: the label as extra input channels (the original); lookup: per-domain "
            "norm gains and biases.")] = "concat",
        loss: Annotated[LossChoice, typer.Option(
            "--loss", case_sensitive=False, help="Adversarial loss.")] = "wgan-gp",
        g_output: Annotated[GOutputChoice, typer.Option(
            "--g-output", case_sensitive=False,
            help="rgb: G redraws every pixel (the original); mask: G gives a colour image and an "
            "attention mask, and changes only where the mask is open.")] = "rgb",
        upsample: Annotated[UpsampleChoice, typer.Option(
            "--upsample", case_sensitive=False,
            help="transposed: transposed convolutions (the original); resize: nearest x2 and a 3x3 "
            "convolution (no checkerboard).")] = "transposed",
        g_ema: Annotated[float, typer.Option(
            "--g-ema", help="Keep a moving average of G's weights with this decay (e.g. 0.999; 0: "
            "none); samples, eval and translation then use the average.")] = 0.0,
        lambda_mask: Annotated[float, typer.Option(
            "--lambda-mask", help="With --g-output mask: weight of the term that keeps each mask's "
            "mean opening between --mask-floor and --mask-cap.")] = 2.0,
        mask_floor: Annotated[float, typer.Option(
            "--mask-floor", help="With --g-output mask: the least mean opening of a mask whose target "
            "differs from the source (stops the mask closing for good).")] = 0.1,
        mask_cap: Annotated[float, typer.Option(
            "--mask-cap", help="With --g-output mask: the largest mean opening of a mask.")] = 0.4,
        lambda_mask_tv: Annotated[float, typer.Option(
            "--lambda-mask-tv", help="With --g-output mask: weight of the mask's total variation "
            "(smoothness).")] = 1e-3,
        init: Annotated[Optional[str], typer.Option(
            "--init", help="Start a new run from this model's weights (a .pt/.ckpt file or an "
            "installed model's name): G, D and the moving average where present, with fresh "
            "optimizers. Its shape settings (size, channels, norm, generator variant) are taken "
            "from the model.", show_default=False)] = None,
        lambda_cls: Annotated[float, typer.Option("--lambda-cls", help="Weight of the domain classification loss.")] = 1.0,
        lambda_rec: Annotated[float, typer.Option("--lambda-rec", help="Weight of the cycle reconstruction loss.")] = 10.0,
        lambda_gp: Annotated[float, typer.Option("--lambda-gp", help="Weight of the gradient penalty (wgan-gp).")] = 10.0,
        warmup_iters: Annotated[int, typer.Option(
            "--warmup-iters", help="First iterations train G alone to reproduce its input (an "
            "identity map) before GAN training starts.", min=0)] = 0,
        augment: Annotated[str, typer.Option(
            "--augment", help="Augment every image D sees, real and fake: translation, cutout or "
            "translation,cutout (for small datasets; none by default).", show_default=False)] = "",
        batch_size: Annotated[int, typer.Option(
            "--batch-size", help="Images per batch (per process under torchrun).")] = 16,
        iters: Annotated[int, typer.Option("--iters", help="Training iterations.")] = 200_000,
        time_budget: Annotated[Optional[str], typer.Option(
            "--time-budget", metavar="DURATION",
            help="Stop after this much training wall-clock (e.g. 90m, 2h; counted across --resume, "
            "setup not included) with a final model, even before --iters. The learning rates still "
            "decay by --iters: add --decay-iters 0 to keep them constant.", show_default=False)] = None,
        decay_iters: Annotated[int, typer.Option(
            "--decay-iters", help="Iterations over which the learning rates decay, at the end "
            "(at most --iters).")] = 100_000,
        lr_schedule: Annotated[ScheduleChoice, typer.Option(
            "--lr-schedule", case_sensitive=False,
            help="paper: linear decay to 0 over the last --decay-iters iterations (what the paper "
            "says); official: what the official code does (lr -= lr/decay_iters every 1000 "
            "iterations, ending near the initial rate).")] = "paper",
        g_lr: Annotated[float, typer.Option("--g-lr", help="Generator learning rate.")] = 1e-4,
        d_lr: Annotated[float, typer.Option("--d-lr", help="Discriminator learning rate.")] = 1e-4,
        beta1: Annotated[float, typer.Option("--beta1", help="Adam beta1.")] = 0.5,
        beta2: Annotated[float, typer.Option("--beta2", help="Adam beta2.")] = 0.999,
        n_critic: Annotated[int, typer.Option("--n-critic", help="D updates per G update.")] = 5,
        g_conv_dim: Annotated[int, typer.Option("--g-conv-dim", help="Channels of G's first layer.")] = 64,
        d_conv_dim: Annotated[int, typer.Option("--d-conv-dim", help="Channels of D's first layer.")] = 64,
        g_repeat: Annotated[int, typer.Option("--g-repeat", help="Residual blocks in G.")] = 6,
        d_repeat: Annotated[int, typer.Option("--d-repeat", help="Stride-2 layers in D.")] = 6,
        seed: Annotated[int, typer.Option("--seed", help="Seed of weights, data order and random draws.")] = 1234,
        device: DeviceOption = None,
        precision: Annotated[Optional[PrecisionChoice], typer.Option(
            "--precision", case_sensitive=False,
            help="Compute precision. auto: bf16 autocast (fp32 weights and optimizer state) on CUDA "
            "and on CPUs with native bf16 (AVX512-BF16 or AMX), fp32 elsewhere; the run's first lines "
            "say which \\[default: auto].",
            show_default=False)] = None,
        cuda_graphs: Annotated[Optional[bool], typer.Option(
            "--cuda-graphs/--no-cuda-graphs",
            help="Capture each kind of training step (D only, D+G) in a CUDA graph after a few eager "
            "steps and replay it: no per-kernel launch cost. Each graph's first replay is checked "
            "against an eager step; on any capture error or mismatch training continues without "
            "graphs, with a warning. \\[default: on for one CUDA process in bf16/fp32; "
            "--no-cuda-graphs turns them off]", show_default=False)] = None,
        compile_: Annotated[bool, typer.Option(
            "--compile", help="torch.compile the generator and the discriminator's main pass "
            "(experimental: slow start, numerics not yet measured against fp32 on a GPU).")] = False,
        channels_last: Annotated[bool, typer.Option(
            "--channels-last", help="Channels-last (NHWC) tensors and weights (slower on CPUs in "
            "our measurements; unmeasured on GPUs, see benchmarks/RESULTS.md).")] = False,
        num_workers: Annotated[Optional[int], typer.Option(
            "--num-workers", help="Data loader processes \\[default: 2 with the preprocessed cache].",
            show_default=False)] = None,
        out: Annotated[Optional[Path], typer.Option(
            "--out", help="Run folder \\[default: <runs dir>/<time>-<norm>-<loss>-<n>attrs-<size>px].",
            show_default=False)] = None,
        resume: Annotated[Optional[Path], typer.Option(
            "--resume", help="Continue the run in this folder from its last checkpoint.",
            show_default=False)] = None,
        save_every: Annotated[int, typer.Option("--save-every", help="Checkpoint every N iterations.")] = 10_000,
        keep: Annotated[int, typer.Option("--keep", help="Checkpoints kept (plus final.pt).")] = 3,
        sample_every: Annotated[int, typer.Option("--sample-every", help="Sample grid every N iterations.")] = 1_000,
        log_every: Annotated[int, typer.Option("--log-every", help="Metrics line every N iterations.")] = 10,
        no_tensorboard: Annotated[bool, typer.Option(
            "--no-tensorboard", help="Do not write TensorBoard files (written only when it is installed).")] = False,
        no_cache: Annotated[bool, typer.Option(
            "--no-cache", help="Decode the image files every epoch instead of a preprocessed cache.")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Plain log lines instead of a progress bar.")] = False,
    ) -> None:
        values = dict(ctx.params)
        explicit = {name for name in values if _given(ctx, name)}
        run(values, explicit)


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def to_config_fields(values: dict[str, Any]) -> dict[str, Any]:
    """CLI values to TrainConfig field values (attrs parsed, negated switches turned around)."""
    from ..attributes import DEFAULT_ATTRIBUTES, parse_attribute_list
    from ..progress import parse_duration

    fields = dict(values)
    fields.pop("resume", None)
    if "compile_" in fields:
        fields["compile"] = fields.pop("compile_")
    fields["tensorboard"] = not fields.pop("no_tensorboard")
    fields["use_cache"] = not fields.pop("no_cache")
    attrs = fields.get("attrs")
    fields["attrs"] = tuple(parse_attribute_list(attrs)) if attrs else DEFAULT_ATTRIBUTES
    for name in ("data", "folder_data", "out"):
        if fields.get(name) is not None:  # absolute, so that --resume works from any folder
            fields[name] = str(Path(fields[name]).expanduser().resolve())
    if fields.get("time_budget") is not None:
        fields["time_budget"] = parse_duration(fields["time_budget"], "--time-budget")
    for name in ("dataset", "norm", "loss", "lr_schedule", "precision", "g_output", "upsample"):
        value = fields.get(name)
        if value is not None:
            fields[name] = (value.value if isinstance(value, Enum) else value).lower()
    return fields


def run(values: dict[str, Any], explicit: set[str]) -> None:
    """Build the TrainConfig from flag ``values`` (``explicit``: the flags given) and train."""
    import warnings

    from ..data import DataWarning
    from ..errors import UsageError
    from ..training import TrainConfig, TrainingInterrupted, resume_config, train

    fields = to_config_fields(values)
    if values.get("resume") is not None:
        if "out" in explicit:
            raise UsageError("--out and --resume do not go together: a resumed run stays in its folder")
        renamed = {"no_tensorboard": "tensorboard", "no_cache": "use_cache", "compile_": "compile"}
        given = {renamed.get(n, n) for n in explicit}
        config = resume_config(values["resume"], {k: fields[k] for k in given if k in fields})
    else:
        if fields["dataset"] == "folder" and "attrs" in explicit:
            raise UsageError("--attrs picks CelebA attributes; a folder dataset's domains are its subfolders")
        config = TrainConfig(**fields)
        if config.init is not None:
            from ..training.initial import config_for_init, load_init_model

            config = config_for_init(config, load_init_model(config.init).config, explicit)

    def show(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        err_console.print(f"[yellow]Warning:[/] {message}", highlight=False, soft_wrap=True)

    with warnings.catch_warnings():
        warnings.simplefilter("always", DataWarning)
        warnings.showwarning = show
        try:
            train(config, console=console)
        except TrainingInterrupted as stop:
            if not stop.is_main:
                raise typer.Exit(stop.exit_code) from None
            where = f"checkpoint {stop.checkpoint}" if stop.checkpoint else "no checkpoint yet"
            err_console.print(
                f"Interrupted at step {stop.step} ({where}); continue with: "
                f"stargan train --resume {stop.run_dir}", highlight=False, soft_wrap=True,
            )
            raise typer.Exit(stop.exit_code) from None

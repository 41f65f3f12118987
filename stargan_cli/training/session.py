"""Everything a training run works with, built in one go: :func:`open_session` returns a
finished :class:`Session` (run folder locked, data, model, networks restored from the last
checkpoint when resuming, the iteration runner, sample images, logs) and registers how to
close it on an ExitStack, so that a failure half-way releases what was already taken."""

from __future__ import annotations

import json
import random
import warnings
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from .. import __version__, paths
from ..errors import StarganError
from ..fileio import atomic_write
from ..label_layout import LabelPart, label_parts
from ..locks import Lock, LockHeld
from ..memory import check_fits, device_memory
from ..models import ModelConfig
from . import distributed, state
from .augment import parse_policy
from .config import CONFIG_NAME, TrainConfig
from .cuda_graphs import TrainStep
from .distributed import DistInfo
from .labels import grid_targets
from .initial import initialise_from
from .networks import Networks, build_networks, compile_networks, training_bytes, unwrap_ddp, wrap_ddp
from .report import METRICS_NAME, MetricsLog, TensorBoardLog, open_tensorboard
from .runs import FINAL_NAME, RUN_LOCK_NAME, latest_checkpoint, list_checkpoints, remove_temporaries
from .schedule import LRSchedule
from .speed import SpeedPlan, apply_speed, plan_speed
from .step import LossWeights, prepare_images


@dataclass(frozen=True)
class Messages:
    """Where a run's messages go: rank 0's console (none in the other processes)."""

    console: Any | None
    is_main: bool

    def say(self, text: str) -> None:
        """Print ``text`` (rich markup allowed) on rank 0's console, if any."""
        if self.is_main and self.console is not None:
            self.console.print(text, highlight=False, soft_wrap=True)

    def warn(self, text: str) -> None:
        """A warning: a yellow line on the console, else a RuntimeWarning."""
        if self.is_main and self.console is not None:
            self.say(f"[yellow]Warning:[/] {text}")
        else:
            warnings.warn(text, RuntimeWarning, stacklevel=2)


@dataclass
class DataPart:
    """One dataset being trained on: its block of the label, source, loader and batch stream."""

    label: LabelPart
    source: Any
    loader: Any
    batches: Iterator
    name: str


@dataclass
class Session:
    """One training run, ready to train: what :func:`open_session` builds.

    ``start_step`` is where training starts (the checkpoint's step when resuming) and
    ``start_seconds`` the training wall-clock spent before it;
    ``samples`` the sample-grid images and targets (rank 0 only); ``metrics`` and
    ``tensorboard`` the logs (rank 0 only; ``tensorboard`` None when off or not installed).
    """

    config: TrainConfig
    dist: DistInfo
    device: torch.device
    plan: SpeedPlan
    run_dir: Path
    model_config: ModelConfig
    parts: list[DataPart]
    nets: Networks
    schedule: LRSchedule
    rng: torch.Generator
    stepper: TrainStep
    start_step: int
    start_seconds: float
    samples: tuple[torch.Tensor, list[torch.Tensor]] | None
    metrics: MetricsLog | None
    tensorboard: TensorBoardLog | None
    messages: Messages


def model_config_of(cfg: TrainConfig, names: Sequence[str], label_mode: str = "multi",
                    joint_split: int = 0) -> ModelConfig:
    """The model ``cfg`` trains, over the label names ``names`` (its data's attributes/domains)."""
    return ModelConfig(
        attributes=tuple(names),
        image_size=cfg.image_size, norm=cfg.norm, g_conv_dim=cfg.g_conv_dim, g_repeat=cfg.g_repeat,
        d_conv_dim=cfg.d_conv_dim, d_repeat=cfg.d_repeat, loss=cfg.loss, g_output=cfg.g_output,
        upsample=cfg.upsample, label_mode=label_mode, joint_split=joint_split,
    )


def loss_weights_of(cfg: TrainConfig) -> LossWeights:
    """The loss settings of ``cfg``."""
    return LossWeights(cfg.loss, cfg.lambda_cls, cfg.lambda_rec, cfg.lambda_gp, augment=parse_policy(cfg.augment),
                       lambda_mask=cfg.lambda_mask, mask_floor=cfg.mask_floor, mask_cap=cfg.mask_cap,
                       lambda_mask_tv=cfg.lambda_mask_tv)


def open_session(cfg: TrainConfig, dist: DistInfo, device: torch.device, messages: Messages,
                 stack: ExitStack) -> Session:
    """Build the run ``cfg`` describes (validated) on ``device``; what must be closed or
    released afterwards (the run folder's lock, DDP wrappers, logs) goes on ``stack``."""
    plan = plan_speed(device, cfg.precision, cfg.cuda_graphs, cfg.compile, cfg.channels_last,
                      distributed=dist.enabled)
    apply_speed(plan, device)

    resume_from = None
    restart = False  # resuming a run that was stopped before its first checkpoint
    if cfg.resume is not None:
        run_dir = Path(cfg.resume)
        if dist.is_main and run_dir.is_dir():
            _lock_run_dir(run_dir, stack)  # before anything is read, cleaned or written
        if (run_dir / CONFIG_NAME).is_file() and not list_checkpoints(run_dir) and not (
                run_dir / FINAL_NAME).exists():
            restart = True
            messages.say(f"Restarting {run_dir} from step 0: it was stopped before its first checkpoint")
        else:
            resume_path, resume_from = latest_checkpoint(run_dir, warn=messages.warn)
            messages.say(f"Resuming {run_dir} from {resume_path.name} (step {resume_from.step})")
        if dist.is_main:
            remove_temporaries(run_dir)
    else:
        run_dir = _new_run_dir(cfg, dist, stack)
        distributed.barrier(dist)  # every process has checked the folder before it gains a config.json
        if dist.is_main:
            _write_first_config(cfg, run_dir, stack)

    _check_memory(cfg, device)
    sources = _load_sources(cfg, dist)
    names = [n for s in sources for n in s.names]
    clashes = sorted({n for n in names if names.count(n) > 1})
    if clashes:
        raise StarganError(
            f"the folder dataset has domain(s) named like CelebA attributes ({', '.join(clashes)}): "
            "rename those subfolders"
        )
    parts = _make_parts(cfg, sources, dist)
    model_config = model_config_of(
        cfg, names, label_mode="joint" if len(sources) > 1 else sources[0].label_mode,
        joint_split=len(sources[0].names) if len(sources) > 1 else 0,
    )
    if resume_from is not None and resume_from.config != model_config:
        raise StarganError(
            f"cannot resume: the data now gives a different model ({model_config.describe()}, "
            f"{', '.join(model_config.attributes)}) than the run's ({resume_from.config.describe()}, "
            f"{', '.join(resume_from.config.attributes)})"
        )
    schedule = LRSchedule(cfg.lr_schedule, cfg.g_lr, cfg.d_lr, cfg.iters, cfg.effective_decay_iters)
    weights = loss_weights_of(cfg)
    nets = build_networks(model_config, device, plan, cfg.seed, cfg.g_lr, cfg.d_lr, (cfg.beta1, cfg.beta2),
                          cfg.g_ema)
    if cfg.init is not None and resume_from is None:
        messages.say(initialise_from(cfg.init, model_config, nets))
    rng = torch.Generator(device=device)
    rng.manual_seed(cfg.seed + dist.rank)
    random.seed(cfg.seed + dist.rank)
    step, seconds = 0, 0.0
    if resume_from is not None:
        seconds = state.trained_seconds(resume_from)
        step = state.restore(resume_from, nets, schedule, rng, [p.loader for p in parts], dist, device, cfg.seed,
                             messages.say)
        if step >= cfg.iters:
            # Checked before config.json is rewritten, so the run's settings stay as they were.
            raise StarganError(
                f"the run is already at step {step}: pass --iters larger than {step} "
                "to train on"
            )
        if cfg.time_budget is not None and seconds >= cfg.time_budget and (run_dir / FINAL_NAME).is_file():
            from ..progress import format_duration

            raise StarganError(
                f"the run has already trained {format_duration(seconds)}, its time budget: pass "
                f"--time-budget longer than {format_duration(seconds)} to train on"
            )
        previous = _resolved_precision(run_dir)
        if previous is not None and previous != plan.precision:
            messages.say(f"Note: the run trained in {previous} until step {step} and continues in "
                         f"{plan.precision} (weights and optimizer state are fp32 in both)")
    if dist.enabled:
        wrap_ddp(nets, device)
        stack.callback(unwrap_ddp, nets)
    if plan.compile:
        compile_networks(nets)
    stepper = TrainStep(nets, weights, model_config.c_dim, device, cuda_graphs=plan.cuda_graphs,
                        channels_last=plan.channels_last, say=messages.warn)
    samples = _sample_images(cfg, parts, model_config.c_dim, device) if dist.is_main else None
    metrics = tensorboard = None
    if dist.is_main:
        _write_config(cfg, run_dir, model_config, device, plan, dist, parts)
        continued = resume_from is not None or restart
        metrics = MetricsLog(run_dir / METRICS_NAME, resume_step=step if continued else None)
        stack.callback(metrics.close)
        if cfg.tensorboard:
            tensorboard = open_tensorboard(run_dir / "tensorboard", step if continued else None)
            if tensorboard is not None:
                stack.callback(tensorboard.close)
    for part in parts:
        messages.say(part.source.describe())
    for note in plan.notes:
        messages.say(f"Note: {note}")
    for warning in plan.warnings:
        messages.warn(warning)
    world = f" x {dist.world_size} processes" if dist.enabled else ""
    messages.say(
        f"Model: {model_config.describe()} ({', '.join(model_config.attributes)}); "
        f"device {device} ({plan.describe()}), batch {cfg.batch_size}{world}; run folder {run_dir}"
    )
    return Session(config=cfg, dist=dist, device=device, plan=plan, run_dir=run_dir, model_config=model_config,
                   parts=parts, nets=nets, schedule=schedule, rng=rng, stepper=stepper, start_step=step,
                   start_seconds=seconds, samples=samples, metrics=metrics, tensorboard=tensorboard, messages=messages)


def _check_memory(cfg: TrainConfig, device: torch.device) -> None:
    """Refuse, before any data is read or weight allocated, a model and batch whose training
    would not fit in ``device``'s memory (the domains of a folder dataset are not known yet:
    one stands for them, which changes the estimate by a few weights)."""
    config = model_config_of(cfg, tuple(cfg.attrs) or ("domain",))
    check_fits(
        training_bytes(config, cfg.batch_size, g_average=cfg.g_ema > 0),
        f"training a {cfg.image_size}px model (--g-conv-dim {cfg.g_conv_dim}, --g-repeat {cfg.g_repeat}, "
        f"--d-conv-dim {cfg.d_conv_dim}) with --batch-size {cfg.batch_size} on {device}",
        "lower --image-size, --g-conv-dim, --d-conv-dim, --g-repeat or --batch-size",
        device_memory(device),
    )


def _new_run_dir(cfg: TrainConfig, dist: DistInfo, stack: ExitStack) -> Path:
    if cfg.out is not None:
        run_dir = Path(cfg.out).expanduser()
    else:
        stamp = distributed.broadcast_object(datetime.now().strftime("%Y%m%d-%H%M%S"), dist)
        run_dir = paths.runs_dir() / cfg.run_name(stamp)
    if run_dir.exists() and not run_dir.is_dir():
        raise StarganError(f"--out {run_dir} is a file: pick a new or empty folder")
    if dist.is_main:
        _lock_run_dir(run_dir, stack)
    if (run_dir / CONFIG_NAME).exists() or list_checkpoints(run_dir):
        raise StarganError(
            f"{run_dir} already holds a training run: continue it with --resume {run_dir}, "
            "or pick another --out"
        )
    if run_dir.is_dir() and any(p.name != RUN_LOCK_NAME for p in run_dir.iterdir()):
        # Its samples/, metrics.jsonl or final.pt would be overwritten or mixed with ours.
        raise StarganError(f"--out {run_dir} is not empty: pick a new or empty folder")
    return run_dir


def _lock_run_dir(run_dir: Path, stack: ExitStack) -> None:
    """Hold ``run_dir``'s lock until ``stack`` closes: one training process per run folder. A
    folder made here and still empty then is removed (a run that failed before writing
    anything leaves no folder)."""
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = Lock(run_dir / RUN_LOCK_NAME, f"run folder {run_dir}")

    def release() -> None:
        lock.release()
        if created and run_dir.is_dir() and not any(run_dir.iterdir()):
            run_dir.rmdir()

    try:
        lock.acquire()
    except LockHeld as err:
        raise LockHeld(f"{err} (only one process may train in a run folder)", err.pid) from None
    except BaseException:
        release()
        raise
    stack.callback(release)


def _load_sources(cfg: TrainConfig, dist: DistInfo) -> list[Any]:
    from ..data import load_celeba, load_folder

    def load() -> list[Any]:
        quiet = cfg.quiet or not dist.is_main
        common = {"use_cache": cfg.use_cache, "quiet": quiet}
        if cfg.dataset == "folder":
            return [load_folder(cfg.data, cfg.image_size, **common)]
        celeba = load_celeba(cfg.data, list(cfg.attrs), cfg.image_size, **common)
        if cfg.dataset == "both":
            return [celeba, load_folder(cfg.folder_data, cfg.image_size, **common)]
        return [celeba]

    # Rank 0 builds the preprocessed caches alone; the others then open them.
    sources = load() if dist.is_main else None
    distributed.barrier(dist)
    return sources if sources is not None else load()


def _make_parts(cfg: TrainConfig, sources: list[Any], dist: DistInfo) -> list[DataPart]:
    from ..data import infinite_batches, make_loader

    layout = label_parts([(s.names, s.label_mode) for s in sources])
    parts = []
    for i, (label, source) in enumerate(zip(layout, sources)):
        loader = make_loader(
            source.train, cfg.batch_size, shuffle=True, seed=cfg.seed + i, num_workers=cfg.num_workers,
            drop_last=True, distributed=(dist.rank, dist.world_size) if dist.enabled else None,
        )
        if len(loader) == 0:
            raise StarganError(
                f"{source.name} has {len(source.train)} training image(s), fewer than one batch of "
                f"{cfg.batch_size}{' per process' if dist.enabled else ''}: lower --batch-size"
            )
        parts.append(DataPart(label, source, loader, infinite_batches(loader), source.name))
    return parts


def _sample_images(cfg: TrainConfig, parts: list[DataPart], c_dim: int,
                   device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The sample grid's images (held-out ones when there are) and its targets."""
    from ..data import sample_batch

    first = parts[0]
    pool = first.source.test if len(first.source.test) else first.source.train
    images, labels = sample_batch(pool, cfg.sample_count, seed=cfg.seed)
    x = prepare_images(images.to(device), None, flip=False)
    return x, grid_targets(labels.to(device), [p.label for p in parts], first.label, c_dim)


def _write_first_config(cfg: TrainConfig, run_dir: Path, stack: ExitStack) -> None:
    """Write the run's settings at once, so that a run killed while it loads its data can be
    resumed (from step 0). The full record replaces it later; a run that fails before then
    removes it again (a failed start leaves no folder)."""
    path = run_dir / CONFIG_NAME
    text = json.dumps({"train": cfg.to_dict(), "stargan_version": __version__}, indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def remove_if_first() -> None:
        try:
            first = "model" not in json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if first:
            path.unlink(missing_ok=True)

    stack.callback(remove_if_first)


def _resolved_precision(run_dir: Path) -> str | None:
    """The precision the run in ``run_dir`` last trained in (its ``config.json``), if known."""
    try:
        record = json.loads((run_dir / CONFIG_NAME).read_text(encoding="utf-8"))
        return str(record["resolved"]["precision"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_config(cfg: TrainConfig, run_dir: Path, model_config: ModelConfig, device: torch.device,
                  plan: SpeedPlan, dist: DistInfo, parts: list[DataPart]) -> None:
    record = {
        "train": cfg.to_dict(),
        "model": model_config.to_dict(),
        "resolved": {
            "device": str(device), "precision": plan.precision, "world_size": dist.world_size,
            "speed": plan.to_dict(),
            "decay_iters": cfg.effective_decay_iters,
            "datasets": [{"name": p.name, "split": p.source.split, "train": len(p.source.train),
                          "test": len(p.source.test), "skipped": p.source.skipped} for p in parts],
        },
        "stargan_version": __version__,
        "torch_version": torch.__version__,
        "written": datetime.now().isoformat(timespec="seconds"),
    }
    text = json.dumps(record, indent=2) + "\n"
    atomic_write(run_dir / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))

"""One Trainer for every variant: concat/lookup x wgan-gp/hinge x celeba/folder/both, one
process or several under torchrun.

A run folder holds ``config.json``, ``checkpoints/NNNNNN.pt`` (the last ``keep``),
``final.pt``, ``samples/NNNNNN.jpg``, ``metrics.jsonl`` and ``tensorboard/``. Checkpoints
carry everything needed to continue exactly: weights, both optimizers, the schedule, the
step, every data position and every random generator (per process).
"""

from __future__ import annotations

import gc
import json
import random
import signal
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import torch

from .. import __version__, paths
from ..checkpoints import Checkpoint, save_checkpoint
from ..devices import select_device
from ..errors import StarganError
from ..fileio import atomic_write
from ..locks import Lock, LockHeld
from ..models import ModelConfig, build_discriminator, build_generator
from . import distributed
from .augment import parse_policy
from .config import CONFIG_NAME, TrainConfig
from .fastpath import (
    TrainStep,
    compile_networks,
    load_optimizer_state,
    make_networks,
    optimizer_state,
    plan_speed,
    set_lr,
)
from .labels import LabelPart, grid_targets, label_parts
from .runs import (
    FINAL_NAME,
    RUN_LOCK_NAME,
    SAMPLES_DIR,
    checkpoint_path,
    latest_checkpoint,
    link_or_copy,
    list_checkpoints,
    remove_temporaries,
)
from .report import METRICS_NAME, ConsoleReport, MetricsLog, open_tensorboard
from .samples import sample_grid, save_grid
from .schedule import LRSchedule
from .step import D_LOSSES, G_LOSSES, LossWeights, discriminator_step, generator_step, prepare_images

TRAINING_STATE_VERSION = 1


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint (``checkpoint``, or None
    when the latest state was already saved or could not be)."""

    def __init__(self, run_dir: Path, step: int, checkpoint: Path | None, signum: int, is_main: bool = True):
        super().__init__(f"interrupted at step {step}")
        self.run_dir = run_dir
        self.step = step
        self.checkpoint = checkpoint
        self.signum = signum
        self.is_main = is_main  # False in the processes of a torchrun job other than rank 0

    @property
    def exit_code(self) -> int:
        """128 + the signal number (130 for Ctrl-C)."""
        return 128 + self.signum


class TrainingDiverged(StarganError):
    """A loss became NaN or infinite; nothing after the last good checkpoint was saved."""


@dataclass
class DataPart:
    """One dataset being trained on: its block of the label, source, loader and batch stream."""

    label: LabelPart
    source: Any
    loader: Any
    batches: Iterator
    name: str


class _StopSignals:
    """Turns SIGINT/SIGTERM into a flag the loop checks; a second Ctrl-C stops at once.

    A SIGINT within a second of the first counts as the same one: under torchrun, a terminal's
    Ctrl-C reaches each process twice (from the terminal and forwarded by torchrun).
    """

    def __init__(self) -> None:
        self.signum: int | None = None
        self._first = 0.0
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum, self._first = signum, time.monotonic()
        elif signum == signal.SIGINT and time.monotonic() - self._first > 1.0:
            raise KeyboardInterrupt

    def __enter__(self) -> "_StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _python_rng_state() -> list:
    version, internal, gauss = random.getstate()
    return [version, list(internal), gauss]


def _set_python_rng_state(state: list) -> None:
    version, internal, gauss = state
    random.setstate((version, tuple(internal), gauss))


def _cpu_state_dict(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in module.state_dict().items()}


class Trainer:
    """Trains a StarGAN as ``config`` says; :meth:`run` returns the run folder.

    Raises :class:`TrainingInterrupted` (after saving) on SIGINT/SIGTERM and
    :class:`TrainingDiverged` when a loss stops being finite.
    """

    def __init__(self, config: TrainConfig, console: Any | None = None):
        self.config = config
        self.console = console
        self.dist = distributed.detect()

    # ----------------------------------------------------------------------------- setup
    def run(self) -> Path:
        """Train to ``config.iters``; return the run folder."""
        cfg = self.config.validate()
        self.device = distributed.device_for(self.dist, select_device(cfg.device))
        distributed.init(self.dist, self.device)
        together = False  # whether every process ends here at the same point
        try:
            self._setup(cfg)
            with _StopSignals() as signals:
                self._signals = signals
                self._loop()
            together = True
            return self.run_dir
        except (TrainingInterrupted, TrainingDiverged):
            together = True  # decided from values all processes share
            raise
        finally:
            self._close()
            distributed.shutdown(self.dist, wait=together)

    def _unwrap_ddp(self) -> None:
        """Drop the DDP wrappers: their reducers must go before the process group does (else
        gloo may abort the process at exit)."""
        nets = getattr(self, "nets", None)
        if nets is not None and nets.G_train is not nets.G:
            nets.G_train, nets.D_train = nets.G, nets.D
            gc.collect()

    def _say(self, text: str) -> None:
        if self.dist.is_main and self.console is not None:
            self.console.print(text, highlight=False, soft_wrap=True)

    def _setup(self, cfg: TrainConfig) -> None:
        self.metrics = None
        self.tensorboard = None
        device = self.device
        self.plan = plan_speed(device, cfg.precision, cfg.cuda_graphs, cfg.compile, cfg.channels_last,
                               distributed=self.dist.enabled)
        self.precision = self.plan.precision
        if self.precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise StarganError("this GPU has no bf16 support: use --precision fp16 or fp32")
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True

        resume_from = None
        self._restart = False  # resuming a run that was stopped before its first checkpoint
        if cfg.resume is not None:
            run_dir = Path(cfg.resume)
            if self.dist.is_main and run_dir.is_dir():
                self._lock_run_dir(run_dir)  # before anything is read, cleaned or written
            if (run_dir / CONFIG_NAME).is_file() and not list_checkpoints(run_dir) and not (
                    run_dir / FINAL_NAME).exists():
                self._restart = True
                self._say(f"Restarting {run_dir} from step 0: it was stopped before its first checkpoint")
            else:
                resume_path, resume_from = latest_checkpoint(run_dir, warn=self._warn)
                self._say(f"Resuming {run_dir} from {resume_path.name} (step {resume_from.step})")
            self.run_dir = run_dir
            if self.dist.is_main:
                remove_temporaries(self.run_dir)
        else:
            self.run_dir = self._new_run_dir(cfg)

        sources = self._load_sources(cfg)
        names = [n for s in sources for n in s.names]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise StarganError(
                f"the folder dataset has domain(s) named like CelebA attributes ({', '.join(clashes)}): "
                "rename those subfolders"
            )
        self.parts = self._make_parts(cfg, sources)
        self.model_config = ModelConfig(
            attributes=tuple(names),
            image_size=cfg.image_size, norm=cfg.norm, g_conv_dim=cfg.g_conv_dim, g_repeat=cfg.g_repeat,
            d_conv_dim=cfg.d_conv_dim, d_repeat=cfg.d_repeat, loss=cfg.loss,
            label_mode="joint" if len(sources) > 1 else sources[0].label_mode,
            joint_split=len(sources[0].names) if len(sources) > 1 else 0,
        )
        if resume_from is not None and resume_from.config != self.model_config:
            raise StarganError(
                f"cannot resume: the data now gives a different model ({self.model_config.describe()}, "
                f"{', '.join(self.model_config.attributes)}) than the run's ({resume_from.config.describe()}, "
                f"{', '.join(resume_from.config.attributes)})"
            )
        self.c_dim = self.model_config.c_dim
        self.schedule = LRSchedule(cfg.lr_schedule, cfg.g_lr, cfg.d_lr, cfg.iters, cfg.effective_decay_iters)
        self.weights = LossWeights(cfg.loss, cfg.lambda_cls, cfg.lambda_rec, cfg.lambda_gp,
                                   augment=parse_policy(cfg.augment))
        self._build_networks(cfg)
        self.rng = torch.Generator(device=device)
        self.rng.manual_seed(cfg.seed + self.dist.rank)
        random.seed(cfg.seed + self.dist.rank)
        self.step = 0
        if resume_from is not None:
            self._restore(resume_from)
            if self.step >= cfg.iters:
                # Checked before config.json is rewritten, so the run's settings stay as they were.
                raise StarganError(
                    f"the run is already at step {self.step}: pass --iters larger than {self.step} "
                    "to train on"
                )
        self._wrap_ddp()
        if self.plan.compile:
            compile_networks(self.nets)
        self.stepper = TrainStep(self.nets, self.weights, self.c_dim, device, cuda_graphs=self.plan.cuda_graphs,
                                 channels_last=self.plan.channels_last, say=self._warn,
                                 d_step=discriminator_step, g_step=generator_step)
        self._prepare_samples(cfg)
        self._last_saved = self.step
        if self.dist.is_main:
            self._write_config(cfg)
            continued = resume_from is not None or self._restart
            self.metrics = MetricsLog(self.run_dir / METRICS_NAME, resume_step=self.step if continued else None)
            if cfg.tensorboard:
                self.tensorboard = open_tensorboard(self.run_dir / "tensorboard", self.step if continued else None)
        for part in self.parts:
            self._say(part.source.describe())
        for note in self.plan.notes:
            self._say(f"Note: {note}")
        world = f" x {self.dist.world_size} processes" if self.dist.enabled else ""
        self._say(
            f"Model: {self.model_config.describe()} ({', '.join(self.model_config.attributes)}); "
            f"device {device} ({self.plan.describe()}), batch {cfg.batch_size}{world}; run folder {self.run_dir}"
        )

    def _warn(self, text: str) -> None:
        if self.dist.is_main and self.console is not None:
            self._say(f"[yellow]Warning:[/] {text}")
        else:
            warnings.warn(text, RuntimeWarning, stacklevel=2)

    def _new_run_dir(self, cfg: TrainConfig) -> Path:
        if cfg.out is not None:
            run_dir = Path(cfg.out).expanduser()
        else:
            stamp = distributed.broadcast_object(datetime.now().strftime("%Y%m%d-%H%M%S"), self.dist)
            run_dir = paths.runs_dir() / cfg.run_name(stamp)
        if run_dir.exists() and not run_dir.is_dir():
            raise StarganError(f"--out {run_dir} is a file: pick a new or empty folder")
        if self.dist.is_main:
            self._lock_run_dir(run_dir)
        if (run_dir / CONFIG_NAME).exists() or list_checkpoints(run_dir):
            raise StarganError(
                f"{run_dir} already holds a training run: continue it with --resume {run_dir}, "
                "or pick another --out"
            )
        if run_dir.is_dir() and any(p.name != RUN_LOCK_NAME for p in run_dir.iterdir()):
            # Its samples/, metrics.jsonl or final.pt would be overwritten or mixed with ours.
            raise StarganError(f"--out {run_dir} is not empty: pick a new or empty folder")
        return run_dir

    def _lock_run_dir(self, run_dir: Path) -> None:
        """Hold ``run_dir``'s lock until :meth:`_close`: one training process per run folder."""
        self._created_dir = not run_dir.exists()
        run_dir.mkdir(parents=True, exist_ok=True)
        self._lock = Lock(run_dir / RUN_LOCK_NAME, f"run folder {run_dir}")
        try:
            self._lock.acquire()
        except LockHeld as err:
            self._lock = None
            raise LockHeld(f"{err} (only one process may train in a run folder)", err.pid) from None

    def _load_sources(self, cfg: TrainConfig) -> list[Any]:
        from ..data import load_celeba, load_folder

        def load() -> list[Any]:
            quiet = cfg.quiet or not self.dist.is_main
            common = {"use_cache": cfg.use_cache, "quiet": quiet}
            if cfg.dataset == "folder":
                return [load_folder(cfg.data, cfg.image_size, **common)]
            celeba = load_celeba(cfg.data, list(cfg.attrs), cfg.image_size, **common)
            if cfg.dataset == "both":
                return [celeba, load_folder(cfg.folder_data, cfg.image_size, **common)]
            return [celeba]

        # Rank 0 builds the preprocessed caches alone; the others then open them.
        sources = load() if self.dist.is_main else None
        distributed.barrier(self.dist)
        return sources if sources is not None else load()

    def _make_parts(self, cfg: TrainConfig, sources: list[Any]) -> list[DataPart]:
        from ..data import infinite_batches, make_loader

        layout = label_parts([(s.names, s.label_mode) for s in sources])
        parts = []
        for i, (label, source) in enumerate(zip(layout, sources)):
            loader = make_loader(
                source.train, cfg.batch_size, shuffle=True, seed=cfg.seed + i, num_workers=cfg.num_workers,
                drop_last=True, distributed=(self.dist.rank, self.dist.world_size) if self.dist.enabled else None,
            )
            if len(loader) == 0:
                raise StarganError(
                    f"{source.name} has {len(source.train)} training image(s), fewer than one batch of "
                    f"{cfg.batch_size}{' per process' if self.dist.enabled else ''}: lower --batch-size"
                )
            parts.append(DataPart(label, source, loader, infinite_batches(loader), source.name))
        return parts

    def _build_networks(self, cfg: TrainConfig) -> None:
        torch.manual_seed(cfg.seed)  # identical initial weights on every process
        G = build_generator(self.model_config).to(self.device)
        D = build_discriminator(self.model_config).to(self.device)
        self.nets = make_networks(G, D, self.device, self.plan, cfg.g_lr, cfg.d_lr, (cfg.beta1, cfg.beta2))

    def _wrap_ddp(self) -> None:
        if not self.dist.enabled:
            return
        from torch.nn.parallel import DistributedDataParallel as DDP

        import inspect

        ids = [self.device.index] if self.device.type == "cuda" else None
        # The norms' running-statistics buffers are never used: no need to sync them each forward.
        no_sync = "forward_sync_buffers" if "forward_sync_buffers" in inspect.signature(DDP).parameters else "broadcast_buffers"
        options = {"device_ids": ids, no_sync: False, "gradient_as_bucket_view": True}
        self.nets.G_train = DDP(self.nets.G, **options)
        self.nets.D_train = DDP(self.nets.D, **options)

    def _prepare_samples(self, cfg: TrainConfig) -> None:
        self.sample_x = None
        if not self.dist.is_main:
            return
        from ..data import sample_batch

        first = self.parts[0]
        pool = first.source.test if len(first.source.test) else first.source.train
        images, labels = sample_batch(pool, cfg.sample_count, seed=cfg.seed)
        self.sample_x = prepare_images(images.to(self.device), None, flip=False)
        self.sample_targets = grid_targets(
            labels.to(self.device), [p.label for p in self.parts], first.label, self.c_dim
        )

    def _write_config(self, cfg: TrainConfig) -> None:
        record = {
            "train": cfg.to_dict(),
            "model": self.model_config.to_dict(),
            "resolved": {
                "device": str(self.device), "precision": self.precision, "world_size": self.dist.world_size,
                "speed": self.plan.to_dict(),
                "decay_iters": cfg.effective_decay_iters,
                "datasets": [{"name": p.name, "split": p.source.split, "train": len(p.source.train),
                              "test": len(p.source.test), "skipped": p.source.skipped} for p in self.parts],
            },
            "stargan_version": __version__,
            "torch_version": torch.__version__,
            "written": datetime.now().isoformat(timespec="seconds"),
        }
        text = json.dumps(record, indent=2) + "\n"
        atomic_write(self.run_dir / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    # ----------------------------------------------------------------------------- state
    def _rank_state(self, data_states: list[dict] | None = None) -> dict[str, Any]:
        rng = {"device": self.rng.get_state(), "torch": torch.get_rng_state(), "python": _python_rng_state()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        data = data_states if data_states is not None else [p.loader.state_dict() for p in self.parts]
        return {"data": data, "rng": rng}

    def _training_state(self, data_states: list[dict] | None = None) -> dict[str, Any]:
        """Everything besides the weights; a collective call under DDP (all ranks)."""
        nets = self.nets
        return {
            "version": TRAINING_STATE_VERSION,
            "g_optimizer": optimizer_state(nets.g_optimizer),
            "d_optimizer": optimizer_state(nets.d_optimizer),
            "g_scaler": nets.g_scaler.state_dict(),
            "d_scaler": nets.d_scaler.state_dict(),
            "schedule": self.schedule.state_dict(),
            "world_size": self.dist.world_size,
            "ranks": distributed.gather_objects(self._rank_state(data_states), self.dist),
            "train_config": self.config.to_dict(),
        }

    def _restore(self, checkpoint: Checkpoint) -> None:
        nets = self.nets
        nets.G.load_state_dict(checkpoint.G)
        nets.D.load_state_dict(checkpoint.D)
        state = checkpoint.training
        load_optimizer_state(nets.g_optimizer, state["g_optimizer"])
        load_optimizer_state(nets.d_optimizer, state["d_optimizer"])
        if state.get("g_scaler"):
            nets.g_scaler.load_state_dict(state["g_scaler"])
        if state.get("d_scaler"):
            nets.d_scaler.load_state_dict(state["d_scaler"])
        self.step = int(checkpoint.step)
        if state.get("schedule") != self.schedule.state_dict():
            self._say("Note: the learning-rate schedule differs from the run's (e.g. --iters changed); "
                      "the rates follow the new one from here")
        ranks = state.get("ranks") or []
        if len(ranks) != self.dist.world_size:
            self._say(
                f"Note: the run was saved by {len(ranks)} process(es), now {self.dist.world_size}: data order "
                "and random draws restart from fresh seeds (the weights and optimizers continue exactly)"
            )
            self.rng.manual_seed(self.config.seed + 7919 * self.step + self.dist.rank)
            for part in self.parts:
                part.loader.set_epoch(self.step + 1000)
            return
        mine = ranks[self.dist.rank]
        rng = mine["rng"]
        self.rng.set_state(rng["device"])
        torch.set_rng_state(rng["torch"])
        _set_python_rng_state(rng["python"])
        if "cuda" in rng and self.device.type == "cuda":
            torch.cuda.set_rng_state(rng["cuda"], self.device)
        for part, data_state in zip(self.parts, mine["data"]):
            part.loader.load_state_dict(data_state)

    def _weights_finite(self) -> bool:
        flags = [torch.isfinite(p).all() for m in (self.nets.G, self.nets.D) for p in m.parameters()]
        return bool(torch.stack(flags).all())

    def _weights_fingerprint(self) -> torch.Tensor:
        """Three float64 sums over every weight; equal on all processes while DDP keeps them in sync."""
        flat = torch.cat([p.detach().flatten() for m in (self.nets.G, self.nets.D) for p in m.parameters()]).double()
        ramp = torch.arange(flat.numel(), device=flat.device, dtype=torch.float64).remainder_(7919)
        return torch.stack([flat.sum(), flat.square().sum(), (flat * ramp).sum()]).cpu()

    def _check_in_sync(self) -> None:
        fingerprints = distributed.gather_objects(self._weights_fingerprint(), self.dist)
        if any(not torch.equal(f, fingerprints[0]) for f in fingerprints[1:]):
            raise StarganError(
                f"the {self.dist.world_size} training processes hold different weights at step {self.step} "
                "(a DistributedDataParallel bug?): stopping without saving"
            )

    def _save(self, final: bool = False, data_states: list[dict] | None = None) -> Path | None:
        """Save a training checkpoint (rank 0 writes; every rank must call). None if not saved."""
        if not self._weights_finite():
            raise TrainingDiverged(self._diverged_message("the weights"))
        if self.dist.enabled:
            self._check_in_sync()
        training = self._training_state(data_states)
        self._last_saved = self.step
        if not self.dist.is_main:
            return None
        checkpoint = Checkpoint(
            config=self.model_config, G=_cpu_state_dict(self.nets.G), D=_cpu_state_dict(self.nets.D),
            step=self.step, training=training,
            meta={"source": str(self.run_dir), "final": final, "stargan_version": __version__,
                  "world_size": self.dist.world_size,
                  "saved": datetime.now().isoformat(timespec="seconds")},
        )
        path = save_checkpoint(checkpoint, checkpoint_path(self.run_dir, self.step))
        if final:
            link_or_copy(path, self.run_dir / FINAL_NAME)
        for _, old in list_checkpoints(self.run_dir)[: -self.config.keep]:
            old.unlink(missing_ok=True)
        return path

    def _diverged_message(self, what: str) -> str:
        saved = list_checkpoints(self.run_dir)
        last = f"the last good checkpoint is {saved[-1][1]}" if saved else "no checkpoint was saved yet"
        return (
            f"training diverged: {what} became NaN or infinite by step {self.step}; {last}. "
            "Lower --g-lr/--d-lr or use --precision fp32, then continue with --resume"
        )

    # ----------------------------------------------------------------------------- loop
    def _reset_meters(self) -> None:
        dev = self.device
        self._d_sum = [torch.zeros(len(D_LOSSES), device=dev) for _ in self.parts]
        self._g_sum = [torch.zeros(len(G_LOSSES), device=dev) for _ in self.parts]
        self._d_count = [0 for _ in self.parts]
        self._g_count = [0 for _ in self.parts]
        self._meter_start = (time.perf_counter(), self.step)

    def _fetch(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [next(part.batches) for part in self.parts]

    def _loop(self) -> None:
        cfg = self.config
        nets = self.nets
        self._reset_meters()
        self._started = time.perf_counter()
        report = ConsoleReport(self.console, cfg.iters, self.step, cfg.quiet, cpu=self.device.type == "cpu") if (
            self.dist.is_main and self.console is not None) else None
        self._report = report
        lrs = None
        with report if report is not None else _Null():
            while self.step < cfg.iters:
                if self._signals.signum is not None and not self.dist.enabled:
                    self._interrupt()
                data_states = [p.loader.state_dict() for p in self.parts]
                try:
                    batches = self._fetch()
                except Exception:
                    if self._signals.signum is not None:  # workers killed by the same Ctrl-C
                        self._interrupt(data_states)
                    raise
                if lrs != (rates := self.schedule.rates(self.step)):
                    lrs = rates
                    set_lr(nets.g_optimizer, rates[0])
                    set_lr(nets.d_optimizer, rates[1])
                warming_up = self.step < cfg.warmup_iters
                train_g = (self.step + 1) % cfg.n_critic == 0
                for i, (part, (images, labels)) in enumerate(zip(self.parts, batches)):
                    if warming_up:
                        d_losses, g_losses = None, self.stepper.identity(i, part.label, images, labels, self.rng)
                    else:
                        d_losses, g_losses = self.stepper(i, part.label, images, labels, self.rng, train_g)
                    if d_losses is not None:
                        self._d_sum[i] += d_losses
                        self._d_count[i] += 1
                    if g_losses is not None:
                        self._g_sum[i] += g_losses
                        self._g_count[i] += 1
                self.step += 1
                if report is not None:
                    report.advance(self.step)
                self._after_step()
        if report is not None:
            report.print(f"Done: {self.step} iterations; final model {self.run_dir / FINAL_NAME}")

    def _after_step(self) -> None:
        cfg = self.config
        step = self.step
        final = step >= cfg.iters
        if step % cfg.log_every == 0 or final:
            self._log()
        if self.dist.is_main and (step % cfg.sample_every == 0 or final):
            self._write_samples()
        if final:
            self._save(final=True)
        elif step % cfg.save_every == 0:
            if step % cfg.log_every:
                self._check_finite()
            self._save()

    def _check_finite(self) -> None:
        """Raise TrainingDiverged when a loss accumulated since the last log is not finite."""
        total = torch.cat(self._d_sum + self._g_sum)
        distributed.all_reduce_mean(total, self.dist)
        if not bool(torch.isfinite(total).all()):
            raise TrainingDiverged(self._diverged_message("a loss"))

    def _log(self) -> None:
        """Read the accumulated losses (the only host sync of the loop), report, check them."""
        cfg = self.config
        n_parts = len(self.parts)
        stop = 1.0 if self._signals.signum is not None else 0.0
        packed = torch.cat(self._d_sum + self._g_sum + [torch.tensor([stop], device=self.device)])
        distributed.all_reduce_mean(packed, self.dist)
        values = packed.tolist()
        nd, ng = len(D_LOSSES), len(G_LOSSES)
        d_rows = [values[i * nd : (i + 1) * nd] for i in range(n_parts)]
        g_rows = [values[n_parts * nd + i * ng : n_parts * nd + (i + 1) * ng] for i in range(n_parts)]
        now = time.perf_counter()
        start_time, start_step = self._meter_start
        steps = max(1, self.step - start_step)
        elapsed = max(1e-9, now - start_time)
        record: dict[str, Any] = {"step": self.step}
        d_total = sum(self._d_count)
        if d_total:  # none during the G warm-up
            for j, name in enumerate(D_LOSSES):
                record[name] = sum(row[j] for row in d_rows) / d_total
        g_total = sum(self._g_count)
        if g_total:
            for j, name in enumerate(G_LOSSES):
                record[name] = sum(row[j] for row in g_rows) / g_total
        if n_parts > 1:
            for i, part in enumerate(self.parts):
                if self._d_count[i]:
                    record[f"d_cls_{part.name}"] = d_rows[i][2] / self._d_count[i]
                if self._g_count[i]:
                    record[f"g_cls_{part.name}"] = g_rows[i][2] / self._g_count[i]
        g_lr, d_lr = self.schedule.rates(self.step - 1)
        images = steps * cfg.batch_size * self.dist.world_size * n_parts
        record.update({
            "g_lr": g_lr, "d_lr": d_lr, "images_per_s": images / elapsed, "sec_per_iter": elapsed / steps,
            "time": time.time(), "elapsed": now - self._started,
        })
        eta = (cfg.iters - self.step) * elapsed / steps
        if self.dist.is_main:
            self.metrics.write(record)
            if self.tensorboard is not None:
                for key, value in record.items():
                    if key not in ("step", "time"):
                        self.tensorboard.add_scalar(key, value, self.step)
            if self._report is not None:
                self._report.log(self.step, record, eta)
        losses = [v for k, v in record.items() if k.startswith(("d_", "g_")) and not k.endswith("_lr")]
        if not all(map(_finite, losses)):
            raise TrainingDiverged(self._diverged_message("a loss"))
        self._reset_meters()
        if values[-1] > 0 and self.dist.enabled:
            self._interrupt()

    def _write_samples(self) -> None:
        grid = sample_grid(self.nets.G, self.sample_x, self.sample_targets, batch=self.config.batch_size)
        save_grid(grid, self.run_dir / SAMPLES_DIR / f"{self.step:06d}.jpg")
        if self.tensorboard is not None:
            self.tensorboard.add_image("samples", grid, self.step)

    def _interrupt(self, data_states: list[dict] | None = None) -> None:
        signum = self._signals.signum or signal.SIGINT
        path = None
        if self.step > self._last_saved:
            self._check_finite()
            path = self._save(data_states=data_states)
        if path is None and self.dist.is_main:
            saved = list_checkpoints(self.run_dir)
            path = saved[-1][1] if saved else None
        raise TrainingInterrupted(self.run_dir, self.step, path, signum, self.dist.is_main)

    def _close(self) -> None:
        try:
            self._unwrap_ddp()
            try:
                if getattr(self, "metrics", None) is not None:
                    self.metrics.close()
            finally:
                if getattr(self, "tensorboard", None) is not None:
                    self.tensorboard.close()
        finally:
            self._release_run_dir()

    def _release_run_dir(self) -> None:
        lock, self._lock = getattr(self, "_lock", None), None
        if lock is not None:
            lock.release()
            run_dir = lock.path.parent
            if self._created_dir and run_dir.is_dir() and not any(run_dir.iterdir()):
                run_dir.rmdir()  # a run that failed before writing anything leaves no folder


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> None:
        return None


def _finite(value: float) -> bool:
    return value == value and value not in (float("inf"), float("-inf"))


def train(config: TrainConfig, console: Any | None = None) -> Path:
    """Train as ``config`` says (resuming when ``config.resume`` is set); return the run folder.

    ``console`` (a rich Console) receives the progress bar and messages; None trains silently.
    """
    return Trainer(config, console).run()

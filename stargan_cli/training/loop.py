"""One Trainer for every variant: concat/lookup x wgan-gp/hinge x celeba/folder/both, one
process or several under torchrun.

A run folder holds ``config.json``, ``checkpoints/NNNNNN.pt`` (the last ``keep``),
``final.pt``, ``samples/NNNNNN.jpg``, ``metrics.jsonl`` and ``tensorboard/``. Checkpoints
carry everything needed to continue exactly (:mod:`.state`). :func:`.session.open_session`
builds a run; :class:`TrainingLoop` trains it.
"""

from __future__ import annotations

import math
import signal
import threading
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any

import torch

from ..devices import select_device
from ..errors import StarganError
from . import distributed, state
from .config import TrainConfig
from .optimizers import set_lr
from .report import ConsoleReport
from .runs import FINAL_NAME, SAMPLES_DIR, list_checkpoints
from .samples import sample_grid, save_grid
from .session import Messages, Session, open_session
from .stats import LossMeter
from .step import D_LOSSES, G_LOSSES


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


class Trainer:
    """Trains a StarGAN as ``config`` says; :meth:`run` returns the run folder.

    Raises :class:`TrainingInterrupted` (after saving) on SIGINT/SIGTERM and
    :class:`TrainingDiverged` when a loss stops being finite.
    """

    def __init__(self, config: TrainConfig, console: Any | None = None):
        self.config = config
        self.console = console
        self.dist = distributed.detect()

    def run(self) -> Path:
        """Train to ``config.iters``; return the run folder."""
        cfg = self.config.validate()
        if cfg.time_budget is not None and self.dist.enabled:
            raise StarganError("a training time budget needs one process: it cannot run under torchrun")
        device = distributed.device_for(self.dist, select_device(cfg.device))
        distributed.init(self.dist, device)
        together = False  # whether every process ends here at the same point
        try:
            with ExitStack() as resources:
                session = open_session(cfg, self.dist, device, Messages(self.console, self.dist.is_main), resources)
                with _StopSignals() as signals:
                    TrainingLoop(session, signals, self.console).run()
            together = True
            return session.run_dir
        except (TrainingInterrupted, TrainingDiverged):
            together = True  # decided from values all processes share
            raise
        finally:
            distributed.shutdown(self.dist, wait=together)


class TrainingLoop:
    """The iterations of one :class:`~.session.Session`, from its start step to ``--iters``:
    the steps, and at their intervals the logs, sample grids and checkpoints; a stop signal
    saves and raises :class:`TrainingInterrupted`."""

    def __init__(self, session: Session, signals: _StopSignals, console: Any | None = None):
        self.session = session
        self.config = session.config
        self.signals = signals
        self.step = session.start_step
        self.last_saved = self.step
        self.seconds_before = session.start_seconds  # training wall-clock of earlier sessions
        self.last_saved_seconds = self.seconds_before
        self.meter = LossMeter(session.device, len(session.parts), (D_LOSSES, G_LOSSES))
        self.meter_start = (time.perf_counter(), self.step)
        self.started = time.perf_counter()
        self.report = ConsoleReport(console, self.config.iters, self.step, self.config.quiet,
                                    cpu=session.device.type == "cpu") if (
            session.dist.is_main and console is not None) else None

    def run(self) -> None:
        """Train to ``config.iters``."""
        s, cfg = self.session, self.config
        lrs = None
        with self.report if self.report is not None else nullcontext():
            finished = self.step > 0 and self._out_of_time()
            if finished:  # resumed after the budget ran out but before the final save
                self._save(final=True)
            while self.step < cfg.iters and not finished:
                if self.signals.signum is not None and not s.dist.enabled:
                    self._interrupt()
                data_states = [p.loader.state_dict() for p in s.parts]
                try:
                    batches = self._fetch()
                except Exception:
                    if self.signals.signum is not None:  # workers killed by the same Ctrl-C
                        self._interrupt(data_states)
                    raise
                if lrs != (rates := s.schedule.rates(self.step)):
                    lrs = rates
                    set_lr(s.nets.g_optimizer, rates[0])
                    set_lr(s.nets.d_optimizer, rates[1])
                warming_up = self.step < cfg.warmup_iters
                train_g = (self.step + 1) % cfg.n_critic == 0
                for i, (part, (images, labels)) in enumerate(zip(s.parts, batches)):
                    if warming_up:
                        d_losses, g_losses = None, s.stepper.identity(i, part.label, images, labels, s.rng)
                    else:
                        d_losses, g_losses = s.stepper(i, part.label, images, labels, s.rng, train_g)
                    if d_losses is not None:
                        self.meter.add(i, d_losses)
                    if g_losses is not None:
                        self.meter.add(i, g_losses)
                self.step += 1
                if train_g or warming_up:
                    s.nets.update_ema(self.step)
                if self.report is not None:
                    self.report.advance(self.step)
                finished = self._after_step()
        if self.report is not None:
            self.report.print(f"Done: {self.step} iterations; final model {s.run_dir / FINAL_NAME}")

    @property
    def seconds(self) -> float:
        """Training wall-clock of the run so far, earlier sessions included."""
        return self.seconds_before + time.perf_counter() - self.started

    def _out_of_time(self) -> bool:
        budget = self.config.time_budget
        return budget is not None and self.seconds >= budget

    def _fetch(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        return [next(part.batches) for part in self.session.parts]

    def _after_step(self) -> bool:
        """Log, sample and save as the step's number says; True after the final step (``iters``
        reached or the time budget spent)."""
        cfg = self.config
        step = self.step
        final = step >= cfg.iters or self._out_of_time()
        if step % cfg.log_every == 0 or final:
            self._log()
        if self.session.dist.is_main and (step % cfg.sample_every == 0 or final):
            self._write_samples()
        if final:
            self._save(final=True)
        elif step % cfg.save_every == 0 or (
                cfg.save_every_seconds is not None
                and self.seconds - self.last_saved_seconds >= cfg.save_every_seconds):
            if step % cfg.log_every:
                self._check_finite()
            self._save()
        return final

    def _check_finite(self) -> None:
        """Raise TrainingDiverged when a loss summed since the last log is not finite."""
        total = distributed.all_reduce_mean(self.meter.packed(), self.session.dist)
        if not bool(torch.isfinite(total).all()):
            raise TrainingDiverged(self._diverged_message("a loss"))

    def _log(self) -> None:
        """Read the summed losses (the only host sync of the loop), report, check them."""
        s, cfg = self.session, self.config
        stop = 1.0 if self.signals.signum is not None else 0.0
        packed = torch.cat([self.meter.packed(), torch.tensor([stop], device=s.device)])
        distributed.all_reduce_mean(packed, s.dist)
        *sums, stop = packed.tolist()
        means, part_means = self.meter.means(sums)
        now = time.perf_counter()
        start_time, start_step = self.meter_start
        steps = max(1, self.step - start_step)
        elapsed = max(1e-9, now - start_time)
        record: dict[str, Any] = {"step": self.step}
        record.update((name, means[name]) for name in D_LOSSES + G_LOSSES if name in means)
        if len(s.parts) > 1:
            for part, own in zip(s.parts, part_means):
                record.update((f"{name}_{part.name}", own[name]) for name in ("d_cls", "g_cls") if name in own)
        g_lr, d_lr = s.schedule.rates(self.step - 1)
        images = steps * cfg.batch_size * s.dist.world_size * len(s.parts)
        record.update({
            "g_lr": g_lr, "d_lr": d_lr, "images_per_s": images / elapsed, "sec_per_iter": elapsed / steps,
            "time": time.time(), "elapsed": now - self.started,
        })
        eta = (cfg.iters - self.step) * elapsed / steps
        if cfg.time_budget is not None:
            eta = min(eta, max(0.0, cfg.time_budget - self.seconds))
        if s.dist.is_main:
            s.metrics.write(record)
            if s.tensorboard is not None:
                for key, value in record.items():
                    if key not in ("step", "time"):
                        s.tensorboard.add_scalar(key, value, self.step)
            if self.report is not None:
                self.report.log(self.step, record, eta)
        losses = [v for k, v in record.items() if k.startswith(("d_", "g_")) and not k.endswith("_lr")]
        if not all(map(math.isfinite, losses)):
            raise TrainingDiverged(self._diverged_message("a loss"))
        self.meter.reset()
        self.meter_start = (time.perf_counter(), self.step)
        if stop > 0 and s.dist.enabled:
            self._interrupt()

    def _write_samples(self) -> None:
        s = self.session
        x, targets = s.samples
        grid = sample_grid(s.nets.G_eval, x, targets, batch=self.config.batch_size)
        save_grid(grid, s.run_dir / SAMPLES_DIR / f"{self.step:06d}.jpg")
        if s.tensorboard is not None:
            s.tensorboard.add_image("samples", grid, self.step)

    def _save(self, final: bool = False, data_states: list[dict] | None = None) -> Path | None:
        """Save a training checkpoint (rank 0 writes; every rank must call). None if not saved."""
        if not state.weights_finite(self.session.nets):
            raise TrainingDiverged(self._diverged_message("the weights"))
        seconds = self.seconds
        path = state.save(self.session, self.step, final, data_states, seconds=seconds)
        self.last_saved, self.last_saved_seconds = self.step, seconds
        return path

    def _diverged_message(self, what: str) -> str:
        saved = list_checkpoints(self.session.run_dir)
        last = f"the last good checkpoint is {saved[-1][1]}" if saved else "no checkpoint was saved yet"
        return (
            f"training diverged: {what} became NaN or infinite by step {self.step}; {last}. "
            "Lower --g-lr/--d-lr or use --precision fp32, then continue with --resume"
        )

    def _interrupt(self, data_states: list[dict] | None = None) -> None:
        s = self.session
        signum = self.signals.signum or signal.SIGINT
        path = None
        if self.step > self.last_saved:
            self._check_finite()
            path = self._save(data_states=data_states)
        if path is None and s.dist.is_main:
            saved = list_checkpoints(s.run_dir)
            path = saved[-1][1] if saved else None
        raise TrainingInterrupted(s.run_dir, self.step, path, signum, s.dist.is_main)


def train(config: TrainConfig, console: Any | None = None) -> Path:
    """Train as ``config`` says (resuming when ``config.resume`` is set); return the run folder.

    ``console`` (a rich Console) receives the progress bar and messages; None trains silently.
    """
    return Trainer(config, console).run()

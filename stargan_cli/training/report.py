"""Where training progress goes: ``metrics.jsonl``, TensorBoard (optional) and the console."""

from __future__ import annotations

import json
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

from ..fileio import atomic_write, storage_error, writing
from ..progress import SECONDS_ENV, format_duration, line_seconds

METRICS_NAME = "metrics.jsonl"
# Plain lines (--quiet, or output that is not a terminal) come at a log step at most this
# often, plus the first and the last; STARGAN_PROGRESS_SECONDS overrides it.
QUIET_LINE_SECONDS = 10.0
# A CPU run whose first ETA is longer than this gets one note on how to make it practical.
SLOW_CPU_RUN_HOURS = 24.0
SLOW_CPU_NOTE = (
    "Note: at this speed the run needs about {hours:,.0f} hours on the CPU. A CUDA GPU makes "
    "the paper's settings practical. On a CPU, train a smaller model instead, e.g. "
    "`--image-size 64 --g-conv-dim 32 --d-conv-dim 32 --iters 20000`: about 13x faster per "
    "iteration than 128 px with 64 channels (2 it/s against 0.16 it/s on 2 cores, "
    "benchmarks/RESULTS.md), so a few hours."
)


class MetricsLog:
    """Append-only JSON-lines log: one object per log step, flushed as written. A full disk is
    one StarganError naming the file."""

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        self._failed = False
        if resume_step is not None:
            self.truncate(resume_step)
        with writing(path):
            self._file = open(path, "a", encoding="utf-8")

    def truncate(self, step: int) -> None:
        """Drop lines after ``step`` (work lost with a killed run) and any torn last line."""
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("step", 0) <= step:
                kept.append(line)
        text = "".join(line + "\n" for line in kept)
        atomic_write(self.path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        try:
            with writing(self.path):
                self._file.write(json.dumps(record, allow_nan=True) + "\n")
                self._file.flush()
        except BaseException:
            self._failed = True
            raise

    def close(self) -> None:
        """Close the file (after a failed write, quietly: that failure was reported)."""
        _close_quietly_after_failure(self._file.close, self.path, self._failed)


def _close_quietly_after_failure(close: Any, path: Path, failed: bool) -> None:
    try:
        with writing(path):
            close()
    except Exception:
        if not failed:
            raise


class TensorBoardLog:
    """A SummaryWriter whose write failures (a full disk) are one StarganError naming its folder."""

    def __init__(self, writer: Any, log_dir: Path):
        self._writer = writer
        self.log_dir = log_dir
        self._failed = False

    def _call(self, method: str, *args: Any, **kwargs: Any) -> None:
        try:
            with writing(self.log_dir):
                getattr(self._writer, method)(*args, **kwargs)
        except BaseException:
            self._failed = True
            raise

    def add_scalar(self, *args: Any, **kwargs: Any) -> None:
        """``SummaryWriter.add_scalar``."""
        self._call("add_scalar", *args, **kwargs)

    def add_image(self, *args: Any, **kwargs: Any) -> None:
        """``SummaryWriter.add_image``."""
        self._call("add_image", *args, **kwargs)

    def close(self) -> None:
        """Flush and close (after a failed write, quietly: that failure was reported)."""
        _close_quietly_after_failure(self._writer.close, self.log_dir, self._failed)


def _quiet_writer_thread(args: Any) -> None:
    """TensorBoard's writer thread dies on a full disk with a traceback of its own; the writer
    raises the same error again on its next call, where it becomes one line. Others go on."""
    if type(args.thread).__name__ == "_AsyncWriterThread" and storage_error(args.exc_value, "") is not None:
        return
    _previous_thread_hook(args)


_previous_thread_hook = threading.excepthook


def open_tensorboard(log_dir: Path, purge_step: int | None) -> TensorBoardLog | None:
    """A TensorBoard log when TensorBoard is installed, else None (it is optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # ImportError, or a broken tensorboard install
        return None
    if threading.excepthook is _previous_thread_hook:
        threading.excepthook = _quiet_writer_thread
    with writing(log_dir):
        return TensorBoardLog(SummaryWriter(str(log_dir), purge_step=purge_step), log_dir)


def loss_summary(metrics: dict[str, Any]) -> str:
    """The main losses in a few words, e.g. ``D 1.23 (cls 0.41) G 4.56 (rec 0.12 cls 0.80)``."""
    parts = []
    if "d_loss" in metrics:
        parts.append(f"D {metrics['d_loss']:.3f} (cls {metrics['d_cls']:.3f})")
    if "g_loss" in metrics:
        parts.append(f"G {metrics['g_loss']:.3f} (rec {metrics['g_rec']:.3f} cls {metrics['g_cls']:.3f})")
    return " ".join(parts)


def _two_line_progress(console: Any, total: int, start: int) -> tuple[Any, Any]:
    """A rich Progress with the bar, step, speed and ETA on one line and the losses on the
    next, so that both fit 80 columns; and its task."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
    from rich.text import Text

    class TwoLines(Progress):
        def get_renderables(self):  # noqa: ANN202 - rich's hook
            yield self.make_tasks_table(self.tasks)
            for task in self.tasks:
                if task.fields.get("losses"):
                    yield Text("  " + task.fields["losses"], no_wrap=True, overflow="ellipsis")

    progress = TwoLines(
        TextColumn("[bold]training"),
        BarColumn(bar_width=None),
        MofNCompleteColumn(),
        TextColumn("{task.fields[speed]}"),
        TextColumn("ETA {task.fields[eta]}"),
        console=console,
        transient=False,
        expand=True,
    )
    task = progress.add_task("train", total=total, completed=start, speed="", eta="-:--:--", losses="")
    return progress, task


class ConsoleReport:
    """A rich progress bar (iteration, images/s, ETA; the losses below), or plain lines with
    ``quiet`` or when the console is not a terminal (a log file). ``cpu``: training runs on the
    CPU, where a run of days gets a note on what would make it practical."""

    def __init__(self, console: Any, total: int, start: int, quiet: bool, cpu: bool = False):
        self.console = console
        self.total = total
        self.quiet = quiet or not getattr(console, "is_terminal", True)
        self.cpu = cpu
        self.interval = line_seconds() if os.environ.get(SECONDS_ENV) else QUIET_LINE_SECONDS
        self._last_line = -math.inf
        self._noted = False
        self._progress = None
        self._task = None
        if not self.quiet:
            self._progress, self._task = _two_line_progress(console, total, start)

    def __enter__(self) -> "ConsoleReport":
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.stop()

    def advance(self, step: int) -> None:
        """The iteration counter moved to ``step``."""
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def log(self, step: int, metrics: dict[str, Any], eta_s: float) -> None:
        """New averaged losses and speed at a log step."""
        speed = f"{metrics.get('images_per_s', 0.0):.1f} img/s"
        losses = loss_summary(metrics)
        if self.cpu and not self._noted:
            self._noted = True
            if eta_s > SLOW_CPU_RUN_HOURS * 3600:
                self.print(SLOW_CPU_NOTE.format(hours=eta_s / 3600))
        if self._progress is not None:
            self._progress.update(self._task, completed=step, speed=speed, eta=format_duration(eta_s), losses=losses)
            return
        now = time.monotonic()
        if now - self._last_line >= self.interval or step >= self.total:
            self._last_line = now
            lr = metrics.get("g_lr", 0.0)
            self.print(
                f"step {step}/{self.total}  {losses}  lr {lr:.2e}  {speed}  ETA {format_duration(eta_s)}"
            )

    def print(self, text: str) -> None:
        """A message above the bar (or a plain line)."""
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

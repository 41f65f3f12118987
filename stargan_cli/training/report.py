"""Where training progress goes: ``metrics.jsonl``, TensorBoard (optional) and the console."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path
from typing import Any

from ..checkpoints import atomic_write
from ..fileio import storage_error, writing

METRICS_NAME = "metrics.jsonl"
# --quiet prints a plain line at a log step at most this often (plus the first and last).
QUIET_LINE_SECONDS = 10.0


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


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (or ``-:--:--`` when unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def loss_summary(metrics: dict[str, Any]) -> str:
    """The main losses in a few words, e.g. ``D 1.23 (cls 0.41) G 4.56 (rec 0.12 cls 0.80)``."""
    parts = []
    if "d_loss" in metrics:
        parts.append(f"D {metrics['d_loss']:.3f} (cls {metrics['d_cls']:.3f})")
    if "g_loss" in metrics:
        parts.append(f"G {metrics['g_loss']:.3f} (rec {metrics['g_rec']:.3f} cls {metrics['g_cls']:.3f})")
    return " ".join(parts)


class ConsoleReport:
    """A rich progress bar (iteration, images/s, ETA, losses), or plain lines with ``quiet``."""

    def __init__(self, console: Any, total: int, start: int, quiet: bool):
        self.console = console
        self.total = total
        self.quiet = quiet
        self._last_line = -math.inf
        self._progress = None
        self._task = None
        if not quiet:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("[bold]training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[speed]}"),
                TextColumn("ETA {task.fields[eta]}"),
                TextColumn("{task.fields[losses]}"),
                console=console,
                transient=False,
            )
            self._task = self._progress.add_task("train", total=total, completed=start, speed="", eta="-:--:--", losses="")

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
        if self._progress is not None:
            self._progress.update(self._task, completed=step, speed=speed, eta=format_duration(eta_s), losses=losses)
            return
        now = time.monotonic()
        if now - self._last_line >= QUIET_LINE_SECONDS or step >= self.total:
            self._last_line = now
            lr = metrics.get("g_lr", 0.0)
            self.print(
                f"step {step}/{self.total}  {losses}  lr {lr:.2e}  {speed}  ETA {format_duration(eta_s)}"
            )

    def print(self, text: str) -> None:
        """A message above the bar (or a plain line)."""
        self.console.print(text, highlight=False, markup=False, soft_wrap=True)

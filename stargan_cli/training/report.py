"""Where training progress goes: ``metrics.jsonl``, TensorBoard (optional) and the console."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from ..checkpoints import atomic_write

METRICS_NAME = "metrics.jsonl"
# --quiet prints a plain line at a log step at most this often (plus the first and last).
QUIET_LINE_SECONDS = 10.0


class MetricsLog:
    """Append-only JSON-lines log: one object per log step, flushed as written."""

    def __init__(self, path: Path, resume_step: int | None = None):
        self.path = path
        if resume_step is not None:
            self.truncate(resume_step)
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
        self._file.write(json.dumps(record, allow_nan=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Close the file."""
        self._file.close()


def open_tensorboard(log_dir: Path, purge_step: int | None) -> Any | None:
    """A SummaryWriter when TensorBoard is installed, else None (it is optional)."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except Exception:  # ImportError, or a broken tensorboard install
        return None
    return SummaryWriter(str(log_dir), purge_step=purge_step)


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

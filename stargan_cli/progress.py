"""Progress of long jobs: a rich bar on a terminal, plain lines in a log file.

When output goes to a file or a pipe (``nohup``, ``> log``), a rich bar shows nothing until
the job ends. :func:`make_progress` then gives a :class:`LineProgress` instead: the same
``add_task``/``update``/``advance`` calls print one plain line per task when it starts, at
most every ``STARGAN_PROGRESS_SECONDS`` (30) seconds after that, and when it ends, e.g.
``Translating: 12/40 (30%), 0:00:31 elapsed, ETA 0:01:12``.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any

from .errors import UsageError

SECONDS_ENV = "STARGAN_PROGRESS_SECONDS"
DEFAULT_SECONDS = 30.0


def line_seconds() -> float:
    """Seconds between two plain progress lines of a task (``STARGAN_PROGRESS_SECONDS``)."""
    try:
        value = float(os.environ.get(SECONDS_ENV, ""))
    except ValueError:
        return DEFAULT_SECONDS
    return value if math.isfinite(value) and value >= 0 else DEFAULT_SECONDS


_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


def parse_duration(text: str, flag: str) -> float:
    """``"10m"``, ``"90s"``, ``"1.5h"`` or plain seconds (``"600"``) to seconds (> 0); a
    UsageError naming ``flag`` otherwise."""
    match = _DURATION.match(text or "")
    seconds = float(match.group(1)) * _UNIT_SECONDS[(match.group(2) or "s").lower()] if match else math.nan
    if not seconds > 0:
        raise UsageError(f"{flag} {text!r}: give a duration such as 90s, 10m or 1.5h")
    return seconds


def format_duration(seconds: float) -> str:
    """``H:MM:SS`` (or ``-:--:--`` when unknown)."""
    if not math.isfinite(seconds) or seconds < 0:
        return "-:--:--"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def human_bytes(size: float | None) -> str:
    """``12.3 MiB`` (``unknown`` for None)."""
    if size is None:
        return "unknown"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return ""


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float
    fields: dict[str, Any]
    started: float = field(default_factory=time.monotonic)
    last_line: float = -math.inf
    done: bool = False


class LineProgress:
    """The part of :class:`rich.progress.Progress` our commands use, as plain lines.

    ``unit`` names what is counted (``images``); ``in_bytes`` shows sizes and a rate instead;
    ``info`` names a task field appended to the line (e.g. a loss).
    """

    def __init__(self, console: Any, *, unit: str = "", in_bytes: bool = False, info: str | None = None,
                 interval: float | None = None):
        self.console = console
        self.unit = unit
        self.in_bytes = in_bytes
        self.info = info
        self.interval = line_seconds() if interval is None else interval
        self._tasks: dict[int, _Task] = {}

    def __enter__(self) -> "LineProgress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def start(self) -> None:  # noqa: D102 - rich's API; nothing to start
        pass

    def stop(self) -> None:
        """Nothing more is coming: the last state of unfinished tasks is not repeated."""

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields: Any) -> int:
        """A new task; its first line is printed now."""
        task_id = len(self._tasks)
        self._tasks[task_id] = _Task(description, total, completed, dict(fields))
        self._maybe_print(task_id)
        return task_id

    def update(self, task_id: int, *, completed: float | None = None, total: float | None = None,
               advance: float | None = None, description: str | None = None, **fields: Any) -> None:
        """Change a task (as rich's ``update``); prints a line when one is due."""
        task = self._tasks[task_id]
        if total is not None:
            task.total = total
        if completed is not None:
            task.completed = completed
        if advance is not None:
            task.completed += advance
        if description is not None:
            task.description = description
        task.fields.update(fields)
        self._maybe_print(task_id)

    def advance(self, task_id: int, advance: float = 1) -> None:
        """Move a task on by ``advance``."""
        self.update(task_id, advance=advance)

    def _maybe_print(self, task_id: int) -> None:
        task = self._tasks[task_id]
        if task.done:
            return
        now = time.monotonic()
        finished = task.total is not None and task.completed >= task.total
        if finished or now - task.last_line >= self.interval:
            task.last_line = now
            task.done = finished
            self.console.print(self.line(task, now), highlight=False, markup=False, soft_wrap=True)

    def line(self, task: _Task, now: float) -> str:
        """One task's state as text."""
        elapsed = now - task.started
        if self.in_bytes:
            amount = human_bytes(task.completed) + (f" of {human_bytes(task.total)}" if task.total else "")
        else:
            total = f"/{task.total:,.0f}" if task.total is not None else ""
            amount = f"{task.completed:,.0f}{total}" + (f" {self.unit}" if self.unit else "")
        if task.total:
            amount += f" ({100 * task.completed / task.total:.0f}%)"
        parts = [f"{task.description}: {amount}"]
        if self.info and task.fields.get(self.info):
            parts.append(str(task.fields[self.info]))
        if task.completed > 0:
            parts.append(f"{human_bytes(task.completed / max(elapsed, 1e-9))}/s" if self.in_bytes
                         else f"{format_duration(elapsed)} elapsed")
            if task.total and task.completed < task.total:
                eta = (task.total - task.completed) * elapsed / task.completed
                parts.append(f"ETA {format_duration(eta)}")
        return ", ".join(parts)


def make_progress(console: Any, *columns: Any, unit: str = "", in_bytes: bool = False,
                  info: str | None = None, lines: bool = True, **options: Any) -> Any:
    """A rich ``Progress(*columns, console=console, **options)`` on a terminal, else a
    :class:`LineProgress` that writes plain lines to ``console`` (or, with ``lines=False``
    for a job too short to need them, a progress that shows nothing)."""
    from rich.progress import Progress

    if getattr(console, "is_terminal", False):
        return Progress(*columns, console=console, **options)
    if not lines:
        return Progress(*columns, console=console, disable=True)
    return LineProgress(console, unit=unit, in_bytes=in_bytes, info=info)


def print_line(progress: Any, console: Any, text: str, **options: Any) -> None:
    """Print a report line on ``console`` while ``progress`` may be showing a live bar.

    A live bar is redrawn in place on its terminal; a line written straight to the same
    terminal (stdout and the bar's stderr both on it) lands glued to the end of the bar. Such a
    line goes through the bar's console instead, which prints it above the bar. Anywhere else
    (stdout to a file or a pipe, or no live bar) it goes to ``console`` as it is.
    """
    live = getattr(progress, "live", None)
    if live is not None and live.is_started and getattr(console, "is_terminal", False):
        progress.console.print(text, **options)
    else:
        console.print(text, **options)

"""Showing and saving evaluation results: rich tables, the JSON file, progress bars."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import StarganError
from .evaluate import HIGHER_IS_BETTER, METRICS

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from .classifier import AttributeClassifier
    from .runner import EvalReport

LABELS = {
    "success": "success",
    "preservation": "preserved",
    "preservation_all": "preserved (40)",
    "l1": "cycle L1",
    "psnr": "cycle PSNR",
    "identity_psnr": "identity PSNR",
    "identity_ssim": "identity SSIM",
    "face_shift": "face shift (levels)",
    "fid": "FID",
}
BEST_MARK = " *"


def format_value(metric: str, value: float | None) -> str:
    """Text of one value: shares as percentages, L1 and SSIM with 4 decimals, PSNR in dB, the
    face shift (8-bit levels) and FID with 2 decimals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if metric in ("success", "preservation", "preservation_all"):
        return f"{100 * value:.1f}%"
    if metric in ("l1", "identity_ssim"):
        return f"{value:.4f}"
    if metric in ("psnr", "identity_psnr"):
        return f"{value:.2f} dB"
    return f"{value:.2f}"


def best_index(metric: str, values: Sequence[float | None]) -> list[int]:
    """Positions of the best value of a row (ties all count; none when fewer than 2 values)."""
    present = [(i, v) for i, v in enumerate(values) if v is not None]
    if len(present) < 2:
        return []
    pick = max if HIGHER_IS_BETTER[metric] else min
    best = pick(v for _, v in present)
    return [i for i, v in present if math.isclose(v, best, rel_tol=1e-9, abs_tol=1e-12)]


def model_table(model: dict[str, Any], metrics: Sequence[str] = METRICS) -> "Table":
    """One model's scores: a row per target plus the mean."""
    from rich.table import Table

    from rich.markup import escape

    table = Table(title=escape(model["name"]), title_justify="left")
    table.add_column("target")
    for m in metrics:
        table.add_column(LABELS[m], justify="right")
    for target, row in model["targets"].items():
        table.add_row(escape(target), *(format_value(m, row.get(m)) for m in metrics))
    table.add_section()
    table.add_row("[bold]mean[/]", *(f"[bold]{format_value(m, model['mean'].get(m))}[/]" for m in metrics))
    return table


def comparison_rows(report: dict[str, Any], metrics: Sequence[str] = METRICS) -> list[tuple[str, str, list[str], list[int]]]:
    """Rows of the side-by-side table: ``(target, metric, cells per model, best positions)``.

    The mean over targets comes first, then each target any model has, in first-seen order.
    """
    models = report["models"]
    targets = list(dict.fromkeys(t for m in models for t in m["targets"]))
    rows = []
    for target in ["mean", *targets]:
        for metric in metrics:
            values = [
                (m["mean"] if target == "mean" else m["targets"].get(target, {})).get(metric) for m in models
            ]
            if all(v is None for v in values):
                continue
            rows.append((target, metric, [format_value(metric, v) for v in values], best_index(metric, values)))
    return rows


def comparison_table(report: dict[str, Any], metrics: Sequence[str] = METRICS) -> "Table":
    """Models side by side, one row per (target, metric); the best value of a row is marked ``*``."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="Comparison (* best of the row)", title_justify="left")
    table.add_column("target")
    table.add_column("metric")
    for m in report["models"]:
        table.add_column(escape(m["name"]), justify="right")
    last = None
    for target, metric, cells, best in comparison_rows(report, metrics):
        if last is not None and target != last:
            table.add_section()
        shown = [f"[bold green]{c}{BEST_MARK}[/]" if i in best else c for i, c in enumerate(cells)]
        table.add_row(escape(target) if target != last else "", LABELS[metric], *shown)
        last = target
    return table


def print_report(report: "EvalReport | dict[str, Any]", console: "Console") -> None:
    """Everything on screen: settings, one table per model, the comparison when several."""
    from rich.markup import escape

    data = report if isinstance(report, dict) else report.to_dict()
    clf = data.get("classifier") or {}
    acc = clf.get("mean_accuracy")
    console.print(
        f"{data['dataset']} {data['split']} split, n={data['n']}, seed={data['seed']}; "
        f"classifier {escape(clf.get('path') or '(in memory)')} ({clf.get('image_size')}px"
        + (f", mean held-out accuracy {100 * acc:.1f}%" if acc is not None else "") + ")",
        highlight=False,
    )
    console.print(f"FID features: {escape(data.get('fid_features') or 'off')}", highlight=False)
    for note in data.get("notes", []):
        console.print(f"[yellow]Note:[/] {escape(note)}", highlight=False)
    metrics = [m for m in METRICS if m != "fid" or data.get("fid_features")]
    for model in data["models"]:
        console.print(model_table(model, metrics))
    if len(data["models"]) > 1:
        console.print(comparison_table(data, metrics))


def accuracy_table(classifier: "AttributeClassifier") -> "Table":
    """Held-out accuracy per attribute, with the majority-value baseline, and the mean."""
    from rich.table import Table

    table = Table(title=f"Classifier held-out accuracy ({classifier.image_size}px)", title_justify="left")
    table.add_column("attribute")
    table.add_column("accuracy", justify="right")
    table.add_column("majority baseline", justify="right")
    for name in classifier.attributes:
        if name in classifier.accuracy:
            base = classifier.baseline.get(name)
            table.add_row(name, f"{100 * classifier.accuracy[name]:.1f}%",
                          "-" if base is None else f"{100 * base:.1f}%")
    mean = classifier.mean_accuracy()
    if mean is not None:
        base_mean = sum(classifier.baseline.values()) / len(classifier.baseline) if classifier.baseline else None
        table.add_section()
        table.add_row("[bold]mean[/]", f"[bold]{100 * mean:.1f}%[/]",
                      "-" if base_mean is None else f"{100 * base_mean:.1f}%")
    return table


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: turn them into null, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def check_json_path(path: str | os.PathLike) -> Path:
    """Refuse a ``--json`` path that cannot become a file (a folder, or below a file)."""
    path = Path(path)
    if path.is_dir():
        raise StarganError(f"--json {path} is a folder: name a file, e.g. {path / 'scores.json'}")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise StarganError(f"--json {path}: {blocker} is a file, not a folder; choose another path")
    return path


def write_json(report: "EvalReport | dict[str, Any]", path: str | os.PathLike) -> Path:
    """Write the report as JSON (layout: :meth:`EvalReport.to_dict`) atomically."""
    from ..fileio import atomic_write

    path = check_json_path(path)
    data = report if isinstance(report, dict) else report.to_dict()
    text = json.dumps(_finite(data), indent=2, allow_nan=False) + "\n"
    try:
        return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    except OSError as err:
        raise StarganError(f"cannot write --json {path}: {err.strerror or err}") from None


class RichProgress:
    """:class:`~stargan_cli.evaluation.runner.Progress` with rich bars on stderr, plain lines
    when it is not a terminal (see :mod:`stargan_cli.progress`), or nothing when quiet."""

    def __init__(self, quiet: bool = False, console: "Console | None" = None):
        self.quiet = quiet
        self.console = console
        self._progress = None

    def __enter__(self) -> "RichProgress":
        if not self.quiet:
            from rich.console import Console
            from rich.progress import (
                BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
            )

            from ..progress import make_progress

            self._progress = make_progress(
                self.console or Console(stderr=True),
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                info="info",
            )
            self._progress.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def task(self, description: str, total: int) -> Callable[..., None]:
        """A bar for ``total`` units; the returned ``advance(k, loss=None)`` moves it."""
        if self._progress is None:
            return lambda *args, **kwargs: None
        from rich.markup import escape

        progress = self._progress
        task_id = progress.add_task(escape(description), total=total, info="")

        def advance(k: int = 1, loss: float | None = None) -> None:
            progress.update(task_id, advance=k, info="" if loss is None else f"loss {loss:.4f}")

        return advance


"""A study's numbers: per variant the mean and spread over seeds of every figure ``stargan
eval`` reports, iterations reached, seconds, it/s and the ratio to the base; as JSON
(``study.json``), Markdown (``study.md``) and a terminal table.

Figures are taken from eval's result as they come (any metric in its ``mean`` and
``targets``), so a figure eval adds shows up here without a change.
"""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..evaluation.report import LABELS, format_value
from ..fileio import atomic_write
from ..progress import format_duration
from .variants import MODE_WORDS

if TYPE_CHECKING:
    from rich.table import Table

    from .plan import StudyPlan

JSON_NAME = "study.json"
MARKDOWN_NAME = "study.md"
SHEET_NAME = "sheet.png"
CURVE_NAME = "curve.png"
HEADLINE = "success"  # the figure whose ratio to the base the tables show
# In study.md and study.json; the terminal shows means only, of fewer figures, to fit 80 columns.
TERMINAL_LEFT_OUT = ("preservation_all", "l1", "identity_ssim", "fid")
TERMINAL_HEADERS = {"iterations": "iters", "face shift (levels)": "face shift"}


def spread(values: Sequence[float]) -> dict[str, Any]:
    """``{"mean", "sd", "min", "max", "values"}`` of the numbers in ``values`` (None left out;
    ``sd`` is the sample standard deviation, None for fewer than 2 values)."""
    present = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not present:
        return {"mean": None, "sd": None, "min": None, "max": None, "values": list(values)}
    return {
        "mean": statistics.fmean(present),
        "sd": statistics.stdev(present) if len(present) > 1 else None,
        "min": min(present),
        "max": max(present),
        "values": list(values),
    }


def metric_names(records: Sequence[dict[str, Any]]) -> list[str]:
    """Every metric in the records' eval means, eval's own order first, then new ones as seen."""
    return list(dict.fromkeys(m for r in records for m in r["eval"]["mean"]))


def target_names(records: Sequence[dict[str, Any]]) -> list[str]:
    """Every target judged, in first-seen order."""
    return list(dict.fromkeys(t for r in records for t in r["eval"]["targets"]))


def _ratio(value: float | None, base: float | None) -> float | None:
    if value is None or base is None or base == 0:
        return None
    return value / base


def summarize(plan_info: dict[str, Any], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The study's numbers (``study.json``): ``plan_info`` (:meth:`StudyPlan.to_dict`) and the
    judged result of every run, the base variant's first."""
    metrics = metric_names(records)
    targets = target_names(records)
    order = list(dict.fromkeys(r["variant"] for r in records))
    changes = {v["name"]: v["changes"] for v in plan_info.get("variants", [])}
    variants = []
    for name in order:
        own = [r for r in records if r["variant"] == name]
        entry: dict[str, Any] = {
            "name": name,
            "changes": changes.get(name, []),
            "seeds": [r["seed"] for r in own],
            "iterations": spread([r["iterations"] for r in own]),
            "seconds": spread([r["seconds"] for r in own]),
            "it_per_s": spread([r["it_per_s"] for r in own]),
            "mean": {m: spread([r["eval"]["mean"].get(m) for r in own]) for m in metrics},
            "targets": {
                t: {m: spread([r["eval"]["targets"].get(t, {}).get(m) for r in own]) for m in metrics}
                for t in targets
            },
            "curves": [{"seed": r["seed"], "points": r.get("curve", [])} for r in own],
        }
        variants.append(entry)
    base = variants[0]
    for entry in variants:
        for m in metrics:
            entry["mean"][m]["ratio_to_base"] = _ratio(entry["mean"][m]["mean"], base["mean"][m]["mean"])
        entry["it_per_s"]["ratio_to_base"] = _ratio(entry["it_per_s"]["mean"], base["it_per_s"]["mean"])
    judge = dict(records[0].get("judge", {})) if records else {}
    return {
        "study": plan_info.get("name"),
        "mode": plan_info.get("mode"),
        "budget": plan_info.get("budget"),
        "seeds": plan_info.get("seeds"),
        "base": base["name"],
        "metrics": metrics,
        "targets": targets,
        "judge": judge,
        "variants": variants,
    }


# --- text ---------------------------------------------------------------------------------------


def _label(metric: str) -> str:
    return LABELS.get(metric, metric.replace("_", " "))


def _with_spread(metric: str, stats: dict[str, Any]) -> str:
    text = format_value(metric, stats.get("mean"))
    if stats.get("sd") is not None:
        text += f" ± {format_value(metric, stats['sd'])}"
    return text


def _ratio_text(stats: dict[str, Any]) -> str:
    ratio = stats.get("ratio_to_base")
    return "-" if ratio is None else f"{ratio:.2f}x"


def table_rows(summary: dict[str, Any], leave_out: Sequence[str] = (),
               spread: bool = True) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the main table: per variant iterations, it/s, each mean figure
    (mean ± sd over seeds, or the mean alone without ``spread``; but ``leave_out``) and the
    headline figure's ratio to the base."""
    metrics = [m for m in summary["metrics"] if m not in leave_out]
    shown = _with_spread if spread else (lambda m, stats: format_value(m, stats.get("mean")))
    header = ["variant", "iterations", "it/s", *(_label(m) for m in metrics)]
    if HEADLINE in metrics:
        header.append("vs base")
    rows = []
    for v in summary["variants"]:
        iters = v["iterations"]
        row = [
            v["name"],
            f"{iters['mean']:.0f}" + (f" ± {iters['sd']:.0f}" if spread and iters.get("sd") is not None else ""),
            "-" if v["it_per_s"]["mean"] is None else f"{v['it_per_s']['mean']:.2f}",
            *(shown(m, v["mean"][m]) for m in metrics),
        ]
        if HEADLINE in metrics:
            row.append(_ratio_text(v["mean"][HEADLINE]))
        rows.append(row)
    return header, rows


def target_rows(summary: dict[str, Any], metric: str = HEADLINE) -> tuple[list[str], list[list[str]]]:
    """Header and rows of ``metric`` per target and variant (mean ± sd over seeds)."""
    header = ["variant", *summary["targets"]]
    rows = [[v["name"], *(_with_spread(metric, v["targets"][t][metric]) for t in summary["targets"])]
            for v in summary["variants"]]
    return header, rows


def _markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(header), "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|", *map(line, rows)]


def _budget_text(budget: dict[str, Any] | None) -> str:
    if not budget:
        return "?"
    if budget.get("seconds") is not None:
        return f"{format_duration(budget['seconds'])} of training wall-clock per run (equal time)"
    return f"{budget['iters']} iterations per run (equal iterations)"


def markdown(summary: dict[str, Any], pictures: Sequence[str] = ()) -> str:
    """``study.md``: what was run, the tables, and the pictures (file names in the report folder)."""
    judge = summary.get("judge") or {}
    classifier = judge.get("classifier") or {}
    accuracy = classifier.get("mean_accuracy")
    seeds = summary.get("seeds") or []
    lines = [
        f"# Study {summary.get('study')}",
        "",
        f"- Variants: {len(summary['variants'])}, "
        + MODE_WORDS.get(summary.get("mode"), "the cross product of the axes")
        + f"; seeds {', '.join(map(str, seeds))} ({len(seeds)} run(s) per variant).",
        f"- Budget: {_budget_text(summary.get('budget'))}. Iterations reached and it/s are measured.",
        f"- Judge: `stargan eval` on {judge.get('n')} {judge.get('split', 'test')} images (seed {judge.get('seed')}), "
        f"classifier at {classifier.get('image_size')}px"
        + (f" (mean held-out accuracy {100 * accuracy:.1f}%)" if isinstance(accuracy, (int, float)) else "")
        + f", FID features: {judge.get('fid_features') or 'none'}.",
        *(f"- Note: {note}" for note in judge.get("notes") or []),
        "- Each figure is the mean over seeds ± its sample standard deviation (no ± with one seed);",
        f"  the last column is the mean {HEADLINE} as a ratio to the base variant's ({summary['base']}).",
        "",
        "## Results",
        "",
        *_markdown_table(*table_rows(summary)),
        "",
        f"## {_label(HEADLINE).capitalize()} per target",
        "",
        *_markdown_table(*target_rows(summary)),
        "",
    ]
    if SHEET_NAME in pictures:
        lines += ["## Sheet", "",
                  "The same held-out faces for every variant (first seed): input, then each target.", "",
                  f"![sheet]({SHEET_NAME})", ""]
    if CURVE_NAME in pictures:
        lines += ["## Success during training", "", f"![mean success against step]({CURVE_NAME})", ""]
    return "\n".join(lines)


def terminal_table(summary: dict[str, Any]) -> "Table":
    """The main table for the terminal."""
    from rich import box
    from rich.table import Table

    header, rows = table_rows(summary, TERMINAL_LEFT_OUT, spread=False)
    table = Table(title=f"Study {summary.get('study')} (means; spreads and all figures: study.md)", title_justify="left",
                  padding=(0, 0), collapse_padding=True, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for i, name in enumerate(header):  # short headers, on two lines where they have two words
        name = TERMINAL_HEADERS.get(name, name)
        table.add_column(name.replace(" ", "\n", 1), justify="left" if i == 0 else "right", no_wrap=True)
    for name, *figures in rows:  # a combined variant's changes one per line: the figures keep the width
        table.add_row(name.replace("+", "+\n"), *figures)
    return table


def write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_report(plan: "StudyPlan", records: Sequence[dict[str, Any]], say: Any = lambda text: None,
                 device: Any = None) -> dict[str, Any]:
    """Write the report folder (study.json, study.md, the sheet, the curve when matplotlib is
    installed); return the summary."""
    from .pictures import write_curve, write_sheet

    folder = plan.report_dir
    folder.mkdir(parents=True, exist_ok=True)
    summary = summarize(plan.to_dict(), records)
    pictures = []
    if write_sheet(plan, folder / SHEET_NAME, device=device) is not None:
        pictures.append(SHEET_NAME)
    if write_curve(summary, folder / CURVE_NAME, say=say) is not None:
        pictures.append(CURVE_NAME)
    summary["pictures"] = pictures
    write_text(folder / JSON_NAME, json.dumps(summary, indent=2, allow_nan=False) + "\n")
    write_text(folder / MARKDOWN_NAME, markdown(summary, pictures))
    return summary

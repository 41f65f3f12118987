"""A study's pictures: one ``stargan grid`` sheet of the same held-out faces for every variant
and target, and a plot of judged success against the training step (matplotlib, optional)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from .plan import StudyPlan

PLOT_EXTRA = "plot"  # pip install "stargan[plot]" brings matplotlib


def write_sheet(plan: "StudyPlan", path: Path, device: Any = None) -> Path | None:
    """The sheet: rows are the held-out faces, one row per variant (its first seed's final
    model) under each face; columns the input, then every target."""
    from ..grid import dataset_inputs, load_models, make_sheet, save_sheet
    from ..training.runs import FINAL_NAME

    first = plan.seeds[0]
    runs = [r for r in plan.runs() if r.seed == first]
    models = load_models([str(plan.run_dir(r) / FINAL_NAME) for r in runs], device, half=False, download=False,
                         quiet=True)
    for model, run in zip(models, runs):  # the variant and how far it got
        model.name, model.label = run.variant, f"{run.variant}\nstep {model.checkpoint.step}"
    inputs = dataset_inputs(models, root=plan.base.config.data, split="test", n=plan.judge.faces,
                            seed=plan.judge.seed, batch_size=plan.judge.batch_size)
    sheet = make_sheet(models, inputs, batch_size=plan.judge.batch_size)
    return save_sheet(sheet, path)


def write_curve(summary: dict[str, Any], path: Path, say: Callable[[str], None] = lambda text: None,
                metric: str = "success") -> Path | None:
    """Mean ``metric`` over targets against the training step, one line per variant (the mean
    over seeds at each step a checkpoint was judged; seeds of a time budget stop at different
    steps, so each seed's points are drawn). None, saying why, without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say(f"Note: no curve plot: it needs matplotlib (pip install \"stargan[{PLOT_EXTRA}]\"); "
            "its numbers are in study.json")
        return None
    from ..fileio import atomic_write

    figure, axes = plt.subplots(figsize=(8, 5), dpi=100)
    for number, variant in enumerate(summary["variants"]):
        colour = f"C{number % 10}"
        for k, curve in enumerate(variant["curves"]):
            points = [(p["step"], p["mean"].get(metric)) for p in curve["points"] if p["mean"].get(metric) is not None]
            if not points:
                continue
            steps, values = zip(*points)
            axes.plot(steps, [100 * v for v in values], marker="o", color=colour, alpha=0.9 if k == 0 else 0.5,
                      label=variant["name"] if k == 0 else None)
    axes.set_xlabel("training step")
    axes.set_ylabel(f"mean {metric} (%)")
    axes.set_title(f"Study {summary.get('study')}: judged {metric} during training")
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8, loc="best")
    figure.tight_layout()
    try:
        return atomic_write(path, lambda tmp: figure.savefig(tmp, format="png"))
    finally:
        plt.close(figure)

"""``stargan study``: many training runs as one study, judged alike, and its report.

Modules: :mod:`.variants` (``--vary`` axes, presets, the variants they expand to, budgets: pure
functions), :mod:`.plan` (the plan, each run's training config, the study folder),
:mod:`.eta` (the time estimate), :mod:`.runner` (training, resuming and judging every run
under the study's lock), :mod:`.report` (study.json, study.md, the terminal table) and
:mod:`.pictures` (the sheet and the success-vs-step plot).

Typical use::

    from stargan_cli.study import Budget, StudyPlan, StudyVariant, Variant, run_study

    plan = StudyPlan("lr", folder, [StudyVariant(Variant("base"), base_config), ...],
                     seeds=[1234, 1235], budget=Budget(seconds=600))
    summary = run_study(plan)
"""

from __future__ import annotations

from pathlib import Path

from .. import paths
from .plan import Budget, JudgeSettings, StudyPlan, StudyRun, StudyVariant
from .runner import run_study
from .variants import (
    BASE, MODES, PRESETS, Axis, Variant, drop_repeats, expand, merge_axes, parse_axis, parse_budget, preset_axes,
    seed_list, variant_name,
)

def resolve_folder(name: str) -> Path:
    """The folder of study ``name``: a path as given (when it has a folder separator or
    starts with ``.`` or ``~``), else ``<data folder>/studies/NAME``."""
    if not name or not name.strip():
        from ..errors import UsageError

        raise UsageError("the study needs a name")
    if "/" in name or "\\" in name or name.startswith((".", "~")):
        return Path(name).expanduser().resolve()
    return paths.studies_dir(create=False) / name


__all__ = [
    "Axis", "BASE", "Budget", "JudgeSettings", "MODES", "PRESETS", "StudyPlan", "StudyRun", "StudyVariant",
    "Variant", "drop_repeats", "expand", "merge_axes", "parse_axis", "parse_budget", "preset_axes",
    "resolve_folder", "run_study", "seed_list", "variant_name",
]

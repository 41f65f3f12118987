"""A study's plan: its variants with their training configs, seeds, budget and judge settings,
the training config of each run, and the folder it all lives in.

    STUDY/.lock                       held while the study runs (one process per study folder)
    STUDY/plan.json                   the plan; a rerun must match it to continue the study
    STUDY/runs/VARIANT/seed-S/        each run's training folder (``stargan train`` layout)
    STUDY/results/VARIANT@S.json      a judged run: iterations, seconds, eval's scores
    STUDY/report/                     study.md, study.json, sheet.png, curve.png
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from ..errors import StarganError, UsageError
from ..fileio import atomic_write
from ..training import TrainConfig
from ..training.config import RESUMABLE_OVERRIDES
from .variants import Variant

PLAN_NAME = "plan.json"
LOCK_NAME = ".lock"
RUNS_DIR = "runs"
RESULTS_DIR = "results"
REPORT_DIR = "report"
# With a time budget the step count is open-ended: a cap no run reaches, and constant learning
# rates (a decay needs a known last step).
BUDGET_ITERS = 1_000_000_000
MIN_CHECKPOINTS = 4  # per run, so that a killed run loses at most a quarter of its budget
# Settings of a run that the study decides; the rest come from the base and the variant.
STUDY_FIELDS = ("out", "resume", "seed", "iters", "decay_iters", "time_budget", "save_every",
                "save_every_seconds", "keep", "quiet", "tensorboard")


@dataclass(frozen=True)
class Budget:
    """How long each run trains: ``seconds`` of training wall-clock or ``iters`` iterations."""

    seconds: float | None = None
    iters: int | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.iters is None):
            raise UsageError("give the study a budget: --budget DURATION or --iters N, not both")
        if self.iters is not None and self.iters < 1:
            raise UsageError("--iters must be at least 1")

    def describe(self) -> str:
        """``10m of training`` or ``2000 iterations``."""
        from ..progress import format_duration

        if self.seconds is not None:
            return f"{format_duration(self.seconds)} of training"
        return f"{self.iters} iterations"


@dataclass
class JudgeSettings:
    """How every run is judged: ``stargan eval`` on ``n`` held-out images chosen with ``seed``
    (FID features ``fid``; the cached classifier, or the file ``classifier``), the eval of
    ``curve_points`` checkpoints during training (on a quarter of the images, without FID),
    and ``faces`` held-out faces on the sheet."""

    n: int = 200
    seed: int = 0
    fid: str = "auto"
    classifier: str | None = None
    curve_points: int = 3
    faces: int = 4
    batch_size: int = 32

    @property
    def curve_n(self) -> int:
        """Images per judged checkpoint during training."""
        return max(1, self.n // 4)

    def __post_init__(self) -> None:
        from ..evaluation import EvalSettings

        EvalSettings(n=self.n, batch_size=self.batch_size)  # eval's own checks of the two
        if self.curve_points < 0:
            raise UsageError("--curve-points must be 0 or more")
        if self.faces < 1:
            raise UsageError("--faces must be at least 1")


@dataclass
class StudyVariant:
    """A variant with the training config it stands for (seed: the first seed; no folder)."""

    variant: Variant
    config: TrainConfig

    @property
    def name(self) -> str:  # noqa: D102
        return self.variant.name


@dataclass(frozen=True)
class StudyRun:
    """One training run of the study: a variant with one seed."""

    variant: str
    seed: int

    @property
    def key(self) -> str:
        """``VARIANT@SEED``: its name in results and messages."""
        return f"{self.variant}@{self.seed}"


@dataclass
class StudyPlan:
    """Everything that decides what a study trains and how it is judged."""

    name: str
    folder: Path
    variants: list[StudyVariant]
    seeds: list[int]
    budget: Budget
    judge: JudgeSettings = field(default_factory=JudgeSettings)
    mode: str = "axis"

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        if not self.variants:
            raise UsageError("the study has no variant to train")
        for variant in self.variants:  # the budget's settings too, e.g. --warmup-iters below --iters
            try:
                self.run_config(StudyRun(variant.name, self.seeds[0])).validate()
            except UsageError as err:
                raise UsageError(f"{variant.name}: {err}") from None

    @property
    def base(self) -> StudyVariant:
        """The base variant (the first)."""
        return self.variants[0]

    def runs(self) -> list[StudyRun]:
        """Every run, seed by seed: the first seed of every variant comes before any second
        seed, so a study stopped half-way has compared every variant once."""
        return [StudyRun(v.name, seed) for seed in self.seeds for v in self.variants]

    def variant(self, name: str) -> StudyVariant:
        """The variant called ``name``."""
        return next(v for v in self.variants if v.name == name)

    def run_dir(self, run: StudyRun) -> Path:
        """The training folder of ``run``."""
        return self.folder / RUNS_DIR / run.variant / f"seed-{run.seed}"

    def result_path(self, run: StudyRun) -> Path:
        """Where ``run``'s judged result is written (its presence: the run is done)."""
        return self.folder / RESULTS_DIR / f"{run.key}.json"

    @property
    def report_dir(self) -> Path:
        """The report folder."""
        return self.folder / REPORT_DIR

    def checkpoints(self) -> int:
        """Periodic checkpoints per run: the curve's points, and at least a few to resume from."""
        return max(self.judge.curve_points, MIN_CHECKPOINTS)

    def run_config(self, run: StudyRun) -> TrainConfig:
        """The training config of ``run``: its variant's, in the run's folder with its seed,
        the budget's length and checkpoints, quiet, without TensorBoard."""
        config = self.variant(run.variant).config
        points = self.checkpoints()
        common = dict(out=str(self.run_dir(run)), resume=None, seed=run.seed, keep=points + 1, quiet=True,
                      tensorboard=False)
        if self.budget.iters is not None:
            iters = self.budget.iters
            return replace(config, **common, iters=iters, save_every=max(1, iters // points),
                           time_budget=None, save_every_seconds=None)
        seconds = float(self.budget.seconds)
        return replace(config, **common, iters=BUDGET_ITERS, decay_iters=0, save_every=BUDGET_ITERS,
                       time_budget=seconds, save_every_seconds=seconds / points)

    def to_dict(self) -> dict[str, Any]:
        """What identifies the study (written to ``plan.json``; a rerun must match it). The
        settings a resumed training run may change (data folder, device, ...) are left out."""
        return {
            "name": self.name,
            "mode": self.mode,
            "seeds": list(self.seeds),
            "budget": asdict(self.budget),
            "judge": asdict(self.judge),
            "variants": [
                {"name": v.name, "changes": [list(c) for c in v.variant.changes],
                 "train": {k: val for k, val in v.config.to_dict().items()
                           if k not in STUDY_FIELDS and k not in RESUMABLE_OVERRIDES}}
                for v in self.variants
            ],
        }


def check_plan_file(plan: StudyPlan) -> bool:
    """Compare ``plan`` with the study folder's ``plan.json``: True when the folder holds this
    study already (it continues), False when the folder holds none yet; a folder that holds
    another study raises StarganError. Call with the study's lock held."""
    path = plan.folder / PLAN_NAME
    if not path.is_file():
        if plan.folder.is_dir() and any(p.name != LOCK_NAME for p in plan.folder.iterdir()):
            raise StarganError(f"{plan.folder} is not empty and holds no study: pick another study name")
        return False
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise StarganError(f"{path} is damaged ({err}): delete the study folder to start again") from None
    mine = json.loads(json.dumps(plan.to_dict()))  # as JSON reads it back (tuples as lists)
    differences = [key for key in mine if stored.get(key) != mine[key]]
    if differences:
        raise StarganError(
            f"{plan.folder} holds another study (its {', '.join(differences)} differ): run the same "
            "command to continue it, or pick another study name"
        )
    return True


def write_plan_file(plan: StudyPlan) -> Path:
    """Write ``plan.json`` (atomically)."""
    text = json.dumps(plan.to_dict(), indent=2) + "\n"
    return atomic_write(plan.folder / PLAN_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))

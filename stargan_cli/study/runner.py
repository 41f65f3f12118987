"""Running a study: every run trained (or resumed) in turn under the study's lock, judged by
``stargan eval``'s library with one classifier, and the report written at the end.

A run whose result file exists is done and never trained again; a run with a final model is
only judged; a run with a training folder but no final model resumes exactly from its last
checkpoint (its time budget counts the training seconds before the kill).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import StarganError
from ..fileio import atomic_write
from ..locks import Lock, LockHeld
from ..progress import format_duration
from .plan import LOCK_NAME, StudyPlan, StudyRun, check_plan_file, write_plan_file

Say = Callable[[str], None]


@dataclass
class Judge:
    """The one classifier and FID feature extractor every run of a study is judged with."""

    classifier: Any
    extractor: Any
    device: Any


def open_judge(plan: StudyPlan, device: Any, say: Say, progress: Any = None) -> Judge:
    """Load the cached eval classifier (or ``--classifier``); without one, train it once at
    the study's image size and cache it, as ``stargan eval --train-classifier`` does."""
    from ..evaluation import choose_extractor, find_classifier, load_classifier
    from ..evaluation.classifier import installed_classifiers
    from ..evaluation.runner import train_celeba_classifier

    size = plan.base.config.image_size
    if plan.judge.classifier is None and not installed_classifiers():
        say(f"No eval classifier is installed: training one at {size}px first (once; it is cached)")
        classifier = train_celeba_classifier(plan.base.config.data, size, seed=plan.judge.seed, device=device,
                                             progress=progress)
    else:
        classifier = load_classifier(find_classifier(size, plan.judge.classifier), device)
    notes: list[str] = []
    extractor = choose_extractor(plan.judge.fid, device, warn=notes.append)
    for note in notes:
        say(f"Note: {note}")
    return Judge(classifier, extractor, device)


def has_started(plan: StudyPlan, run: StudyRun) -> bool:
    """Whether ``run`` has a run folder with its settings: a killed study left it half-trained
    (or trained, not yet judged), and it resumes rather than starts."""
    from ..training.config import CONFIG_NAME

    return (plan.run_dir(run) / CONFIG_NAME).is_file()


def train_run(plan: StudyPlan, run: StudyRun, say: Say) -> Path:
    """Train ``run`` to its budget, resuming its folder when a killed study left one; the
    run folder."""
    from ..training import resume_config, train
    from ..training.runs import FINAL_NAME

    run_dir = plan.run_dir(run)
    if (run_dir / FINAL_NAME).is_file():
        return run_dir
    config = plan.run_config(run)
    if has_started(plan, run):
        say(f"{run.key}: resuming its training")
        # Where it runs may differ from the first attempt (another device, data path).
        config = resume_config(run_dir, {k: getattr(config, k) for k in ("data", "device", "num_workers")})
    train(config)
    return run_dir


def judge_run(plan: StudyPlan, run: StudyRun, run_dir: Path, judge: Judge, progress: Any = None) -> dict[str, Any]:
    """Score ``run``'s final model and its periodic checkpoints (the curve) with eval; the
    result record written to the run's result file. ``progress``: eval's Progress."""
    from ..evaluation import EvalSettings, evaluate_models
    from ..loading import load_checkpoint
    from ..training.runs import FINAL_NAME, list_checkpoints
    from ..training.state import trained_seconds

    final = load_checkpoint(run_dir / FINAL_NAME)
    steps = [(step, path) for step, path in list_checkpoints(run_dir) if step < final.step]
    curve = steps[-plan.judge.curve_points:] if plan.judge.curve_points else []
    settings = EvalSettings(data=plan.base.config.data, n=plan.judge.n, seed=plan.judge.seed,
                            batch_size=plan.judge.batch_size)
    scores = evaluate_models([(run.key, run_dir / FINAL_NAME)], judge.classifier, settings,
                             extractor=judge.extractor, device=judge.device, progress=progress).to_dict()
    final_scores = scores["models"][0]
    points = []
    if curve:  # on fewer images, the final model among them so that the points compare
        settings.n = plan.judge.curve_n
        curve.append((int(final.step), run_dir / FINAL_NAME))
        during = evaluate_models([(f"{run.key}@{step}", path) for step, path in curve], judge.classifier,
                                 settings, device=judge.device, progress=progress).to_dict()
        points = [{"step": step, "n": during["n"], "mean": m["mean"]} for (step, _), m in zip(curve, during["models"])]
    seconds = trained_seconds(final)
    record = {
        "variant": run.variant,
        "seed": run.seed,
        "iterations": int(final.step),
        "seconds": seconds,
        "it_per_s": final.step / seconds if seconds > 0 else None,
        "eval": {k: v for k, v in final_scores.items() if k != "path"},
        "curve": points,
        "judge": {k: v for k, v in scores.items() if k != "models"},
    }
    text = json.dumps(record, indent=2, allow_nan=False, default=_plain) + "\n"
    path = plan.result_path(run)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    _drop_periodic_checkpoints(run_dir, int(final.step))
    return record


def _plain(value: Any) -> Any:
    """JSON for the odd value eval hands back (numpy scalars)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _drop_periodic_checkpoints(run_dir: Path, final_step: int) -> None:
    """Judged: the checkpoints before the final one are no longer needed (``final.pt`` stays,
    with its training state, so the run can still be continued)."""
    from ..training.runs import list_checkpoints

    for step, path in list_checkpoints(run_dir):
        if step < final_step:
            path.unlink(missing_ok=True)


def read_result(plan: StudyPlan, run: StudyRun) -> dict[str, Any] | None:
    """``run``'s judged result, or None when it has none yet (or an unreadable one)."""
    path = plan.result_path(run)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_study(plan: StudyPlan, *, device: Any = None, say: Say = lambda text: None,
              progress: Any = None) -> dict[str, Any]:
    """Train and judge every run of ``plan`` that is not done yet, then write the report
    folder, all under the study folder's lock; return the report's summary
    (:func:`.report.summarize`). ``say`` gets a line per run; ``progress`` (eval's Progress)
    shows classifier training and judging."""
    from ..devices import select_device
    from .report import write_report

    plan.folder.mkdir(parents=True, exist_ok=True)
    lock = Lock(plan.folder / LOCK_NAME, f"study folder {plan.folder}")
    try:
        lock.acquire()
    except LockHeld as err:
        raise LockHeld(f"{err} (only one process may run a study)", err.pid) from None
    with lock:
        continuing = check_plan_file(plan)
        if not continuing:
            write_plan_file(plan)
        runs = plan.runs()
        results: dict[str, dict[str, Any]] = {}
        for run in runs:
            done = read_result(plan, run)
            if done is not None:
                results[run.key] = done
        todo = [run for run in runs if run.key not in results]
        if continuing:
            say(f"Continuing {plan.folder}: {len(results)} of {len(runs)} runs done")
        device = device if hasattr(device, "type") else select_device(device)
        if todo:
            judge = open_judge(plan, device, say, progress)
            spent: list[float] = []
            for number, run in enumerate(todo, 1):
                started = time.perf_counter()
                # A run a killed study left half-done takes less than a whole one: not a measure.
                whole = not has_started(plan, run)
                say(f"[{len(results) + 1}/{len(runs)}] {run.key}: training ({plan.budget.describe()})")
                run_dir = train_run(plan, run, say)
                record = judge_run(plan, run, run_dir, judge, progress)
                results[run.key] = record
                if whole:
                    spent.append(time.perf_counter() - started)
                left = len(todo) - number
                eta = f"; about {format_duration(left * sum(spent) / len(spent))} left" if left and spent else ""
                success = record["eval"]["mean"].get("success")
                shown = f", mean success {100 * success:.1f}%" if success is not None else ""
                say(f"{run.key}: {record['iterations']} iterations in {format_duration(record['seconds'])}"
                    f"{shown}{eta}")
        missing = [run.key for run in runs if run.key not in results]
        if missing:  # cannot happen unless a result file vanished meanwhile
            raise StarganError(f"no result for {', '.join(missing)}")
        say("Writing the report")
        return write_report(plan, [results[run.key] for run in runs], say=say, device=device)

"""`stargan study`: train variants of a base recipe, judge each with eval, write a report.

Thin layer: the study's own flags and every ``stargan train`` flag (the base) are parsed here,
with the train command's own options, so each train rule lives in one place; the work is
:mod:`stargan_cli.study`.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperCommand

from ..errors import UsageError
from .common import DeviceOption, console, err_console

HELP = """Train variants of a training recipe and compare them by the numbers, with pictures.

A study is a base (any `stargan train` option, e.g. --image-size 64 --g-conv-dim 32) and one or more --vary axes. By default each value of each axis is trained alone from the base (one axis at a time: base, then e.g. batch-size=8, batch-size=32, loss=hinge, ...); --cross trains every combination instead. Each variant trains --seeds times, for the same wall-clock (--budget) or the same number of iterations (--iters); both figures are recorded. Every run is judged by `stargan eval` with one cached classifier on the same held-out CelebA images, and the report folder gets study.md, study.json (mean and spread over seeds, iterations, it/s, ratio to the base), a sheet of the same held-out faces for every variant and target, and a plot of success against the training step (with matplotlib installed).

Runs live in the study folder (NAME under <data folder>/studies, or a path). Run the same command again to continue a study that was stopped: judged runs are not trained again, and a half-trained run resumes from its last checkpoint.

Examples:

  stargan study lr --image-size 64 --g-conv-dim 32 --d-conv-dim 32 --vary d-lr=5e-4,1e-5 --budget 10m

  stargan study dlim --preset dlim2020 --image-size 64 --g-conv-dim 32 --d-conv-dim 32 --budget 10m --seeds 2 --dry-run

  stargan study mix --vary loss=wgan-gp,hinge --vary norm=concat,lookup --cross --iters 2000
"""

# Train options a study sets itself (run folders, seeds, length, checkpoints, output), so they
# cannot be given for the base, and those it cannot vary (one dataset for one judge).
STUDY_OWNED = ("out", "resume", "iters", "time_budget", "quiet", "save_every", "keep")
NOT_VARIED = ("seed", "data", "folder_data", "dataset")
_TRAIN_PARAMS = "study_train_params"


def _train_command(ctx: Any) -> Any:
    group = ctx.parent.command if ctx.parent is not None else None
    command = group.get_command(ctx.parent, "train") if group is not None else None
    if command is None:
        raise RuntimeError("stargan study needs the train command beside it")
    return command


class _StudyCommand(TyperCommand):
    """The study's options plus every ``stargan train`` option (hidden from --help, parsed
    and checked by the train command's own declarations); their values reach the command
    in ``ctx.meta``."""

    def get_params(self, ctx: Any) -> list:  # noqa: D102
        own = super().get_params(ctx)
        names = {p.name for p in own}
        extra = []
        for param in _train_command(ctx).params:
            if param.name in names or param.name in STUDY_OWNED:
                continue
            twin = copy.copy(param)
            twin.hidden = True
            extra.append(twin)
        return own + extra

    def invoke(self, ctx: Any) -> Any:  # noqa: D102
        own = {p.name for p in super().get_params(ctx)}
        ctx.meta[_TRAIN_PARAMS] = {
            name: (ctx.params.pop(name), _given(ctx, name)) for name in list(ctx.params) if name not in own
        }
        return super().invoke(ctx)


def _given(ctx: Any, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def register(app: typer.Typer) -> None:
    """Add the command to ``app``."""

    @app.command("study", help=HELP, cls=_StudyCommand, no_args_is_help=True)
    def study_cmd(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(
            help="The study's name (its folder under <data folder>/studies) or a folder path.", show_default=False)],
        vary: Annotated[Optional[list[str]], typer.Option(
            "--vary", metavar="OPTION=V1,V2",
            help="A train option and the values to try, e.g. batch-size=8,16,32 (repeat for more axes).",
            show_default=False)] = None,
        preset: Annotated[Optional[str], typer.Option(
            "--preset", metavar="NAME",
            help="A ready set of axes: dlim2020 (batch-size 8/16/32/64, d-lr 1e-4/5e-4/1e-5, "
            "g-lr 1e-4/5e-3/1e-5, loss wgan-gp/hinge, norm concat/lookup).", show_default=False)] = None,
        cross: Annotated[bool, typer.Option(
            "--cross", help="Train every combination of the axes' values instead of one axis at a time.")] = False,
        with_all: Annotated[bool, typer.Option(
            "--with-all", help="One axis at a time, and also one variant with every axis's last value "
            "together (each change alone, and all of them at once).")] = False,
        budget: Annotated[Optional[str], typer.Option(
            "--budget", metavar="DURATION",
            help="Training wall-clock per run (e.g. 90s, 10m, 1.5h): equal time. Learning rates stay "
            "constant (no decay: the last step is not known).", show_default=False)] = None,
        iters: Annotated[Optional[int], typer.Option(
            "--iters", help="Training iterations per run: equal iterations (instead of --budget).",
            min=1, show_default=False)] = None,
        seeds: Annotated[int, typer.Option(
            "--seeds", help="Runs per variant, with seeds --seed, --seed+1, ...", min=1)] = 1,
        n: Annotated[Optional[int], typer.Option(
            "--n", help="Held-out images eval judges each model on [default: 200].", min=1,
            show_default=False)] = None,
        fid: Annotated[str, typer.Option(
            "--fid", help="FID features: auto (Inception-v3 if installed, else a random-weight "
            "stand-in), inception, standin or off.")] = "auto",
        classifier: Annotated[Optional[Path], typer.Option(
            "--classifier", help="Eval classifier file. Default: the cached one (trained once if none is).",
            show_default=False)] = None,
        curve_points: Annotated[Optional[int], typer.Option(
            "--curve-points", help="Checkpoints per run judged during training (on a quarter of --n, "
            "without FID), for the success-vs-step plot; 0: none [default: 3].", min=0,
            show_default=False)] = None,
        faces: Annotated[Optional[int], typer.Option(
            "--faces", help="Held-out faces on the sheet [default: 4].", min=1, show_default=False)] = None,
        dry_run: Annotated[bool, typer.Option(
            "--dry-run", help="List the variants and the time estimate; train nothing.")] = False,
    ) -> None:
        from rich.markup import escape

        from ..devices import select_device
        from ..study import Budget, JudgeSettings, StudyPlan, eta, parse_budget, resolve_folder, run_study, seed_list
        from ..study.runner import read_result
        from ..training import TrainingInterrupted

        train_values = ctx.meta[_TRAIN_PARAMS]
        if budget is not None and iters is not None:
            raise UsageError("--budget and --iters do not go together: equal wall-clock or equal iterations")
        if budget is None and iters is None:
            raise UsageError("give each run a budget: --budget DURATION (e.g. 10m) or --iters N")
        the_budget = Budget(seconds=parse_budget(budget)) if budget is not None else Budget(iters=iters)
        if the_budget.seconds is not None and train_values["decay_iters"][1]:
            raise UsageError("--decay-iters needs --iters: with --budget the last step is not known "
                             "(the rates stay constant)")
        if fid.strip().lower() not in ("auto", "inception", "standin", "off"):
            raise UsageError(f"unknown --fid {fid!r}: choose from auto, inception, standin, off")
        if cross and with_all:
            raise UsageError("--cross and --with-all do not go together: the cross product already "
                             "has every combination")
        mode = "cross" if cross else "axis+all" if with_all else "axis"
        variants = build_variants(ctx, train_values, vary or [], preset, mode)
        base = variants[0].config
        given = {k: v for k, v in (("n", n), ("curve_points", curve_points), ("faces", faces)) if v is not None}
        judge = JudgeSettings(**given, fid=fid.strip().lower(),
                              classifier=str(classifier.expanduser().resolve()) if classifier else None)
        plan = StudyPlan(name=name, folder=resolve_folder(name), variants=variants,
                         seeds=seed_list(base.seed, seeds), budget=the_budget, judge=judge,
                         mode=mode)
        if not dry_run:
            _check_inputs(plan)

        device = select_device(base.device)
        left = [run for run in plan.runs() if read_result(plan, run) is None]
        estimates = {e.variant: e for e in eta.estimate(plan, device)} if left else {}
        total = sum(estimates[run.variant].total for run in left)
        _print_plan(plan, estimates, len(left), total, dry_run)
        from ..evaluation.classifier import installed_classifiers

        if left and plan.judge.classifier is None and not installed_classifiers():
            console.print(f"Note: no eval classifier is installed: one is trained first at {base.image_size}px "
                          "(as `stargan eval --train-classifier` does; not in the estimate, cached for later)",
                          highlight=False, soft_wrap=True)
        if dry_run:
            return

        def say(text: str) -> None:
            console.print(escape(text), highlight=False, soft_wrap=True)

        from ..evaluation.report import RichProgress

        try:
            with RichProgress(console=err_console) as progress:
                summary = run_study(plan, device=device, say=say, progress=progress)
        except TrainingInterrupted as stop:
            err_console.print(
                f"Interrupted at step {stop.step} of {escape(str(stop.run_dir))}; run the same command "
                "to continue the study", highlight=False, soft_wrap=True)
            raise typer.Exit(stop.exit_code) from None
        from ..study.report import terminal_table

        console.print(terminal_table(summary))
        console.print(escape(f"Report: {plan.report_dir}"), highlight=False, soft_wrap=True)


def build_variants(ctx: Any, train_values: dict[str, tuple[Any, bool]], vary: list[str], preset: str | None,
                   mode: str) -> list:
    """The study's variants with their TrainConfigs, every value checked by ``stargan train``'s
    own options and TrainConfig's checks; any mistake is a UsageError before anything runs."""
    from ..study import Axis, StudyVariant, drop_repeats, expand, merge_axes, parse_axis, preset_axes
    from ..registry import suggest
    from .train import to_config_fields

    train = _train_command(ctx)
    by_flag = {opt.lstrip("-"): p for p in train.params for opt in (*p.opts, *p.secondary_opts)
               if opt.startswith("--")}
    axes: list[Axis] = preset_axes(preset) if preset else []
    axes = merge_axes(axes + [parse_axis(text) for text in vary])
    if not axes:
        raise UsageError("nothing to compare: give --vary OPTION=V1,V2 (a train option and its values) or --preset dlim2020")
    for axis in axes:
        param = by_flag.get(axis.option)
        if param is None:
            flags = sorted(k for k, p in by_flag.items() if p.name not in STUDY_OWNED + NOT_VARIED)
            raise UsageError(f"--vary {axis.option}: not a `stargan train` option;{suggest(axis.option, flags)} "
                             "see 'stargan train --help'")
        if param.name in STUDY_OWNED + NOT_VARIED:
            raise UsageError(f"--vary {axis.option}: the study sets it itself (runs, seeds, budget, data); "
                             "vary a training setting instead")

    defaults = {p.name: p.get_default(ctx, call=True) for p in train.params}
    base_values = {**defaults, **{k: v for k, (v, _) in train_values.items()}}
    if str(getattr(base_values["dataset"], "value", base_values["dataset"])).lower() != "celeba":
        raise UsageError("a study is judged by `stargan eval`, which measures CelebA attributes: use --dataset celeba")

    def config_of(values: dict[str, Any], what: str) -> Any:
        from ..training import TrainConfig

        fields = to_config_fields(values)
        fields.update(out=None, resume=None)
        try:
            return TrainConfig(**fields).validate()
        except UsageError as err:
            raise UsageError(f"{what}: {err}") from None

    def value_of(option: str, text: str) -> Any:
        param = by_flag[option]
        if getattr(param, "is_flag", False):
            word = text.strip().lower()
            if word not in ("true", "false", "yes", "no", "on", "off", "1", "0"):
                raise UsageError(f"--vary {option}={text}: a switch takes on or off")
            value = word in ("true", "yes", "on", "1")
            return value if f"--{option}" in param.opts else not value
        try:
            return param.process_value(ctx, [text] if getattr(param, "multiple", False) else text)
        except Exception as err:  # click's BadParameter: the option's own check
            message = err.format_message() if hasattr(err, "format_message") else str(err)
            raise UsageError(f"--vary {option}={text}: {message}") from None

    base = config_of(base_values, "the base")
    built = []
    for variant in expand(axes, mode):
        values = dict(base_values)
        for option, text in variant.changes:
            values[by_flag[option].name] = value_of(option, text)
        config = base if variant.is_base else config_of(values, f"--vary {variant.name}")
        built.append(StudyVariant(variant, config))

    def trains(v: Any) -> str:
        return json.dumps(v.config.to_dict(), sort_keys=True)

    kept = drop_repeats(built, trains)
    if len(kept) < 2:
        raise UsageError("every --vary value equals the base's: the study would compare nothing")
    return kept


def _check_inputs(plan: Any) -> None:
    """What the study needs that can be checked at once: the CelebA folder and a given
    classifier file (before any training)."""
    from ..data.celeba import find_attribute_file
    from ..evaluation import find_classifier

    find_attribute_file(plan.base.config.data)
    if plan.judge.classifier is not None:
        find_classifier(plan.base.config.image_size, plan.judge.classifier)


def _print_plan(plan: Any, estimates: dict, runs_left: int, total: float, dry_run: bool) -> None:
    from rich.markup import escape
    from rich.table import Table

    from ..progress import format_duration

    table = Table(title=f"Study {escape(plan.name)}: {escape(str(plan.folder))}", title_justify="left")
    for column in ("variant", "changes", "train / run", "judge / run"):
        table.add_column(column, justify="left" if column in ("variant", "changes") else "right")
    for v in plan.variants:
        e = estimates.get(v.name)
        changes = ", ".join(f"--{o} {val}" for o, val in v.variant.changes) or "(the base)"
        times = [format_duration(e.train_seconds), format_duration(e.judge_seconds)] if e else ["done", "done"]
        table.add_row(escape(v.name), escape(changes), *times)
    console.print(table)
    runs = len(plan.runs())
    done = runs - runs_left
    from ..study.variants import MODE_WORDS

    mode = MODE_WORDS.get(plan.mode, plan.mode)
    console.print(
        escape(f"{len(plan.variants)} variants ({mode}) x {len(plan.seeds)} seed(s) = {runs} runs"
               + (f", {done} done" if done else "") + f"; {plan.budget.describe()} each. "
               f"{'Estimated' if dry_run else 'ETA'}: {format_duration(total)} for {runs_left} run(s) "
               "(training and judging; setup not included)."),
        highlight=False, soft_wrap=True)

"""`stargan study`: variants, bad input refused before training, a run with its report, a
killed study that continues, and the training time budget it relies on."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from stargan_cli.cli import app
from stargan_cli.errors import UsageError
from stargan_cli.locks import Lock
from stargan_cli.study import Axis, Variant, drop_repeats, expand, merge_axes, parse_axis, parse_budget, preset_axes
from stargan_cli.training import train
from stargan_cli.training.runs import FINAL_NAME, list_checkpoints
from train_helpers import TINY, celeba_root, one_thread, tiny  # noqa: F401  (fixtures)

runner = CliRunner()
SMALL_BASE = [*TINY, "--n-critic", "2"]


# --- variants: pure functions ---------------------------------------------------------------------


def test_one_axis_at_a_time_varies_each_value_alone_from_the_base():
    axes = [parse_axis("batch-size=8,16"), parse_axis("--loss=hinge")]
    variants = expand(axes)
    assert [v.name for v in variants] == ["base", "batch-size=8", "batch-size=16", "loss=hinge"]
    assert variants[0].is_base and variants[2].changes == (("batch-size", "16"),)


def test_cross_product_combines_one_value_per_axis():
    axes = [parse_axis("batch-size=8,16"), parse_axis("norm=concat,lookup")]
    names = [v.name for v in expand(axes, "cross")]
    assert names == ["base", "batch-size=8+norm=concat", "batch-size=8+norm=lookup",
                     "batch-size=16+norm=concat", "batch-size=16+norm=lookup"]


def test_with_all_adds_every_axis_last_value_together_after_each_alone():
    axes = [parse_axis("g-output=mask"), parse_axis("upsample=resize"), parse_axis("g-ema=0,0.999")]
    names = [v.name for v in expand(axes, "axis+all")]
    assert names == ["base", "g-output=mask", "upsample=resize", "g-ema=0", "g-ema=0.999",
                     "g-output=mask+upsample=resize+g-ema=0.999"]
    assert [v.name for v in expand(axes[:1], "axis+all")] == ["base", "g-output=mask"]  # one axis: nothing to add


def test_a_value_equal_to_the_base_is_not_trained_twice():
    variants = expand([parse_axis("batch-size=16,8")])
    trains = {"base": 16, "batch-size=16": 16, "batch-size=8": 8}
    assert [v.name for v in drop_repeats(variants, lambda v: trains[v.name])] == ["base", "batch-size=8"]


def test_a_later_vary_replaces_the_presets_axis_in_place():
    axes = merge_axes(preset_axes("dlim2020") + [parse_axis("loss=hinge")])
    assert [a.option for a in axes] == ["batch-size", "d-lr", "g-lr", "loss", "norm"]
    assert axes[3] == Axis("loss", ("hinge",))


@pytest.mark.parametrize("text", ["batch-size=", "batch-size", "=8", "loss=hinge,hinge"])
def test_malformed_or_empty_axes_are_refused(text):
    with pytest.raises(UsageError):
        parse_axis(text)


def test_budgets_read_as_seconds():
    assert [parse_budget(t) for t in ("90s", "10m", "1.5h", "600", "2 min")] == [90, 600, 5400, 600, 120]
    for bad in ("", "10x", "-1m", "0"):
        with pytest.raises(UsageError):
            parse_budget(bad)


def test_the_dlim2020_preset_expands_to_the_studys_ten_runs(tmp_path):
    at_default_batch = [a for i, a in enumerate(SMALL_BASE) if "--batch-size" not in SMALL_BASE[max(0, i - 1):i + 1]]
    result = runner.invoke(app, ["study", str(tmp_path / "s"), "--preset", "dlim2020", *at_default_batch,
                                 "--data", str(tmp_path), "--budget", "1m", "--seeds", "2", "--dry-run"])
    assert result.exit_code == 0, result.output
    for name in ("base", "batch-size=8", "batch-size=32", "batch-size=64", "d-lr=5e-4", "d-lr=1e-5",
                 "g-lr=5e-3", "g-lr=1e-5", "loss=hinge", "norm=lookup"):
        assert f"│ {name} " in result.output
    assert "batch-size=16 " not in result.output  # the base's own value is the base
    assert "10 variants (one axis at a time from the base) x 2 seed(s) = 20 runs" in result.output
    assert not (tmp_path / "s").exists()  # a dry run writes nothing


def test_each_run_gets_its_folder_seed_and_budget(tmp_path, celeba_root):  # noqa: F811
    from stargan_cli.study import Budget, StudyPlan, StudyRun, StudyVariant
    from stargan_cli.study.plan import BUDGET_ITERS

    base = tiny(celeba_root, None, decay_iters=3)
    variants = [StudyVariant(Variant("base"), base), StudyVariant(Variant("loss=hinge", (("loss", "hinge"),)), base)]
    timed = StudyPlan("t", tmp_path, variants, seeds=[7, 8], budget=Budget(seconds=120))
    assert [r.key for r in timed.runs()] == ["base@7", "loss=hinge@7", "base@8", "loss=hinge@8"]
    config = timed.run_config(StudyRun("loss=hinge", 8))
    assert config.out == str(tmp_path / "runs" / "loss=hinge" / "seed-8") and config.seed == 8
    assert (config.time_budget, config.iters, config.decay_iters) == (120, BUDGET_ITERS, 0)
    assert config.save_every_seconds == 30 and config.save_every == BUDGET_ITERS
    counted = StudyPlan("t", tmp_path, variants, seeds=[7], budget=Budget(iters=40))
    config = counted.run_config(StudyRun("base", 7))
    assert (config.iters, config.time_budget, config.decay_iters, config.save_every) == (40, None, 3, 10)
    with pytest.raises(UsageError):
        Budget(seconds=60, iters=4)


def test_without_matplotlib_the_plot_is_left_out_with_a_note(tmp_path, monkeypatch):
    import sys

    from stargan_cli.study.pictures import write_curve

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    notes = []
    assert write_curve({"variants": []}, tmp_path / "curve.png", say=notes.append) is None
    assert "stargan[plot]" in notes[0] and not (tmp_path / "curve.png").exists()


def test_the_report_takes_every_figure_eval_gives_with_mean_spread_and_ratio():
    from stargan_cli.study.report import markdown, summarize

    def record(variant, seed, success, identity):  # eval's figures as they come, e.g. "identity_ssim"
        row = {"success": success, "psnr": 20.0, "identity_ssim": identity}
        return {"variant": variant, "seed": seed, "iterations": 100 + seed, "seconds": 10.0, "it_per_s": 10.0 + seed,
                "eval": {"targets": {"Male": row}, "mean": row}, "curve": []}

    records = [record("base", 0, 0.4, 0.5), record("base", 1, 0.6, 0.7),
               record("loss=hinge", 0, 0.8, 0.9), record("loss=hinge", 1, 1.0, 0.9)]
    summary = summarize({"name": "s", "mode": "axis", "variants": [{"name": "loss=hinge", "changes": [["loss", "hinge"]]}]},
                        records)
    base, hinge = summary["variants"]
    assert summary["metrics"] == ["success", "psnr", "identity_ssim"]
    assert base["mean"]["success"]["mean"] == pytest.approx(0.5) and base["mean"]["success"]["sd"] == pytest.approx(0.1414, abs=1e-4)
    assert hinge["mean"]["success"]["ratio_to_base"] == pytest.approx(1.8)
    assert hinge["mean"]["identity_ssim"]["mean"] == pytest.approx(0.9) and hinge["changes"] == [["loss", "hinge"]]
    assert hinge["iterations"]["values"] == [100, 101] and hinge["it_per_s"]["ratio_to_base"] == pytest.approx(1.0)
    text = markdown(summary)
    assert "identity SSIM" in text and "| loss=hinge | 100 ± 1 | 10.50 | 90.0% ± 14.1% |" in text and "1.80x" in text


def test_the_terminal_table_fits_80_columns_with_every_figure_whole():
    from rich.console import Console

    from stargan_cli.study.report import summarize, terminal_table

    combined = "g-output=mask+upsample=resize+g-ema=0.999"
    row = {"success": 0.382, "preservation": 0.925, "preservation_all": 0.95, "l1": 0.02, "psnr": 25.02,
           "identity_psnr": 27.46, "identity_ssim": 0.9, "face_shift": 4.93, "fid": 0.02}
    records = [{"variant": name, "seed": seed, "iterations": 764 + seed, "seconds": 420.0, "it_per_s": 1.82,
                "eval": {"targets": {"Male": row}, "mean": row}, "curve": []}
               for name in ("base", combined) for seed in (0, 1)]
    summary = summarize({"name": "recipe", "mode": "axis+all",
                         "variants": [{"name": combined, "changes": [["g-output", "mask"]]}]}, records)
    console = Console(width=80, record=True, file=io.StringIO())
    console.print(terminal_table(summary))
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= 80 and "…" not in text
    assert "27.46 dB" in text and "4.93" in text and "upsample=resize+" in text and "1.00x" in text


# --- bad input: one Error line, exit 2, nothing trained -------------------------------------------


@pytest.mark.parametrize("args, words", [
    (["--vary", "batch-sise=8"], "did you mean batch-size?"),
    (["--vary", "lambda=1"], "not a `stargan train` option"),
    (["--vary", "out=a,b"], "the study sets it itself"),
    (["--vary", "batch-size=1"], "--batch-size must be at least 2"),
    (["--vary", "norm=concat,fancy"], "fancy"),
    (["--vary", "image-size=30"], "--image-size must be a multiple of 4"),
    (["--vary", "batch-size=abc"], "batch-size=abc"),
    (["--vary", "loss="], "the study would be empty"),
    (["--vary", "batch-size=4"], "compare nothing"),
    ([], "nothing to compare"),
    (["--vary", "loss=hinge", "--bogus", "1"], "--bogus"),
    (["--vary", "loss=hinge", "--out", "x"], "--out"),
    (["--vary", "loss=hinge", "--budget", "10x"], "--budget"),
    (["--vary", "loss=hinge", "--budget", "1m", "--decay-iters", "5"], "--decay-iters needs --iters"),
    (["--vary", "loss=hinge", "--dataset", "folder"], "--dataset celeba"),
    (["--vary", "loss=hinge", "--preset", "dlim2021"], "unknown --preset"),
    (["--vary", "loss=hinge", "--warmup-iters", "10"], "--warmup-iters must be 0 or more and less than --iters"),
])
def test_bad_input_is_one_error_line_before_anything_trains(tmp_path, args, words):
    budget = [] if "--budget" in args else ["--iters", "4"]
    folder = tmp_path / "s"
    result = runner.invoke(app, ["study", str(folder), *SMALL_BASE, "--data", str(tmp_path), *budget, *args])
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and words in " ".join(result.output.split())
    assert not folder.exists()


def test_with_all_lists_the_combination_and_refuses_cross(tmp_path):
    args = ["study", str(tmp_path / "s"), *SMALL_BASE, "--data", str(tmp_path), "--iters", "4",
            "--vary", "loss=hinge", "--vary", "norm=lookup", "--with-all", "--dry-run"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "4 variants" in text and "every axis's last value together" in text and "loss=hinge+norm=lookup" in text
    refused = runner.invoke(app, [*args, "--cross"])
    assert refused.exit_code == 2 and "--cross and --with-all" in refused.output


def test_budget_and_iters_together_are_refused(tmp_path):
    result = runner.invoke(app, ["study", str(tmp_path / "s"), "--vary", "loss=hinge", "--budget", "1m",
                                 "--iters", "4", *SMALL_BASE])
    assert result.exit_code == 2 and "--budget and --iters" in result.output


# --- a study run, its report, and a killed study that continues -----------------------------------


@pytest.fixture(scope="module")
def classifier_file(tmp_path_factory):
    """An untrained judge: the mechanics need its readings, not their accuracy."""
    from stargan_cli.attributes import CELEBA_ATTRIBUTES
    from stargan_cli.evaluation.classifier import AttributeClassifier, build_network, save_classifier

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("judge") / "classifier.pt"
    save_classifier(AttributeClassifier(build_network(40), tuple(CELEBA_ATTRIBUTES), 32), path)
    return path


def study_args(folder: Path, data: Path, classifier: Path, *extra: str) -> list[str]:
    return ["study", str(folder), *SMALL_BASE, "--data", str(data), "--iters", "4", "--n", "2", "--faces", "1",
            "--fid", "off", "--classifier", str(classifier), "--curve-points", "2", "--vary", "loss=hinge", *extra]


def weights(path: Path) -> dict[str, torch.Tensor]:
    from stargan_cli.loading import load_checkpoint

    return load_checkpoint(path).G


def test_a_study_trains_judges_and_reports_every_variant(tmp_path, celeba_root, classifier_file):  # noqa: F811
    folder = tmp_path / "s"
    result = runner.invoke(app, study_args(folder, celeba_root, classifier_file, "--seeds", "2"))
    assert result.exit_code == 0, result.output
    report = folder / "report"
    summary = json.loads((report / "study.json").read_text())
    assert [v["name"] for v in summary["variants"]] == ["base", "loss=hinge"]
    for variant in summary["variants"]:
        assert variant["seeds"] == [1234, 1235]
        assert variant["iterations"]["values"] == [4, 4] and variant["it_per_s"]["mean"] > 0
        assert variant["seconds"]["mean"] > 0
        assert 0 <= variant["mean"]["success"]["mean"] <= 1 and "sd" in variant["mean"]["success"]
        assert set(variant["targets"]) == {"Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young"}
        # every figure eval reports comes through, whatever it is called
        assert set(variant["mean"]) >= {"success", "preservation", "preservation_all", "l1", "psnr", "fid"}
        # the curve: the judged checkpoints before the final one, and the final one
        assert [p["step"] for p in variant["curves"][0]["points"]][-1] == 4
    assert summary["variants"][0]["mean"]["success"]["ratio_to_base"] == pytest.approx(1.0)
    text = (report / "study.md").read_text()
    assert "| base |" in text and "| loss=hinge |" in text and "![sheet](sheet.png)" in text
    from PIL import Image

    with Image.open(report / "sheet.png") as sheet:  # 1 face x 2 variants, input + 5 targets
        assert sheet.width > 6 * 32 and sheet.height > 2 * 32
    assert (report / "curve.png").is_file() and "![mean success against step](curve.png)" in text
    assert "loss=hinge" in result.output and "Report:" in result.output  # the table at the end
    # judged runs keep only their final checkpoint
    assert [s for s, _ in list_checkpoints(folder / "runs" / "base" / "seed-1234")] == [4]


def test_a_killed_study_continues_without_training_finished_runs_again(
        tmp_path, celeba_root, classifier_file, monkeypatch):  # noqa: F811
    from stargan_cli.training import state

    # The same study uninterrupted: what the resumed run must end with, bit for bit.
    reference = tmp_path / "reference"
    assert runner.invoke(app, study_args(reference, celeba_root, classifier_file)).exit_code == 0

    folder = tmp_path / "s"
    real_save = state.save

    def killed_after_step_2(session, step, *args, **kwargs):
        path = real_save(session, step, *args, **kwargs)
        if "loss=hinge" in str(session.run_dir) and step == 2:
            raise KeyboardInterrupt  # as if the process died right after this checkpoint
        return path

    monkeypatch.setattr(state, "save", killed_after_step_2)
    first = runner.invoke(app, study_args(folder, celeba_root, classifier_file))
    assert first.exit_code == 130, first.output
    hinge = folder / "runs" / "loss=hinge" / "seed-1234"
    assert not (hinge / FINAL_NAME).exists() and [s for s, _ in list_checkpoints(hinge)] == [1, 2]
    assert (folder / "results" / "base@1234.json").is_file()
    base_final = (folder / "runs" / "base" / "seed-1234" / FINAL_NAME).stat().st_mtime_ns
    monkeypatch.setattr(state, "save", real_save)

    trained = []
    import stargan_cli.training as training

    real_train = training.train
    monkeypatch.setattr(training, "train", lambda config, *a, **k: trained.append(config) or real_train(config, *a, **k))
    again = runner.invoke(app, study_args(folder, celeba_root, classifier_file))
    assert again.exit_code == 0, again.output
    assert "1 of 2 runs done" in again.output and "loss=hinge@1234: resuming" in again.output
    assert [Path(c.out).parent.name for c in trained] == ["loss=hinge"] and trained[0].resume is not None
    assert (folder / "runs" / "base" / "seed-1234" / FINAL_NAME).stat().st_mtime_ns == base_final
    resumed, straight = weights(hinge / FINAL_NAME), weights(reference / "runs" / "loss=hinge" / "seed-1234" / FINAL_NAME)
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)
    summary = json.loads((folder / "report" / "study.json").read_text())
    assert [v["name"] for v in summary["variants"]] == ["base", "loss=hinge"]

    # Done: a third run trains nothing and rewrites the same report.
    trained.clear()
    assert runner.invoke(app, study_args(folder, celeba_root, classifier_file)).exit_code == 0 and not trained


def test_the_time_left_after_a_resumed_run_is_not_taken_from_its_short_remainder(
        tmp_path, celeba_root, classifier_file, monkeypatch):  # noqa: F811
    from stargan_cli.training import state

    folder = tmp_path / "s"
    real_save = state.save

    def killed_in_the_base_run(session, step, *args, **kwargs):
        path = real_save(session, step, *args, **kwargs)
        if "base" in str(session.run_dir) and step == 2:
            raise KeyboardInterrupt
        return path

    monkeypatch.setattr(state, "save", killed_in_the_base_run)
    assert runner.invoke(app, study_args(folder, celeba_root, classifier_file)).exit_code == 130
    monkeypatch.setattr(state, "save", real_save)
    again = runner.invoke(app, study_args(folder, celeba_root, classifier_file))
    assert again.exit_code == 0, again.output
    lines = " ".join(again.output.split())  # joined: rich wraps long lines
    assert "base@1234: resuming its training" in lines
    # The resumed base run is followed by the hinge run, but half a run says nothing of a whole one.
    after_base = lines.split("base@1234: 4 iterations in", 1)[1].split("[2/2]", 1)[0]
    assert "left" not in after_base, after_base


def test_a_study_folder_has_one_writer_and_holds_one_study(tmp_path, celeba_root, classifier_file):  # noqa: F811
    folder = tmp_path / "s"
    folder.mkdir()
    with Lock(folder / ".lock", "test"):
        held = runner.invoke(app, study_args(folder, celeba_root, classifier_file))
    assert held.exit_code == 1 and "in use by another stargan process" in held.output
    assert not (folder / "runs").exists()
    (folder / "plan.json").write_text(json.dumps({"name": "other"}))
    other = runner.invoke(app, study_args(folder, celeba_root, classifier_file))
    assert other.exit_code == 1 and "holds another study" in other.output
    assert not (folder / "runs").exists()


# --- the training time budget a study relies on --------------------------------------------------


def test_a_time_budget_ends_training_with_a_final_model_and_counts_across_resumes(tmp_path, celeba_root):  # noqa: F811
    from stargan_cli.loading import load_checkpoint
    from stargan_cli.training.state import trained_seconds

    run = tmp_path / "run"
    train(tiny(celeba_root, run, iters=1_000_000, save_every=1_000_000, time_budget=0.5))
    final = load_checkpoint(run / FINAL_NAME)
    assert 0 < final.step < 1_000_000 and final.meta["final"] and trained_seconds(final) >= 0.5

    stepped = tmp_path / "stepped"
    train(tiny(celeba_root, stepped, iters=2))
    before = trained_seconds(load_checkpoint(stepped / FINAL_NAME))
    from stargan_cli.training import resume_config

    train(resume_config(stepped, {"iters": 4}))
    assert before > 0 and trained_seconds(load_checkpoint(stepped / FINAL_NAME)) > before

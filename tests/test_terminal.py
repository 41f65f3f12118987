"""At the terminal: progress readable at 80 columns and in a log file, cheap checks before slow
work, --help at 80 columns, the caches shown and cleared."""

from __future__ import annotations

import io
import re

import pytest
import torch
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from stargan_cli import paths, progress
from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.cli import app
from stargan_cli.models import build_discriminator, build_generator
from stargan_cli.training.report import ConsoleReport
from train_helpers import TINY, make_celeba

runner = CliRunner()
METRICS = {"d_loss": -12.345, "d_cls": 0.412, "g_loss": 4.567, "g_rec": 0.123, "g_cls": 0.8,
           "images_per_s": 196.2, "g_lr": 1e-4}


@pytest.fixture
def ckpt(tmp_path, tiny_config):
    torch.manual_seed(0)
    G, D = build_generator(tiny_config), build_discriminator(tiny_config)
    return save_checkpoint(Checkpoint(tiny_config, G.state_dict(), D.state_dict()), tmp_path / "tiny.pt")


def _terminal(width: int) -> Console:
    return Console(record=True, width=width, force_terminal=True, file=io.StringIO(), color_system=None)


def _log_file() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=False, width=80), out


# ---- 1. the training bar at 80 and 120 columns ---------------------------------------------


@pytest.mark.parametrize("width", [80, 120])
def test_training_progress_fits_the_terminal_with_every_field(width):
    console = _terminal(width)
    report = ConsoleReport(console, total=200_000, start=0, quiet=False)
    report.advance(12_340)
    report.log(12_340, METRICS, eta_s=298 * 3600 + 12 * 60)
    console.print(report._progress.get_renderable())  # what the live display draws, drawn once
    bar, losses = console.export_text().splitlines()
    assert len(bar) <= width and len(losses) <= width
    for field in ("training", "12340/200000", "196.2 img/s", "ETA 298:12:00"):
        assert field in bar, bar
    assert "━" in bar and "…" not in bar
    assert losses.strip() == "D -12.345 (cls 0.412) G 4.567 (rec 0.123 cls 0.800)"


# ---- 2. plain progress lines when the output is not a terminal -----------------------------


def test_training_report_writes_plain_lines_to_a_log_file_as_it_goes(monkeypatch):
    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    console, out = _log_file()
    with ConsoleReport(console, total=100, start=0, quiet=False) as report:
        report.log(10, METRICS, eta_s=90)
        assert "step 10/100" in out.getvalue()  # there before the run ends
        report.log(20, METRICS, eta_s=80)
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["10/100", "20/100"]
    assert "━" not in out.getvalue() and "\x1b" not in out.getvalue()


def test_line_progress_prints_first_every_interval_and_last(monkeypatch):
    console, out = _log_file()
    bar = progress.LineProgress(console, unit="images", interval=3600)
    task = bar.add_task("Translating", total=10)
    for _ in range(10):
        bar.advance(task)
    lines = out.getvalue().splitlines()
    assert lines[0] == "Translating: 0/10 images (0%)"
    assert lines[-1].startswith("Translating: 10/10 images (100%), 0:00:0") and len(lines) == 2
    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    console, out = _log_file()
    bar = progress.make_progress(console, in_bytes=True)
    task = bar.add_task("celeba.zip", total=4 << 20)
    bar.update(task, completed=1 << 20)
    assert out.getvalue().splitlines()[-1].startswith("celeba.zip: 1.0 MiB of 4.0 MiB (25%), ")
    assert "/s, ETA " in out.getvalue().splitlines()[-1]


def test_make_progress_is_a_bar_on_a_terminal_and_silent_when_asked():
    from rich.progress import Progress

    assert isinstance(progress.make_progress(_terminal(80)), Progress)
    quiet = progress.make_progress(_log_file()[0], lines=False)
    assert isinstance(quiet, Progress) and quiet.disable


def test_train_into_a_log_file_shows_steps_and_preprocessing(tmp_path, monkeypatch):
    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    data = make_celeba(tmp_path / "celeba")
    result = runner.invoke(app, ["train", "--data", str(data), "--out", str(tmp_path / "run"), "--iters", "4",
                                 "--log-every", "2", *TINY])
    assert result.exit_code == 0, result.output
    assert re.search(r"^Preprocessing.*: 0/24 images \(0%\)$", result.output, re.M), result.output
    assert re.search(r"^step 2/4 .*img/s .*ETA", result.output, re.M)
    assert re.search(r"^step 4/4 ", result.output, re.M)


def test_translate_of_many_files_reports_progress_in_a_log(tmp_path, ckpt, monkeypatch):
    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        Image.new("RGB", (32, 32), (40 * i, 90, 160)).save(folder / f"{i}.png")
    result = runner.invoke(app, ["translate", str(folder), "--no-detect", "--to", "Male", "-m", str(ckpt),
                                 "--source-attrs", "none", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Translating: 0/3 images (0%)" in result.stderr
    assert "Translating: 3/3 images (100%)" in result.stderr
    one = runner.invoke(app, ["translate", str(folder / "0.png"), "--no-detect", "--to", "Young", "-m", str(ckpt),
                              "--source-attrs", "none", "--device", "cpu"])
    assert one.exit_code == 0 and "Translating" not in one.stderr  # one file: no progress noise


def test_webcam_on_a_file_reports_frames_in_a_log(tmp_path, ckpt, monkeypatch):
    import cv2
    import numpy as np

    monkeypatch.setenv(progress.SECONDS_ENV, "0")
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (64, 48))
    for i in range(6):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.release()
    result = runner.invoke(app, ["webcam", "--source", str(video), "--headless", "-m", str(ckpt),
                                 "--source-attrs", "none", "--to", "Young", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "Translating frames: 0/6 frames (0%)" in result.stderr
    assert "Translating frames: 6/6 frames (100%)" in result.stderr


# ---- 3. cheap checks before the model ------------------------------------------------------


@pytest.fixture
def no_model_loading(monkeypatch):
    """Loading or downloading any model fails the test."""
    from stargan_cli import model_store

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the cheap checks")

    monkeypatch.setattr(model_store, "resolve_model", refuse)


def test_attribute_typos_come_before_the_default_model_download(tmp_path, no_model_loading):
    image = tmp_path / "me.png"
    Image.new("RGB", (64, 64)).save(image)
    for command in (["translate", str(image), "--to", "Blonde_Hair"],
                    ["grid", str(image), "--to", "Blonde_Hair"],
                    ["webcam", "--source", str(image), "--headless", "--to", "Blonde_Hair"]):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, (command, result.output)  # a usage mistake
        assert "did you mean Blond_Hair?" in result.output and "download" not in result.output
    result = runner.invoke(app, ["translate", str(image), "--to", "Smiling"])
    assert result.exit_code == 2 and "this model was not trained on Smiling" in result.output
    result = runner.invoke(app, ["translate", str(image), "--to", "Male=2"])
    assert result.exit_code == 2 and "values go from 0 (off) to 1 (on)" in result.output


def test_existing_outputs_are_reported_before_the_model_loads(tmp_path, no_model_loading):
    image = tmp_path / "me.png"
    Image.new("RGB", (64, 64)).save(image)
    (tmp_path / "me.Blond_Hair.png").write_bytes(b"keep")
    result = runner.invoke(app, ["translate", str(image), "--to", "blond_hair"])
    assert result.exit_code == 1
    assert f"{tmp_path / 'me.Blond_Hair.png'} exists: pass --overwrite" in result.output
    (tmp_path / "me.all.png").write_bytes(b"keep")
    result = runner.invoke(app, ["translate", str(image), "--all", "-m", "stargan-celeba-256"])
    assert result.exit_code == 1 and "me.all.png exists" in result.output
    assert (tmp_path / "me.Blond_Hair.png").read_bytes() == b"keep"


def test_eval_checks_classifier_and_data_before_downloading(tmp_path, no_model_loading):
    result = runner.invoke(app, ["eval", "-m", "stargan-celeba-128", "--fid", "fast"])
    assert result.exit_code == 2 and "unknown --fid 'fast'" in result.output
    result = runner.invoke(app, ["eval", "-m", "stargan-celeba-128"])
    assert result.exit_code == 1 and "no attribute classifier is installed" in result.output
    result = runner.invoke(app, ["eval", "-m", "stargan-celeba-128", "--train-classifier",
                                 "--data", str(tmp_path / "nowhere")])
    assert result.exit_code == 1 and "CelebA not found" in result.output


# ---- 4. a CPU run of days gets one note -----------------------------------------------------


@pytest.mark.parametrize(("cpu", "hours", "noted"), [(True, 298, True), (True, 20, False), (False, 298, False)])
def test_slow_cpu_run_gets_one_note(cpu, hours, noted):
    console, out = _log_file()
    report = ConsoleReport(console, total=200_000, start=0, quiet=True, cpu=cpu)
    report.log(10, METRICS, eta_s=hours * 3600)
    report.log(20, METRICS, eta_s=hours * 3600)
    text = out.getvalue()
    assert text.count("Note:") == (1 if noted else 0)
    if noted:
        assert "about 298 hours" in text and "A CUDA GPU" in text and "--image-size 64" in text


# ---- 5. --help at 80 columns ----------------------------------------------------------------


def _commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*prefix, name))


def test_every_help_reads_at_80_columns():
    import typer.main

    commands = [(), *_commands(typer.main.get_command(app))]
    assert ("cache", "clear") in commands and ("train",) in commands
    for command in commands:
        result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"}, terminal_width=80)
        assert result.exit_code == 0, command
        text = result.output
        too_long = [line for line in text.splitlines() if len(line) > 80]
        assert not too_long, (command, too_long)
        for placeholder in ("<bool>", "<list[", "<str>", "<int", "<float>", "<path>", "…", "\\["):
            assert placeholder not in text, (command, placeholder)
        if len(command) == 1 and command[0] not in ("info", "cache"):
            assert "Examples:" in text, command
    train = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "80"}).output
    assert "--iters N " in train and "--dataset [celeba|folder|both]" in train and "--compile  " in train
    assert "Black_Hair,Blond_Hair," in train


# ---- 6. caches: shown with their sizes, cleared after a confirmation ----------------------


def _fill(folder, size: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "blob.bin").write_bytes(b"x" * size)


_BUILDING = """
import sys, time
from pathlib import Path
from stargan_cli.data.cache import _build_lock
with _build_lock(Path(sys.argv[1])):
    print("building", flush=True)
    time.sleep(120)
"""


def test_cache_clear_refuses_beside_a_build_in_progress():
    import subprocess
    import sys

    folder = paths.preprocessed_dir() / "celeba-32px-0123"
    _fill(folder, 1024)
    builder = subprocess.Popen([sys.executable, "-c", _BUILDING, str(folder)], stdout=subprocess.PIPE, text=True)
    try:
        assert builder.stdout.readline().strip() == "building"
        result = runner.invoke(app, ["cache", "clear", "preprocessed", "--yes"])
        assert result.exit_code == 1 and "Traceback" not in result.output
        assert f"{folder} (in the preprocessed cache) is in use by another stargan process (PID {builder.pid})" \
            in result.output
        assert (folder / "blob.bin").is_file()  # nothing was removed under the builder
    finally:
        builder.kill()
        builder.wait()
    result = runner.invoke(app, ["cache", "clear", "preprocessed", "--yes"])  # the builder is gone: it clears
    assert result.exit_code == 0 and not paths.preprocessed_dir(create=False).exists()


def test_a_cache_build_survives_a_clear_just_before_it_locks(monkeypatch):
    import shutil

    from stargan_cli.data import cache

    folder = paths.preprocessed_dir() / "celeba-32px-0123"
    real_mkdir = type(folder).mkdir
    cleared = []

    def mkdir_then_clear(self, *args, **kwargs):  # the clear lands between the builder's mkdir and its lock
        real_mkdir(self, *args, **kwargs)
        if self == folder and not cleared:
            cleared.append(1)
            shutil.rmtree(paths.preprocessed_dir(create=False))

    monkeypatch.setattr(type(folder), "mkdir", mkdir_then_clear)
    with cache._build_lock(folder):
        assert (folder / cache.BUILD_LOCK_NAME).is_file()
    assert cleared


def test_info_and_cache_list_show_every_cache_with_its_size():
    _fill(paths.preprocessed_dir() / "celeba-64px-0123", 3 * 1024 * 1024)
    _fill(paths.downloads_dir(), 2048)
    info = runner.invoke(app, ["info"], env={"COLUMNS": "250"})
    assert info.exit_code == 0
    assert re.search(r"preprocessed cache .*\(1 item\(s\), 3\.0 MiB: celeba-64px-0123\)", info.output)
    assert re.search(r"downloads cache .*2\.0 KiB", info.output)
    assert "stargan cache clear preprocessed" in info.output
    listing = runner.invoke(app, ["cache", "list"], env={"COLUMNS": "250"})
    assert listing.exit_code == 0
    assert re.search(r"preprocessed\s+3\.0 MiB", listing.output) and re.search(r"models\s+0 B", listing.output)


def test_cache_clear_asks_first_unless_yes():
    folder = paths.preprocessed_dir() / "celeba-64px-0123"
    _fill(folder, 1024)
    result = runner.invoke(app, ["cache", "clear", "preprocessed"], input="n\n")
    assert result.exit_code == 0 and "Delete 1.0 KiB in" in result.output and "Kept" in result.output
    assert folder.is_dir()
    result = runner.invoke(app, ["cache", "clear", "preprocessed"], input="y\n")
    assert result.exit_code == 0 and "1.0 KiB freed" in result.output
    assert not paths.preprocessed_dir(create=False).exists()
    _fill(paths.downloads_dir(), 10)
    result = runner.invoke(app, ["cache", "clear", "downloads", "--yes"])
    assert result.exit_code == 0 and "Delete" not in result.output and not paths.downloads_dir(create=False).exists()
    result = runner.invoke(app, ["cache", "clear", "preprocesed", "--yes"])
    assert result.exit_code == 2 and "did you mean preprocessed?" in result.output
    result = runner.invoke(app, ["cache", "clear", "datasets", "--yes"])
    assert result.exit_code == 2 and "choose from preprocessed, downloads, models" in result.output

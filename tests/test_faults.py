"""The fault cases of one place: crashes, concurrent writers, full disks, hostile files.

Each test reproduces one way the tool used to fail (a traceback, two writers in one folder, a
contradiction accepted, a file half-written) and checks the one-line error or the safe outcome.
Faults are injected (an OSError from a write, a lock held by another process) so that the
tests run anywhere without root, a tiny file system or the network.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.cli import app
from stargan_cli.errors import StarganError
from stargan_cli.models import build_discriminator, build_generator

runner = CliRunner()


def error_lines(result) -> list[str]:
    """The ``Error:`` lines of a CliRunner result (stderr)."""
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def only_error(result) -> str:
    """The one ``Error:`` line of a failed command that printed no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output, result.output
    lines = error_lines(result)
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def model_file(tmp_path, tiny_config) -> Path:
    torch.manual_seed(0)
    path = tmp_path / "models" / "tiny.pt"
    save_checkpoint(Checkpoint(tiny_config, build_generator(tiny_config).state_dict(),
                               build_discriminator(tiny_config).state_dict()), path)
    return path


@pytest.fixture
def face(tmp_path) -> Path:
    path = tmp_path / "in" / "face.png"
    path.parent.mkdir()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
    return path


# ---- 2. an unexpected error: one line asking for a report, the traceback only on request ----


def _break_info(monkeypatch) -> None:
    import stargan_cli.paths

    def broken():
        raise ValueError("injected fault")

    monkeypatch.setattr(stargan_cli.paths, "all_dirs", broken)


def test_unexpected_error_is_one_line_asking_for_a_report(monkeypatch):
    _break_info(monkeypatch)
    monkeypatch.delenv("STARGAN_DEBUG", raising=False)
    result = runner.invoke(app, ["info"])
    line = only_error(result)
    assert "ValueError: injected fault" in line and "report" in line and "--debug" in line


@pytest.mark.parametrize("how", ["flag", "env"])
def test_unexpected_error_shows_the_traceback_when_asked(monkeypatch, how):
    _break_info(monkeypatch)
    monkeypatch.delenv("STARGAN_DEBUG", raising=False)
    if how == "env":
        monkeypatch.setenv("STARGAN_DEBUG", "1")
    result = runner.invoke(app, ["--debug", "info"] if how == "flag" else ["info"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "raise ValueError" in result.stderr
    assert len(error_lines(result)) == 1


def test_unexpected_error_in_a_real_process_exits_1_without_traceback(tmp_path):
    script = textwrap.dedent("""
        import sys
        import stargan_cli.paths
        def broken():
            raise KeyError("injected")
        stargan_cli.paths.all_dirs = broken
        from stargan_cli.cli import main
        sys.argv = ["stargan", "info"]
        main()
    """)
    env = {k: v for k, v in os.environ.items() if k != "STARGAN_DEBUG"}
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: unexpected KeyError"), out.stderr


# ---- 5. contradictory targets are refused everywhere ----------------------------------------


@pytest.mark.parametrize(
    "to, says",
    [
        (["Blond_Hair", "Black_Hair"], "hair colours are exclusive"),
        (["Blond_Hair,Brown_Hair=1"], "hair colours are exclusive"),
        (["Blond_Hair", "Blond_Hair=0"], "Blond_Hair is given twice"),
        (["Male", "male"], "Male is given twice"),
    ],
)
def test_contradictory_targets_are_refused_by_the_parser(to, says):
    from stargan_cli.attributes import DEFAULT_ATTRIBUTES, parse_targets

    with pytest.raises(StarganError, match=says):
        parse_targets(to, DEFAULT_ATTRIBUTES)


def test_compatible_targets_still_pass():
    from stargan_cli.attributes import DEFAULT_ATTRIBUTES, parse_targets

    assert parse_targets(["Blond_Hair", "Black_Hair=0", "Male=0"], DEFAULT_ATTRIBUTES) == {
        "Blond_Hair": 1.0, "Black_Hair": 0.0, "Male": 0.0}


def test_contradictory_targets_are_refused_by_the_api(model_file, face):
    from stargan_cli import Translator

    translator = Translator.from_pretrained(model_file, device="cpu")
    with pytest.raises(StarganError, match="hair colours are exclusive"):
        translator(face, to=["Blond_Hair", "Black_Hair"], source="none")
    with pytest.raises(StarganError, match="given twice"):
        translator(face, to="Blond_Hair,Blond_Hair=0", source="none")


def test_contradictory_targets_are_refused_by_translate(model_file, face, tmp_path):
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(model_file),
                                 "--source-attrs", "none", "--to", "Blond_Hair", "--to", "Black_Hair",
                                 "-o", str(tmp_path / "out")])
    assert "hair colours are exclusive" in only_error(result)
    assert not (tmp_path / "out").exists()
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(model_file),
                                 "--source-attrs", "none", "--to", "Blond_Hair", "--to", "Blond_Hair=0"])
    assert "Blond_Hair is given twice (Blond_Hair and Blond_Hair=0)" in only_error(result)


def test_contradictory_targets_are_refused_by_grid(model_file, face, tmp_path):
    out = tmp_path / "sheet.png"
    for to in ("Blond_Hair+Black_Hair", "Male+Male=0"):
        result = runner.invoke(app, ["grid", str(face), "--no-detect", "-m", str(model_file),
                                     "--source-attrs", "none", "--to", to, "-o", str(out)])
        assert "exclusive" in only_error(result) or "given twice" in only_error(result)
    assert not out.exists()


def test_contradictory_targets_are_refused_by_webcam(model_file, tmp_path):
    video = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, (64, 64))
    for _ in range(3):
        writer.write(np.zeros((64, 64, 3), np.uint8))
    writer.release()
    result = runner.invoke(app, ["webcam", "--source", str(video), "--headless", "--model", str(model_file),
                                 "--source-attrs", "none", "--to", "Blond_Hair,Black_Hair"])
    assert "hair colours are exclusive" in only_error(result)


# ---- 8. atomic writes flush a writable handle (Windows refuses to fsync a read-only one) -----


def test_publish_flushes_a_writable_handle(tmp_path, monkeypatch):
    from stargan_cli import fileio

    real_fsync = os.fsync
    flushed = []

    def windows_like_fsync(fd: int) -> None:
        if os.name != "nt":  # on Windows the real call already refuses a read-only handle
            import fcntl

            if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
                raise OSError(errno.EBADF, "Bad file descriptor")
        flushed.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(fileio.os, "fsync", windows_like_fsync)
    target = tmp_path / "a.txt"
    fileio.atomic_write(target, lambda tmp: tmp.write_text("new", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "new" and flushed
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


# ---- 6. a checkpoint's stored config is checked before networks are built ------------------


def _tampered(model_file: Path, tmp_path: Path, **changes) -> Path:
    payload = torch.load(model_file, weights_only=True)
    payload["config"].update(changes)
    payload["meta"]["source"] = "/somewhere/else/run"  # what a trainer stores: not the user's file
    path = tmp_path / "tampered.pt"
    torch.save(payload, path)
    return path


@pytest.mark.parametrize("changes, says", [
    ({"g_conv_dim": 10**6}, "g_conv_dim 1000000 is outside"),
    ({"image_size": 0}, "image_size 0 is outside"),
    ({"d_repeat": "6"}, "d_repeat '6' is outside"),
    ({"image_size": 42}, "not divisible by 2\\*\\*d_repeat"),
])
def test_impossible_stored_config_is_refused_before_building(model_file, tmp_path, monkeypatch, changes, says):
    from stargan_cli import Translator, models

    real_build = models.build_generator

    def build_only_on_meta(*args, **kwargs):  # building on "meta" allocates nothing
        if torch.empty(0).device.type != "meta":
            raise AssertionError("a network was built from an unchecked config")
        return real_build(*args, **kwargs)

    path = _tampered(model_file, tmp_path, **changes)
    monkeypatch.setattr(models, "build_generator", build_only_on_meta)
    with pytest.raises(StarganError, match=says) as err:
        Translator.from_pretrained(path, device="cpu")
    assert str(path) in str(err.value)


def test_config_that_does_not_fit_the_weights_names_the_file_given(model_file, tmp_path, face):
    path = _tampered(model_file, tmp_path, g_conv_dim=16)
    result = runner.invoke(app, ["translate", str(face), "--no-detect", "-m", str(path), "--to", "Male",
                                 "--source-attrs", "none"])
    line = only_error(result)
    assert "do not match its config" in line and "main.0.weight has shape [8," in line
    assert str(path) in line and "/somewhere/else/run" not in line

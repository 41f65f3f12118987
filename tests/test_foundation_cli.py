"""The CLI shell, devices and folders."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import torch
from typer.testing import CliRunner

from stargan_cli import __version__
from stargan_cli.cli import app
from stargan_cli.devices import select_device
from stargan_cli.errors import StarganError, UsageError
from stargan_cli import paths

runner = CliRunner()


def test_help_lists_every_subcommand():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for name in ("download", "train", "translate", "grid", "webcam", "info", "eval"):
        assert name in result.output


def test_help_summary_names_every_command():
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "80"})
    summary, commands = result.output.split("Options:")[0], result.output.split("Commands:")[1]
    listed = [line.split()[0] for line in commands.splitlines() if line.startswith("  ") and line[2] != " "]
    assert {"app", "info", "cache", "translate"} <= set(listed)
    for name in listed:
        assert re.search(rf"\b{name}\b", summary), (name, summary)


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_module_entry_point_runs():
    out = subprocess.run([sys.executable, "-m", "stargan_cli", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and __version__ in out.stdout


def test_info_works_on_cpu(stargan_home):
    result = runner.invoke(app, ["info"])
    assert result.exit_code == 0, result.output
    assert torch.__version__ in result.output
    assert "cpu" in result.output or "cuda" in result.output
    assert str(stargan_home) in result.output.replace("\n", "")


def test_stargan_home_moves_every_folder(stargan_home):
    for path in paths.all_dirs().values():
        assert str(path).startswith(str(stargan_home))
    assert paths.models_dir().is_dir()


def test_cpu_is_always_there():
    assert select_device("cpu").type == "cpu"
    assert select_device(None).type in ("cpu", "cuda", "mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(StarganError, match="CUDA is not available"):
        select_device("cuda:1")


def test_nonsense_device_is_a_clear_error():
    with pytest.raises(UsageError, match="unknown device"):
        select_device("tpu9")


@pytest.mark.parametrize("command", [
    ["translate", "--example", "--to", "Male"], ["grid", "x.jpg"], ["train", "--iters", "1"],
    ["eval"], ["app"], ["webcam", "--to", "Male"],
])
def test_an_unknown_device_name_is_a_command_line_mistake(command, stargan_home):
    result = runner.invoke(app, [*command, "--device", "gpu"])
    assert result.exit_code == 2, result.output
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        "Error: unknown device 'gpu': use auto, cpu, cuda, cuda:N or mps"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_known_device_that_is_not_here_is_a_missing_thing(stargan_home, tmp_path):
    result = runner.invoke(app, ["translate", "--example", "--to", "Male", "--device", "cuda",
                                 "-o", str(tmp_path / "out.png")])
    assert result.exit_code == 1 and "CUDA is not available" in result.output


@pytest.mark.parametrize(
    "args, says, command",
    [
        (["grid", "--n", "0", "x.jpg"], "Invalid value for '--n'", "stargan_cli grid"),
        (["translate", "x.jpg", "--bogus"], "No such option: --bogus", "stargan_cli translate"),
        (["translate", "--face"], "'--face' requires an argument", "stargan_cli translate"),
        (["train", "--norm", "foo"], "'foo' is not one of", "stargan_cli train"),
        (["nosuch"], "No such command 'nosuch'", "stargan_cli"),
    ],
)
def test_usage_mistakes_are_one_line_naming_the_help(args, says, command):
    """Typer's own usage errors (a boxed, multi-line message) become one Error: line, exit 2."""
    out = subprocess.run([sys.executable, "-m", "stargan_cli", *args], capture_output=True, text=True,
                         env={**__import__("os").environ, "COLUMNS": "60"})
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert lines[0].startswith("Error: ") and says in lines[0]
    assert lines[0].endswith(f"{command} --help'.")  # run as python -m stargan_cli
    assert "Traceback" not in out.stderr and out.stdout == ""


def test_no_arguments_still_shows_the_help():
    out = subprocess.run([sys.executable, "-m", "stargan_cli", "translate"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Usage:" in out.stdout + out.stderr and "--to" in out.stdout + out.stderr

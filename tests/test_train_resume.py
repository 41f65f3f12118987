"""Resuming: exact continuation, Ctrl-C in a real process, SIGKILL at any moment, clear errors."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from stargan_cli.cli import app
from stargan_cli.errors import StarganError
from stargan_cli.loading import load_checkpoint
from stargan_cli.training import TrainingInterrupted, loop, resume_config, train
from train_helpers import TINY, make_celeba, one_thread, read_metrics, tiny  # noqa: F401  (one_thread: autouse)


@pytest.fixture(scope="module")
def celeba_root(tmp_path_factory) -> Path:
    return make_celeba(tmp_path_factory.mktemp("data") / "celeba")


def _stop_at(monkeypatch, step: int) -> None:
    """Make the trainer behave as if Ctrl-C arrived during iteration ``step``."""
    original = loop.TrainingLoop._after_step

    def after_step(self):
        original(self)
        if self.step == step:
            self.signals.signum = signal.SIGINT

    monkeypatch.setattr(loop.TrainingLoop, "_after_step", after_step)


def _assert_same_state(a: Path, b: Path) -> None:
    ca, cb = load_checkpoint(a), load_checkpoint(b)
    assert ca.step == cb.step
    assert (ca.G_ema is None) == (cb.G_ema is None)
    for name in ("G", "D") + (("G_ema",) if ca.G_ema is not None else ()):
        sa, sb = getattr(ca, name), getattr(cb, name)
        assert sa.keys() == sb.keys()
        for key in sa:
            assert torch.equal(sa[key], sb[key]), f"{name}.{key} differs"
    for opt in ("g_optimizer", "d_optimizer"):
        for pa, pb in zip(ca.training[opt]["state"].values(), cb.training[opt]["state"].values()):
            for key in pa:
                assert torch.equal(torch.as_tensor(pa[key]), torch.as_tensor(pb[key])), f"{opt}.{key} differs"


@pytest.mark.filterwarnings("ignore:this CPU has no native bf16")
@pytest.mark.parametrize("dataset", ["celeba", "both", "warmup+augment", "mask+resize+ema", "bf16"])
def test_resume_continues_exactly(celeba_root, tmp_path, monkeypatch, dataset):
    """2N steps in one go equal N steps, a stop, a resume and N more: same weights and
    optimizer states, bit for bit. 10 steps of 4 cross an epoch (22 training images) and the
    learning rate decays during all of them (the paper schedule over the whole run).
    ``bf16``: bf16 autocast on the CPU, with fp32 weights, optimizer state and losses."""
    extra = {}
    if dataset == "bf16":
        extra = {"precision": "bf16", "loss": "hinge", "n_critic": 1}
    if dataset == "both":
        from train_helpers import make_folder

        extra = {"dataset": "both", "folder_data": str(make_folder(tmp_path / "faces")), "attrs": ("Blond_Hair", "Male")}
    elif dataset == "warmup+augment":  # the stop falls after the G warm-up; D's augmentations are random draws
        extra = {"warmup_iters": 3, "augment": "translation,cutout"}
    elif dataset == "mask+resize+ema":  # the average of G is saved and continues exactly too
        extra = {"g_output": "mask", "upsample": "resize", "g_ema": 0.9}
    settings = dict(iters=10, decay_iters=10, n_critic=3, save_every=100, log_every=2, sample_every=100)
    settings.update(extra)
    straight = train(tiny(celeba_root, tmp_path / "straight", **settings))

    # Only the stop is undone afterwards: monkeypatch.undo() would also lift conftest's
    # STARGAN_HOME and STARGAN_OFFLINE, and the preprocessed cache would go to the real folder.
    with monkeypatch.context() as stop:
        _stop_at(stop, 5)
        with pytest.raises(TrainingInterrupted) as info:
            train(tiny(celeba_root, tmp_path / "split", **settings))
    assert info.value.step == 5
    # The resumed half uses data-loader worker processes: the batches must not depend on them.
    resumed = train(resume_config(tmp_path / "split", {"num_workers": 2}))
    assert resumed == tmp_path / "split"
    _assert_same_state(straight / "final.pt", resumed / "final.pt")
    # The log continues without repeating steps.
    assert [m["step"] for m in read_metrics(resumed)] == [2, 4, 6, 8, 10]
    assert all(math.isfinite(v) for m in read_metrics(resumed) for k, v in m.items() if k.startswith(("d_", "g_")))
    _assert_fp32(resumed / "final.pt")


def _assert_fp32(path: Path) -> None:
    """Weights and optimizer moments of a training checkpoint are fp32, whatever the precision."""
    checkpoint = load_checkpoint(path)
    for name in ("G", "D"):
        assert {v.dtype for v in getattr(checkpoint, name).values() if v.is_floating_point()} == {torch.float32}
    for opt in ("g_optimizer", "d_optimizer"):
        moments = [v for st in checkpoint.training[opt]["state"].values() for k, v in st.items() if k != "step"]
        assert moments and {v.dtype for v in moments} == {torch.float32}


@pytest.mark.filterwarnings("ignore:this CPU has no native bf16")
@pytest.mark.parametrize("first, then", [("fp32", "bf16"), ("bf16", "auto")])
def test_a_run_continues_in_another_precision(celeba_root, tmp_path, first, then):
    """Weights and optimizer state are fp32 in every precision, so --precision may change on
    --resume; the run says so, and config.json records the precision it now trains in."""
    import json

    run = train(tiny(celeba_root, tmp_path / "run", iters=2, precision=first))
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "--iters", "4", "--precision", then,
                                      "--num-workers", "0"])
    assert result.exit_code == 0, result.output
    now = "fp32" if then == "auto" else then  # conftest: a CPU without native bf16
    assert f"the run trained in {first} until step 2 and continues in {now}" in result.output
    assert ("Warning: this CPU has no native bf16" in result.output) is (now == "bf16")
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["precision"] == then and config["resolved"]["precision"] == now
    assert load_checkpoint(run / "final.pt").step == 4
    assert all(math.isfinite(v) for m in read_metrics(run) for k, v in m.items() if k.startswith(("d_", "g_")))
    _assert_fp32(run / "final.pt")


def test_resume_can_extend_a_finished_run(celeba_root, tmp_path):
    run = train(tiny(celeba_root, tmp_path / "run", iters=4, decay_iters=0))
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "--iters", "6", "-q", "--num-workers", "0"])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run / "final.pt").step == 6
    assert [m["step"] for m in read_metrics(run)] == [2, 4, 6]
    # Resuming without new iterations is an error that leaves the run's settings alone.
    settings = (run / "config.json").read_bytes()
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "--iters", "3", "-q", "--num-workers", "0"])
    assert result.exit_code == 1 and "already at step 6" in result.output and "--iters larger than 6" in result.output
    assert (run / "config.json").read_bytes() == settings


def test_a_time_budget_on_the_command_line_stops_early_and_a_longer_one_trains_on(celeba_root, tmp_path):
    from stargan_cli.training.state import trained_seconds

    runner = CliRunner()
    run = tmp_path / "run"
    start = ["train", "--data", str(celeba_root), "--out", str(run), *TINY, "--iters", "1000000",
             "--save-every", "1000000", "--sample-every", "1000000", "--time-budget", "1s", "-q"]
    result = runner.invoke(app, start)
    assert result.exit_code == 0, result.output
    first = load_checkpoint(run / "final.pt")
    assert 0 < first.step < 1_000_000 and 1 <= trained_seconds(first) < 30
    assert read_metrics(run)[-1]["step"] == first.step

    # Resuming with the spent budget says what to do and leaves the run alone.
    settings = (run / "config.json").read_bytes()
    result = runner.invoke(app, ["train", "--resume", str(run), "-q"])
    assert result.exit_code == 1 and "pass --time-budget longer than" in result.output, result.output
    assert (run / "config.json").read_bytes() == settings

    result = runner.invoke(app, ["train", "--resume", str(run), "--time-budget", "2.5s", "-q"])
    assert result.exit_code == 0, result.output
    second = load_checkpoint(run / "final.pt")
    assert second.step > first.step and trained_seconds(second) >= 2.5

    for bad in ("0", "soon", "0m"):
        result = runner.invoke(app, ["train", "--data", str(celeba_root), "--out", str(tmp_path / bad), *TINY,
                                     "--time-budget", bad])
        assert result.exit_code == 2 and "--time-budget" in result.output and "90s, 10m or 1.5h" in result.output
        assert "Traceback" not in result.output and not (tmp_path / bad).exists()


def test_resume_errors_are_clear(celeba_root, tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "nothing")])
    assert result.exit_code == 1 and "not a training run folder" in result.output
    run = train(tiny(celeba_root, tmp_path / "run", iters=2))
    for path in (run / "checkpoints").iterdir():
        path.unlink()
    result = runner.invoke(app, ["train", "--resume", str(run)])
    assert result.exit_code == 1 and "no usable checkpoint" in result.output
    assert len(result.output.strip().splitlines()) == 1
    result = runner.invoke(app, ["train", "--resume", str(run), "--norm", "lookup"])
    assert result.exit_code == 2 and "--norm cannot change when resuming" in result.output
    with pytest.raises(StarganError, match="--g-lr cannot change"):
        resume_config(run, {"g_lr": 1.0})


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    log = open(tmp_path / "train.log", "w")
    return subprocess.Popen([sys.executable, "-m", "stargan_cli", "train", *args], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=Path(__file__).resolve().parents[1])


def _wait_for(predicate, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            raise AssertionError(f"training exited early with {proc.returncode}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("training did not get going in time")
        time.sleep(0.1)


def test_ctrl_c_in_a_real_process_saves_and_resumes(celeba_root, tmp_path):
    run = tmp_path / "run"
    proc = _start(["--data", str(celeba_root), "--out", str(run), "--iters", "100000", "--log-every", "1",
                   "--save-every", "100000", "-q", *TINY], tmp_path)
    _wait_for(lambda: (run / "metrics.jsonl").exists() and (run / "metrics.jsonl").read_text().count("\n") >= 2, proc)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    log = (tmp_path / "train.log").read_text()
    assert "Interrupted at step" in log and f"--resume {run}" in log
    saved = list((run / "checkpoints").glob("*.pt"))
    assert len(saved) == 1
    step = load_checkpoint(saved[0]).step
    assert step >= 2 and saved[0].name == f"{step:06d}.pt"
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "--iters", str(step + 2), "-q"])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run / "final.pt").step == step + 2


def test_sigkill_never_leaves_a_broken_checkpoint(celeba_root, tmp_path):
    run = tmp_path / "run"
    proc = _start(["--data", str(celeba_root), "--out", str(run), "--iters", "100000", "--save-every", "1",
                   "--keep", "1000", "-q", *TINY], tmp_path)
    _wait_for(lambda: len(list((run / "checkpoints").glob("*.pt"))) >= 3 if (run / "checkpoints").exists() else False, proc)
    proc.send_signal(signal.SIGKILL)  # most likely in the middle of writing the next checkpoint
    proc.wait(timeout=30)
    saved = sorted((run / "checkpoints").glob("*.pt"))
    for path in saved:
        assert load_checkpoint(path).step == int(path.stem)
    last = int(saved[-1].stem)
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "--iters", str(last + 1), "-q"])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run / "final.pt").step == last + 1
    assert not list((run / "checkpoints").glob(".*"))  # temporary files of the killed write are gone


# ---- the run folder under faults: a damaged config, a kill before it, a folder in the way ------


def test_a_config_json_with_absurd_sizes_is_refused_as_damaged(celeba_root, tmp_path):
    import json

    run = train(tiny(celeba_root, tmp_path / "run", iters=2))
    for path in (run / "checkpoints").iterdir():
        path.unlink()
    (run / "final.pt").unlink()
    record = json.loads((run / "config.json").read_text())
    record["train"]["g_conv_dim"] = 1_000_000  # would ask for terabytes
    (run / "config.json").write_text(json.dumps(record))
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "-q"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1 and f"{run / 'config.json'} is damaged" in lines[0] and "g-conv-dim" in lines[0]


_KILL_WHILE_LOADING = """
import os, signal, sys
from stargan_cli.training import session
session._load_sources = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # killed while it reads its data
from stargan_cli.cli import main
sys.argv = ["stargan", "train", *sys.argv[1:]]
main()
"""


def test_a_run_killed_before_its_settings_were_written_resumes_from_step_0(celeba_root, tmp_path):
    run = tmp_path / "run"
    done = subprocess.run([sys.executable, "-c", _KILL_WHILE_LOADING, "--data", str(celeba_root), "--out", str(run),
                           "--iters", "2", "-q", *TINY], capture_output=True, text=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "-q"])
    assert result.exit_code == 0, result.output
    assert "from step 0" in result.output
    assert load_checkpoint(run / "final.pt").step == 2


def test_a_folder_named_like_a_checkpoint_is_skipped_and_left_alone(celeba_root, tmp_path):
    run = train(tiny(celeba_root, tmp_path / "run", iters=2, save_every=2))
    squatter = run / "checkpoints" / "000004.pt"
    squatter.mkdir()
    (squatter / "keep.txt").write_text("mine")
    result = CliRunner().invoke(app, ["train", "--resume", str(run), "--iters", "6", "-q"])
    assert result.exit_code == 0, result.output
    assert "000004.pt" in result.output and "not a file" in result.output  # warned, at resume and at step 4
    assert (squatter / "keep.txt").read_text() == "mine"
    assert load_checkpoint(run / "final.pt").step == 6
    assert load_checkpoint(run / "checkpoints" / "000006.pt").step == 6


def test_train_help_names_every_flag_a_resume_may_change():
    """The help's list comes from the rule itself, and each entry is a real option."""
    import re

    import typer
    from typer.testing import CliRunner

    from stargan_cli.choices import RESUMABLE_SETTINGS
    from stargan_cli.cli import app
    from stargan_cli.training.config import RESUMABLE_OVERRIDES

    assert RESUMABLE_OVERRIDES == set(RESUMABLE_SETTINGS)
    command = typer.main.get_command(app).commands["train"]
    options = {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}
    help_text = " ".join(CliRunner().invoke(app, ["train", "--help"], env={"COLUMNS": "200"}).output.split())
    allowed = re.search(r"a resumed run may change (.*?), nothing else", help_text).group(1).split(", ")
    assert set(allowed) <= options
    assert {"--decay-iters", "--compile", "--channels-last", "--cuda-graphs"} <= set(allowed)
    from stargan_cli.cli.train import resumable_flags

    assert allowed == resumable_flags() and len(allowed) >= len(RESUMABLE_SETTINGS) - 1

"""`stargan train` and the Trainer: every variant writes checkpoints, samples and metrics;
folder and joint datasets; user errors; divergence; interruption.

Tiny models (32 px, 8 channels) on synthetic CelebA-format data made in tmp_path.
Shared helpers and fixtures live in train_helpers.py.
"""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from stargan_cli.attributes import DEFAULT_ATTRIBUTES
from stargan_cli.checkpoints import build_models, read_state_file
from stargan_cli.cli import app
from stargan_cli.errors import StarganError
from stargan_cli.loading import load_checkpoint
from stargan_cli.models import build_generator
from stargan_cli.training import TrainingDiverged, TrainingInterrupted, train
from stargan_cli.training import loop, step

from train_helpers import (  # noqa: F401  (one_thread: autouse; the fixtures are used by name)
    TINY, celeba_root, folder_root, grid_shape, make_celeba, one_thread, read_metrics, tiny,
)


# ----------------------------------------------------------------------------- variants
@pytest.mark.parametrize("norm,loss", [("concat", "wgan-gp"), ("concat", "hinge"), ("lookup", "wgan-gp"), ("lookup", "hinge")])
def test_every_variant_writes_checkpoints_samples_and_metrics(celeba_root, tmp_path, norm, loss):
    run = train(tiny(celeba_root, tmp_path / "run", norm=norm, loss=loss, keep=1))
    assert run == tmp_path / "run"
    # keep=1: only the newest periodic checkpoint survives, plus final.pt (same content).
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["000004.pt"]
    final = load_checkpoint(run / "final.pt")
    assert final.step == 4 and final.meta["final"] is True
    assert final.config.norm == norm and final.config.loss == loss
    assert final.config.attributes == DEFAULT_ATTRIBUTES and final.config.label_mode == "multi"
    G, D = build_models(final)  # strict load of both networks
    out = G(torch.zeros(1, 3, 32, 32), torch.tensor([[0.0, 1.0, 0.0, 1.0, 1.0]]))
    assert out.shape == (1, 3, 32, 32)
    # Weights moved away from their initial values (the trainer seeds, then builds G).
    torch.manual_seed(1234)
    init = build_generator(final.config).state_dict()
    assert any(not torch.equal(init[k], final.G[k]) for k in init if k.endswith((".weight", ".gain")))
    if norm == "lookup":
        assert any(k.endswith(".gain") and final.G[k].abs().sum() > 0 for k in final.G)
    # The training state loads with weights_only and holds both optimizers and the RNGs.
    training = read_state_file(run / "final.pt")["training"]
    assert set(training) >= {"g_optimizer", "d_optimizer", "schedule", "ranks"}
    assert set(training["ranks"][0]["rng"]) >= {"device", "torch", "python"}
    # Samples: rows = the held-out images, columns = input + one per attribute.
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["000002.jpg", "000004.jpg"]
    with Image.open(run / "samples" / "000004.jpg") as grid:
        assert grid.size == grid_shape(rows=2, cols=1 + 5)
    metrics = read_metrics(run)
    assert [m["step"] for m in metrics] == [2, 4]
    for key in ("d_real", "d_fake", "d_cls", "d_gp", "d_loss", "g_fake", "g_rec", "g_cls", "g_loss",
                "g_lr", "d_lr", "images_per_s", "time"):
        assert key in metrics[-1]
    assert (metrics[-1]["d_gp"] == 0.0) == (loss == "hinge")
    config = json.loads((run / "config.json").read_text())
    assert config["train"]["norm"] == norm and config["model"]["loss"] == loss


def test_learning_rates_follow_the_schedule_and_checkpoints_rotate(celeba_root, tmp_path):
    run = train(tiny(celeba_root, tmp_path / "run", iters=8, decay_iters=4, log_every=1,
                     save_every=1, sample_every=100, keep=2))
    lrs = [m["g_lr"] for m in read_metrics(run)]
    # Iterations 0-3 at the full rate, then 3/4, 2/4, 1/4... of it (the paper's linear decay).
    assert lrs == pytest.approx([1e-4] * 4 + [1e-4, 7.5e-5, 5e-5, 2.5e-5])
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["000007.pt", "000008.pt"]
    assert (run / "final.pt").is_file()
    assert [p.name for p in (run / "samples").iterdir()] == ["000008.jpg"]  # only the final grid
    official = train(tiny(celeba_root, tmp_path / "official", iters=4, decay_iters=4, log_every=1,
                          lr_schedule="official"))
    assert [m["g_lr"] for m in read_metrics(official)] == pytest.approx([1e-4] * 4)


def test_tensorboard_events_when_installed(celeba_root, tmp_path):
    pytest.importorskip("tensorboard")
    run = train(tiny(celeba_root, tmp_path / "run", iters=2, tensorboard=True))
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))
    quiet = train(tiny(celeba_root, tmp_path / "no-tb", iters=2, tensorboard=False))
    assert not (quiet / "tensorboard").exists()


# ----------------------------------------------------------------------------- datasets
def test_folder_dataset(folder_root, tmp_path):
    run = train(tiny(folder_root, tmp_path / "run", dataset="folder", iters=2))
    final = load_checkpoint(run / "final.pt")
    assert final.config.label_mode == "single"
    assert final.config.attributes == ("angry", "happy", "sad") and final.config.c_dim == 3
    with Image.open(run / "samples" / "000002.jpg") as grid:  # 3 held out (one per domain), 1 + 3 columns
        assert grid.size == grid_shape(rows=3, cols=4)


def test_joint_training_on_celeba_and_a_folder_dataset(celeba_root, folder_root, tmp_path):
    run = train(tiny(celeba_root, tmp_path / "run", dataset="both", folder_data=str(folder_root),
                     attrs=("Blond_Hair", "Male"), iters=4))
    final = load_checkpoint(run / "final.pt")
    cfg = final.config
    assert cfg.label_mode == "joint" and cfg.joint_split == 2
    assert cfg.attributes == ("Blond_Hair", "Male", "angry", "happy", "sad") and cfg.c_dim == 7
    G, D = build_models(final)
    assert D.conv2.out_channels == 5  # G takes the 2-dim mask too; D only classifies attributes and domains
    # Both datasets are trained every iteration, each with its own classification loss.
    last = read_metrics(run)[-1]
    assert {"d_cls_celeba", "d_cls_faces", "g_cls_celeba", "g_cls_faces"} <= set(last)
    assert len(final.training["ranks"][0]["data"]) == 2
    with Image.open(run / "samples" / "000004.jpg") as grid:  # CelebA rows: input, 2 attrs, 3 domains
        assert grid.size == grid_shape(rows=2, cols=1 + 2 + 3)


def test_a_corrupt_image_is_skipped(tmp_path):
    root = make_celeba(tmp_path / "celeba")
    (root / "images" / "000003.jpg").write_bytes(b"\xff\xd8\xff not really a jpeg")
    result = CliRunner().invoke(app, ["train", "--data", str(root), "--out", str(tmp_path / "run"),
                                      "--iters", "2", "-q", *TINY])
    assert result.exit_code == 0, result.output
    assert "1 unreadable skipped" in result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["resolved"]["datasets"][0]["skipped"] == 1
    assert load_checkpoint(tmp_path / "run" / "final.pt").step == 2


# ----------------------------------------------------------------------------- CLI
def test_cli_attrs_comma_separated_and_repeated_and_default_run_folder(celeba_root, stargan_home):
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--attrs", "black_hair,Blond_Hair",
                                      "--attrs", "Male", "--iters", "2", "--norm", "lookup", *TINY])
    assert result.exit_code == 0, result.output
    runs = list((stargan_home / "data" / "runs").iterdir())
    assert len(runs) == 1 and runs[0].name.endswith("-lookup-wgan-gp-3attrs-32px")
    final = load_checkpoint(runs[0] / "final.pt")
    assert final.config.attributes == ("Black_Hair", "Blond_Hair", "Male")
    assert "step 2/2 " in result.output  # progress as plain lines: the output is not a terminal


def test_cli_unknown_attribute_fails_with_one_line(celeba_root, tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--attrs", "Blond_Hiar",
                                      "--out", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "unknown attribute" in lines[0] and "Blond_Hair" in lines[0]
    assert not (tmp_path / "run").exists()


def test_cli_missing_celeba_says_how_to_get_it(tmp_path):
    result = CliRunner().invoke(app, ["train", "--out", str(tmp_path / "run"), *TINY])
    assert result.exit_code == 1
    assert "stargan download celeba" in result.output and "--data" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("args,message,code", [  # 2: a usage mistake; 1: something missing
    (["--dataset", "folder"], "--dataset folder needs --data", 2),
    (["--dataset", "both"], "--folder-data", 2),
    (["--image-size", "30"], "--image-size must be a multiple of 4", 2),
    (["--d-repeat", "6"], "divisible by 2**--d-repeat", 2),
    (["--batch-size", "1"], "--batch-size", 2),
    (["--batch-size", "0"], "--batch-size must be at least 2", 2),
    (["--resume", "/nonexistent/run"], "/nonexistent/run is not a training run folder: it does not exist", 1),
])
def test_cli_bad_settings_fail_clearly(args, message, code, tmp_path):
    out = [] if "--resume" in args else ["--out", str(tmp_path / "run")]
    result = CliRunner().invoke(app, ["train", *out, *TINY, *args])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert result.output.startswith("Error:") and len(result.output.strip().splitlines()) == 1


def test_cli_quiet_prints_plain_lines(celeba_root, tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--out", str(tmp_path / "run"),
                                      "--iters", "2", "--log-every", "1", "-q", *TINY])
    assert result.exit_code == 0, result.output
    assert "step 1/2" in result.output and "step 2/2" in result.output and "img/s" in result.output


# ----------------------------------------------------------------------------- failures
def test_non_finite_loss_stops_and_keeps_the_last_good_checkpoint(celeba_root, tmp_path, monkeypatch):
    real_step = step.discriminator_step
    calls = {"n": 0}

    def poisoned(*args, **kwargs):
        calls["n"] += 1
        losses = real_step(*args, **kwargs)
        return step.Losses(losses.names, losses.values * float("nan")) if calls["n"] > 3 else losses

    monkeypatch.setattr(step, "discriminator_step", poisoned)
    with pytest.raises(TrainingDiverged, match="diverged.*000002.pt"):
        train(tiny(celeba_root, tmp_path / "run", iters=10, save_every=2, log_every=2))
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == ["000002.pt"]
    assert not (tmp_path / "run" / "final.pt").exists()
    calls["n"] = 0
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--out", str(tmp_path / "cli"),
                                      "--iters", "10", "--log-every", "2", "-q", *TINY])
    assert result.exit_code == 1 and "Error: training diverged" in result.output


def test_interrupt_saves_a_checkpoint_and_exits_130(celeba_root, tmp_path, monkeypatch):
    original = loop.TrainingLoop._after_step

    def ctrl_c_at_step_3(self):
        original(self)
        if self.step == 3:
            self.signals.signum = 2  # what the SIGINT handler records

    monkeypatch.setattr(loop.TrainingLoop, "_after_step", ctrl_c_at_step_3)
    with pytest.raises(TrainingInterrupted) as info:
        train(tiny(celeba_root, tmp_path / "run", iters=100, save_every=50))
    assert info.value.step == 3 and info.value.exit_code == 130
    assert info.value.checkpoint == tmp_path / "run" / "checkpoints" / "000003.pt"
    assert load_checkpoint(info.value.checkpoint).step == 3
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--out", str(tmp_path / "cli"),
                                      "--iters", "100", "-q", *TINY])
    assert result.exit_code == 130
    assert "Interrupted at step 3" in result.output and "--resume" in result.output


def test_existing_run_folder_is_not_overwritten(celeba_root, tmp_path):
    train(tiny(celeba_root, tmp_path / "run", iters=2))
    with pytest.raises(StarganError, match="--resume"):
        train(tiny(celeba_root, tmp_path / "run", iters=2))


def test_out_must_be_a_new_or_empty_folder(celeba_root, tmp_path):
    """--out pointing at someone else's files must not overwrite or mix with them."""
    other = tmp_path / "other"
    (other / "samples").mkdir(parents=True)
    (other / "samples" / "000002.jpg").write_bytes(b"mine")
    (other / "metrics.jsonl").write_text("not ours\n")
    with pytest.raises(StarganError, match="is not empty"):
        train(tiny(celeba_root, other, iters=2))
    assert (other / "samples" / "000002.jpg").read_bytes() == b"mine"
    assert (other / "metrics.jsonl").read_text() == "not ours\n"
    assert sorted(p.name for p in other.iterdir()) == ["metrics.jsonl", "samples"]
    (tmp_path / "a-file").write_text("x")
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--out", str(tmp_path / "a-file"), *TINY])
    assert result.exit_code == 1 and result.output.startswith("Error:") and "is a file" in result.output
    (tmp_path / "empty").mkdir()
    assert train(tiny(celeba_root, tmp_path / "empty", iters=2)) == tmp_path / "empty"

"""Generator variants (attention-mask output, resize up-sampling), the moving average of G's
weights, their losses, checkpoints and ``stargan train --init``."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn
from typer.testing import CliRunner

from stargan_cli.checkpoints import Checkpoint, build_models, compact_checkpoint, save_checkpoint
from stargan_cli.cli import app
from stargan_cli.loading import load_checkpoint
from stargan_cli.models import Generator, ModelConfig, build_generator
from stargan_cli.training import train
from stargan_cli.training.ema import ema_decay, make_ema, update_ema
from stargan_cli.training.losses import mask_size_loss, total_variation_loss
from train_helpers import TINY, make_celeba, one_thread, tiny  # noqa: F401  (one_thread: autouse)

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


@pytest.fixture(scope="module")
def celeba_root(tmp_path_factory) -> Path:
    return make_celeba(tmp_path_factory.mktemp("data") / "celeba")


def _images(n: int = 2, size: int = 32) -> torch.Tensor:
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1


# ----------------------------------------------------------------------------- the networks
def test_default_generator_keeps_the_official_layout():
    """The published checkpoints' parameter names and shapes are those of the default G; the
    variants change them (so an old file can never load into a variant by accident)."""
    names = {k: tuple(v.shape) for k, v in Generator(5, 8, 2).state_dict().items()}
    assert "main.3.weight" in names and names["main.3.weight"] == (16, 8, 4, 4)  # first down-sampling
    assert names["main.6.weight"] == (32, 16, 4, 4) and "main.9.main.0.weight" in names  # residual block
    last = max(int(k.split(".")[1]) for k in names)
    assert names[f"main.{last}.weight"] == (3, 8, 7, 7)  # 7x7 conv to RGB (then tanh)
    assert any(isinstance(m, nn.ConvTranspose2d) for m in Generator(5, 8, 2).modules())
    for output, upsample in (("mask", "transposed"), ("rgb", "resize"), ("mask", "resize")):
        other = {k: tuple(v.shape) for k, v in Generator(5, 8, 2, output=output, upsample=upsample).state_dict().items()}
        assert other != names


def test_mask_generator_blends_its_colour_into_the_input_through_the_mask():
    torch.manual_seed(0)
    G = Generator(5, 8, 1, output="mask").eval()
    x, c = _images(), torch.rand(2, 5)
    y, mask = G(x, c, return_mask=True)
    assert mask.shape == (2, 1, 32, 32) and 0 <= mask.min() and mask.max() <= 1
    assert torch.equal(G(x, c), y)
    # With the last layer's weights at zero, colour is tanh(0) = 0 and the mask sigmoid(0) = 1/2.
    with torch.no_grad():
        G.main[-1].weight.zero_()
    y, mask = G(x, c, return_mask=True)
    assert torch.allclose(mask, torch.full_like(mask, 0.5))
    assert torch.allclose(y, 0.5 * x, atol=1e-6)
    # In general (random weights): the raw last layer gives C = tanh(o[:3]), A = sigmoid(o[3]).
    G = Generator(5, 8, 1, output="mask").eval()
    raw = {}
    G.main[-1].register_forward_hook(lambda module, args, out: raw.update(o=out))
    y, mask = G(x, c, return_mask=True)
    colour, expected_mask = torch.tanh(raw["o"][:, :3]), torch.sigmoid(raw["o"][:, 3:])
    assert torch.allclose(mask, expected_mask)
    assert torch.allclose(y, expected_mask * colour + (1 - expected_mask) * x, atol=1e-6)


def test_rgb_generator_has_no_mask_and_resize_has_no_transposed_convolution():
    G = Generator(5, 8, 1, upsample="resize")
    y, mask = G(_images(), torch.rand(2, 5), return_mask=True)
    assert mask is None and y.shape == (2, 3, 32, 32) and y.abs().max() <= 1
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in G.modules())
    assert sum(isinstance(m, nn.Upsample) for m in G.modules()) == 2


def test_model_config_records_the_variant_and_old_configs_mean_the_original():
    config = ModelConfig(ATTRS, image_size=32, g_output="mask", upsample="resize")
    assert ModelConfig.from_dict(config.to_dict()) == config
    assert "mask resize" in config.describe()
    old = {k: v for k, v in config.to_dict().items() if k not in ("g_output", "upsample")}
    assert ModelConfig.from_dict(old).g_output == "rgb" and ModelConfig.from_dict(old).upsample == "transposed"
    assert "mask" not in ModelConfig.from_dict(old).describe()
    with pytest.raises(ValueError, match="g_output"):
        ModelConfig(ATTRS, g_output="alpha")


# ----------------------------------------------------------------------------- the losses
def test_mask_size_loss_pulls_changed_masks_above_the_floor_and_all_below_the_cap():
    closed, open_ = torch.zeros(2, 1, 4, 4), torch.ones(2, 1, 4, 4)
    changed = torch.tensor([True, False])
    # Closed: only the image whose target differs is pushed open (by floor - 0), averaged over 2.
    assert mask_size_loss(closed, changed, 0.1, 0.4).item() == pytest.approx(0.05)
    assert mask_size_loss(closed, torch.tensor([False, False]), 0.1, 0.4).item() == 0
    # Open: both are pushed below the cap.
    assert mask_size_loss(open_, changed, 0.1, 0.4).item() == pytest.approx(0.6)
    assert mask_size_loss(torch.full((2, 1, 4, 4), 0.25), changed, 0.1, 0.4).item() == 0


def test_total_variation_of_a_mask():
    assert total_variation_loss(torch.ones(1, 1, 4, 4)).item() == 0
    checker = (torch.arange(4)[:, None] + torch.arange(4)[None, :]) % 2
    assert total_variation_loss(checker.float()[None, None]).item() == pytest.approx(2.0)


# ----------------------------------------------------------------------------- the average
def test_ema_decay_warms_up_and_update_is_a_lerp():
    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 10**6) == 0.999
    G = nn.Linear(2, 2)
    ema = make_ema(G)
    assert all(not p.requires_grad for p in ema.parameters())
    before = ema.weight.detach().clone()
    with torch.no_grad():
        G.weight.add_(1.0)
    update_ema(ema, G, 0.75)
    assert torch.allclose(ema.weight, 0.75 * before + 0.25 * G.weight)


def test_a_run_with_mask_resize_and_ema_saves_the_average_and_samples_from_it(celeba_root, tmp_path):
    run = train(tiny(celeba_root, tmp_path / "run", g_output="mask", upsample="resize", g_ema=0.9, iters=4))
    checkpoint = load_checkpoint(run / "final.pt")
    assert checkpoint.config.g_output == "mask" and checkpoint.config.upsample == "resize"
    assert checkpoint.G_ema is not None and checkpoint.G_ema.keys() == checkpoint.G.keys()
    assert any(not torch.equal(checkpoint.G_ema[k], checkpoint.G[k]) for k in checkpoint.G)
    assert (run / "samples" / "000004.jpg").is_file()
    # Translation uses the average; a shipped (compact) file holds it as G.
    G, _ = build_models(checkpoint, with_discriminator=False)
    for key, value in G.state_dict().items():
        assert torch.equal(value, checkpoint.G_ema[key])
    shipped = compact_checkpoint(checkpoint, half=False)
    assert shipped.G_ema is None and all(torch.equal(shipped.G[k], checkpoint.G_ema[k]) for k in shipped.G)
    import json
    train_settings = json.loads((run / "config.json").read_text())["train"]
    assert train_settings["g_ema"] == 0.9 and train_settings["g_output"] == "mask"


def test_a_run_without_ema_saves_none(celeba_root, tmp_path):
    checkpoint = load_checkpoint(train(tiny(celeba_root, tmp_path / "run", iters=2)) / "final.pt")
    assert checkpoint.G_ema is None


# ----------------------------------------------------------------------------- --init
def _saved_model(tmp_path: Path, **config) -> Path:
    torch.manual_seed(7)
    model = ModelConfig(ATTRS, image_size=32, g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2, loss="hinge", **config)
    from stargan_cli.models import build_discriminator

    G, D = build_generator(model), build_discriminator(model)
    ema = {k: v + 0.5 for k, v in G.state_dict().items()}
    checkpoint = Checkpoint(config=model, G=G.state_dict(), D=D.state_dict(), G_ema=ema, step=1234)
    return save_checkpoint(checkpoint, tmp_path / "model.pt")


def test_init_starts_a_new_run_from_a_models_weights_with_fresh_optimizers(celeba_root, tmp_path):
    model_path = _saved_model(tmp_path, g_output="mask", upsample="resize")
    model = load_checkpoint(model_path)
    out = tmp_path / "tuned"
    # Shapes come from the model: the flags below say nothing of size, channels or variant.
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--init", str(model_path),
                                      "--g-ema", "0.9", "--iters", "2", "--n-critic", "1", "--save-every", "1", "--keep", "5",
                                      "--batch-size", "4", "--num-workers", "0", "--no-tensorboard", "-q",
                                      "--lr-schedule", "paper", "--decay-iters", "0", "--g-lr", "0", "--d-lr", "0",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Starting from" in result.output and "optimizers fresh" in result.output
    first = load_checkpoint(out / "checkpoints" / "000001.pt")
    assert first.config == model.config
    assert first.step == 1  # a new run counts from 0, not from the model's step
    # With zero learning rates Adam leaves the weights alone: they are the model's.
    for name in ("G", "D"):
        mine, theirs = getattr(first, name), getattr(model, name)
        assert all(torch.equal(mine[k].float(), theirs[k].float()) for k in theirs), name
    # The average started from the model's average and took one step towards G.
    decay = ema_decay(0.9, 1)
    parameters = dict(build_generator(model.config).named_parameters())
    for k, v in model.G_ema.items():
        if k in parameters:  # buffers are copied from G, not averaged
            assert torch.allclose(first.G_ema[k], decay * v + (1 - decay) * model.G[k], atol=1e-6), k
    assert all(int(s["step"]) == 1 for s in first.training["g_optimizer"]["state"].values())


def test_init_refuses_flags_that_contradict_the_model(celeba_root, tmp_path):
    model_path = _saved_model(tmp_path)
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--init", str(model_path),
                                      "--image-size", "64", "--iters", "2", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "--image-size 64 contradicts the --init model" in result.output
    assert not (tmp_path / "x").exists()
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--init", str(tmp_path / "nope.pt"),
                                      "--iters", "2", "--out", str(tmp_path / "y")])
    assert result.exit_code == 1 and "Error" in result.output and "nope.pt" in result.output


def test_the_memory_estimate_counts_the_average_of_g():
    from stargan_cli.training.networks import training_bytes

    model = ModelConfig(ATTRS, image_size=32, g_conv_dim=8, g_repeat=1, d_conv_dim=8, d_repeat=2)
    g_parameters = sum(p.numel() for p in build_generator(model).parameters())
    assert training_bytes(model, 4, g_average=True) - training_bytes(model, 4) == 4 * g_parameters

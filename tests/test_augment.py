"""D's augmentations (`--augment`) and G's identity warm-up (`--warmup-iters`)."""

from __future__ import annotations

import pytest
import torch
from typer.testing import CliRunner

from stargan_cli.cli import app
from stargan_cli.loading import load_checkpoint
from stargan_cli.training import train
from stargan_cli.training.augment import augment, cutout, parse_policy, translate

from train_helpers import TINY, celeba_root, one_thread, read_metrics, tiny  # noqa: F401


def _ramp(batch: int = 64, size: int = 16) -> torch.Tensor:
    """Distinct positive values everywhere, so shifted and zeroed pixels are easy to tell apart."""
    return torch.arange(1, batch * 3 * size * size + 1, dtype=torch.float32).reshape(batch, 3, size, size)


def test_translation_shifts_each_image_by_whole_pixels_within_the_ratio():
    x = _ramp()
    y = translate(x, torch.Generator().manual_seed(0), ratio=0.125)
    assert y.shape == x.shape
    shifts = set()
    for i in range(x.size(0)):
        # Find the shift that explains image i: every non-zero output pixel is an input pixel moved by it.
        found = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
                 if torch.equal(y[i], _shifted(x[i], dy, dx))]
        assert len(found) == 1, f"image {i} is not a pure shift of at most 2 px"
        shifts.add(found[0])
    assert len(shifts) > 10  # per-image random offsets, not one for the batch


def _shifted(image: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """image moved so that output[r, c] = image[r + dy, c + dx], zero outside."""
    out = torch.zeros_like(image)
    h, w = image.shape[1:]
    rs, re = max(0, -dy), min(h, h - dy)
    cs, ce = max(0, -dx), min(w, w - dx)
    out[:, rs:re, cs:ce] = image[:, rs + dy:re + dy, cs + dx:ce + dx]
    return out


def test_cutout_zeroes_one_square_per_image_and_keeps_the_rest():
    x = _ramp()
    y = cutout(x, torch.Generator().manual_seed(1), ratio=0.5)
    zeroed = (y == 0).all(dim=1)  # (B, H, W)
    kept = ~zeroed
    assert torch.equal(y.permute(1, 0, 2, 3)[:, kept], x.permute(1, 0, 2, 3)[:, kept])
    for i in range(x.size(0)):
        rows, cols = zeroed[i].nonzero(as_tuple=True)
        assert 0 < len(rows) <= 64  # at most an 8x8 square, clipped at the border
        box = zeroed[i, rows.min():rows.max() + 1, cols.min():cols.max() + 1]
        assert bool(box.all()), "the zeroed pixels form one rectangle"
    corners = {(int(r.min()), int(c.min())) for r, c in (zeroed[i].nonzero(as_tuple=True) for i in range(64))}
    assert len(corners) > 10


def test_augmentation_is_differentiable_and_reproducible_from_the_generator():
    x = torch.randn(4, 3, 16, 16, requires_grad=True)
    a = augment(x, ("translation", "cutout"), torch.Generator().manual_seed(5))
    b = augment(x, ("translation", "cutout"), torch.Generator().manual_seed(5))
    assert torch.equal(a, b)
    a.sum().backward()
    assert x.grad is not None and 0 < x.grad.sum() < x.numel()  # cut and shifted-out pixels get no gradient
    assert augment(x, (), None) is x


def test_policy_parsing():
    assert parse_policy("Translation, cutout") == ("translation", "cutout")
    assert parse_policy("") == () and parse_policy(None) == ()
    with pytest.raises(ValueError, match="unknown augmentation 'color'"):
        parse_policy("translation,color")


def test_cli_refuses_an_unknown_augmentation(celeba_root, tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--out", str(tmp_path / "run"),
                                      *TINY, "--augment", "colour"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: --augment: unknown augmentation 'colour'")
    assert not (tmp_path / "run").exists()


def test_warmup_trains_g_towards_the_identity_before_the_gan(celeba_root, tmp_path):
    run = train(tiny(celeba_root, tmp_path / "run", iters=12, warmup_iters=8, n_critic=1, log_every=2,
                     save_every=100, sample_every=100, g_lr=1e-3))
    metrics = read_metrics(run)
    warm = [m for m in metrics if m["step"] <= 8]
    gan = [m for m in metrics if m["step"] > 8]
    # The warm-up logs G's identity L1 only; D is untouched until GAN training starts.
    assert all("d_loss" not in m and m["g_rec"] > 0 for m in warm)
    assert warm[-1]["g_rec"] < warm[0]["g_rec"]
    assert all("d_loss" in m and "g_fake" in m for m in gan)


def test_warmup_must_leave_iterations_for_the_gan(celeba_root, tmp_path):
    result = CliRunner().invoke(app, ["train", "--data", str(celeba_root), "--out", str(tmp_path / "run"),
                                      *TINY, "--iters", "4", "--warmup-iters", "4"])
    assert result.exit_code == 2
    assert "--warmup-iters must be 0 or more and less than --iters" in result.output


def test_augmented_training_runs_and_d_still_learns_to_score(celeba_root, tmp_path):
    run = train(tiny(celeba_root, tmp_path / "run", iters=6, augment="translation,cutout", loss="hinge"))
    metrics = read_metrics(run)
    assert all(torch.isfinite(torch.tensor(m["d_loss"])) for m in metrics)
    assert load_checkpoint(run / "final.pt").step == 6

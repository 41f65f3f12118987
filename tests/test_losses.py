"""Pure training losses (the schedule and label tests live in test_schedule.py and test_label_layout.py)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stargan_cli.training.losses import (
    classification_loss,
    critic_loss,
    generator_adversarial_loss,
    gradient_penalty,
    reconstruction_loss,
)


# ------------------------------------------------------------------------------- losses
def test_wgan_critic_and_generator_losses():
    real = torch.tensor([[1.0, 3.0], [2.0, 2.0]])  # mean 2
    fake = torch.tensor([-1.0, 0.0, 4.0])  # mean 1
    d_real, d_fake = critic_loss("wgan-gp", real, fake)
    assert d_real.item() == pytest.approx(-2.0)
    assert d_fake.item() == pytest.approx(1.0)
    assert generator_adversarial_loss("wgan-gp", fake).item() == pytest.approx(-1.0)


def test_hinge_losses():
    real = torch.tensor([2.0, 0.5, -1.0])  # relu(1 - x) = 0, 0.5, 2 -> mean 5/6
    fake = torch.tensor([-3.0, 0.0, 1.0])  # relu(1 + x) = 0, 1, 2 -> mean 1
    d_real, d_fake = critic_loss("hinge", real, fake)
    assert d_real.item() == pytest.approx(2.5 / 3)
    assert d_fake.item() == pytest.approx(1.0)
    assert generator_adversarial_loss("hinge", fake).item() == pytest.approx(2.0 / 3)


def test_unknown_loss_is_rejected():
    with pytest.raises(ValueError):
        critic_loss("lsgan", torch.zeros(1), torch.zeros(1))


def test_gradient_penalty_of_a_linear_critic_is_known():
    # D(x) = <w, x>: its gradient is w everywhere, so the penalty is (||w|| - 1)^2.
    torch.manual_seed(0)
    w = torch.randn(3, 4, 4)
    critic = lambda x: (x * w).flatten(1).sum(1)  # noqa: E731
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    alpha = torch.rand(5, 1, 1, 1)
    gp = gradient_penalty(critic, real, fake, alpha)
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    w_unit = w / w.norm()
    unit_critic = lambda x: (x * w_unit).flatten(1).sum(1)  # noqa: E731
    assert gradient_penalty(unit_critic, real, fake, alpha).item() == pytest.approx(0.0, abs=1e-6)


def test_gradient_penalty_uses_the_interpolates_and_is_differentiable():
    # D(x) = sum x^2 / 2: gradient x_hat, so the penalty depends on where x_hat lies.
    scale = torch.tensor(1.0, requires_grad=True)
    critic = lambda x: scale * (x**2).flatten(1).sum(1) / 2  # noqa: E731
    real = torch.full((2, 1, 1, 2), 2.0)
    fake = torch.zeros(2, 1, 1, 2)
    alpha = torch.tensor([0.0, 0.5]).view(2, 1, 1, 1)
    gp = gradient_penalty(critic, real, fake, alpha)
    # x_hat = 0 -> norm 0 -> (0-1)^2 = 1;  x_hat = (1,1) -> norm sqrt(2) -> (sqrt2 - 1)^2
    expected = (1 + (math.sqrt(2) - 1) ** 2) / 2
    assert gp.item() == pytest.approx(expected, rel=1e-6)
    gp.backward()
    assert scale.grad is not None and scale.grad.item() != 0


def test_classification_losses():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    multi = classification_loss(logits, target, "multi")
    # BCE summed over attributes, averaged over the batch (the official code).
    expected = F.binary_cross_entropy_with_logits(logits, target, reduction="none").sum(1).mean()
    assert multi.item() == pytest.approx(expected.item())
    one_hot = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    single = classification_loss(logits, one_hot, "single")
    manual = -(torch.log_softmax(logits, 1) * one_hot).sum(1).mean()
    assert single.item() == pytest.approx(manual.item())
    with pytest.raises(ValueError):
        classification_loss(logits, target, "joint")


def test_reconstruction_loss_is_mean_absolute_error():
    a = torch.zeros(2, 3, 2, 2)
    b = torch.full((2, 3, 2, 2), 0.5)
    b[0, 0, 0, 0] = -1.5
    assert reconstruction_loss(a, b).item() == pytest.approx((23 * 0.5 + 1.5) / 24)

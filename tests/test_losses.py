"""Pure training pieces: losses, learning-rate schedules."""

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
from stargan_cli.training.schedule import LRSchedule


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


# ------------------------------------------------------------------------------- schedules
def test_paper_schedule_decays_linearly_to_zero():
    s = LRSchedule("paper", g_lr=1e-4, d_lr=2e-4, iters=200_000, decay_iters=100_000)
    assert s.rates(0) == (1e-4, 2e-4)
    assert s.rates(99_999) == (1e-4, 2e-4)
    assert s.rates(100_000) == pytest.approx((1e-4, 2e-4))
    assert s.rates(150_000) == pytest.approx((5e-5, 1e-4))
    assert s.rates(199_999) == pytest.approx((1e-9, 2e-9))
    assert s.factor(200_000) == 0.0


def test_official_schedule_barely_decays():
    s = LRSchedule("official", g_lr=1e-4, d_lr=1e-4, iters=200_000, decay_iters=100_000)
    # The first update follows iteration i = 100,999 (i+1 = 101,000 > iters - decay_iters).
    assert s.factor(100_000) == s.factor(100_999) == 1.0
    assert s.factor(101_000) == s.factor(101_999) == pytest.approx(1 - 1e-5)
    assert s.factor(102_000) == pytest.approx((1 - 1e-5) ** 2)
    assert s.factor(199_999) == pytest.approx((1 - 1e-5) ** 99)
    assert s.factor(200_000) == pytest.approx((1 - 1e-5) ** 100)
    assert 0.998 < s.factor(200_000) < 0.9995
    # The official code subtracts a fixed self.g_lr / num_iters_decay each time: linear, not geometric.
    assert s.factor(200_000) == pytest.approx(1 - 100 / 100_000, rel=1e-12, abs=0)
    assert s.rates(150_000)[0] == pytest.approx(1e-4 * (1 - 50 / 100_000), rel=1e-12, abs=0)


def test_schedule_without_decay_and_validation():
    s = LRSchedule("paper", 1e-4, 1e-4, iters=10, decay_iters=0)
    assert all(s.factor(i) == 1.0 for i in range(11))
    with pytest.raises(ValueError):
        LRSchedule("paper", 1e-4, 1e-4, iters=10, decay_iters=11)
    with pytest.raises(ValueError):
        LRSchedule("cosine", 1e-4, 1e-4, iters=10, decay_iters=5)

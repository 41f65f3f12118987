"""Pure training pieces: losses, learning-rate schedules, target labels, joint labels."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from stargan_cli.attributes import exclusive_hair
from stargan_cli.training.labels import (
    grid_targets,
    hair_mask,
    keep_first_hair_colour,
    label_parts,
    model_label,
    random_targets,
)
from stargan_cli.training.losses import (
    classification_loss,
    critic_loss,
    generator_adversarial_loss,
    gradient_penalty,
    reconstruction_loss,
)

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


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


# ------------------------------------------------------------------------------- labels
def test_random_targets_are_a_permutation_of_the_batch():
    part = label_parts([(("Male", "Young"), "multi")])[0]
    labels = torch.tensor([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    gen = torch.Generator().manual_seed(3)
    targets = random_targets(labels, part, gen)
    assert sorted(map(tuple, targets.tolist())) == sorted(map(tuple, labels.tolist()))
    # Seeded: the same generator state gives the same targets, another seed another order.
    assert torch.equal(targets, random_targets(labels, part, torch.Generator().manual_seed(3)))
    orders = {tuple(map(tuple, random_targets(labels, part, torch.Generator().manual_seed(s)).tolist())) for s in range(10)}
    assert len(orders) > 1


def test_random_targets_make_hair_colours_exclusive():
    part = label_parts([(ATTRS, "multi")])[0]
    labels = torch.tensor([[1.0, 1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0, 1.0], [0.0, 0.0, 0.0, 1.0, 1.0]])
    targets = random_targets(labels, part, torch.Generator().manual_seed(0))
    assert (targets[:, :3].sum(1) <= 1).all()
    assert targets[:, 3:].sum() == labels[:, 3:].sum()  # other attributes untouched
    # Single-domain (one-hot) labels stay as they are.
    domains = label_parts([(("happy", "sad", "angry"), "single")])[0]
    one_hot = torch.eye(3)
    assert (random_targets(one_hot, domains, torch.Generator().manual_seed(0)).sum(1) == 1).all()


def test_hair_exclusivity_matches_the_attributes_module():
    names = ("Male", "Black_Hair", "Young", "Gray_Hair", "Blond_Hair")  # hair columns not adjacent
    labels = (torch.rand(200, 5, generator=torch.Generator().manual_seed(1)) > 0.4).float()
    mine = keep_first_hair_colour(labels, hair_mask(names))
    assert torch.equal(mine, exclusive_hair(labels, names))
    assert (mine[:, [1, 3, 4]].sum(1) <= 1).all() and ((labels[:, [1, 3, 4]].sum(1) > 1)).any()


def test_joint_labels_carry_the_mask_vector():
    celeba, folder = label_parts([(("Blond_Hair", "Male"), "multi"), (("happy", "sad", "angry"), "single")])
    assert (celeba.start, celeba.stop, celeba.mask_index) == (0, 2, 5)
    assert (folder.start, folder.stop, folder.mask_index) == (2, 5, 6)
    c = model_label(torch.tensor([[1.0, 0.0]]), celeba, 7)
    assert c.tolist() == [[1, 0, 0, 0, 0, 1, 0]]
    f = model_label(torch.tensor([[0.0, 0.0, 1.0]]), folder, 7)
    assert f.tolist() == [[0, 0, 0, 0, 1, 0, 1]]
    single = label_parts([(ATTRS, "multi")])[0]
    assert single.mask_index is None
    labels = torch.ones(2, 5)
    assert model_label(labels, single, 5) is labels
    with pytest.raises(ValueError):
        model_label(torch.ones(1, 3), celeba, 7)


def test_grid_targets_follow_the_original_test_images():
    part = label_parts([(ATTRS, "multi")])[0]
    source = torch.tensor([[1.0, 0.0, 0.0, 1.0, 0.0]])
    cols = grid_targets(source, [part], part, 5)
    assert [c.tolist()[0] for c in cols] == [
        [1, 0, 0, 1, 0], [0, 1, 0, 1, 0], [0, 0, 1, 1, 0],  # hair colours, exclusive
        [1, 0, 0, 0, 0], [1, 0, 0, 1, 1],  # Male, Young flipped
    ]
    celeba, folder = label_parts([(("Blond_Hair", "Male"), "multi"), (("happy", "sad"), "single")])
    cols = grid_targets(torch.tensor([[0.0, 1.0]]), [celeba, folder], celeba, 6)
    assert [c.tolist()[0] for c in cols] == [
        [1, 1, 0, 0, 1, 0], [0, 0, 0, 0, 1, 0],  # CelebA targets with the CelebA mask
        [0, 0, 1, 0, 0, 1], [0, 0, 0, 1, 0, 1],  # each folder domain with the folder mask
    ]

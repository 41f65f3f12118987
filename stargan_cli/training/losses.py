"""StarGAN's losses as pure functions of tensors (Choi et al. 2018, eq. 1-7).

Every function takes model outputs (or a critic callable, for the gradient penalty) and
returns a scalar tensor; none holds state or touches a model's parameters.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ..choices import ADVERSARIAL_LOSSES


def _check_kind(kind: str) -> None:
    if kind not in ADVERSARIAL_LOSSES:
        raise ValueError(f"loss must be one of {ADVERSARIAL_LOSSES}, not {kind!r}")


def critic_loss(kind: str, real_scores: torch.Tensor, fake_scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's adversarial loss, as its (real, fake) halves.

    ``wgan-gp``: ``-mean D(real)`` and ``mean D(fake)`` (the gradient penalty is separate).
    ``hinge``: ``mean relu(1 - D(real))`` and ``mean relu(1 + D(fake))``.
    Scores may have any shape (PatchGAN maps); every element counts equally.
    """
    _check_kind(kind)
    if kind == "hinge":
        return F.relu(1.0 - real_scores).mean(), F.relu(1.0 + fake_scores).mean()
    return -real_scores.mean(), fake_scores.mean()


def generator_adversarial_loss(kind: str, fake_scores: torch.Tensor) -> torch.Tensor:
    """The generator's adversarial loss: ``-mean D(fake)`` for both ``wgan-gp`` and ``hinge``."""
    _check_kind(kind)
    return -fake_scores.mean()


def gradient_penalty(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    alpha: torch.Tensor,
) -> torch.Tensor:
    """WGAN-GP penalty ``mean_i (||grad_x D(x_i)||_2 - 1)^2`` on ``x = alpha*real + (1-alpha)*fake``.

    ``alpha`` broadcasts against the images (normally shape (B, 1, 1, 1), uniform in [0, 1]).
    For a patch critic the per-image score is the sum of its patch scores, as in the official
    code (``grad_outputs`` of ones). The graph is kept so that the penalty can be minimised.
    """
    x_hat = (alpha * real.detach() + (1.0 - alpha) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    norm = grad.float().flatten(1).norm(2, dim=1)
    return ((norm - 1.0) ** 2).mean()


def classification_loss(logits: torch.Tensor, target: torch.Tensor, mode: str) -> torch.Tensor:
    """Domain classification loss for ``logits`` and float ``target`` labels of shape (B, n).

    ``multi`` (independent binary attributes, CelebA): binary cross-entropy with logits,
    summed over the attributes and averaged over the batch, as the official code.
    ``single`` (one domain of n, folder datasets): cross-entropy against ``target.argmax(1)``.
    """
    logits = logits.float()
    if mode == "multi":
        return F.binary_cross_entropy_with_logits(logits, target.float(), reduction="sum") / logits.size(0)
    if mode == "single":
        return F.cross_entropy(logits, target.argmax(1))
    raise ValueError(f"classification mode must be multi or single, not {mode!r}")


def reconstruction_loss(real: torch.Tensor, reconstructed: torch.Tensor) -> torch.Tensor:
    """Cycle-consistency loss: mean absolute difference between images and their round trip."""
    return (real.float() - reconstructed.float()).abs().mean()


def mask_size_loss(mask: torch.Tensor, changed: torch.Tensor, floor: float, cap: float) -> torch.Tensor:
    """Keep an attention mask (B, 1, H, W) in [0, 1] from collapsing or saturating.

    Each image's mean opening is pulled above ``floor`` where its target differs from its
    source (``changed``, a (B,) bool tensor: with A = 0 the output is the real input, which D
    cannot reject and the cycle loss rewards, so without a floor the mask closes for good) and
    below ``cap`` everywhere (a mask at 1 is a generator that redraws every pixel). Returns the
    batch mean of ``changed * relu(floor - mean A) + relu(mean A - cap)``.
    """
    opening = mask.float().mean(dim=(1, 2, 3))
    below = F.relu(floor - opening) * changed.to(opening.dtype)
    return (below + F.relu(opening - cap)).mean()


def total_variation_loss(mask: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring mask values, across rows and columns: a
    smooth mask changes regions, not scattered pixels."""
    mask = mask.float()
    return (mask[:, :, 1:] - mask[:, :, :-1]).abs().mean() + (mask[..., 1:] - mask[..., :-1]).abs().mean()

"""The hot path: batch preparation, one discriminator step, one generator step, and the
iterations made of them.

Plain functions over a :class:`~.networks.Networks` bundle and device tensors, with no host
synchronisation: each step's losses come back as one :class:`Losses` (named, detached, on the
device), read by the caller only at log steps. Under DistributedDataParallel, ``G_train``/``D_train`` are the wrapped modules
used for the forward passes whose gradients must be averaged across processes; ``G``/``D`` are
the plain modules, used where no parameter gradient is wanted (the fake images of the D step,
the critic of the G step) and for the gradient penalty, whose double backward then flows into
the same parameters within the single backward pass that DDP synchronises.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..images import normalize
from ..label_layout import LabelPart, model_label
from .augment import augment
from .labels import random_targets
from .losses import (
    classification_loss,
    critic_loss,
    generator_adversarial_loss,
    gradient_penalty,
    mask_size_loss,
    reconstruction_loss,
    total_variation_loss,
)
from .networks import Networks

D_LOSSES = ("d_real", "d_fake", "d_cls", "d_gp", "d_loss")  # what a D step reports
G_LOSSES = ("g_fake", "g_rec", "g_cls", "g_mask", "g_loss")  # what a G step (and a warm-up step) reports


@dataclass(frozen=True, eq=False)
class Losses:
    """One step's detached losses on the device: ``values[i]`` is the loss named ``names[i]``.

    One tensor, so that summing a step's losses between log steps is one in-place add (and a
    CUDA graph has one output per step); read them by name with :meth:`get`.
    """

    names: tuple[str, ...]
    values: torch.Tensor

    def get(self, name: str) -> torch.Tensor:
        """The loss called ``name`` (a 0-d device tensor)."""
        return self.values[self.names.index(name)]


@dataclass(frozen=True)
class LossWeights:
    """Which adversarial loss, the weights of the other terms (the paper's lambdas), the
    augmentations applied to every image D sees (:mod:`.augment`; empty: none), and for a
    mask generator the weights of its mask terms (:func:`.losses.mask_size_loss` between
    ``mask_floor`` and ``mask_cap``, and :func:`.losses.total_variation_loss`)."""

    loss: str = "wgan-gp"
    lambda_cls: float = 1.0
    lambda_rec: float = 10.0
    lambda_gp: float = 10.0
    augment: tuple[str, ...] = ()
    lambda_mask: float = 2.0
    mask_floor: float = 0.1
    mask_cap: float = 0.4
    lambda_mask_tv: float = 1e-3


@dataclass(frozen=True, eq=False)
class StepBatch:
    """What both steps of an iteration work on: the real images, their labels and the targets
    as model labels, and the dataset part whose block of the label the classification losses
    cover."""

    x_real: torch.Tensor
    c_org: torch.Tensor
    c_trg: torch.Tensor
    part: LabelPart


def prepare_images(images: torch.Tensor, generator: torch.Generator | None, flip: bool = True) -> torch.Tensor:
    """uint8 images (B, 3, H, W) already on the device to [-1, 1] floats, each mirrored
    left-right with probability 1/2 (the original's RandomHorizontalFlip), drawn from
    ``generator`` on the device."""
    x = normalize(images)
    if not flip:
        return x
    mirror = torch.rand(x.size(0), generator=generator, device=x.device) < 0.5
    return torch.where(mirror[:, None, None, None], x.flip(3), x)


def _optimizer_step(loss: torch.Tensor, optimizer: torch.optim.Optimizer, scaler: Any) -> None:
    optimizer.zero_grad(set_to_none=True)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def fake_images(nets: Networks, x_real: torch.Tensor, c_trg: torch.Tensor,
                for_generator_step: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """G's translations of ``x_real`` to ``c_trg`` for an iteration's D step, and G's attention
    mask (None for an rgb generator).

    In an iteration with a G step, G has not changed yet when that step starts, so these are
    exactly the images the G step would compute first: they are computed once, with G's graph
    kept (through ``G_train``), and passed to both steps, saving one G forward pass per G step.
    Otherwise no graph is kept.
    """
    with nets.autocast(x_real.device):
        if for_generator_step:
            return nets.G_train(x_real, c_trg, return_mask=True)
        with torch.no_grad():
            return nets.G(x_real, c_trg, return_mask=True)


def discriminator_step(
    nets: Networks,
    batch: StepBatch,
    weights: LossWeights,
    generator: torch.Generator | None,
    x_fake: torch.Tensor | None = None,
) -> Losses:
    """One update of D; returns its :data:`D_LOSSES`.

    ``x_fake``: G's translations of the real images to the targets (:func:`fake_images`),
    computed here when not given. Real and fake images go through D as one batch (D has no
    batch statistics, so this equals two passes). The classification loss covers only the
    batch's part of the label.
    """
    x_real, c_org, part = batch.x_real, batch.c_org, batch.part
    device = x_real.device
    n = x_real.size(0)
    if x_fake is None:
        x_fake, _ = fake_images(nets, x_real, batch.c_trg, for_generator_step=False)
    x_fake = x_fake.detach()
    # With augmentation, D sees (and the penalty is taken between) augmented images only.
    seen = augment(torch.cat([x_real, x_fake.to(x_real.dtype)]), weights.augment, generator)
    with nets.autocast(device):
        src, cls = nets.D_train(seen)
        src_real, src_fake = src.float().split(n)
        d_real, d_fake = critic_loss(weights.loss, src_real, src_fake)
        d_cls = classification_loss(cls[:n, part.start : part.stop], c_org[:, part.start : part.stop], part.mode)
    if weights.loss == "wgan-gp" and weights.lambda_gp:
        alpha = torch.rand(n, 1, 1, 1, generator=generator, device=device)
        seen_real, seen_fake = seen.split(n)
        # Not loss-scaled under fp16: the penalised gradient has norm near 1, far from underflow.
        with nets.autocast(device):
            d_gp = gradient_penalty(lambda x: nets.D(x)[0].float(), seen_real, seen_fake.float(), alpha)
    else:
        d_gp = torch.zeros((), device=device)
    d_loss = d_real + d_fake + weights.lambda_cls * d_cls + weights.lambda_gp * d_gp
    _optimizer_step(d_loss, nets.d_optimizer, nets.d_scaler)
    return Losses(D_LOSSES, torch.stack([d_real, d_fake, d_cls, d_gp, d_loss]).detach())


def generator_step(
    nets: Networks,
    batch: StepBatch,
    weights: LossWeights,
    x_fake: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
    fake_mask: torch.Tensor | None = None,
) -> Losses:
    """One update of G; returns its :data:`G_LOSSES`.

    Translate to the target (or take ``x_fake`` and its ``fake_mask``, :func:`fake_images`
    with G's graph kept), score with D (whose parameters are frozen meanwhile, so no D gradient
    is computed; through the same augmentations as the D step, drawn from ``generator``),
    translate back to the original label for the cycle loss. A mask generator's masks, of both
    translations, are kept between the floor and the cap and smooth (``g_mask``; 0 otherwise).
    """
    x_real, c_org, c_trg, part = batch.x_real, batch.c_org, batch.c_trg, batch.part
    device = x_real.device
    if x_fake is None:
        x_fake, fake_mask = fake_images(nets, x_real, c_trg, for_generator_step=True)
    for p in nets.D.parameters():
        p.requires_grad_(False)
    try:
        with nets.autocast(device):
            src, cls = nets.D(augment(x_fake, weights.augment, generator))
            x_rec, rec_mask = nets.G_train(x_fake, c_org, return_mask=True)
            g_fake = generator_adversarial_loss(weights.loss, src.float())
            g_cls = classification_loss(cls[:, part.start : part.stop], c_trg[:, part.start : part.stop], part.mode)
            g_rec = reconstruction_loss(x_real, x_rec)
        g_mask = torch.zeros((), device=device)
        if fake_mask is not None and rec_mask is not None:
            changed = (c_trg != c_org).any(dim=1)
            for mask in (fake_mask, rec_mask):
                g_mask = g_mask + weights.lambda_mask * mask_size_loss(mask, changed, weights.mask_floor, weights.mask_cap)
                g_mask = g_mask + weights.lambda_mask_tv * total_variation_loss(mask)
        g_loss = g_fake + weights.lambda_rec * g_rec + weights.lambda_cls * g_cls + g_mask
        _optimizer_step(g_loss, nets.g_optimizer, nets.g_scaler)
    finally:
        for p in nets.D.parameters():
            p.requires_grad_(True)
    return Losses(G_LOSSES, torch.stack([g_fake, g_rec, g_cls, g_mask, g_loss]).detach())


def identity_step(nets: Networks, x_real: torch.Tensor, c_org: torch.Tensor) -> Losses:
    """One warm-up update of G alone: translate each image to its own label and pull the result
    towards the input (L1), so that G starts GAN training as an identity map.

    Returns :data:`G_LOSSES` (only ``g_rec`` and ``g_loss`` are non-zero; ``g_loss`` is the
    unweighted L1). A mask generator learns nothing of its mask here: any mask reproduces the
    input once the colour image does.
    """
    with nets.autocast(x_real.device):
        x_same = nets.G_train(x_real, c_org)
        g_rec = reconstruction_loss(x_real, x_same)
    _optimizer_step(g_rec, nets.g_optimizer, nets.g_scaler)
    zero = torch.zeros((), device=x_real.device)
    return Losses(G_LOSSES, torch.stack([zero, g_rec.detach(), zero, zero, g_rec.detach()]))


# ----------------------------------------------------------------------------- one iteration
def real_images(images: torch.Tensor, generator: torch.Generator | None, channels_last: bool) -> torch.Tensor:
    """A device batch of uint8 images as randomly flipped [-1, 1] floats, in the step's layout."""
    x_real = prepare_images(images, generator)
    return x_real.contiguous(memory_format=torch.channels_last) if channels_last else x_real


def run_iteration(
    nets: Networks,
    weights: LossWeights,
    c_dim: int,
    part: LabelPart,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator | None,
    train_g: bool,
    channels_last: bool = False,
) -> tuple[Losses, Losses | None]:
    """One iteration on a device batch: flips, random targets, a D step, a G step if
    ``train_g``. Returns the D losses and the G losses (None without a G step).
    The fake images are computed once for both steps (:func:`fake_images`)."""
    x_real = real_images(images, generator, channels_last)
    label_trg = random_targets(labels, part, generator)
    batch = StepBatch(x_real, model_label(labels, part, c_dim), model_label(label_trg, part, c_dim), part)
    x_fake, fake_mask = fake_images(nets, x_real, batch.c_trg, for_generator_step=train_g)
    d_losses = discriminator_step(nets, batch, weights, generator, x_fake=x_fake)
    g_losses = generator_step(nets, batch, weights, x_fake=x_fake, generator=generator,
                              fake_mask=fake_mask) if train_g else None
    return d_losses, g_losses


def run_identity_iteration(
    nets: Networks,
    c_dim: int,
    part: LabelPart,
    images: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator | None,
    channels_last: bool = False,
) -> Losses:
    """One warm-up iteration on a device batch (flips, then :func:`identity_step`); returns
    the G losses."""
    return identity_step(nets, real_images(images, generator, channels_last), model_label(labels, part, c_dim))

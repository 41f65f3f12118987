"""An exponential moving average of the generator's weights (as in StarGAN v2 and StyleGAN):
translations from the average are smoother than from the weights of any one step."""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay(beta: float, step: int) -> float:
    """The decay used after ``step`` G updates: ``min(beta, (1 + step) / (10 + step))``, so that
    the average follows G closely at the start instead of remembering its random init."""
    return min(beta, (1.0 + step) / (10.0 + step))


def make_ema(G: nn.Module) -> nn.Module:
    """A frozen copy of ``G`` (same device and memory layout) to hold the average, in eval mode."""
    ema = copy.deepcopy(G).eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    return ema


@torch.no_grad()
def update_ema(ema: nn.Module, G: nn.Module, decay: float) -> None:
    """``ema = decay * ema + (1 - decay) * G`` for every parameter; buffers are copied."""
    ema_params = list(ema.parameters())
    torch._foreach_lerp_(ema_params, [p.detach() for p in G.parameters()], 1.0 - decay)
    for mine, theirs in zip(ema.buffers(), G.buffers()):
        mine.copy_(theirs)

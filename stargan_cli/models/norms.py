"""Instance normalisation layers of the generator.

Both always normalise with the statistics of each image, in training and at inference alike.
The official StarGAN code never switches its norms to running statistics, and its released
weights give broken images when one does, so ``eval()`` must not change what they compute.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def instance_norm(x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None,
                  eps: float = 1e-5) -> torch.Tensor:
    """Normalise each channel of each image by its own mean and variance (then ``* weight +
    bias`` per channel, when given).

    On the CPU this is computed as a group norm with one group per channel, the same function:
    PyTorch's CPU instance norm goes through a batch norm over B*C channels with repeated
    weights, 1.6-8x slower in the forward pass alone; whole 128 px generator passes are 4-6%
    faster this way, inference and training alike (``benchmarks/norm_speed.py --generator``,
    benchmarks/RESULTS.md). Elsewhere ``F.instance_norm``: under CUDA autocast a group norm
    would run in fp32, and GPUs are unmeasured.
    """
    if x.device.type == "cpu":
        return F.group_norm(x, x.size(1), weight, bias, eps)
    return F.instance_norm(x, None, None, weight, bias, True, 0.0, eps)


class InstanceNorm(nn.InstanceNorm2d):
    """Affine instance norm with per-image statistics.

    The running-statistics buffers exist only so that the official checkpoints (saved with
    ``track_running_stats=True``) load with strict key checking; they are never used or updated.
    """

    def __init__(self, num_features: int, eps: float = 1e-5) -> None:
        super().__init__(num_features, eps=eps, affine=True, track_running_stats=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return instance_norm(x, self.weight, self.bias, self.eps)


class DomainInstanceNorm(nn.Module):
    """Instance norm whose gain and bias come from per-domain lookup tables.

    ``out = IN(x) * (1 + c @ gain) + c @ bias`` with tables of shape (c_dim, C). For a one-hot
    label ``c`` this is exactly a row lookup (the DLIM2020 variant, ``gain[c]``); for a
    multi-hot label the rows of the attributes that are on add up, so the variant also serves
    attribute lists that are not mutually exclusive. Tables start at zero: a plain IN.
    """

    def __init__(self, num_features: int, c_dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.num_features = num_features
        self.c_dim = c_dim
        self.eps = eps
        self.gain = nn.Parameter(torch.zeros(c_dim, num_features))
        self.bias = nn.Parameter(torch.zeros(c_dim, num_features))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # noqa: D102
        h = instance_norm(x, eps=self.eps)
        c = c.to(h.dtype)
        gain = (c @ self.gain.to(h.dtype))[:, :, None, None]
        bias = (c @ self.bias.to(h.dtype))[:, :, None, None]
        return h * (1 + gain) + bias

    def extra_repr(self) -> str:
        return f"{self.num_features}, c_dim={self.c_dim}"

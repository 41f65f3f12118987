"""The StarGAN generator, in the original "concat" form and the "lookup" form.

Layer indices and parameter names follow the official release (``main.0`` ... ``main.22``,
residual blocks at ``main.9`` ... ``main.14``) so that its checkpoints load with strict
checking. The lookup form keeps the same indices with :class:`DomainInstanceNorm` in place of
each instance norm and takes no label channels at the input.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import NORMS
from .norms import DomainInstanceNorm, InstanceNorm


def _norm(channels: int, c_dim: int, norm: str) -> nn.Module:
    return DomainInstanceNorm(channels, c_dim) if norm == "lookup" else InstanceNorm(channels)


def _run(layers: nn.Sequential, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Apply ``layers`` in order, handing the label to the layers that take one."""
    for layer in layers:
        x = layer(x, c) if isinstance(layer, (DomainInstanceNorm, ResidualBlock)) else layer(x)
    return x


class ResidualBlock(nn.Module):
    """conv3x3 - IN - ReLU - conv3x3 - IN, plus the input."""

    def __init__(self, dim: int, c_dim: int, norm: str = "concat") -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            _norm(dim, c_dim, norm),
            nn.ReLU(inplace=True),
            nn.Conv2d(dim, dim, kernel_size=3, stride=1, padding=1, bias=False),
            _norm(dim, c_dim, norm),
        )

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x + _run(self.main, x, c)


class Generator(nn.Module):
    """StarGAN generator: 7x7 conv, 2 down-sampling convs, residual blocks, 2 up-sampling convs,
    7x7 conv and tanh.

    Args:
        c_dim: length of the label vector.
        conv_dim: channels of the first layer (64 in the paper).
        repeat_num: number of residual blocks (6 in the paper).
        norm: ``"concat"`` tiles the label into ``c_dim`` extra input channels (the original);
            ``"lookup"`` takes every norm's gain and bias from per-domain tables.
    """

    def __init__(self, c_dim: int, conv_dim: int = 64, repeat_num: int = 6, norm: str = "concat"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
        self.c_dim = c_dim
        self.norm = norm
        in_channels = 3 + (c_dim if norm == "concat" else 0)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, conv_dim, kernel_size=7, stride=1, padding=3, bias=False),
            _norm(conv_dim, c_dim, norm),
            nn.ReLU(inplace=True),
        ]
        dim = conv_dim
        for _ in range(2):
            layers += [
                nn.Conv2d(dim, dim * 2, kernel_size=4, stride=2, padding=1, bias=False),
                _norm(dim * 2, c_dim, norm),
                nn.ReLU(inplace=True),
            ]
            dim *= 2
        layers += [ResidualBlock(dim, c_dim, norm) for _ in range(repeat_num)]
        for _ in range(2):
            layers += [
                nn.ConvTranspose2d(dim, dim // 2, kernel_size=4, stride=2, padding=1, bias=False),
                _norm(dim // 2, c_dim, norm),
                nn.ReLU(inplace=True),
            ]
            dim //= 2
        layers += [nn.Conv2d(dim, 3, kernel_size=7, stride=1, padding=3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """Translate images ``x`` (B, 3, H, W) in [-1, 1] to labels ``c`` (B, c_dim)."""
        c = c.to(x.dtype)
        if self.norm == "concat":
            maps = c[:, :, None, None].expand(-1, -1, x.size(2), x.size(3))
            x = torch.cat([x, maps], dim=1)
        return _run(self.main, x, c)

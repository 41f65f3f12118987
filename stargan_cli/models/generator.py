"""The StarGAN generator, in the original "concat" form and the "lookup" form.

Layer indices and parameter names follow the official release (``main.0`` ... ``main.22``,
residual blocks at ``main.9`` ... ``main.14``) so that its checkpoints load with strict
checking. The lookup form keeps the same indices with :class:`DomainInstanceNorm` in place of
each instance norm and takes no label channels at the input.

Two variants change the layout (and so the parameter names after the first up-sampling
layer): ``upsample="resize"`` replaces each transposed convolution by nearest-neighbour x2 and
a 3x3 convolution (no checkerboard; Odena et al., Distill 2016), and ``output="mask"`` ends in
four channels, a colour image C and an attention mask A, and returns ``A*C + (1-A)*x``
(GANimation, Pumarola et al. 2018), so that G leaves alone what it does not need to change.
"""

from __future__ import annotations

import torch
from torch import nn

from ..choices import G_OUTPUTS, UPSAMPLES
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
        output: ``"rgb"`` (tanh image, the original) or ``"mask"`` (colour and attention mask).
        upsample: ``"transposed"`` (the original) or ``"resize"`` (nearest x2 + 3x3 conv).
    """

    def __init__(self, c_dim: int, conv_dim: int = 64, repeat_num: int = 6, norm: str = "concat",
                 output: str = "rgb", upsample: str = "transposed"):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, not {norm!r}")
        if output not in G_OUTPUTS:
            raise ValueError(f"output must be one of {G_OUTPUTS}, not {output!r}")
        if upsample not in UPSAMPLES:
            raise ValueError(f"upsample must be one of {UPSAMPLES}, not {upsample!r}")
        self.c_dim = c_dim
        self.norm = norm
        self.output = output
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
            if upsample == "resize":
                layers += [nn.Upsample(scale_factor=2, mode="nearest"),
                           nn.Conv2d(dim, dim // 2, kernel_size=3, stride=1, padding=1, bias=False)]
            else:
                layers += [nn.ConvTranspose2d(dim, dim // 2, kernel_size=4, stride=2, padding=1, bias=False)]
            layers += [_norm(dim // 2, c_dim, norm), nn.ReLU(inplace=True)]
            dim //= 2
        if output == "mask":
            layers += [nn.Conv2d(dim, 4, kernel_size=7, stride=1, padding=3, bias=False)]
        else:
            layers += [nn.Conv2d(dim, 3, kernel_size=7, stride=1, padding=3, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c: torch.Tensor, return_mask: bool = False):
        """Translate images ``x`` (B, 3, H, W) in [-1, 1] to labels ``c`` (B, c_dim).

        With ``return_mask``, return ``(images, mask)``: the mask (B, 1, H, W) in [0, 1] says
        where the output comes from G's colour image (1) rather than the input (0); it is
        None for an ``rgb`` generator, which redraws every pixel.
        """
        c = c.to(x.dtype)
        h = x
        if self.norm == "concat":
            maps = c[:, :, None, None].expand(-1, -1, x.size(2), x.size(3))
            h = torch.cat([x, maps], dim=1)
        out = _run(self.main, h, c)
        if self.output != "mask":
            return (out, None) if return_mask else out
        color, mask = torch.tanh(out[:, :3]), torch.sigmoid(out[:, 3:4])
        y = mask * color + (1 - mask) * x.to(color.dtype)
        return (y, mask) if return_mask else y

"""The StarGAN discriminator: a PatchGAN critic with an auxiliary domain classifier."""

from __future__ import annotations

import torch
from torch import nn


class Discriminator(nn.Module):
    """``repeat_num`` stride-2 4x4 convs with LeakyReLU(0.01), then two heads.

    ``conv1`` (3x3) scores each patch real or fake; ``conv2`` has a kernel covering the whole
    last feature map and gives ``c_dim`` domain logits. Names follow the official release.
    """

    def __init__(self, image_size: int = 128, c_dim: int = 5, conv_dim: int = 64, repeat_num: int = 6):
        super().__init__()
        if image_size % (2**repeat_num):
            raise ValueError(
                f"image_size {image_size} must be divisible by 2**repeat_num = {2**repeat_num}"
            )
        layers: list[nn.Module] = [nn.Conv2d(3, conv_dim, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
        dim = conv_dim
        for _ in range(1, repeat_num):
            layers += [nn.Conv2d(dim, dim * 2, kernel_size=4, stride=2, padding=1), nn.LeakyReLU(0.01)]
            dim *= 2
        self.main = nn.Sequential(*layers)
        self.conv1 = nn.Conv2d(dim, 1, kernel_size=3, stride=1, padding=1, bias=False)
        self.conv2 = nn.Conv2d(dim, c_dim, kernel_size=image_size // 2**repeat_num, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return patch scores (B, 1, h, w) and domain logits (B, c_dim)."""
        h = self.main(x)
        return self.conv1(h), self.conv2(h).flatten(1)

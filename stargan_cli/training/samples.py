"""Sample grids during training: fixed test images, translated to every single-domain target.

Rows are images; columns are the input, then one translation per target (the original's
``sample_dir`` images). Files are written atomically as ``samples/NNNNNN.jpg``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import nn

from ..images import denormalize, write_image

PADDING = 2


@torch.no_grad()
def sample_grid(G: nn.Module, x: torch.Tensor, targets: Sequence[torch.Tensor], batch: int = 16) -> torch.Tensor:
    """uint8 (3, H, W) grid of ``x`` (n, 3, S, S in [-1, 1]) and ``G(x, t)`` for each target ``t``."""
    columns = [x]
    for target in targets:
        outs = [G(x[i : i + batch], target[i : i + batch]).float() for i in range(0, x.size(0), batch)]
        columns.append(torch.cat(outs))
    images = denormalize(torch.stack(columns, dim=1))  # (n, cols, 3, S, S)
    n, cols, _, size, _ = images.shape
    step = size + PADDING
    grid = torch.zeros(3, n * step + PADDING, cols * step + PADDING, dtype=torch.uint8, device=images.device)
    for r in range(n):
        for c in range(cols):
            top, left = PADDING + r * step, PADDING + c * step
            grid[:, top : top + size, left : left + size] = images[r, c]
    return grid


def save_grid(grid: torch.Tensor, path: str | Path, quality: int = 95) -> Path:
    """Write a uint8 (3, H, W) grid as a JPEG, atomically."""
    from PIL import Image

    image = Image.fromarray(grid.permute(1, 2, 0).cpu().numpy())
    return write_image(image, path, "JPEG", quality=quality)

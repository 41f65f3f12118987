"""Differentiable augmentation of every image the discriminator sees (limited-data training).

With a few thousand training images D can learn them by heart; showing it randomly shifted
images with a square cut out, real and fake alike, keeps it from overfitting while G still
learns the un-augmented distribution, because the same differentiable transform is applied to
G's images before D judges them (Zhao et al. 2020, "Differentiable Augmentation"). Colour
changes are deliberately absent: they would fight the hair-colour labels.

Pure functions of a batch and a random generator, so a resumed run draws the same transforms.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F

TRANSLATION_RATIO = 0.125  # shift of up to 1/8 of the side in each direction, zero-filled
CUTOUT_RATIO = 0.5  # a zeroed square of half the side (a quarter of the area)


def _randint(high: int, size: tuple[int, ...], x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform integers in [0, high) drawn on x's device (floor of uniform floats: no host sync)."""
    u = torch.rand(size, generator=generator, device=x.device)
    return (u * high).long().clamp_(max=high - 1)


def translate(x: torch.Tensor, generator: torch.Generator | None, ratio: float = TRANSLATION_RATIO) -> torch.Tensor:
    """Shift each image by its own random offset of up to ``ratio`` of its side; the uncovered
    border is zero (mid-grey in [-1, 1])."""
    batch, _, height, width = x.shape
    sy, sx = int(height * ratio + 0.5), int(width * ratio + 0.5)
    if sy == 0 and sx == 0:
        return x
    dy = _randint(2 * sy + 1, (batch, 1, 1), x, generator)
    dx = _randint(2 * sx + 1, (batch, 1, 1), x, generator)
    rows = torch.arange(height, device=x.device)[None, :, None] + dy  # index into the padded image
    cols = torch.arange(width, device=x.device)[None, None, :] + dx
    padded = F.pad(x, [sx, sx, sy, sy])
    index = torch.arange(batch, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[index, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, generator: torch.Generator | None, ratio: float = CUTOUT_RATIO) -> torch.Tensor:
    """Zero one square of ``ratio`` of the side per image, at a random place (it may overhang
    the border)."""
    batch, _, height, width = x.shape
    ch, cw = int(height * ratio + 0.5), int(width * ratio + 0.5)
    if ch == 0 or cw == 0:
        return x
    top = _randint(height + 1 - ch % 2, (batch, 1, 1), x, generator) - ch // 2
    left = _randint(width + 1 - cw % 2, (batch, 1, 1), x, generator) - cw // 2
    rows = torch.arange(height, device=x.device)[None, :, None]
    cols = torch.arange(width, device=x.device)[None, None, :]
    inside = (rows >= top) & (rows < top + ch) & (cols >= left) & (cols < left + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


AUGMENTATIONS: dict[str, Callable[[torch.Tensor, torch.Generator | None], torch.Tensor]] = {
    "translation": translate,
    "cutout": cutout,
}


def parse_policy(text: str | Sequence[str] | None) -> tuple[str, ...]:
    """``"translation,cutout"`` (or a list of names) to a tuple of known names; ``""``/None: none.

    Raises ValueError naming the unknown part and the choices.
    """
    if text is None:
        return ()
    parts = text.split(",") if isinstance(text, str) else list(text)
    names = tuple(p.strip().lower() for p in parts if p.strip())
    for name in names:
        if name not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {name!r}: choose from {', '.join(AUGMENTATIONS)}")
    return names


def augment(x: torch.Tensor, policy: Sequence[str], generator: torch.Generator | None) -> torch.Tensor:
    """Apply each augmentation of ``policy`` in order (identity for an empty policy)."""
    for name in policy:
        x = AUGMENTATIONS[name](x, generator)
    return x

"""Training labels: the paper's random targets and the sample grid's targets.

Pure functions of tensors. Where each dataset's labels sit in the model's label vector (the
joint mode's blocks and mask) is :mod:`stargan_cli.label_layout`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import torch

from ..attributes import HAIR_COLORS, keep_first_hair_colour, single_domain_targets
from ..label_layout import LabelPart, model_label

__all__ = ["grid_targets", "hair_mask", "random_targets"]


def hair_mask(names: Sequence[str], device: torch.device | str = "cpu") -> torch.Tensor:
    """Bool (len(names),) tensor marking the hair-colour attributes, made once per device."""
    return _hair_mask(tuple(names), torch.device(device))


@lru_cache(maxsize=32)
def _hair_mask(names: tuple[str, ...], device: torch.device) -> torch.Tensor:
    return torch.tensor([n in HAIR_COLORS for n in names], dtype=torch.bool, device=device)


def random_targets(labels: torch.Tensor, part: LabelPart, generator: torch.Generator | None = None) -> torch.Tensor:
    """The paper's training targets: the batch's labels in a random order.

    The permutation is drawn on the labels' device (the order of uniform keys), so the hot loop
    never waits for the host. For multi-attribute blocks the hair colours of the result are
    made exclusive (CelebA annotates a few faces with two hair colours; a target asks for one).
    """
    keys = torch.rand(labels.size(0), generator=generator, device=labels.device)
    targets = labels[keys.argsort()]
    if part.mode == "multi" and sum(n in HAIR_COLORS for n in part.names) > 1:
        targets = keep_first_hair_colour(targets, hair_mask(part.names, labels.device))
    return targets


def grid_targets(source: torch.Tensor, parts: Sequence[LabelPart], active: LabelPart, c_dim: int) -> list[torch.Tensor]:
    """Model labels for the columns of a sample grid, as the original's test images.

    ``source`` (B, active.width) are the labels of the row images. For the images' own block:
    a multi-attribute block gets one target per attribute (a hair colour set with the others
    off, any other attribute flipped), a single-domain block one target per domain. In joint
    mode the other blocks follow, each starting from all-zero labels.
    """
    columns: list[torch.Tensor] = []
    for part in parts:
        own = source if part is active else source.new_zeros(source.size(0), part.width)
        if part.mode == "multi":
            blocks = single_domain_targets(own, part.names)
        else:
            eye = torch.eye(part.width, dtype=source.dtype, device=source.device)
            blocks = [eye[i].expand(source.size(0), -1) for i in range(part.width)]
        columns.extend(model_label(block, part, c_dim) for block in blocks)
    return columns

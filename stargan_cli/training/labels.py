"""Training labels: where each dataset's labels sit in the model's label vector, the paper's
random targets, the joint label with the mask vector, and the sample grid's targets.

Pure functions of tensors. In joint mode (``--dataset both``) the model's label is
``[CelebA attributes, folder domains, mask(2)]``: a CelebA batch fills the first block and sets
mask ``[1, 0]``, a folder batch fills the second block and sets mask ``[0, 1]``, and the other
block stays zero, as in the StarGAN paper (section 3.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import torch

from ..attributes import HAIR_COLORS, keep_first_hair_colour, single_domain_targets


@dataclass(frozen=True)
class LabelPart:
    """One dataset's block of the model's label vector.

    ``start:stop`` is the block, ``mode`` its classification loss (``multi``: BCE over
    independent attributes; ``single``: cross-entropy over exclusive domains), ``names`` its
    attribute or domain names, ``mask_index`` the position of its mask bit (joint mode only).
    """

    start: int
    stop: int
    mode: str
    names: tuple[str, ...]
    mask_index: int | None = None

    @property
    def width(self) -> int:
        """Number of attributes or domains in the block."""
        return self.stop - self.start


def label_parts(blocks: Sequence[tuple[Sequence[str], str]]) -> list[LabelPart]:
    """Lay out the label blocks ``[(names, mode), ...]`` one after the other.

    With two blocks (joint training) a 2-dim mask follows them; with one block there is no mask.
    """
    parts: list[LabelPart] = []
    start = 0
    total = sum(len(names) for names, _ in blocks)
    joint = len(blocks) > 1
    for i, (names, mode) in enumerate(blocks):
        stop = start + len(names)
        parts.append(LabelPart(start, stop, mode, tuple(names), total + i if joint else None))
        start = stop
    return parts


def model_label(labels: torch.Tensor, part: LabelPart, c_dim: int) -> torch.Tensor:
    """Place a dataset's labels (B, part.width) into the model's (B, c_dim) label vector.

    The other blocks are zero; in joint mode the part's mask bit is set.
    """
    if labels.size(1) != part.width:
        raise ValueError(f"labels have {labels.size(1)} columns, the block has {part.width}")
    if part.start == 0 and part.stop == c_dim:
        return labels
    out = labels.new_zeros(labels.size(0), c_dim)
    out[:, part.start : part.stop] = labels
    if part.mask_index is not None:
        out[:, part.mask_index] = 1
    return out


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

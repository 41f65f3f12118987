"""How a model's labels are laid out, and how a set of targets is named.

A model's attributes (``config.attributes``) are, in order: independent on/off attributes
(all of them for a CelebA ``multi`` model, none for a ``single`` folder model, the CelebA
block of a ``joint`` one), then exclusive domains of which exactly one is on. Shared by the
Translator, the grid columns and the webcam targets; pure functions, no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from .models.config import ModelConfig


def exclusive_block_start(config: "ModelConfig") -> int:
    """Index of the first exclusive (single-label) domain in ``config.attributes``."""
    if config.label_mode == "multi":
        return len(config.attributes)
    if config.label_mode == "single":
        return 0
    return int(config.joint_split)


def target_name(targets: Mapping[str, float]) -> str:
    """File-name friendly name of a target set: ``Blond_Hair+Male=0``."""
    parts = []
    for name, value in targets.items():
        parts.append(name if value == 1 else f"{name}={value:g}")
    return "+".join(parts)


__all__ = ["exclusive_block_start", "target_name"]

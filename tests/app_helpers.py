"""Shared by the `stargan app` tests: tiny checkpoints and the sample photo."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch

from stargan_cli.checkpoints import Checkpoint, save_checkpoint
from stargan_cli.image_files import example_image_path
from stargan_cli.models import ModelConfig, build_discriminator, build_generator

ATTRS = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")


def tiny_checkpoint(path: Path, attributes: Sequence[str] = ATTRS, seed: int = 0, with_d: bool = True,
                    label_mode: str = "multi", g_output: str = "rgb") -> Path:
    """A random 32 px model with a few channels, saved at ``path``."""
    torch.manual_seed(seed)
    config = ModelConfig(attributes=tuple(attributes), image_size=32, g_conv_dim=8, g_repeat=1,
                         d_conv_dim=8, d_repeat=2, label_mode=label_mode, g_output=g_output)
    G, D = build_generator(config), build_discriminator(config)
    save_checkpoint(Checkpoint(config, G.state_dict(), D.state_dict() if with_d else None), path)
    return path


def sample_bytes() -> bytes:
    """The bundled portrait (one face), as uploaded."""
    return example_image_path().read_bytes()

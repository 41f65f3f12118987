"""Loading any StarGAN checkpoint: ours, an official ``NNNNNN-G.ckpt`` or a DLIM2020 file.

This module sits above the two it dispatches to: :mod:`stargan_cli.checkpoints` knows only our
format, :mod:`stargan_cli.legacy` only the layouts of other code. A file is read once, safely
(no pickled code), and recognised by what it holds, not by its name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from . import legacy
from .checkpoints import Checkpoint, check_config, checkpoint_from_payload, read_state_file
from .errors import StarganError


def checkpoint_from_any(payload: Any, path: Path) -> Checkpoint:
    """Build a Checkpoint from what :func:`read_state_file` returned for ``path``: our format,
    else a foreign layout converted on the fly; anything else is a StarganError."""
    checkpoint = checkpoint_from_payload(payload, path)
    if checkpoint is None:
        checkpoint = legacy.convert_any(payload, path)
    if checkpoint is None:
        raise StarganError(
            f"{path} is not a StarGAN checkpoint: neither this tool's format, an official "
            "NNNNNN-G.ckpt nor a DLIM2020 model"
        )
    return checkpoint


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint of ours, an official ``NNNNNN-G.ckpt`` (its ``-D.ckpt`` beside it is
    picked up) or a DLIM2020 file. Never executes pickled code; the stored config is checked
    (:func:`~stargan_cli.checkpoints.check_config`) before anything is built from it."""
    path = Path(path)
    checkpoint = checkpoint_from_any(read_state_file(path), path)
    checkpoint.path = path
    check_config(checkpoint)
    return checkpoint

"""Our checkpoint format: one self-describing file per checkpoint.

A checkpoint holds the format version, the model config, the training step, the G and D
weights, and for training checkpoints the optimizer, schedule and RNG states. Files are
written atomically (temp file + rename) and read with ``torch.load(weights_only=True)``, which
refuses pickled code. Official StarGAN ``NNNNNN-G.ckpt`` files and DLIM2020 checkpoints are
recognised by their layout and converted on the fly (see :mod:`stargan_cli.legacy`).
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import StarganError
from .fileio import atomic_write  # re-exported: callers import it from here
from .models.config import ModelConfig

if TYPE_CHECKING:
    import torch
    from torch import nn

FORMAT_NAME = "stargan-cli-checkpoint"
FORMAT_VERSION = 1
SUFFIX = ".pt"


@dataclass
class Checkpoint:
    """Everything one checkpoint file holds."""

    config: ModelConfig
    G: dict[str, "torch.Tensor"]
    D: dict[str, "torch.Tensor"] | None = None
    step: int = 0
    training: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def to_payload(self) -> dict[str, Any]:
        """The dict that is written to disk."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "step": int(self.step),
            "G": self.G,
            "D": self.D,
            "training": self.training,
            "meta": dict(self.meta),
        }


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    """Write ``checkpoint`` to ``path`` atomically; a crash never leaves a half-written file."""
    import torch

    payload = checkpoint.to_payload()
    return atomic_write(path, lambda tmp: torch.save(payload, tmp))


def read_state_file(path: str | os.PathLike) -> Any:
    """Read a torch file safely (no pickled code), with clear errors naming the file."""
    import torch

    path = Path(path)
    if not path.exists():
        raise StarganError(f"checkpoint {path} does not exist")
    if path.is_dir():
        raise StarganError(f"{path} is a folder, not a checkpoint file")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        # torch words every refusal as "Weights only load failed"; only a blocked global or
        # class means pickled objects, anything else (e.g. "Unsupported operand") is damage.
        if re.search(r"global|class", str(err), re.IGNORECASE):
            raise StarganError(
                f"refusing to load {path}: it holds pickled objects other than tensors "
                "(possibly code); only plain weight files are loaded"
            ) from None
        raise StarganError(f"{path} is not a valid checkpoint (corrupt file)") from None
    except (PermissionError, IsADirectoryError) as err:
        raise StarganError(f"cannot read {path}: {err.strerror}; check its permissions") from None
    except Exception as err:  # torch raises many types for damaged files
        detail = (str(err).splitlines() or [type(err).__name__])[0][:80]
        raise StarganError(f"{path} is not a readable checkpoint (truncated or corrupt: {detail})") from None


def checkpoint_from_payload(payload: Any, path: Path) -> Checkpoint:
    """Build a Checkpoint from what :func:`read_state_file` returned, converting legacy layouts."""
    if isinstance(payload, dict) and payload.get("format") == FORMAT_NAME:
        version = payload.get("format_version")
        if not isinstance(version, int) or version > FORMAT_VERSION:
            raise StarganError(
                f"{path} was written by a newer stargan (format {version}); upgrade stargan"
            )
        try:
            config = ModelConfig.from_dict(payload["config"])
            return Checkpoint(
                config=config,
                G=payload["G"],
                D=payload.get("D"),
                step=int(payload.get("step", 0)),
                training=payload.get("training"),
                meta=dict(payload.get("meta") or {}),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise StarganError(f"{path} is a damaged stargan checkpoint ({err})") from None
    from . import legacy

    converted = legacy.convert_any(payload, path)
    if converted is None:
        raise StarganError(
            f"{path} is not a StarGAN checkpoint: neither this tool's format, an official "
            "NNNNNN-G.ckpt nor a DLIM2020 model"
        )
    return converted


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Load a checkpoint of ours, an official ``NNNNNN-G.ckpt`` (its ``-D.ckpt`` beside it is
    picked up) or a DLIM2020 file. Never executes pickled code."""
    path = Path(path)
    return checkpoint_from_payload(read_state_file(path), path)


def build_models(
    checkpoint: Checkpoint, device: "torch.device | str" = "cpu", with_discriminator: bool = True
) -> tuple["nn.Module", "nn.Module | None"]:
    """Networks of ``checkpoint`` with its weights loaded (strict), in eval mode on ``device``."""
    from .models import build_discriminator, build_generator

    G = build_generator(checkpoint.config)
    _load_strict(G, checkpoint.G, "generator", checkpoint)
    D = None
    if with_discriminator and checkpoint.D is not None:
        D = build_discriminator(checkpoint.config)
        _load_strict(D, checkpoint.D, "discriminator", checkpoint)
        D = D.to(device).eval()
    return G.to(device).eval(), D


def _load_strict(module: "nn.Module", state: dict, what: str, checkpoint: Checkpoint) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0][:120]
        source = checkpoint.meta.get("source", "checkpoint")
        raise StarganError(
            f"the {what} weights in {source} do not match its config "
            f"({checkpoint.config.describe()}): {first}"
        ) from None


def compact_checkpoint(checkpoint: Checkpoint, half: bool = True, keep_discriminator: bool = True) -> Checkpoint:
    """A copy of ``checkpoint`` for shipping: weights only (no optimizer, schedule or RNG
    state), floating-point tensors in fp16 when ``half`` (loading casts them back to the
    model's precision), D dropped unless ``keep_discriminator`` (translation then needs
    ``--source-attrs``)."""
    import torch

    def shrink(state: dict[str, "torch.Tensor"]) -> dict[str, "torch.Tensor"]:
        return {
            k: (v.detach().to("cpu", torch.float16) if half and v.is_floating_point() else v.detach().cpu()).clone()
            for k, v in state.items()
        }

    return Checkpoint(
        config=checkpoint.config,
        G=shrink(checkpoint.G),
        D=shrink(checkpoint.D) if keep_discriminator and checkpoint.D is not None else None,
        step=checkpoint.step,
        training=None,
        meta={**checkpoint.meta, "compact": {"half": half, "discriminator": keep_discriminator}},
    )

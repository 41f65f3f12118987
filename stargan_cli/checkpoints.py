"""Our checkpoint format: one self-describing file per checkpoint.

A checkpoint holds the format version, the model config, the training step, the G and D
weights, the moving average of G's weights where the run kept one, and for training checkpoints the optimizer, schedule and RNG states. Files are
written atomically (temp file + rename) and read with ``torch.load(weights_only=True)``, which
refuses pickled code. Loading a file of any layout (ours, official StarGAN, DLIM2020) is
:func:`stargan_cli.loading.load_checkpoint`; this module knows only our own format.
"""

from __future__ import annotations

import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import StarganError
from .fileio import atomic_write
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
    G_ema: dict[str, "torch.Tensor"] | None = None
    training: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    path: Path | None = field(default=None, compare=False)  # the file it was read from

    def to_payload(self) -> dict[str, Any]:
        """The dict that is written to disk."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "step": int(self.step),
            "G": self.G,
            "D": self.D,
            "G_ema": self.G_ema,
            "training": self.training,
            "meta": dict(self.meta),
        }


def save_checkpoint(checkpoint: Checkpoint, path: str | os.PathLike) -> Path:
    """Write ``checkpoint`` to ``path`` atomically; a crash never leaves a half-written file."""
    import torch

    payload = checkpoint.to_payload()

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as raw:
            sink = _KeepWriteError(raw)
            try:
                torch.save(payload, sink)
            except RuntimeError:
                if sink.error is not None:  # torch reports the OSError only as "write failed"
                    raise sink.error from None
                raise

    return atomic_write(path, write)


class _KeepWriteError:
    """A file wrapper that remembers the OSError of a failed write (a full disk), which torch
    would otherwise replace by a RuntimeError without its errno."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.error: OSError | None = None

    def write(self, data: Any) -> int:  # noqa: D102
        try:
            return self.raw.write(data)
        except OSError as err:
            self.error = err
            raise

    def flush(self) -> None:  # noqa: D102
        self.raw.flush()


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


def checkpoint_from_payload(payload: Any, path: Path) -> Checkpoint | None:
    """Build a Checkpoint from what :func:`read_state_file` returned, when it is in our format;
    ``None`` when it is not (another layout, or not a checkpoint at all)."""
    if not (isinstance(payload, dict) and payload.get("format") == FORMAT_NAME):
        return None
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
            G_ema=payload.get("G_ema"),
            step=int(payload.get("step", 0)),
            training=payload.get("training"),
            meta=dict(payload.get("meta") or {}),
        )
    except (KeyError, TypeError, ValueError) as err:
        raise StarganError(f"{path} is a damaged stargan checkpoint ({err})") from None


# Sizes a real model stays well inside; a config past them is damage (or an attack: a
# g_conv_dim of 10**6 would make the networks ask for terabytes before any weight is read).
CONFIG_LIMITS: dict[str, tuple[int, int]] = {
    "image_size": (8, 4096), "g_conv_dim": (1, 4096), "d_conv_dim": (1, 4096),
    "g_repeat": (0, 64), "d_repeat": (1, 12),
}
MAX_ATTRIBUTES = 1024


def _config_problem(config: ModelConfig) -> str | None:
    """What is impossible about ``config``, or None."""
    for name, (low, high) in CONFIG_LIMITS.items():
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"{name} {value!r} is outside {low}..{high}"
    attrs = config.attributes
    if len(attrs) > MAX_ATTRIBUTES or not all(isinstance(a, str) and a for a in attrs):
        return f"its attribute list is not {MAX_ATTRIBUTES} names or fewer"
    if len(set(attrs)) != len(attrs):
        return "its attribute list repeats a name"
    if not isinstance(config.joint_split, int) or not 0 <= config.joint_split <= len(attrs):
        return f"joint_split {config.joint_split!r} is outside 0..{len(attrs)}"
    if config.image_size % 2**config.d_repeat:
        return f"image_size {config.image_size} is not divisible by 2**d_repeat = {2**config.d_repeat}"
    return None


# Norm-layer step counters a state dict may lack: PyTorch 0.4.0, which saved the official
# StarGAN release, did not have them yet. They are never read by our norms; loading fills
# them with 0 (:func:`with_step_counters`), as torch itself does for such old files.
STEP_COUNTER = "num_batches_tracked"


def _is_step_counter(key: str) -> bool:
    return key.rsplit(".", 1)[-1] == STEP_COUNTER


def with_step_counters(module: "nn.Module", state: dict) -> dict:
    """``state`` plus a zero for each norm step counter of ``module`` it lacks."""
    import torch

    missing = [k for k in module.state_dict() if _is_step_counter(k) and k not in state]
    if not missing:
        return state
    return {**state, **{k: torch.tensor(0, dtype=torch.long) for k in missing}}


def _shape_mismatch(module: "nn.Module", state: Any) -> str | None:
    """How ``state`` differs from ``module``'s parameters in names and shapes, or None (a
    missing norm step counter is no difference: see :data:`STEP_COUNTER`)."""
    import torch

    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        return "the weights are not a name -> tensor table"
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    missing = sorted(k for k in set(expected) - set(state) if not _is_step_counter(k))
    if missing:
        return f"missing {missing[0]}" + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
    unexpected = sorted(set(state) - set(expected))
    if unexpected:
        return f"unexpected {unexpected[0]}" + (f" and {len(unexpected) - 1} more" if len(unexpected) > 1 else "")
    for key, shape in expected.items():
        if key in state and tuple(state[key].shape) != shape:
            return f"{key} has shape {list(state[key].shape)}, the config needs {list(shape)}"
    return None


def check_config(checkpoint: Checkpoint) -> None:
    """Refuse a checkpoint whose stored config is outside sane sizes or does not fit its own
    weights, or whose weights hold NaN or infinite values, before any network is built for real (the comparison builds them on torch's
    ``meta`` device, which allocates nothing)."""
    import torch

    from .models import build_discriminator, build_generator

    name = checkpoint.path or checkpoint.meta.get("source", "the checkpoint")
    problem = _config_problem(checkpoint.config)
    if problem is not None:
        raise StarganError(f"{name} holds an impossible model config ({problem}): the file is damaged")
    with torch.device("meta"):
        networks = [("generator", build_generator(checkpoint.config), checkpoint.G)]
        if checkpoint.G_ema is not None:
            networks.append(("generator average", build_generator(checkpoint.config), checkpoint.G_ema))
        if checkpoint.D is not None:
            networks.append(("discriminator", build_discriminator(checkpoint.config), checkpoint.D))
    for what, module, state in networks:
        mismatch = _shape_mismatch(module, state)
        if mismatch is not None:
            raise StarganError(
                f"the {what} weights in {name} do not match its config "
                f"({checkpoint.config.describe()}): {mismatch}"
            )
    for what, _, state in networks:
        broken = _first_non_finite(state)
        if broken is not None:
            raise StarganError(
                f"the {what} weight {broken} in {name} holds NaN or infinite values (training "
                "diverged, or the file is damaged): use an earlier checkpoint"
            )


def _first_non_finite(state: dict) -> str | None:
    """The name of the first floating-point tensor of ``state`` with a NaN or an infinity."""
    import torch

    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            return key
    return None


def build_models(
    checkpoint: Checkpoint, device: "torch.device | str" = "cpu", with_discriminator: bool = True
) -> tuple["nn.Module", "nn.Module | None"]:
    """Networks of ``checkpoint`` with its weights loaded (strict), in eval mode on ``device``.
    G gets the moving average of its weights where the checkpoint has one."""
    from .models import build_discriminator, build_generator

    G = build_generator(checkpoint.config)
    _load_strict(G, checkpoint.G_ema if checkpoint.G_ema is not None else checkpoint.G, "generator", checkpoint)
    D = None
    if with_discriminator and checkpoint.D is not None:
        D = build_discriminator(checkpoint.config)
        _load_strict(D, checkpoint.D, "discriminator", checkpoint)
        D = D.to(device).eval()
    return G.to(device).eval(), D


def _load_strict(module: "nn.Module", state: dict, what: str, checkpoint: Checkpoint) -> None:
    try:
        module.load_state_dict(with_step_counters(module, state), strict=True)
    except RuntimeError as err:
        first = str(err).splitlines()[0][:120]
        source = checkpoint.path or checkpoint.meta.get("source", "checkpoint")
        raise StarganError(
            f"the {what} weights in {source} do not match its config "
            f"({checkpoint.config.describe()}): {first}"
        ) from None


def compact_checkpoint(checkpoint: Checkpoint, half: bool = True, keep_discriminator: bool = True) -> Checkpoint:
    """A copy of ``checkpoint`` for shipping: weights only (no optimizer, schedule or RNG
    state), floating-point tensors in fp16 when ``half`` (loading casts them back to the
    model's precision), D dropped unless ``keep_discriminator`` (translation then needs
    ``--source-attrs``). Where there is a moving average of G, it is shipped as G (what
    translation uses) and the raw G is dropped."""
    import torch

    def shrink(state: dict[str, "torch.Tensor"]) -> dict[str, "torch.Tensor"]:
        return {
            k: (v.detach().to("cpu", torch.float16) if half and v.is_floating_point() else v.detach().cpu()).clone()
            for k, v in state.items()
        }

    return Checkpoint(
        config=checkpoint.config,
        G=shrink(checkpoint.G_ema if checkpoint.G_ema is not None else checkpoint.G),
        D=shrink(checkpoint.D) if keep_discriminator and checkpoint.D is not None else None,
        step=checkpoint.step,
        training=None,
        meta={**checkpoint.meta, "compact": {"half": half, "discriminator": keep_discriminator,
                                             "ema": checkpoint.G_ema is not None}},
    )

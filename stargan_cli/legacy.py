"""Import of checkpoints made by other code, all in one place.

- The official StarGAN release (yunjey/stargan): ``NNNNNN-G.ckpt`` / ``NNNNNN-D.ckpt`` plain
  state dicts whose names our concat models share exactly.
- The DLIM2020 student project (github.com/nigalsan1/DLIM2020, ``StarGAN_new_IN/model.py``): a
  lookup-norm generator whose modules are ``L1`` ... ``L23`` (a residual block's own are
  ``L1`` ... ``L5``), each conditional norm with ``nn.Embedding`` tables ``gain`` and ``bias``
  (index = argmax of the label; ``out = IN(x) * (1 + gain) + bias``, per-image statistics as
  its solver never calls ``eval()``) and unused ``stored_mean``/``stored_var`` buffers. Its
  convolutions and tables are mapped onto ours in network order, checked by shape.

The official file-name rules (``NNNNNN-G.ckpt``, its ``-D.ckpt`` sibling) are here too, for
everything that recognises such files. Loading a file of any layout, ours included, is
:func:`stargan_cli.loading.load_checkpoint`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from .attributes import DEFAULT_ATTRIBUTES, HAIR_COLORS
from .checkpoints import Checkpoint, check_config, read_state_file
from .errors import StarganError
from .models.config import ModelConfig

if TYPE_CHECKING:
    import torch

# The official release's file names: NNNNNN-G.ckpt, its discriminator NNNNNN-D.ckpt beside it.
OFFICIAL_STEP_RE = re.compile(r"^(\d+)-([GD])\.ckpt$")


def is_official_generator_name(path: Path) -> bool:
    """Whether ``path`` is named as an official generator, ``NNNNNN-G.ckpt``."""
    match = OFFICIAL_STEP_RE.match(path.name)
    return bool(match and match.group(2) == "G")


def is_official_discriminator_name(path: Path) -> bool:
    """Whether ``path`` is named as an official discriminator, ``NNNNNN-D.ckpt``."""
    match = OFFICIAL_STEP_RE.match(path.name)
    return bool(match and match.group(2) == "D")


def official_step(path: Path) -> int:
    """The training step in an official file name (``200000-G.ckpt``: 200000), else 0."""
    match = OFFICIAL_STEP_RE.match(path.name)
    return int(match.group(1)) if match else 0


def official_discriminator_path(g_path: Path) -> Path | None:
    """The ``NNNNNN-D.ckpt`` beside an official ``NNNNNN-G.ckpt``, when it exists."""
    match = OFFICIAL_STEP_RE.match(g_path.name)
    if not match or match.group(2) != "G":
        return None
    sibling = g_path.with_name(f"{match.group(1)}-D.ckpt")
    return sibling if sibling.exists() else None


# nn.DataParallel saves its wrapped module's names under this prefix.
DATA_PARALLEL_PREFIX = "module."


def unwrap_data_parallel(state: Any) -> Any:
    """``state`` without the ``module.`` prefix that nn.DataParallel gives every name (when all
    names have it); anything else is returned as it is."""
    if not (isinstance(state, dict) and state):
        return state
    if not all(isinstance(k, str) and k.startswith(DATA_PARALLEL_PREFIX) for k in state):
        return state
    return {k[len(DATA_PARALLEL_PREFIX):]: v for k, v in state.items()}


def _is_official_generator(state: Any) -> bool:
    return isinstance(state, dict) and "main.0.weight" in state and "main.1.running_mean" in state


def _is_official_discriminator(state: Any) -> bool:
    return isinstance(state, dict) and "conv1.weight" in state and "conv2.weight" in state


def _is_dlim(state: Any) -> bool:
    return isinstance(state, dict) and any(str(k).startswith("L1.") for k in state)


def default_attributes(c_dim: int) -> tuple[str, ...]:
    """Attribute names assumed for a checkpoint that does not store them."""
    if c_dim == len(DEFAULT_ATTRIBUTES):
        return DEFAULT_ATTRIBUTES
    hair = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair")
    if c_dim in (3, 4):
        return hair[:c_dim]
    raise StarganError(
        f"this checkpoint has {c_dim} labels and does not name them: pass its attributes "
        "(e.g. --attrs Black_Hair,Blond_Hair,...)"
    )


def official_config(
    g_state: dict, d_state: dict | None, attributes: Sequence[str] | None, image_size: int | None
) -> ModelConfig:
    """Infer the config of an official checkpoint pair from the tensor shapes."""
    c_dim = int(g_state["main.0.weight"].shape[1]) - 3
    conv_dim = int(g_state["main.0.weight"].shape[0])
    repeat = len({k.split(".")[1] for k in g_state if re.match(r"main\.\d+\.main\.", k)})
    attrs = tuple(attributes) if attributes else default_attributes(c_dim)
    if len(attrs) != c_dim:
        raise StarganError(
            f"the checkpoint takes {c_dim} labels but {len(attrs)} attributes were given"
        )
    d_conv, d_repeat = 64, 6
    if d_state is not None:
        d_conv = int(d_state["main.0.weight"].shape[0])
        d_repeat = len([k for k in d_state if re.match(r"main\.\d+\.weight$", k)])
        kernel = int(d_state["conv2.weight"].shape[-1])
        inferred = kernel * 2**d_repeat
        if image_size is not None and image_size != inferred:
            raise StarganError(
                f"the discriminator was built for {inferred} px images, not {image_size}"
            )
        image_size = inferred
    return ModelConfig(
        attributes=attrs,
        image_size=image_size or 128,
        norm="concat",
        g_conv_dim=conv_dim,
        g_repeat=repeat,
        d_conv_dim=d_conv,
        d_repeat=d_repeat,
    )


def convert_official(
    g_path: str | Path,
    d_path: str | Path | None = None,
    attributes: Sequence[str] | None = None,
    image_size: int | None = None,
) -> Checkpoint:
    """Convert an official ``NNNNNN-G.ckpt`` (and its ``-D.ckpt``) into a :class:`Checkpoint`.

    Defaults are those of the published CelebA models: the 5 attributes Black_Hair,
    Blond_Hair, Brown_Hair, Male, Young. ``d_path`` defaults to the ``-D.ckpt`` beside ``g_path``.
    """
    g_path = Path(g_path)
    g_state = unwrap_data_parallel(read_state_file(g_path))
    if not _is_official_generator(g_state):
        raise StarganError(f"{g_path} is not an official StarGAN generator checkpoint")
    d_state = None
    if d_path is None:
        d_path = official_discriminator_path(g_path)
    if d_path is not None:
        d_state = unwrap_data_parallel(read_state_file(d_path))
        if not _is_official_discriminator(d_state):
            raise StarganError(f"{d_path} is not an official StarGAN discriminator checkpoint")
    return _official_checkpoint(g_state, d_state, g_path, attributes, image_size)


def _official_checkpoint(
    g_state: dict, d_state: dict | None, g_path: Path, attributes, image_size
) -> Checkpoint:
    config = official_config(g_state, d_state, attributes, image_size)
    ckpt = Checkpoint(
        config=config,
        G=dict(g_state),
        D=dict(d_state) if d_state is not None else None,
        step=official_step(g_path),
        meta={"source": str(g_path), "origin": "official StarGAN release"},
    )
    check_config(ckpt)  # names and shapes against the inferred config, with a clear error
    return ckpt


def _natural_key(key: str) -> list[Any]:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", key)]


def convert_dlim2020(
    state: dict, source: str = "DLIM2020 checkpoint", attributes: Sequence[str] | None = None,
    image_size: int = 128,
) -> Checkpoint:
    """Map a DLIM2020 lookup-norm generator (``L1`` ... ``L23``) onto our lookup generator.

    Convolution weights (4-D tensors) and the ``gain``/``bias`` embedding tables are taken in
    network order (natural sort of the layer names) and matched to ours by shape.
    """
    import torch

    from .models import build_generator

    keys = sorted((k for k in state if isinstance(state[k], torch.Tensor)), key=_natural_key)
    convs = [k for k in keys if state[k].dim() == 4]
    gains = [k for k in keys if re.search(r"(^|\.)gain(\.weight)?$", k)]
    biases = [k for k in keys if re.search(r"(^|\.)bias(\.weight)?$", k) and state[k].dim() == 2]
    if not convs or not gains or len(gains) != len(biases):
        raise StarganError(f"{source} does not have the DLIM2020 layout (L1..L23 with gain/bias tables)")
    c_dim = int(state[gains[0]].shape[0])
    conv_dim = int(state[convs[0]].shape[0])
    repeat = (len(convs) - 6) // 2
    attrs = tuple(attributes) if attributes else default_attributes(c_dim)
    config = ModelConfig(
        attributes=attrs, image_size=image_size, norm="lookup", g_conv_dim=conv_dim,
        g_repeat=repeat, label_mode="single" if set(attrs) <= HAIR_COLORS else "multi",
    )
    G = build_generator(config)
    ours = G.state_dict()
    our_convs = [k for k in ours if ours[k].dim() == 4]
    our_gains = [k for k in ours if k.endswith(".gain")]
    our_biases = [k for k in ours if k.endswith(".bias") and ours[k].dim() == 2]
    if (len(our_convs), len(our_gains)) != (len(convs), len(gains)):
        raise StarganError(f"{source}: unexpected number of layers for a DLIM2020 generator")
    mapped: dict[str, torch.Tensor] = {}
    for mine, theirs in [*zip(our_convs, convs), *zip(our_gains, gains), *zip(our_biases, biases)]:
        if tuple(ours[mine].shape) != tuple(state[theirs].shape):
            raise StarganError(
                f"{source}: layer {theirs} has shape {tuple(state[theirs].shape)}, "
                f"expected {tuple(ours[mine].shape)}"
            )
        mapped[mine] = state[theirs].detach().clone()
    return Checkpoint(config=config, G=mapped, meta={"source": source, "origin": "DLIM2020"})


def convert_any(payload: Any, path: Path) -> Checkpoint | None:
    """Convert a foreign payload read from ``path``; ``None`` when its layout is unknown.

    Names saved through nn.DataParallel (``module.`` first) are taken without the prefix."""
    payload = unwrap_data_parallel(payload)
    if _is_official_generator(payload):
        sibling = official_discriminator_path(path)
        d_state = None
        if sibling is not None:
            d_state = unwrap_data_parallel(read_state_file(sibling))
            if not _is_official_discriminator(d_state):
                d_state = None
        return _official_checkpoint(payload, d_state, path, None, None)
    if isinstance(payload, dict):
        for key in ("G", "generator", "state_dict", "model"):
            inner = unwrap_data_parallel(payload.get(key))
            if _is_dlim(inner):
                return convert_dlim2020(inner, str(path))
    if _is_dlim(payload):
        return convert_dlim2020(payload, str(path))
    return None

"""``stargan train --init MODEL``: a new run that starts from a model's weights (fine-tuning a
published or bundled model, or continuing one when its run folder is gone)."""

from __future__ import annotations

from dataclasses import replace

from ..checkpoints import Checkpoint
from ..errors import StarganError, UsageError
from ..models import ModelConfig
from .config import TrainConfig
from .networks import Networks

# The settings that fix the networks' shapes: a run started from a model takes them from it.
SHAPE_FIELDS = ("image_size", "norm", "g_conv_dim", "g_repeat", "d_conv_dim", "d_repeat", "g_output", "upsample")


def load_init_model(spec: str) -> Checkpoint:
    """The checkpoint ``spec`` names (a file or an installed or registered model's name)."""
    from ..loading import load_checkpoint
    from ..model_store import resolve_model

    return load_checkpoint(resolve_model(spec))


def config_for_init(config: TrainConfig, model: ModelConfig, explicit: set[str]) -> TrainConfig:
    """``config`` with the shape settings (and, unless given, the loss and attributes) of
    ``model``; a shape flag in ``explicit`` that contradicts the model is a UsageError."""
    changes = {}
    for name in SHAPE_FIELDS:
        wanted = getattr(model, name)
        if name in explicit and getattr(config, name) != wanted:
            flag = "--" + name.replace("_", "-")
            raise UsageError(
                f"{flag} {getattr(config, name)} contradicts the --init model ({flag} {wanted}): "
                f"drop {flag}, the shape comes from the model"
            )
        changes[name] = wanted
    if "loss" not in explicit:
        changes["loss"] = model.loss
    if "attrs" not in explicit and config.dataset == "celeba" and model.label_mode == "multi":
        changes["attrs"] = tuple(model.attributes)
    return replace(config, **changes)


def initialise_from(spec: str, config: ModelConfig, nets: Networks) -> str:
    """Load the weights of the model ``spec`` into ``nets`` (G, D where the file has one, the
    average where both have one, else the average starts from G); returns what was done, in
    words. The model must have the run's shapes and attributes."""
    model = load_init_model(spec)
    shapes = {n: getattr(config, n) for n in SHAPE_FIELDS}
    theirs = {n: getattr(model.config, n) for n in SHAPE_FIELDS}
    if shapes != theirs or tuple(model.config.attributes) != tuple(config.attributes) or (
            model.config.label_mode != config.label_mode):
        raise StarganError(
            f"--init {spec}: the model ({model.config.describe()}; {', '.join(model.config.attributes)}) "
            f"does not fit this run ({config.describe()}; {', '.join(config.attributes)})"
        )
    nets.G.load_state_dict(model.G)
    parts = ["G"]
    if model.D is not None:
        nets.D.load_state_dict(model.D)
        parts.append("D")
    if nets.G_ema is not None:
        nets.G_ema.load_state_dict(model.G_ema if model.G_ema is not None else model.G)
        parts.append("the average" if model.G_ema is not None else "the average (from G)")
    fresh = "" if model.D is not None else "; D starts fresh (the model has none)"
    return f"Starting from {spec} (step {model.step}): {', '.join(parts)} loaded, optimizers fresh{fresh}"

"""The models on a sheet: loading them, their short names and their row labels."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..choices import G_OUTPUTS, UPSAMPLES

if TYPE_CHECKING:
    import torch

    from ..checkpoints import Checkpoint
    from ..translate import Translator

# Training settings shown in row labels: (key in the stored train config, label).
_TRAIN_KEYS = (
    ("batch_size", "bs"), ("g_lr", "lr_g"), ("d_lr", "lr_d"), ("n_critic", "n_critic"),
    ("lambda_cls", "l_cls"), ("lambda_rec", "l_rec"), ("lambda_gp", "l_gp"),
    ("lr_schedule", "sched"), ("precision", "prec"), ("g_ema", "ema"), ("lambda_mask", "l_mask"),
    ("iters", "iters"),
)
_TRAIN_MARKERS = {"batch_size", "g_lr", "d_lr"}


def _short_number(value: Any) -> str:
    """``16``, ``200k``, ``5e-4``, ``0.5``: compact numbers for labels."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if float(value).is_integer():
        number = int(value)
        return f"{number // 1000}k" if number >= 1000 and number % 1000 == 0 else str(number)
    if abs(value) < 1e-2:
        mantissa, exponent = f"{value:.2e}".split("e")
        return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"
    return f"{value:g}"


def train_config_of(checkpoint: "Checkpoint") -> dict[str, Any] | None:
    """The training settings stored with a checkpoint, if any (looked for in ``meta`` and
    ``training``, under ``train``/``train_config``/``config`` or at the top level)."""
    places: list[Any] = []
    for holder in (checkpoint.meta, checkpoint.training):
        if isinstance(holder, Mapping):
            places += [holder.get("train"), holder.get("train_config"), holder.get("config"), holder]
    for place in places:
        if isinstance(place, Mapping) and _TRAIN_MARKERS & set(place):
            return dict(place)
    return None


def model_settings(checkpoint: "Checkpoint") -> dict[str, str]:
    """Key settings of a model, label -> text, in display order.

    From the model config: size (``128px``), norm, generator output and up-sampling, loss; from
    the stored training config (when the checkpoint was trained here): batch size, learning
    rates, critic steps, loss weights, schedule, precision, the average's decay; and the
    training step. Norm, output, up-sampling and loss show their value alone.
    """
    config = checkpoint.config
    out: dict[str, str] = {"size": f"{config.image_size}px", "norm": config.norm}
    for key, paper in (("g_output", G_OUTPUTS[0]), ("upsample", UPSAMPLES[0])):
        if getattr(config, key) != paper:  # shown only where they differ from the paper's layout
            out[key] = getattr(config, key)
    out.update(loss=config.loss, attrs=f"{len(config.attributes)} attrs")
    train = train_config_of(checkpoint) or {}
    for key, label in _TRAIN_KEYS:
        if train.get(key) is not None:
            out[label] = f"{label}={_short_number(train[key])}"
    if checkpoint.step:
        out["step"] = f"step={_short_number(int(checkpoint.step))}"
    return out


def model_labels(names: Sequence[str], settings: Sequence[Mapping[str, str]]) -> list[str]:
    """Row label of each model: its name, then (second line) the settings that differ between
    the models (all of them for a single model), separated by commas: at small sizes a space
    is two pixels wide, and ``5 attrs step=2915`` read as one word."""
    labels = []
    for name, own in zip(names, settings):
        if len(settings) == 1:
            shown = list(own.values())
        else:
            shown = [v for k, v in own.items() if any(other.get(k) != v for other in settings)]
        labels.append(name + ("\n" + ", ".join(shown) if shown else ""))
    return labels


@dataclass
class GridModel:
    """A loaded model on a sheet: the Translator that runs it and its row label."""

    name: str
    translator: "Translator"
    label: str = ""
    checkpoint: "Checkpoint | None" = None

    @property
    def image_size(self) -> int:
        """Side of the model's squares."""
        return self.translator.image_size


def load_models(
    specs: Sequence[str],
    device: "torch.device | str | None" = None,
    *,
    half: bool = True,
    download: bool = True,
    quiet: bool = False,
) -> list[GridModel]:
    """Load each ``--model`` (name, checkpoint or official ``NNNNNN-G.ckpt``) with its label."""
    from ..devices import select_device
    from ..loading import load_checkpoint
    from ..model_store import display_names, resolve_model
    from ..translate import Translator

    if not specs:
        specs = [None]  # type: ignore[list-item]
    device = select_device(device) if not hasattr(device, "type") else device
    paths, checkpoints = [], []
    for spec in specs:
        path = resolve_model(spec, download=download, quiet=quiet)
        paths.append(path)
        checkpoints.append(load_checkpoint(path))
    shown = [str(s) if s is not None else p.stem for s, p in zip(specs, paths)]
    names = display_names(shown)
    labels = model_labels(names, [model_settings(c) for c in checkpoints])
    return [
        GridModel(name=n, translator=Translator(c, device=device, half=half), label=l, checkpoint=c)
        for n, c, l in zip(names, checkpoints, labels)
    ]


def models_from_translators(
    translators: Sequence["Translator"], names: Sequence[str] | None = None
) -> list[GridModel]:
    """GridModels for Translators already in memory (library use and tests)."""
    names = list(names) if names is not None else [f"model {i + 1}" for i in range(len(translators))]
    return [GridModel(name=n, translator=t, label=n) for n, t in zip(names, translators)]

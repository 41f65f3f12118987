"""CelebA attribute names and the label logic: validation, targets, hair-colour exclusivity.

Everything here is pure: lists and tensors in, lists and tensors out.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from .errors import StarganError, UsageError

if TYPE_CHECKING:
    import torch

    from .models.config import ModelConfig

# The 40 attributes in the order of list_attr_celeba.txt.
CELEBA_ATTRIBUTES: tuple[str, ...] = (
    "5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bags_Under_Eyes", "Bald", "Bangs",
    "Big_Lips", "Big_Nose", "Black_Hair", "Blond_Hair", "Blurry", "Brown_Hair",
    "Bushy_Eyebrows", "Chubby", "Double_Chin", "Eyeglasses", "Goatee", "Gray_Hair",
    "Heavy_Makeup", "High_Cheekbones", "Male", "Mouth_Slightly_Open", "Mustache",
    "Narrow_Eyes", "No_Beard", "Oval_Face", "Pale_Skin", "Pointy_Nose", "Receding_Hairline",
    "Rosy_Cheeks", "Sideburns", "Smiling", "Straight_Hair", "Wavy_Hair", "Wearing_Earrings",
    "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie", "Young",
)

# The attributes of the paper's CelebA experiments and of the published models.
DEFAULT_ATTRIBUTES: tuple[str, ...] = ("Black_Hair", "Blond_Hair", "Brown_Hair", "Male", "Young")

# Hair colours are mutually exclusive: setting one clears the others.
HAIR_COLORS: frozenset[str] = frozenset({"Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair"})


def _key(name: str) -> str:
    return name.strip().lower().replace("-", "_").replace(" ", "_")


def resolve_attribute(name: str, choices: Sequence[str] = CELEBA_ATTRIBUTES) -> str:
    """Return the canonical spelling of ``name`` among ``choices`` (case-insensitive).

    Unknown names raise a StarganError with a did-you-mean suggestion.
    """
    by_key = {_key(c): c for c in choices}
    found = by_key.get(_key(name))
    if found is not None:
        return found
    close = difflib.get_close_matches(_key(name), list(by_key), n=1, cutoff=0.6)
    hint = f"did you mean {by_key[close[0]]}?" if close else f"choose from: {', '.join(choices)}"
    raise UsageError(f"unknown attribute {name!r}: {hint}")


def split_names(values: str | Iterable[str]) -> list[str]:
    """Flatten comma-separated and repeated values into a list of non-empty names."""
    if isinstance(values, str):
        values = [values]
    names: list[str] = []
    for value in values:
        names.extend(part.strip() for part in value.split(",") if part.strip())
    return names


def parse_attribute_list(
    values: str | Iterable[str], choices: Sequence[str] = CELEBA_ATTRIBUTES
) -> list[str]:
    """Parse ``--attrs`` values into canonical names, rejecting unknown and repeated ones."""
    names = [resolve_attribute(n, choices) for n in split_names(values)]
    if not names:
        raise UsageError("no attributes given: name at least one, e.g. --attrs Blond_Hair,Male")
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise UsageError(f"attribute {name} is listed twice")
        seen.add(name)
    return names


def parse_targets(values: str | Iterable[str], attributes: Sequence[str]) -> dict[str, float]:
    """Parse ``--to`` values (``ATTR``, ``ATTR=0``, ``ATTR=1``, ``ATTR=0.5``) for a model.

    Names are checked against all 40 CelebA names first (for a did-you-mean on typos), then
    against the model's own attribute list; contradictions are refused (see :func:`target_set`).
    """
    items: list[tuple[str, float]] = []
    for item in split_names(values):
        name, equals, raw = item.partition("=")
        value = 1.0
        if equals and not raw.strip():
            raise UsageError(f"bad target {item!r}: a value after = is missing; write ATTR, ATTR=1 or ATTR=0")
        if raw.strip():
            try:
                value = float(raw)
            except ValueError:
                raise UsageError(
                    f"bad target {item!r}: write ATTR, ATTR=1 or ATTR=0"
                ) from None
        canonical = _resolve_for_model(name, attributes)
        # Models are trained on 0/1 labels: values past them (or nan) give garbage.
        if not 0.0 <= value <= 1.0:
            raise UsageError(
                f"bad target {canonical}={value:g}: values go from 0 (off) to 1 (on), e.g. --to {canonical}=0"
            )
        items.append((canonical, value))
    if not items:
        raise UsageError("no target given: use --to ATTR, e.g. --to Blond_Hair")
    return target_set(items)


def target_set(items: Iterable[tuple[str, float]]) -> dict[str, float]:
    """One set of targets as a dict, refusing the contradictory ones: an attribute named twice
    (``Blond_Hair`` and ``Blond_Hair=0``) and two hair colours turned on at once (they are
    exclusive). Every command and the API parse targets through here."""
    targets: dict[str, float] = {}
    for name, value in items:
        if name in targets:
            first, again = (_target_text(name, v) for v in (targets[name], value))
            raise UsageError(f"{name} is given twice ({first} and {again}): name each attribute once")
        targets[name] = value
    hair_on = [name for name, value in targets.items() if name in HAIR_COLORS and value > 0]
    if len(hair_on) > 1:
        raise UsageError(
            f"{' and '.join(hair_on)} are both turned on, but hair colours are exclusive "
            "(turning one on turns the others off): name only one"
        )
    return targets


def _target_text(name: str, value: float) -> str:
    return name if value == 1 else f"{name}={value:g}"


def _resolve_for_model(name: str, attributes: Sequence[str]) -> str:
    by_key = {_key(a): a for a in attributes}
    if _key(name) in by_key:
        return by_key[_key(name)]
    pool = list(dict.fromkeys([*attributes, *CELEBA_ATTRIBUTES]))
    canonical = resolve_attribute(name, pool)  # raises with did-you-mean on typos
    if canonical not in attributes:
        raise UsageError(
            f"this model was not trained on {canonical}: it knows {', '.join(attributes)}"
        )
    return canonical


def apply_targets(
    source: Sequence[float], attributes: Sequence[str], targets: Mapping[str, float]
) -> list[float]:
    """Label vector for ``targets`` applied on top of ``source``.

    Attributes not named keep their source value. Turning a hair colour on turns every other
    hair colour of the model off.
    """
    label = [float(v) for v in source]
    index = {a: i for i, a in enumerate(attributes)}
    for name, value in targets.items():
        if name in HAIR_COLORS and value > 0:
            for other in HAIR_COLORS & set(attributes):
                label[index[other]] = 0.0
    for name, value in targets.items():
        label[index[name]] = float(value)
    return label


def hair_indices(attributes: Sequence[str]) -> list[int]:
    """Positions of the hair-colour attributes in ``attributes``."""
    return [i for i, a in enumerate(attributes) if a in HAIR_COLORS]


def single_domain_targets(source: "torch.Tensor", attributes: Sequence[str]) -> list["torch.Tensor"]:
    """The original's test targets for a batch of multi-hot labels (B, c_dim).

    One target per attribute: a hair colour is set on with the other colours off; any other
    attribute is flipped.
    """
    hair = hair_indices(attributes)
    targets = []
    for i in range(len(attributes)):
        target = source.clone()
        if i in hair:
            target[:, hair] = 0
            target[:, i] = 1
        else:
            target[:, i] = (source[:, i] == 0).to(source.dtype)
        targets.append(target)
    return targets


def keep_first_hair_colour(labels: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """Hair colours one-hot where several are on, keeping the first; ``mask`` marks the
    hair-colour columns. A column mask rather than list indexing, so the training hot loop
    never sends an index from the host."""
    import torch

    hair = (labels > 0) & mask
    first = hair & (hair.to(torch.int32).cumsum(1) == 1)
    return torch.where(mask, first.to(labels.dtype), labels)


def exclusive_hair(labels: "torch.Tensor", attributes: Sequence[str]) -> "torch.Tensor":
    """Make hair colours one-hot where several are on (keeps the first one set)."""
    import torch

    mask = torch.tensor([a in HAIR_COLORS for a in attributes], dtype=torch.bool, device=labels.device)
    return keep_first_hair_colour(labels, mask)


def exclusive_block_start(config: "ModelConfig") -> int:
    """Index of the first exclusive (single-label) domain in ``config.attributes``.

    A model's attributes are, in order: independent on/off attributes (all of them for a
    CelebA ``multi`` model, none for a ``single`` folder model, the CelebA block of a
    ``joint`` one), then exclusive domains of which exactly one is on.
    """
    if config.label_mode == "multi":
        return len(config.attributes)
    if config.label_mode == "single":
        return 0
    return int(config.joint_split)


# How a translation that flips an on/off attribute (whatever the face has, the opposite) is
# named, in file names (NAME.Male=flip.png) and labels alike: the one rule for translate --all,
# the app's strip, the grid's and the webcam's default targets. Unlike ``Male`` (turned on) or
# ``Male=0`` (turned off), it does not say which way: that depends on each face.
FLIP = "flip"


def flipped_name(attribute: str) -> str:
    """The name of the translation that flips ``attribute``: ``Male=flip``."""
    return f"{attribute}={FLIP}"


def target_name(targets: Mapping[str, float]) -> str:
    """File-name friendly name of a target set: ``Blond_Hair+Male=0``."""
    return "+".join(_target_text(name, value) for name, value in targets.items())

"""What a study trains, as pure functions: ``--vary`` axes, presets, the variants they expand
to, and the training budget.

A variant is the base training options with some of them changed, named after the changes
(``batch-size=8``, or ``batch-size=8+loss=hinge`` in a cross product); the base itself is the
variant ``base``. Option names are ``stargan train``'s flags without the dashes. Values stay
text here: the command line parses and checks them with ``stargan train``'s own options.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import UsageError
from ..progress import parse_duration

BASE = "base"
# One axis at a time from the base; that plus one variant with every axis's last value together
# (each change alone and all of them at once); or the cross product of the axes.
MODES = ("axis", "axis+all", "cross")
MODE_WORDS = {
    "axis": "one axis at a time from the base",
    "axis+all": "one axis at a time from the base, and every axis's last value together",
    "cross": "the cross product of the axes",
}

# The DLIM2020 study: batch size, the two learning rates, the adversarial loss, the norm. Each
# axis lists the paper's default first (batch 16, rates 1e-4, WGAN-GP, concat: the base of a
# study whose flags do not change them), so one axis at a time gives the study's 10 runs.
PRESETS: dict[str, tuple[str, ...]] = {
    "dlim2020": (
        "batch-size=8,16,32,64",
        "d-lr=1e-4,5e-4,1e-5",
        "g-lr=1e-4,5e-3,1e-5",
        "loss=wgan-gp,hinge",
        "norm=concat,lookup",
    ),
}


@dataclass(frozen=True)
class Axis:
    """One ``--vary OPTION=V1,V2``: a train option (without dashes) and its values in order."""

    option: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Variant:
    """One point of the study: its name and the options it changes from the base."""

    name: str
    changes: tuple[tuple[str, str], ...] = ()

    @property
    def is_base(self) -> bool:
        """Whether this is the base run (no change)."""
        return not self.changes


def parse_axis(text: str) -> Axis:
    """``"batch-size=8,16"`` (or ``"--batch-size=8,16"``) to an :class:`Axis`; an empty value
    list or a repeated value is a UsageError."""
    option, sep, values = text.partition("=")
    option = option.strip().lstrip("-").strip().lower().replace("_", "-")
    if not sep or not option:
        raise UsageError(f"--vary {text!r}: write OPTION=VALUE1,VALUE2, e.g. --vary batch-size=8,16")
    items = tuple(v.strip() for v in values.split(",") if v.strip())
    if not items:
        raise UsageError(f"--vary {option}= has no values: the study would be empty; give e.g. {option}=A,B")
    repeated = sorted({v for v in items if items.count(v) > 1})
    if repeated:
        raise UsageError(f"--vary {option}: value {repeated[0]} is given twice")
    return Axis(option, items)


def merge_axes(axes: Sequence[Axis]) -> list[Axis]:
    """Axes with one per option: a later ``--vary`` of the same option (e.g. over a preset)
    replaces the earlier one in place."""
    merged: dict[str, Axis] = {}
    for axis in axes:
        merged[axis.option] = axis
    return list(merged.values())


def preset_axes(name: str) -> list[Axis]:
    """The axes of a ``--preset``; an unknown name is a UsageError naming the presets."""
    key = name.strip().lower()
    if key not in PRESETS:
        raise UsageError(f"unknown --preset {name!r}: choose from {', '.join(PRESETS)}")
    return [parse_axis(text) for text in PRESETS[key]]


def variant_name(changes: Sequence[tuple[str, str]]) -> str:
    """``batch-size=8+loss=hinge``; ``base`` for no change. Also a safe folder name."""
    return "+".join(f"{option}={value}" for option, value in changes) or BASE


def expand(axes: Sequence[Axis], mode: str = "axis") -> list[Variant]:
    """The variants of a study, the base first.

    ``axis``: the base, then each value of each axis alone (the other options at the base).
    ``axis+all``: as ``axis``, then one variant with the last value of every axis together.
    ``cross``: the base, then every combination of one value per axis. Variants that train
    the same thing as the base or as an earlier variant are dropped afterwards by
    :func:`drop_repeats`, once the values are parsed.
    """
    if mode not in MODES:
        raise UsageError(f"unknown study mode {mode!r}: choose from {', '.join(MODES)}")
    variants = [Variant(BASE)]
    if mode in ("axis", "axis+all"):
        for axis in axes:
            variants += [Variant(variant_name([(axis.option, v)]), ((axis.option, v),)) for v in axis.values]
        if mode == "axis+all" and len(axes) > 1:
            together = tuple((axis.option, axis.values[-1]) for axis in axes)
            variants.append(Variant(variant_name(together), together))
    else:
        for combo in itertools.product(*[[(a.option, v) for v in a.values] for a in axes]):
            variants.append(Variant(variant_name(combo), tuple(combo)))
    return variants


def drop_repeats(variants: Sequence[Variant], key: Callable[[Variant], object]) -> list[Variant]:
    """``variants`` without those whose ``key`` (what they train) equals an earlier one's, so
    the value of an axis that is the base's own value is not trained twice."""
    seen: set = set()
    kept = []
    for variant in variants:
        k = key(variant)
        if k in seen:
            continue
        seen.add(k)
        kept.append(variant)
    return kept


def parse_budget(text: str) -> float:
    """``"10m"``, ``"90s"``, ``"1.5h"`` or plain seconds (``"600"``) to seconds (> 0)."""
    return parse_duration(text, "--budget")


def seed_list(first: int, count: int) -> list[int]:
    """``count`` seeds from ``first`` on (``--seed`` and ``--seeds``)."""
    if count < 1:
        raise UsageError("--seeds must be at least 1")
    return [first + i for i in range(count)]


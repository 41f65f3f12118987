"""The model's label vector: where each block of attributes sits, the joint mode's mask, and the
label algebra every command shares (targets on a face's own label, hair colours, domains).

A model's label is, in order: independent on/off attributes (CelebA's; all of them for a
``multi`` model), then exclusive domains of which exactly one is on (a folder dataset's; all
of them for a ``single`` model). A ``joint`` model (``--dataset both``) has both blocks and a
2-value mask after them that says which block is in use: ``[1, 0]`` for the attributes,
``[0, 1]`` for the domains; the block not in use stays zero, as in the StarGAN paper
(section 3.2). :func:`label_parts` lays the blocks out (training builds them from its
datasets); :class:`LabelLayout` is the same layout read from a :class:`ModelConfig`, with the
algebra on plain lists that the Translator, grid, webcam, eval and the app use.

Pure: lists and tensors in, lists and tensors out; torch is imported only where a tensor is made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping, Sequence, Union

import numpy as np

from .attributes import (
    HAIR_COLORS, apply_targets, exclusive_block_start, flipped_name, parse_targets, single_domain_targets,
    split_names,
)
from .errors import UsageError

if TYPE_CHECKING:
    import torch

    from .models.config import ModelConfig

TargetsInput = Union[str, Sequence[str], Mapping[str, float]]


@dataclass(frozen=True)
class LabelPart:
    """One dataset's block of the model's label vector.

    ``start:stop`` is the block, ``mode`` its classification loss (``multi``: BCE over
    independent attributes; ``single``: cross-entropy over exclusive domains), ``names`` its
    attribute or domain names, ``mask_index`` the position of its mask bit (joint mode only).
    """

    start: int
    stop: int
    mode: str
    names: tuple[str, ...]
    mask_index: int | None = None

    @property
    def width(self) -> int:
        """Number of attributes or domains in the block."""
        return self.stop - self.start


def label_parts(blocks: Sequence[tuple[Sequence[str], str]]) -> list[LabelPart]:
    """Lay out the label blocks ``[(names, mode), ...]`` one after the other.

    With two blocks (joint training) a 2-dim mask follows them; with one block there is no mask.
    """
    parts: list[LabelPart] = []
    start = 0
    total = sum(len(names) for names, _ in blocks)
    joint = len(blocks) > 1
    for i, (names, mode) in enumerate(blocks):
        stop = start + len(names)
        parts.append(LabelPart(start, stop, mode, tuple(names), total + i if joint else None))
        start = stop
    return parts


def model_label(labels: "torch.Tensor", part: LabelPart, c_dim: int) -> "torch.Tensor":
    """Place a dataset's labels (B, part.width) into the model's (B, c_dim) label vector.

    The other blocks are zero; in joint mode the part's mask bit is set.
    """
    if labels.size(1) != part.width:
        raise ValueError(f"labels have {labels.size(1)} columns, the block has {part.width}")
    if part.start == 0 and part.stop == c_dim:
        return labels
    out = labels.new_zeros(labels.size(0), c_dim)
    out[:, part.start : part.stop] = labels
    if part.mask_index is not None:
        out[:, part.mask_index] = 1
    return out


@dataclass(frozen=True)
class LabelLayout:
    """The label layout of one model, and the label algebra on it (plain lists of floats).

    A *source label* is one value per attribute (``len(attributes)`` long, no mask): the face's
    own attributes, 0/1. A *generator label* is what G takes (``c_dim`` long, mask included).
    """

    attributes: tuple[str, ...]
    parts: tuple[LabelPart, ...]

    @classmethod
    def of(cls, config: "ModelConfig") -> "LabelLayout":
        """The layout of a model: the blocks its training data had, in the same order."""
        attrs = tuple(config.attributes)
        split = exclusive_block_start(config)
        blocks = {
            "multi": [(attrs, "multi")],
            "single": [(attrs, "single")],
            "joint": [(attrs[:split], "multi"), (attrs[split:], "single")],
        }[config.label_mode]
        return cls(attrs, tuple(label_parts(blocks)))

    # ---- where things are ----------------------------------------------------------------

    @property
    def joint(self) -> bool:
        """Whether the label has both blocks and the mask."""
        return len(self.parts) > 1

    @property
    def c_dim(self) -> int:
        """Length of the generator label: the attributes, plus the mask in joint mode."""
        return len(self.attributes) + (len(self.parts) if self.joint else 0)

    @property
    def exclusive_start(self) -> int:
        """Index of the first exclusive domain in :attr:`attributes` (their count when none)."""
        return next((p.start for p in self.parts if p.mode == "single"), len(self.attributes))

    @property
    def multi(self) -> LabelPart | None:
        """The block of independent on/off attributes (None for a ``single`` model)."""
        return next((p for p in self.parts if p.mode == "multi"), None)

    @property
    def domains(self) -> LabelPart | None:
        """The block of exclusive domains (None for a ``multi`` model)."""
        return next((p for p in self.parts if p.mode == "single"), None)

    def place(self, values: Sequence[float], part: LabelPart) -> list[float]:
        """The generator label with ``values`` (one per name of ``part``) in ``part``'s block:
        the other block zero and, in joint mode, the part's mask bit set (:func:`model_label`
        on one row; float64, so the values come back exactly)."""
        import torch

        row = torch.tensor([[float(v) for v in values]], dtype=torch.float64)
        return model_label(row, part, self.c_dim)[0].tolist()

    # ---- parsing -------------------------------------------------------------------------

    def parse_targets(self, to: TargetsInput) -> dict[str, float]:
        """``["Blond_Hair", "Male=0"]``, ``"Blond_Hair,Male=0"`` or ``{"Male": 0}`` as a checked
        dict. An exclusive domain must be named alone and turned on."""
        if isinstance(to, Mapping):
            to = [f"{k}={float(v):g}" for k, v in to.items()]
        targets = parse_targets(to, self.attributes)
        split = self.exclusive_start
        exclusive = [a for a in targets if a in self.attributes[split:]]
        if exclusive:
            if len(exclusive) != len(targets) or len(exclusive) != 1 or targets[exclusive[0]] <= 0:
                raise UsageError(
                    f"{', '.join(self.attributes[split:])} are exclusive domains of this model: "
                    f"name exactly one to translate to, e.g. --to {self.attributes[split]}"
                )
        return targets

    def parse_source(self, source: TargetsInput) -> list[float]:
        """A face's own attributes as a 0/1 source label: names that are on (the rest off; ``none``:
        all off), or a dict (on above 0.5)."""
        if isinstance(source, Mapping):
            items = [f"{k}={float(v):g}" for k, v in source.items()]
            given = parse_targets(items, self.attributes) if items else {}
        else:
            names = split_names(source)
            if not names or [n.lower() for n in names] == ["none"]:
                given = {}
            else:
                given = parse_targets(names, self.attributes)
        return [1.0 if given.get(a, 0.0) > 0.5 else 0.0 for a in self.attributes]

    def label_from_scores(self, scores: Sequence[float]) -> list[float]:
        """0/1 source label from classifier probabilities: > 0.5 per on/off attribute (at most
        one hair colour: the likeliest), argmax among exclusive domains."""
        split = self.exclusive_start
        label = [1.0 if p > 0.5 else 0.0 for p in scores[:split]]
        # Hair colours are exclusive: keep only the most likely one of those above 0.5.
        hair = [i for i in range(split) if self.attributes[i] in HAIR_COLORS and label[i]]
        for i in hair:
            if scores[i] < max(scores[j] for j in hair):
                label[i] = 0.0
        rest = list(scores[split:])
        if rest:
            best = int(np.argmax(rest))
            label += [1.0 if i == best else 0.0 for i in range(len(rest))]
        return label

    # ---- generator labels ----------------------------------------------------------------

    def start_label(self, source_label: Sequence[float]) -> list[float]:
        """The generator label of the face as it is (an animation's or the app slider's 0 end):
        its on/off attributes, or for a ``single`` model its domain."""
        multi = self.multi
        if multi is None:
            return [float(v) for v in source_label]
        return self.place(source_label[multi.start : multi.stop], multi)

    def target_label(self, source_label: Sequence[float], targets: Mapping[str, float]) -> list[float]:
        """The generator label for ``targets`` (checked by :meth:`parse_targets`) applied to
        ``source_label``: an exclusive domain alone, or on/off attributes changed on top of the
        face's own (the others kept; turning a hair colour on turns the others off)."""
        domains = self.domains
        if domains is not None and any(a in domains.names for a in targets):
            on = next(iter(targets))
            return self.place([1.0 if a == on else 0.0 for a in domains.names], domains)
        multi = self.multi
        if multi is None:  # no change asked of a single-domain model: the face as it is
            return self.start_label(source_label)
        own = list(source_label[multi.start : multi.stop])
        return self.place(apply_targets(own, multi.names, targets), multi)

    @property
    def domain_attributes(self) -> tuple[str, ...]:
        """The attribute of each of :meth:`domain_targets`, in its order."""
        multi, domains = self.multi, self.domains
        return (*(multi.names if multi is not None and multi.width else ()),
                *(domains.names if domains is not None else ()))

    def domain_target_name(self, attribute: str) -> str:
        """The name of ``attribute``'s default target (file names and labels alike): the
        attribute itself for a hair colour or an exclusive domain (set on), else
        :func:`~stargan_cli.attributes.flipped_name` (``Male=flip``)."""
        domains = self.domains
        if attribute in HAIR_COLORS or (domains is not None and attribute in domains.names):
            return attribute
        return flipped_name(attribute)

    def domain_targets(self, source_label: Sequence[float]) -> list[tuple[str, list[float]]]:
        """One generator label per attribute, as the original's test grid: a hair colour set on
        (other colours off), any other on/off attribute flipped, each exclusive domain. Each is
        named by :meth:`domain_target_name` (``Blond_Hair``, ``Male=flip``)."""
        out: list[tuple[str, list[float]]] = []
        multi = self.multi
        if multi is not None and multi.width:
            import torch

            own = torch.tensor([list(source_label[multi.start : multi.stop])], dtype=torch.float32)
            for name, label in zip(multi.names, single_domain_targets(own, multi.names)):
                out.append((self.domain_target_name(name), self.place(label[0].tolist(), multi)))
        domains = self.domains
        for name in domains.names if domains is not None else ():
            out.append((name, self.target_label(source_label, {name: 1.0})))
        return out


__all__ = ["LabelLayout", "LabelPart", "TargetsInput", "label_parts", "model_label"]

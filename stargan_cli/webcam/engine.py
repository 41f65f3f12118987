"""The model side of the loop: targets to cycle through, the face's own attributes, running G."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, Sequence

from PIL import Image

from ..errors import StarganError
from ..attributes import target_name

if TYPE_CHECKING:
    from ..translate import Translator


class Engine(Protocol):
    """What the loop needs from a model; :class:`ModelEngine` is the real one, tests fake it."""

    image_size: int

    def __len__(self) -> int: ...  # number of targets to cycle through

    def reset(self) -> None: ...  # the face was lost: forget its estimated attributes

    def observe(self, square: Image.Image) -> None: ...  # a fresh detection: re-estimate

    def target(self, index: int) -> tuple[str, list[float]]: ...  # (name shown, G label)

    def translate(self, square: Image.Image, label: Sequence[float]) -> Image.Image: ...


class ModelEngine:
    """A :class:`Translator` as the loop's engine.

    Targets: one per ``to`` value (each may name several attributes, ``"Blond_Hair,Male=0"``),
    or by default one per attribute as the original's test grid (hair colour set, any other
    attribute flipped relative to the face's own). The face's own attributes come from
    ``source_attrs`` or from the discriminator, re-estimated at each detection and averaged
    over time (``smoothing``: weight of the newest estimate) so targets do not flicker.
    """

    def __init__(
        self,
        translator: "Translator",
        to: Sequence[str] | None = None,
        *,
        source_attrs: str | Sequence[str] | None = None,
        smoothing: float = 0.5,
    ) -> None:
        from ..translate import NO_CLASSIFIER

        self.translator = translator
        self.image_size = translator.image_size
        self.smoothing = smoothing
        self.layout = translator.layout
        self._explicit = [self.layout.parse_targets(value) for value in to] if to else None
        self._fixed = None if source_attrs is None else self.layout.parse_source(source_attrs)
        if self._fixed is None and not translator.has_classifier:
            raise StarganError(NO_CLASSIFIER)
        self._scores: list[float] | None = None

    def __len__(self) -> int:
        if self._explicit is not None:
            return len(self._explicit)
        return len(self.translator.attributes)

    @property
    def source_label(self) -> list[float]:
        """The 0/1 label taken as the face's own attributes right now."""
        if self._fixed is not None:
            return list(self._fixed)
        if self._scores is None:
            return [0.0] * len(self.translator.attributes)
        return self.layout.label_from_scores(self._scores)

    def reset(self) -> None:
        """Forget the estimate (a new face may come)."""
        self._scores = None

    def observe(self, square: Image.Image) -> None:
        """Update the estimate of the face's attributes from a model-size square."""
        if self._fixed is not None:
            return
        probs = self.translator.classify(self.translator.square_tensor(square)[None])[0].tolist()
        if self._scores is None:
            self._scores = probs
        else:
            w = self.smoothing
            self._scores = [w * p + (1 - w) * s for p, s in zip(probs, self._scores)]

    def target(self, index: int) -> tuple[str, list[float]]:
        """Name and generator label of target ``index`` for the current source attributes."""
        source = self.source_label
        if self._explicit is not None:
            wanted = self._explicit[index]
            return target_name(wanted), self.layout.target_label(source, wanted)
        _, label = self.layout.domain_targets(source)[index]
        name = self.layout.domain_attributes[index]  # shown as where this face goes: Male=0
        return target_name({name: label[self.translator.attributes.index(name)]}), label

    def translate(self, square: Image.Image, label: Sequence[float]) -> Image.Image:
        """Run G on one model-size square."""
        return self.translator.generate_squares([square], [label])[0]

"""Sheet columns: what each translation asks of a model (default single-domain targets or ``--to``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from ..attributes import CELEBA_ATTRIBUTES, resolve_attribute, split_names, target_name, target_set
from ..errors import UsageError
from ..label_layout import LabelLayout

if TYPE_CHECKING:
    from ..translate import Translator

INPUT_HEADER = "input"  # the header of the first column, the input itself


@dataclass(frozen=True)
class Column:
    """One target column of a sheet.

    Either ``domain`` (a default column: the model's single-domain target for that attribute,
    as the original's test grid: a hair colour or exclusive domain set on, anything else
    flipped relative to the row's own attributes) or ``targets`` (an explicit ``--to``:
    attribute values applied on top of the row's attributes, hair colours kept exclusive).
    """

    name: str
    domain: str | None = None
    targets: tuple[tuple[str, float], ...] = ()

    @property
    def attributes(self) -> tuple[str, ...]:
        """Attributes a model must know to produce this column."""
        return (self.domain,) if self.domain is not None else tuple(a for a, _ in self.targets)

    def supported(self, translator: "Translator") -> bool:
        """Whether ``translator``'s model can produce this column."""
        attrs = translator.attributes
        if self.domain is not None:
            return self.domain in attrs and _default_header(translator.config, self.domain) == self.name
        return all(a in attrs for a in self.attributes)

    def label(self, translator: "Translator", source_label: Sequence[float]) -> list[float] | None:
        """The generator label (``c_dim`` long) for a row with ``source_label``; None if unsupported."""
        if not self.supported(translator):
            return None
        layout = translator.layout
        if self.domain is not None:
            return dict(layout.domain_targets(source_label))[self.name]
        targets = layout.parse_targets([f"{a}={v:g}" for a, v in self.targets])
        return layout.target_label(source_label, targets)


def _default_header(config, attribute: str) -> str:
    return LabelLayout.of(config).domain_target_name(attribute)


def default_columns(configs: Sequence[Any]) -> list[Column]:
    """Every model's single-domain targets, merged in first-seen order (one column per name)."""
    columns: dict[str, Column] = {}
    for config in configs:
        for attribute in config.attributes:
            name = _default_header(config, attribute)
            columns.setdefault(name, Column(name=name, domain=attribute))
    return list(columns.values())


def parse_columns(values: Sequence[str], attributes: Sequence[Sequence[str]]) -> list[Column]:
    """``--to`` values as columns: commas and repeats separate columns, ``+`` combines targets
    in one column (``Blond_Hair+Young=0``). Names are resolved against every model's
    attributes (did-you-mean on typos); each must be known to at least one model."""
    known = list(dict.fromkeys(a for attrs in attributes for a in attrs))
    pool = list(dict.fromkeys([*known, *CELEBA_ATTRIBUTES]))
    columns: list[Column] = []
    for item in split_names(values):
        items: list[tuple[str, float]] = []
        for part in item.split("+"):
            raw_name, sep, raw_value = part.strip().partition("=")
            if not raw_name.strip():
                raise UsageError(f"bad target {item!r}: write ATTR, ATTR=0 or ATTR1+ATTR2=0")
            value = 1.0
            if sep:
                try:
                    value = float(raw_value)
                except ValueError:
                    raise UsageError(f"bad target {part!r}: write ATTR, ATTR=1 or ATTR=0") from None
            name = resolve_attribute(raw_name, pool)
            if name not in known:
                raise UsageError(f"no model was trained on {name}: they know {', '.join(known)}")
            items.append((name, value))
        targets = target_set(items)
        header = target_name(targets)
        if any(c.name == header for c in columns):
            raise UsageError(f"target {header} is listed twice")
        columns.append(Column(name=header, targets=tuple(targets.items())))
    if not columns:
        raise UsageError("no target given: use --to ATTR, e.g. --to Blond_Hair")
    return columns

"""The models the page offers, loaded on first use, and what the page needs to draw their controls."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from ..attributes import HAIR_COLORS
from ..errors import StarganError
from .errors import NotFound

if TYPE_CHECKING:
    from ..translate import Translator

KEEP_MODELS = 2


@dataclass
class ModelEntry:
    """A model the page offers: its display name and what resolves it (None: the default)."""

    name: str
    spec: str | None


class Models:
    """The models the page can switch between, loaded on first use (at most ``keep`` at once).

    ``specs``: the ``--model`` values (names or paths; none: the default model, resolved as
    every command resolves it). Installed models are offered after them.
    """

    def __init__(self, specs: Sequence[str] = (), *, device: str | None = None, keep: int = KEEP_MODELS,
                 include_installed: bool = True) -> None:
        from ..model_store import DEFAULT_MODEL, display_names, installed_models, resolve_model

        self.device = device
        self.keep = keep
        if specs:
            self.entries = [ModelEntry(n, s) for n, s in zip(display_names(list(specs)), specs)]
        else:
            self.entries = [ModelEntry(DEFAULT_MODEL, None)]
        if include_installed:
            seen = {self._resolved(e) for e in self.entries}
            names = {e.name for e in self.entries}
            for name, path in installed_models():
                if path.resolve() not in seen and name not in names:
                    self.entries.append(ModelEntry(name, str(path)))
        self._resolve = resolve_model
        self._loaded: OrderedDict[str, "Translator"] = OrderedDict()

    @staticmethod
    def _resolved(entry: ModelEntry) -> Path | None:
        from ..model_store import resolve_model

        try:
            return resolve_model(entry.spec, download=False).resolve()
        except StarganError:
            return None

    @property
    def default(self) -> str:
        """The name of the model the page starts with."""
        return self.entries[0].name

    def names(self) -> list[str]:
        """Display names, the default first."""
        return [e.name for e in self.entries]

    def get(self, name: str | None = None) -> "Translator":
        """The loaded model called ``name`` (default: the first); loads it if needed."""
        from ..translate import Translator

        name = name or self.default
        entry = next((e for e in self.entries if e.name == name), None)
        if entry is None:
            raise NotFound(f"unknown model {name!r}: choose one of {', '.join(self.names())}")
        translator = self._loaded.get(name)
        if translator is None:
            translator = Translator(self._resolve(entry.spec), device=self.device)
            self._loaded[name] = translator
            while len(self._loaded) > self.keep:
                self._loaded.popitem(last=False)
        self._loaded.move_to_end(name)
        return translator

    def describe(self, name: str | None = None) -> dict[str, Any]:
        """What the page needs to draw a model's controls."""
        t = self.get(name)
        multi = list(t.layout.multi.names) if t.layout.multi is not None else []
        return {
            "name": name or self.default,
            "attributes": list(t.attributes),
            "hair": [a for a in multi if a in HAIR_COLORS],
            "toggles": [a for a in multi if a not in HAIR_COLORS],
            "domains": list(t.layout.domains.names) if t.layout.domains is not None else [],
            "image_size": t.image_size,
            "has_classifier": t.has_classifier,
            "description": t.config.describe(),
            "device": str(t.device),
        }


__all__ = ["KEEP_MODELS", "ModelEntry", "Models"]

"""The faces on a sheet: image files (faces found and framed) or dataset images, prepared for
every model with their source labels."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from PIL import Image

from ..attributes import CELEBA_ATTRIBUTES, resolve_attribute, split_names, target_set
from ..errors import StarganError, UsageError
from .models import GridModel

if TYPE_CHECKING:
    from ..translate import Translator


@dataclass
class GridInput:
    """One input face, prepared for every model.

    ``crops[m]`` is the model-size square model ``m`` sees (exactly the Translator's
    preprocessing), ``sources[m]`` its 0/1 source label over that model's attributes.
    """

    name: str
    crops: list[Image.Image]
    sources: list[list[float]] = field(default_factory=list)


def source_names(text: str | None, models: Sequence[GridModel]) -> list[str] | None:
    """``--source-attrs`` checked against every model (did-you-mean on typos)."""
    if text is None:
        return None
    names = split_names(text)
    if [n.lower() for n in names] == ["none"]:
        return []
    pool = list(dict.fromkeys([*(a for m in models for a in m.translator.attributes), *CELEBA_ATTRIBUTES]))
    resolved = [resolve_attribute(n, pool) for n in names]
    target_set([(n, 1.0) for n in resolved])  # refuses two hair colours on, as translate does
    return resolved


def _source_for(translator: "Translator", names: Sequence[str]) -> list[float]:
    return [1.0 if a in names else 0.0 for a in translator.attributes]


def file_inputs(
    models: Sequence[GridModel],
    files: Sequence[str | os.PathLike],
    *,
    detect: bool = True,
    face: int | None = None,
    source: str | None = None,
    batch_size: int = 16,
) -> tuple[list[GridInput], list[str]]:
    """Prepare image files for every model: faces found and framed (or the whole image with
    ``detect=False``), one GridInput per face. Returns the inputs and one message per file
    that gave nothing (unreadable, no face)."""
    names = source_names(source, models)
    if names is None:
        for m in models:
            if not m.translator.has_classifier:
                from ..translate import NO_CLASSIFIER

                raise StarganError(f"{m.name}: {NO_CLASSIFIER}")
    inputs: list[GridInput] = []
    problems: list[str] = []
    for path in files:
        prepared = [m.translator.prepare(path, detect, face) for m in models]
        bad = next((r for r in prepared if not r.ok), None)
        if bad is not None:
            problems.append(bad.error or f"{path} could not be read")
            continue
        counts = {len(r.faces) for r in prepared}
        if len(counts) != 1:  # detection is deterministic; this would be a bug, not a user error
            raise RuntimeError(f"{path}: models found different numbers of faces {counts}")
        stem = Path(str(path)).name
        several = len(prepared[0].faces) > 1
        for k in range(len(prepared[0].faces)):
            number = prepared[0].faces[k].number
            label = f"{stem} #{number}" if several or face is not None else stem
            inputs.append(GridInput(name=label, crops=[r.faces[k].crop for r in prepared]))
    for m_index, m in enumerate(models):
        crops = [i.crops[m_index] for i in inputs]
        if names is not None:
            sources = [_source_for(m.translator, names)] * len(crops)
        else:
            sources = m.translator.estimate_labels(crops, batch_size) if crops else []
        for item, label in zip(inputs, sources):
            item.sources.append(list(label))
    return inputs, problems


class _Recorder:
    """Wraps a dataset so the indices that :func:`data.sample_batch` actually used are known
    (it returns images and labels only). Fetches one item at a time to see which were readable."""

    def __init__(self, dataset: Any) -> None:
        self.dataset = dataset
        self.used: list[int] = []

    def __len__(self) -> int:
        return len(self.dataset)

    def fetch(self, indices: Sequence[int]):
        import torch

        from ..data import fetch_batch

        images, labels, skipped = [], [], 0
        for i in indices:
            got, lab, miss = fetch_batch(self.dataset, [int(i)])
            if got is None or not len(got):
                skipped += 1
                continue
            images.append(got)
            labels.append(lab)
            self.used.append(int(i))
        if not images:
            return None, None, skipped
        return torch.cat(images), torch.cat(labels), skipped


def dataset_inputs(
    models: Sequence[GridModel],
    *,
    dataset: str = "celeba",
    root: str | os.PathLike | None = None,
    split: str = "test",
    n: int = 16,
    seed: int = 1234,
    quiet: bool = True,
    batch_size: int = 16,
) -> list[GridInput]:
    """``n`` held-out (``split="test"``) or training images of an installed dataset, the same
    ones for every model (a seeded choice: same seed, same images). Source labels come from
    the dataset's attribute file; attributes it does not have (folder domains) are estimated
    by the model's discriminator."""
    from ..data import load_celeba, sample_batch

    if dataset != "celeba":
        raise UsageError(f"--dataset must be celeba, not {dataset!r}")
    if split not in ("test", "train"):
        raise UsageError(f"--split must be test or train, not {split!r}")
    if n < 1:
        raise UsageError("--n must be at least 1")
    attrs = list(dict.fromkeys(a for m in models for a in m.translator.attributes if a in CELEBA_ATTRIBUTES))
    if not attrs:
        raise StarganError("--dataset celeba needs models trained on CelebA attributes")
    by_size: dict[int, tuple[list[str], Any, Any]] = {}
    chosen: list[str] | None = None
    for size in dict.fromkeys(m.image_size for m in models):
        # The file pipeline, not the cache: the choice must not depend on whether (or at which
        # sizes) a cache was built, and only n images are decoded.
        source = load_celeba(root, attrs, size, use_cache=False, build_cache=False, quiet=quiet)
        data = source.test if split == "test" else source.train
        if len(data) == 0:
            raise StarganError(f"the CelebA {split} set is empty ({source.split})")
        recorder = _Recorder(data)
        images, labels = sample_batch(recorder, n, seed)
        files = [str(data.files[i]) if hasattr(data, "files") else f"#{i}" for i in recorder.used]
        if chosen is None:
            chosen = files
        elif files != chosen:
            raise RuntimeError("dataset sampling differs between image sizes")
        by_size[size] = (files, images, labels)
    assert chosen is not None
    inputs = [GridInput(name=Path(f).name, crops=[]) for f in chosen]
    for m in models:
        files, images, labels = by_size[m.image_size]
        attributes = m.translator.attributes
        known = [a for a in attributes if a in attrs]
        for k, item in enumerate(inputs):
            item.crops.append(Image.fromarray(images[k].permute(1, 2, 0).numpy()))
        if len(known) == len(attributes):
            sources = [[float(labels[k, attrs.index(a)]) for a in attributes] for k in range(len(inputs))]
        else:
            estimated = m.translator.estimate_labels([i.crops[-1] for i in inputs], batch_size)
            sources = [
                [float(labels[k, attrs.index(a)]) if a in attrs else est[j] for j, a in enumerate(attributes)]
                for k, est in enumerate(estimated)
            ]
        for item, label in zip(inputs, sources):
            item.sources.append(label)
    return inputs

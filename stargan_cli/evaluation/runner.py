"""``stargan eval`` as a library call: data, models, classifier and features put together.

:func:`evaluate_models` scores checkpoints on held-out CelebA images and returns an
:class:`EvalReport`; :func:`train_celeba_classifier` trains, measures and caches the
attribute classifier. Progress goes through a small :class:`Progress` protocol so that the
CLI can show rich bars and tests can stay silent.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Protocol, Sequence

from ..attributes import CELEBA_ATTRIBUTES
from ..errors import StarganError, UsageError
from .classifier import (
    AttributeClassifier,
    TrainSettings,
    check_attributes,
    default_classifier_path,
    held_out_accuracy,
    save_classifier,
    train_classifier,
)

if TYPE_CHECKING:
    import torch

    from ..checkpoints import Checkpoint
    from ..models.config import ModelConfig
    from .evaluate import RealFeatures
    from .fid import FeatureExtractor

SPLITS = ("test", "train")
DATASETS = ("celeba",)


class Progress(Protocol):
    """Something that shows progress: ``task(description, total)`` gives an ``advance(k)``."""

    def task(self, description: str, total: int) -> Callable[..., None]:  # noqa: D102
        ...


class NoProgress:
    """Progress that shows nothing."""

    def task(self, description: str, total: int) -> Callable[..., None]:  # noqa: D102
        return lambda *args, **kwargs: None


@dataclass
class EvalSettings:
    """What to evaluate on: ``n`` images of the ``split`` of CelebA in ``data`` (default folder
    when None), chosen with ``seed``; FID reference: ``n_real`` images of the same split (all
    when None); ``batch_size`` images per forward pass."""

    data: Path | None = None
    dataset: str = "celeba"
    split: str = "test"
    n: int = 200
    n_real: int | None = None
    seed: int = 0
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.dataset.lower() not in DATASETS:
            raise UsageError(
                f"eval measures CelebA attributes: --dataset {self.dataset} is not supported (use celeba)"
            )
        if self.split not in SPLITS:
            raise UsageError(f"unknown --split {self.split!r}: choose test or train")
        if self.n < 1:
            raise UsageError("--n must be at least 1")
        if self.n_real is not None and self.n_real < 2:
            raise UsageError("--n-real must be at least 2 (FID needs a covariance)")
        if self.batch_size < 1:
            raise UsageError("--batch-size must be at least 1")


@dataclass
class ModelEvaluation:
    """Scores of one model: per target and their mean over targets; ``mean`` also holds the
    figures that are one per model (``identity_psnr``, ``identity_ssim``)."""

    name: str
    path: str
    config: dict[str, Any]
    targets: dict[str, dict[str, float | None]]
    mean: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        """The model's entry in the JSON report."""
        return {"name": self.name, "path": self.path, "config": self.config,
                "targets": self.targets, "mean": self.mean}


@dataclass
class EvalReport:
    """Everything ``stargan eval`` reports (see :meth:`to_dict` for the JSON layout)."""

    models: list[ModelEvaluation]
    classifier: dict[str, Any]
    fid_features: str | None
    n: int
    seed: int
    split: str
    dataset: str = "celeba"
    n_real: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """``{"models": [{"name", "path", "config", "targets": {target: {metric: value}},
        "mean": {metric: value}}], "classifier": {...}, "fid_features", "n", "seed", "split",
        "dataset", "n_real", "notes"}``; missing values are null."""
        return {
            "models": [m.to_dict() for m in self.models],
            "classifier": self.classifier,
            "fid_features": self.fid_features,
            "n": self.n,
            "seed": self.seed,
            "split": self.split,
            "dataset": self.dataset,
            "n_real": self.n_real,
            "notes": list(self.notes),
        }


# --- models -------------------------------------------------------------------------------------


def celeba_block(config: "ModelConfig") -> tuple[tuple[str, ...], Callable[["torch.Tensor"], "torch.Tensor"]]:
    """The CelebA attributes a model translates and how their labels become its label vector.

    A ``multi`` model takes them as they are. A ``joint`` model (CelebA + folder domains) takes
    them in its label layout (:mod:`stargan_cli.label_layout`), as its CelebA training batches
    did. A ``single`` (folder-only) model has no CelebA attributes to judge.
    """
    from ..label_layout import LabelLayout, model_label

    layout = LabelLayout.of(config)
    part = layout.multi
    if part is None:
        raise StarganError(
            f"this model translates folder domains ({', '.join(config.attributes)}), not CelebA "
            "attributes: eval judges CelebA attributes only"
        )
    names = part.names
    label = functools.partial(model_label, part=part, c_dim=layout.c_dim)
    unknown = [a for a in names if a not in CELEBA_ATTRIBUTES]
    if unknown or not names:
        raise StarganError(
            f"this model's attributes {', '.join(unknown or names)} are not CelebA attributes: "
            "eval judges CelebA attributes only"
        )
    return names, label


# --- data ---------------------------------------------------------------------------------------


def _split_of(source: Any, split: str) -> Any:
    dataset = source.test if split == "test" else source.train
    if len(dataset) == 0:
        raise StarganError(f"the {split} split of {source.name} is empty: use --split train or more images")
    return dataset


def real_features(
    dataset: Any,
    attributes: Sequence[str],
    extractor: "FeatureExtractor",
    *,
    n_real: int | None,
    seed: int,
    batch_size: int,
    advance: Callable[[int], None] | None = None,
) -> "RealFeatures":
    """Features and labels of the real reference images: ``n_real`` of ``dataset`` (a seeded
    choice) or all of them."""
    import numpy as np

    from ..data import fetch_batch
    from ..images import normalize
    from .evaluate import RealFeatures

    n = len(dataset)
    if n_real is None or n_real >= n:
        indices = np.arange(n)
    else:
        indices = np.sort(np.random.default_rng(int(seed) % 2**63).permutation(n)[:n_real])
    feats, labels = [], []
    for start in range(0, len(indices), batch_size):
        chunk = indices[start : start + batch_size].tolist()
        images, lab, _ = fetch_batch(dataset, chunk)
        if images is not None and len(images):
            feats.append(extractor(normalize(images.to(extractor.device))).double().numpy())
            labels.append(lab.numpy() > 0.5)
        if advance:
            advance(len(chunk))
    if not feats:
        raise StarganError("no readable real images for the FID reference")
    return RealFeatures(np.concatenate(feats), np.concatenate(labels), list(attributes))


@contextlib.contextmanager
def deterministic_kernels() -> Iterator[None]:
    """cuDNN in deterministic mode (no autotuning) for the duration, then as before."""
    import torch

    backend = torch.backends.cudnn
    saved = (backend.deterministic, backend.benchmark)
    backend.deterministic, backend.benchmark = True, False
    try:
        yield
    finally:
        backend.deterministic, backend.benchmark = saved


def evaluate_models(
    models: Sequence[tuple[str, Path]],
    classifier: AttributeClassifier,
    settings: EvalSettings,
    *,
    extractor: "FeatureExtractor | None" = None,
    device: "torch.device | str" = "cpu",
    progress: Progress | None = None,
    quiet: bool = True,
) -> EvalReport:
    """Score each ``(name, checkpoint path)`` on the same held-out images.

    Models of the same image size see exactly the same inputs; models of other sizes the same
    images at their size (the seeded choice is made over the same split).
    """
    import torch

    from ..checkpoints import build_models
    from ..data import load_celeba, sample_batch
    from .evaluate import evaluate_generator, identity_scores, mean_row
    from ..loading import load_checkpoint

    progress = progress or NoProgress()
    device = torch.device(device)
    classifier.to(device)
    loaded: list[tuple[str, Path, "Checkpoint", tuple[str, ...], Callable]] = []
    for name, path in models:
        checkpoint = load_checkpoint(path)
        names, label = celeba_block(checkpoint.config)
        check_attributes(classifier, names)
        loaded.append((name, Path(path), checkpoint, names, label))
    if not loaded:
        raise StarganError("no model to evaluate: pass --model NAME|PATH (or --train-classifier alone)")

    notes: list[str] = []
    results: list[ModelEvaluation] = []
    sizes = sorted({ckpt.config.image_size for _, _, ckpt, _, _ in loaded})
    other = [s for s in sizes if s != classifier.image_size]
    if other:
        notes.append(
            f"the classifier was trained at {classifier.image_size}px; images of "
            f"{', '.join(f'{s}px' for s in other)} are resized for it (train one at that size with "
            "--train-classifier --image-size)"
        )
    by_size: dict[int, tuple[Any, Any, Any, Any]] = {}
    with deterministic_kernels():
        for size in sizes:
            needed = list(dict.fromkeys(a for _, _, ck, names, _ in loaded if ck.config.image_size == size for a in names))
            source = load_celeba(settings.data, needed, size, use_cache=True, build_cache=False, quiet=quiet)
            dataset = _split_of(source, settings.split)
            images, labels = sample_batch(dataset, settings.n, settings.seed)
            if len(images) < settings.n:
                notes.append(f"{size}px: only {len(images)} readable {settings.split} images (asked for {settings.n})")
            real = None
            if extractor is not None:
                count = len(dataset) if settings.n_real is None else min(settings.n_real, len(dataset))
                real = real_features(
                    dataset, needed, extractor, n_real=settings.n_real, seed=settings.seed + 1,
                    batch_size=settings.batch_size,
                    advance=progress.task(f"FID reference ({size}px, {settings.split})", count),
                )
            by_size[size] = (source, images, labels, real)
        for name, path, checkpoint, names, label in loaded:
            source, images, labels, real = by_size[checkpoint.config.image_size]
            index = {a: i for i, a in enumerate(source.names)}
            model_labels = labels[:, [index[a] for a in names]]
            G, _ = build_models(checkpoint, device, with_discriminator=False)
            advance = progress.task(f"Evaluating {name}", len(images) * (len(names) + 1))
            targets = evaluate_generator(
                G, names, images, model_labels, classifier,
                model_label=label, extractor=extractor, real=real,
                batch_size=settings.batch_size, device=device, advance=advance,
            )
            identity = identity_scores(G, images, model_labels, model_label=label,
                                       batch_size=settings.batch_size, device=device, advance=advance)
            results.append(ModelEvaluation(
                name=name, path=str(path), config=checkpoint.config.to_dict(), targets=targets,
                mean={**mean_row(targets), **identity},
            ))
            del G
    if extractor is not None and any(row["fid"] is None for r in results for row in r.targets.values()):
        notes.append("FID is missing where the real held-out images of a target value number fewer than 2")
    n_used = min(len(v[1]) for v in by_size.values())
    return EvalReport(
        models=results, classifier=classifier.summary(), fid_features=extractor.name if extractor else None,
        n=n_used, seed=settings.seed, split=settings.split, dataset=settings.dataset.lower(),
        n_real=settings.n_real, notes=notes,
    )


# --- classifier training ------------------------------------------------------------------------


def train_celeba_classifier(
    data: Path | None,
    image_size: int,
    *,
    epochs: float | None = 3.0,
    iters: int | None = None,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    device: "torch.device | str" = "cpu",
    path: Path | None = None,
    progress: Progress | None = None,
    quiet: bool = True,
) -> AttributeClassifier:
    """Train the attribute classifier on the CelebA training split (all 40 attributes), measure
    its held-out accuracy per attribute, and save it (default: the cache path for ``image_size``).

    ``iters`` (steps) wins over ``epochs`` when both are given.
    """
    from ..data import load_celeba
    from .classifier import iters_for_epochs

    progress = progress or NoProgress()
    source = load_celeba(data, list(CELEBA_ATTRIBUTES), image_size, use_cache=True, build_cache=True, quiet=quiet)
    if len(source.train) < 2:
        raise StarganError(f"the CelebA training split has {len(source.train)} image(s): too few to train on")
    if iters is None:
        if epochs is None or epochs <= 0:
            raise UsageError("--epochs must be above 0 (or give --iters)")
        iters = iters_for_epochs(epochs, len(source.train), batch_size)
    settings = TrainSettings(iters=iters, batch_size=batch_size, lr=lr, seed=seed)
    step = progress.task(f"Training classifier ({image_size}px)", iters)
    classifier = train_classifier(source.train, source.names, image_size, settings, device=device, advance=step)
    if len(source.test):
        accuracy, baseline = held_out_accuracy(
            classifier, source.test, source.names, batch_size=max(batch_size, 64),
            advance=progress.task("Held-out accuracy", len(source.test)),
        )
        classifier.accuracy, classifier.baseline = accuracy, baseline
    classifier.config["train"].update(split=source.split, n_test=len(source.test),
                                      epochs=round(iters * batch_size / len(source.train), 3))
    save_classifier(classifier, path or default_classifier_path(image_size, create=True))
    return classifier

"""The attribute classifier that judges translations: a ResNet-18 over the 40 CelebA attributes.

It is trained by ``stargan eval --train-classifier`` on the CelebA training split, never on the
GAN's discriminator, and cached under ``paths.models_dir()/classifiers/``. The file is a plain
dict (format name and version, a JSON-able config, the held-out accuracy and the weights as
tensors) written with ``torch.save`` atomically and read with ``torch.load(weights_only=True)``.
A ``.json`` beside it repeats the config and accuracy for people to read.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from .. import paths
from ..attributes import CELEBA_ATTRIBUTES
from ..errors import StarganError

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.data import Dataset

FORMAT_NAME = "stargan-cli-classifier"
FORMAT_VERSION = 1
ARCH = "resnet18"
CLASSIFIERS_DIR = "classifiers"
MISSING_HINT = "run `stargan eval --train-classifier` (or pass --classifier PATH)"


def build_network(n_outputs: int, arch: str = ARCH) -> "nn.Module":
    """A randomly initialised torchvision ResNet with ``n_outputs`` logits (no weights downloaded)."""
    from torchvision import models

    if arch != ARCH:
        raise StarganError(f"unknown classifier architecture {arch!r} (this version knows {ARCH})")
    return models.resnet18(weights=None, num_classes=n_outputs)


def resize_to(images: "torch.Tensor", size: int) -> "torch.Tensor":
    """Square images (B, 3, H, W) resized to ``size`` (bilinear, antialiased when shrinking)."""
    import torch.nn.functional as F

    if images.shape[-1] == size and images.shape[-2] == size:
        return images
    shrink = images.shape[-1] > size
    return F.interpolate(images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrink)


@dataclass
class AttributeClassifier:
    """A trained attribute classifier.

    ``attributes``: the names of its outputs, in order. ``image_size``: the size it was trained
    at; other sizes are resized to it. ``accuracy``/``baseline``: held-out accuracy per
    attribute and the share of the most frequent value (what always guessing it would score).
    """

    network: "nn.Module"
    attributes: tuple[str, ...]
    image_size: int
    config: dict[str, Any] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, float] = field(default_factory=dict)
    path: Path | None = None

    @property
    def device(self) -> "torch.device":
        """Where the network's weights are."""
        import itertools

        import torch

        first = next(itertools.chain(self.network.parameters(), self.network.buffers()), None)
        return first.device if first is not None else torch.device("cpu")

    def to(self, device: "torch.device | str") -> "AttributeClassifier":
        """Move the network to ``device`` (in place) and return self."""
        self.network.to(device)
        return self

    def logits(self, images: "torch.Tensor") -> "torch.Tensor":
        """Attribute logits (B, n) for float images (B, 3, H, W) in [-1, 1]."""
        import torch

        self.network.eval()
        with torch.no_grad():
            x = resize_to(images.to(self.device, torch.float32), self.image_size)
            return self.network(x).float()

    def predict(self, images: "torch.Tensor") -> "torch.Tensor":
        """Bool readings (B, n): the attribute is on where its logit is above 0."""
        return self.logits(images) > 0

    def mean_accuracy(self) -> float | None:
        """Mean held-out accuracy over the attributes (None when not measured)."""
        return sum(self.accuracy.values()) / len(self.accuracy) if self.accuracy else None

    def summary(self) -> dict[str, Any]:
        """JSON-able description for reports."""
        return {
            "path": str(self.path) if self.path else None,
            "arch": self.config.get("arch", ARCH),
            "image_size": self.image_size,
            "attributes": list(self.attributes),
            "train": self.config.get("train", {}),
            "mean_accuracy": self.mean_accuracy(),
            "accuracy": dict(self.accuracy),
            "baseline": dict(self.baseline),
        }


# --- files ------------------------------------------------------------------------------------


def classifiers_dir(create: bool = True) -> Path:
    """Folder of installed classifiers."""
    folder = paths.models_dir(create) / CLASSIFIERS_DIR
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_classifier_path(image_size: int, create: bool = False) -> Path:
    """Where the classifier for ``image_size`` is cached: ``classifiers/celeba-resnet18-<S>px.pt``."""
    return classifiers_dir(create) / f"celeba-{ARCH}-{int(image_size)}px.pt"


def installed_classifiers() -> list[Path]:
    """Installed classifier files, sorted by name."""
    folder = classifiers_dir(create=False)
    return sorted(p for p in folder.glob("*.pt") if p.is_file()) if folder.is_dir() else []


def save_classifier(classifier: AttributeClassifier, path: str | os.PathLike) -> Path:
    """Write ``classifier`` to ``path`` atomically, plus ``<path>.json`` (config and accuracy)."""
    import torch

    from ..fileio import atomic_write

    path = Path(path)
    state = {k: v.detach().cpu().clone() for k, v in classifier.network.state_dict().items()}
    config = dict(classifier.config)
    config.update(arch=config.get("arch", ARCH), image_size=int(classifier.image_size),
                  attributes=list(classifier.attributes))
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "config": json.loads(json.dumps(config)),  # proves it is JSON-able
        "accuracy": {k: float(v) for k, v in classifier.accuracy.items()},
        "baseline": {k: float(v) for k, v in classifier.baseline.items()},
        "state": state,
    }
    atomic_write(path, lambda tmp: torch.save(payload, tmp))
    info = {"config": payload["config"], "mean_accuracy": classifier.mean_accuracy(),
            "accuracy": payload["accuracy"], "baseline": payload["baseline"]}
    atomic_write(path.with_suffix(".json"), lambda tmp: tmp.write_text(json.dumps(info, indent=2) + "\n"))
    classifier.path = path
    return path


def load_classifier(path: str | os.PathLike, device: "torch.device | str" = "cpu") -> AttributeClassifier:
    """Load a classifier file safely (tensors and plain data only) onto ``device``."""
    from ..checkpoints import read_state_file

    path = Path(path)
    if not path.exists():
        raise StarganError(f"classifier {path} does not exist: {MISSING_HINT}")
    payload = read_state_file(path)
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise StarganError(f"{path} is not an attribute classifier of stargan eval: {MISSING_HINT}")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise StarganError(f"{path} was written by a newer stargan (classifier format {version}); upgrade stargan")
    try:
        config = dict(payload["config"])
        attributes = tuple(config["attributes"])
        network = build_network(len(attributes), config.get("arch", ARCH))
        network.load_state_dict(payload["state"], strict=True)
        image_size = int(config["image_size"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        detail = (str(err).splitlines() or [type(err).__name__])[0][:100]
        raise StarganError(f"{path} is a damaged classifier file ({detail}): {MISSING_HINT}") from None
    network.to(device).eval()
    return AttributeClassifier(
        network=network, attributes=attributes, image_size=image_size, config=config,
        accuracy=dict(payload.get("accuracy") or {}), baseline=dict(payload.get("baseline") or {}), path=path,
    )


def find_classifier(image_size: int, path: str | os.PathLike | None = None) -> Path:
    """The classifier file to use: ``path`` when given, else the one trained at ``image_size``,
    else the installed one of the closest size. Raises a StarganError naming the fix when none."""
    if path is not None:
        path = Path(path).expanduser()
        if not path.is_file():
            raise StarganError(f"classifier {path} does not exist: {MISSING_HINT} to create one")
        return path
    exact = default_classifier_path(image_size)
    if exact.is_file():
        return exact
    found = installed_classifiers()
    if not found:
        raise StarganError(f"no attribute classifier is installed: {MISSING_HINT}")

    def size_of(p: Path) -> int:
        digits = p.stem.rsplit("-", 1)[-1].removesuffix("px")
        return int(digits) if digits.isdigit() else 1 << 30

    return min(found, key=lambda p: (abs(size_of(p) - image_size), p.name))


# --- training ---------------------------------------------------------------------------------


def held_out_accuracy(
    classifier: AttributeClassifier,
    dataset: "Dataset",
    attributes: Sequence[str],
    *,
    batch_size: int = 128,
    advance: Callable[[int], None] | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Per-attribute accuracy of ``classifier`` on ``dataset`` (uint8 images, 0/1 labels in the
    order of ``attributes``), and the majority-value baseline of each attribute."""
    import torch

    from ..data.datasets import fetch_batch
    from ..images import normalize

    index = {a: i for i, a in enumerate(classifier.attributes)}
    cols = [index[a] for a in attributes]
    correct = torch.zeros(len(attributes), dtype=torch.float64)
    positives = torch.zeros(len(attributes), dtype=torch.float64)
    total = 0
    for start in range(0, len(dataset), batch_size):
        images, labels, _ = fetch_batch(dataset, list(range(start, min(start + batch_size, len(dataset)))))
        if images is not None and len(images):
            pred = classifier.predict(normalize(images.to(classifier.device)))[:, cols].cpu()
            truth = labels > 0.5
            correct += (pred == truth).sum(0).double()
            positives += truth.sum(0).double()
            total += len(images)
        if advance:
            advance(min(batch_size, len(dataset) - start))
    if total == 0:
        raise StarganError("the held-out split has no readable images to measure the classifier on")
    accuracy = {a: float(correct[i] / total) for i, a in enumerate(attributes)}
    baseline = {a: float(max(positives[i], total - positives[i]) / total) for i, a in enumerate(attributes)}
    return accuracy, baseline


@dataclass(frozen=True)
class TrainSettings:
    """How the classifier is trained: ``iters`` steps of Adam (betas 0.9/0.999) on batches of
    ``batch_size`` with random horizontal flips, the learning rate falling from ``lr`` to 0
    along a cosine; batches come from a permutation of the training set per epoch, and the
    initial weights from ``seed``."""

    iters: int
    batch_size: int = 64
    lr: float = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.iters < 1:
            raise StarganError("the classifier needs at least 1 training iteration")
        if self.batch_size < 2:
            raise StarganError("--batch-size must be at least 2 to train the classifier (batch norm)")
        if not self.lr > 0:
            raise StarganError("--lr must be above 0")


def iters_for_epochs(epochs: float, n_train: int, batch_size: int) -> int:
    """Training steps for ``epochs`` passes over ``n_train`` images (at least 1)."""
    per_epoch = max(1, -(-n_train // batch_size))
    return max(1, round(epochs * per_epoch))


def train_classifier(
    train: "Dataset",
    attributes: Sequence[str],
    image_size: int,
    settings: TrainSettings,
    *,
    device: "torch.device | str" = "cpu",
    advance: Callable[[int, float], None] | None = None,
) -> AttributeClassifier:
    """Train a ResNet-18 on ``train`` (items: uint8 (3,S,S) images, 0/1 labels over ``attributes``).

    ``advance(1, loss)`` is called after every step. Deterministic on the CPU for a fixed seed.
    """
    import torch
    import torch.nn.functional as F

    from ..data.datasets import fetch_batch
    from ..images import normalize

    n = len(train)
    if n < 2:
        raise StarganError(f"the training split has {n} image(s): too few to train a classifier")
    with torch.random.fork_rng(devices=[]):  # seeded initial weights, global RNG untouched
        torch.manual_seed(settings.seed)
        network = build_network(len(attributes)).to(device)
    network.train()
    optimizer = torch.optim.Adam(network.parameters(), lr=settings.lr, betas=(0.9, 0.999))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.iters)
    generator = torch.Generator().manual_seed(settings.seed)
    batch_size = min(settings.batch_size, n)
    order: list[int] = []
    step = failures = 0
    while step < settings.iters:
        if len(order) < batch_size:
            order = torch.randperm(n, generator=generator).tolist()
        indices, order = order[:batch_size], order[batch_size:]
        images, labels, _ = fetch_batch(train, indices)
        if images is None or len(images) < 2:  # a batch of unreadable files: nothing to learn
            failures += 1
            if failures > n // batch_size + 1:
                raise StarganError("the training images cannot be read: check the dataset folder")
            continue
        failures = 0
        x = normalize(images.to(device))
        flip = torch.rand(len(x), generator=generator) < 0.5
        x = torch.where(flip.to(device)[:, None, None, None], x.flip(-1), x)
        x = resize_to(x, image_size)
        loss = F.binary_cross_entropy_with_logits(network(x), labels.to(device))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        step += 1
        if advance:
            advance(1, float(loss.detach()))
    network.eval()
    config = {
        "arch": ARCH,
        "image_size": int(image_size),
        "attributes": list(attributes),
        "train": {"iters": settings.iters, "batch_size": batch_size, "lr": settings.lr, "schedule": "cosine",
                  "seed": settings.seed, "n_train": n},
    }
    return AttributeClassifier(network=network, attributes=tuple(attributes), image_size=int(image_size), config=config)


def check_attributes(classifier: AttributeClassifier, needed: Sequence[str]) -> None:
    """Raise a StarganError when ``classifier`` cannot read every attribute in ``needed``."""
    missing = [a for a in needed if a not in classifier.attributes]
    if missing:
        where = classifier.path or "the classifier"
        raise StarganError(
            f"{where} does not know {', '.join(missing)}: {MISSING_HINT} to train one on all "
            f"{len(CELEBA_ATTRIBUTES)} CelebA attributes"
        )

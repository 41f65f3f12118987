"""Scoring one generator on a fixed set of held-out images: the tensor-level evaluation loop.

For every batch of inputs ``x`` with labels ``c`` and every target ``t`` of
:func:`~stargan_cli.attributes.single_domain_targets` (a hair colour set with the others off, any
other attribute flipped) the loop computes ``y = G(x, t)`` and ``x' = G(y, c)`` and accumulates
the counts and sums of :mod:`.metrics`; FID is computed at the end from the features of all
``y`` of a target against the real reference images (:class:`RealFeatures`). For hair-colour
targets it also measures how far the face's colour moves (``face_shift``).
:func:`identity_scores` translates every image to its own labels (one figure per model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Protocol, Sequence

import numpy as np
import torch

from ..attributes import HAIR_COLORS, single_domain_targets
from ..images import normalize
from . import metrics

if TYPE_CHECKING:
    from .fid import FeatureExtractor

# Figures of one model and target; the identity figures are one per model (in the mean row).
IDENTITY_METRICS = ("identity_psnr", "identity_ssim")
METRICS = ("success", "preservation", "preservation_all", "l1", "psnr", *IDENTITY_METRICS, "face_shift", "fid")
# Which way is better, for marking the best model of a row.
HIGHER_IS_BETTER = {"success": True, "preservation": True, "preservation_all": True,
                    "l1": False, "psnr": True, "identity_psnr": True, "identity_ssim": True,
                    "face_shift": False, "fid": False}


class Judge(Protocol):
    """What the loop needs of a classifier: its attribute names and bool readings of images."""

    attributes: Sequence[str]

    def predict(self, images: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ...


@dataclass
class RealFeatures:
    """Features of the real reference images and their 0/1 labels over ``attributes``."""

    features: np.ndarray  # (M, D) float64
    labels: np.ndarray  # (M, len(attributes)) bool
    attributes: Sequence[str]

    def __post_init__(self) -> None:
        self._stats: dict[tuple[str, bool], tuple[np.ndarray, np.ndarray] | None] = {}

    def group_stats(self, attribute: str, value: bool) -> tuple[np.ndarray, np.ndarray] | None:
        """Mean and covariance of the images whose ``attribute`` is ``value`` (None if < 2 images)."""
        key = (attribute, bool(value))
        if key not in self._stats:
            col = list(self.attributes).index(attribute)
            rows = self.features[self.labels[:, col] == bool(value)]
            self._stats[key] = metrics.gaussian_stats(rows) if len(rows) >= 2 else None
        return self._stats[key]

    def reference(self, attribute: str, target_values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Statistics of the real target domain for translations aiming at ``target_values``.

        The real images whose ``attribute`` equals the value aimed at, with the two values
        mixed in the proportions of the translations (:func:`metrics.mixture_stats`). None when
        a value that is aimed at has fewer than 2 real images.
        """
        parts = []
        for value in (True, False):
            weight = float((target_values == value).mean())
            if weight == 0:
                continue
            stats = self.group_stats(attribute, value)
            if stats is None:
                return None
            parts.append((weight, *stats))
        return metrics.mixture_stats(parts)


@dataclass
class _Tally:
    """Running sums of one target."""

    hits: int = 0
    kept: int = 0
    counted: int = 0
    kept_all: int = 0
    counted_all: int = 0
    l1: float = 0.0
    psnr: float = 0.0
    n: int = 0
    shift: float = 0.0
    shifted: int = 0

    def result(self) -> dict[str, float | None]:
        return {
            "success": metrics.share(self.hits, self.n),
            "preservation": metrics.share(self.kept, self.counted),
            "preservation_all": metrics.share(self.kept_all, self.counted_all),
            "l1": metrics.share(self.l1, self.n),
            "psnr": metrics.share(self.psnr, self.n),
            "face_shift": metrics.share(self.shift, self.shifted),
        }


def evaluate_generator(
    generator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    attributes: Sequence[str],
    images: torch.Tensor,
    labels: torch.Tensor,
    judge: Judge,
    *,
    model_label: Callable[[torch.Tensor], torch.Tensor] | None = None,
    extractor: "FeatureExtractor | None" = None,
    real: RealFeatures | None = None,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    advance: Callable[[int], None] | None = None,
) -> dict[str, dict[str, float | None]]:
    """Scores of ``generator`` per target attribute: ``{target: {metric: value}}``.

    ``face_shift`` is measured on hair-colour targets only (None for the others).

    ``images`` uint8 (N, 3, S, S) and ``labels`` 0/1 (N, len(attributes)) are the inputs;
    ``model_label`` turns such labels into the generator's label vector (identity by default;
    joint models add their other block and mask). ``judge`` must know every attribute.
    FID is computed when ``extractor`` and ``real`` are given (else None). ``advance(k)`` is
    called after each batch with the number of images translated (inputs x targets).
    """
    device = torch.device(device)
    to_label = model_label or (lambda c: c)
    judge_names = list(judge.attributes)
    target_cols = [judge_names.index(a) for a in attributes]
    tallies = [_Tally() for _ in attributes]
    feats: list[list[np.ndarray]] = [[] for _ in attributes]
    aimed: list[list[np.ndarray]] = [[] for _ in attributes]
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = normalize(images[start : start + batch_size].to(device))
            c_org = labels[start : start + batch_size].to(device, torch.float32)
            pred_in = judge.predict(x).to(device)
            for t, c_trg in enumerate(single_domain_targets(c_org, attributes)):
                y = generator(x, to_label(c_trg)).float().clamp(-1, 1)
                x_rec = generator(y, to_label(c_org)).float().clamp(-1, 1)
                pred_out = judge.predict(y).to(device)
                tally = tallies[t]
                tally.n += len(x)
                tally.hits += metrics.success_count(pred_out[:, target_cols[t]], c_trg[:, t])
                for all_attributes in (False, True):
                    mask = metrics.preservation_mask(
                        c_org, c_trg, attributes, judge_names, attributes[t], all_attributes=all_attributes
                    )
                    kept, counted = metrics.preservation_counts(pred_in, pred_out, mask)
                    if all_attributes:
                        tally.kept_all += kept
                        tally.counted_all += counted
                    else:
                        tally.kept += kept
                        tally.counted += counted
                tally.l1 += float(metrics.l1_per_image(x_rec, x).sum())
                tally.psnr += float(metrics.psnr_per_image(x_rec, x).sum())
                if attributes[t] in HAIR_COLORS:
                    tally.shift += float(metrics.face_shift_per_image(x, y).sum())
                    tally.shifted += len(x)
                if extractor is not None and real is not None:
                    feats[t].append(extractor(y).double().numpy())
                    aimed[t].append((c_trg[:, t] > 0.5).cpu().numpy())
            if advance:
                advance(len(x) * len(attributes))
    results: dict[str, dict[str, float | None]] = {}
    for t, name in enumerate(attributes):
        row = tallies[t].result()
        row["fid"] = None
        if extractor is not None and real is not None and feats[t]:
            fake = np.concatenate(feats[t])
            ref = real.reference(name, np.concatenate(aimed[t]))
            if ref is not None and len(fake) >= 2:
                row["fid"] = metrics.frechet_distance(*metrics.gaussian_stats(fake), *ref)
        results[name] = {m: row.get(m) for m in METRICS}  # the identity figures: None here
    return results


def identity_scores(
    generator: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    model_label: Callable[[torch.Tensor], torch.Tensor] | None = None,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    advance: Callable[[int], None] | None = None,
) -> dict[str, float | None]:
    """How much ``generator`` changes a face asked to change nothing: every image translated to
    its own labels and compared with the input at model size, ``{"identity_psnr" (dB),
    "identity_ssim"}`` averaged over the images. Arguments as :func:`evaluate_generator`."""
    device = torch.device(device)
    to_label = model_label or (lambda c: c)
    psnr = ssim = 0.0
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = normalize(images[start : start + batch_size].to(device))
            c_org = labels[start : start + batch_size].to(device, torch.float32)
            y = generator(x, to_label(c_org)).float().clamp(-1, 1)
            psnr += float(metrics.psnr_per_image(y, x).sum())
            ssim += float(metrics.ssim_per_image(y, x).sum())
            if advance:
                advance(len(x))
    return {"identity_psnr": metrics.share(psnr, len(images)), "identity_ssim": metrics.share(ssim, len(images))}


def mean_row(targets: dict[str, dict[str, float | None]]) -> dict[str, float | None]:
    """Mean of each metric over the targets (targets without a value are left out; the
    identity figures, one per model, are None here: see :func:`identity_scores`)."""
    return {m: metrics.mean_of([row.get(m) for row in targets.values()]) for m in METRICS}

"""The evaluation metrics as pure functions of tensors and arrays.

Conventions: images are float tensors in [-1, 1] (the models' range); classifier readings are
bool tensors ``(B, n_attributes)``; labels are float tensors of 0/1. Every function returns
counts or sums so that batches can be accumulated exactly, plus helpers to turn them into
shares. Definitions (also in the README, "Evaluating models"):

* **target success**: share of outputs whose classifier reading of the target attribute equals
  the target value.
* **preservation**: share of (image, attribute) pairs, over the attributes the translation was
  not asked to change, where the classifier reads the output as it reads the input (see
  :func:`preservation_mask`).
* **L1** and **PSNR** of the cycle reconstruction, on the [0, 1] pixel scale.
* **identity PSNR / SSIM**: an image translated to its own labels against the input
  (:func:`psnr_per_image`, :func:`ssim_per_image`).
* **face colour shift**: the mean absolute change in the face box (:func:`face_box`), in 8-bit
  levels (:func:`face_shift_per_image`).
* **FID**: Fréchet distance between Gaussians fitted to feature sets (:func:`frechet_distance`).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..attributes import HAIR_COLORS

# PSNR of two identical images is infinite; report this ceiling instead (also keeps JSON finite).
PSNR_CAP_DB = 100.0


def success_count(pred_out: torch.Tensor, target: torch.Tensor) -> int:
    """How many outputs the classifier reads as the target value.

    ``pred_out`` (B,) bool: classifier reading of the target attribute on the outputs;
    ``target`` (B,) float: the value each translation aimed for (> 0.5 means on).
    """
    return int((pred_out.bool() == (target > 0.5)).sum().item())


def preservation_mask(
    source: torch.Tensor,
    target: torch.Tensor,
    model_attributes: Sequence[str],
    classifier_attributes: Sequence[str],
    target_attribute: str,
    *,
    all_attributes: bool,
) -> torch.Tensor:
    """Which (image, classifier attribute) pairs count for preservation, as a bool (B, K) mask.

    ``source``/``target`` are the model labels (B, len(model_attributes)). A pair counts when
    the attribute is not the target attribute and the translation was not asked to change it:

    * an attribute of the model counts where its target label equals its source label (so a
      hair colour switched off by a hair-colour target does not count for that image);
    * with ``all_attributes``, the classifier's attributes the model does not know count too,
      except the hair colours when the target is a hair colour (giving someone blond hair may
      rightly clear a grey-hair reading the model has no label for).

    Without ``all_attributes`` only the model's own attributes are used.
    """
    b = source.size(0)
    mask = torch.zeros(b, len(classifier_attributes), dtype=torch.bool, device=source.device)
    model_index = {a: i for i, a in enumerate(model_attributes)}
    unchanged = (source > 0.5) == (target > 0.5)
    for k, name in enumerate(classifier_attributes):
        if name == target_attribute:
            continue
        if name in model_index:
            mask[:, k] = unchanged[:, model_index[name]]
        elif all_attributes and not (target_attribute in HAIR_COLORS and name in HAIR_COLORS):
            mask[:, k] = True
    return mask


def preservation_counts(pred_in: torch.Tensor, pred_out: torch.Tensor, mask: torch.Tensor) -> tuple[int, int]:
    """``(kept, counted)``: pairs under ``mask`` where the output reading equals the input reading."""
    same = (pred_in.bool() == pred_out.bool()) & mask
    return int(same.sum().item()), int(mask.sum().item())


def l1_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference per image on the [0, 1] scale, for images in [-1, 1]: (B,)."""
    return ((x.float() - y.float()).abs() / 2).flatten(1).mean(1)


def psnr_per_image(x: torch.Tensor, y: torch.Tensor, cap: float = PSNR_CAP_DB) -> torch.Tensor:
    """PSNR in dB per image, peak 1 on the [0, 1] scale, at most ``cap`` (identical images): (B,)."""
    mse = (((x.float() - y.float()) / 2) ** 2).flatten(1).mean(1)
    floor = 10.0 ** (-cap / 10.0)
    return (-10.0 * torch.log10(mse.clamp_min(floor))).clamp_max(cap)


# SSIM as Wang et al. (2004) define it: an 11-tap Gaussian window of sigma 1.5, constants
# (0.01 L)^2 and (0.03 L)^2 for the peak L = 1, averaged over the positions the window fits.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


def gaussian_window(size: int, sigma: float) -> torch.Tensor:
    """A normalised 1-d Gaussian of ``size`` taps (float64)."""
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    return weights / weights.sum()


def ssim_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean SSIM per image over channels and window positions, for images in [-1, 1]: (B,).

    Local statistics use a Gaussian window (:data:`SSIM_WINDOW`, :data:`SSIM_SIGMA`) placed
    only where it fits inside the image (no padding); images smaller than the window use a
    window of their size. Identical images give exactly 1.
    """
    a = (x.double() + 1) / 2
    b = (y.double() + 1) / 2
    channels, height, width = a.shape[1:]
    size = min(SSIM_WINDOW, height, width)
    taps = gaussian_window(size, SSIM_SIGMA).to(a.device)
    kernel = (taps[:, None] * taps[None, :]).expand(channels, 1, size, size)

    def local_mean(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(t, kernel, groups=channels)

    mu_a, mu_b = local_mean(a), local_mean(b)
    var_a = local_mean(a * a) - mu_a * mu_a
    var_b = local_mean(b * b) - mu_b * mu_b
    cov = local_mean(a * b) - mu_a * mu_b
    c1, c2 = SSIM_K1**2, SSIM_K2**2
    ssim = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2))
    return ssim.flatten(1).mean(1).float()


# The face of an aligned crop (CelebA's, which photos are aligned to): eyes to chin, as
# (top, bottom, left, right) rows and columns of a 64 px image; other sizes scale it.
FACE_BOX_64 = (28, 60, 16, 48)
# One unit of the [-1, 1] model scale in 8-bit levels.
LEVELS_PER_UNIT = 255 / 2


def face_box(size: int) -> tuple[slice, slice]:
    """Rows and columns of the face box in a ``size`` px aligned crop."""
    top, bottom, left, right = (round(v * size / 64) for v in FACE_BOX_64)
    return slice(top, bottom), slice(left, right)


def face_shift_per_image(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """How much the face changes from ``x`` to ``y`` (images in [-1, 1]), per image: (B,).

    The mean absolute difference over the pixels and channels of the face box
    (:func:`face_box`), in 8-bit levels: a tint, a lightened skin or repainted detail all
    count; a hair target that touches only the hair gives 0.
    """
    rows, cols = face_box(x.size(-1))
    change = (y.double()[:, :, rows, cols] - x.double()[:, :, rows, cols]).abs()
    return (change.mean((1, 2, 3)) * LEVELS_PER_UNIT).float()


def share(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or None when nothing was counted."""
    return float(numerator) / float(denominator) if denominator else None


# --- FID ------------------------------------------------------------------------------------


def gaussian_stats(features: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean (D,) and unbiased covariance (D, D) of features (N, D), in float64. Needs N >= 2."""
    feats = np.asarray(features.detach().cpu() if isinstance(features, torch.Tensor) else features, dtype=np.float64)
    if feats.ndim != 2 or feats.shape[0] < 2:
        raise ValueError(f"need at least 2 feature rows for a covariance, got shape {feats.shape}")
    mu = feats.mean(axis=0)
    centred = feats - mu
    sigma = centred.T @ centred / (feats.shape[0] - 1)
    return mu, sigma


def mixture_stats(
    parts: Sequence[tuple[float, np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of a mixture of distributions given as ``(weight, mean, cov)``.

    Weights are normalised. ``cov = sum w (cov_i + (mu_i - mu)(mu_i - mu)^T)``: the exact second
    moment of the mixture, so one Gaussian stands for "real images of either target value, in
    these proportions".
    """
    total = float(sum(w for w, _, _ in parts))
    if total <= 0:
        raise ValueError("mixture weights must add up to more than 0")
    mu = sum((w / total) * m for w, m, _ in parts)
    sigma = sum((w / total) * (s + np.outer(m - mu, m - mu)) for w, m, s in parts)
    return np.asarray(mu), np.asarray(sigma)


def sqrtm_psd(matrix: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix by eigendecomposition.

    Round-off can make tiny eigenvalues negative; they are clipped to 0.
    """
    sym = (matrix + matrix.T) / 2
    values, vectors = np.linalg.eigh(sym)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """``tr sqrt(sigma1 sigma2)`` for covariance matrices.

    ``sigma1 sigma2`` is similar to the symmetric PSD ``A = s1^(1/2) sigma2 s1^(1/2)``
    (conjugate by ``s1^(1/2)``), so both have the same eigenvalues and ``tr sqrt`` is the sum of
    the square roots of the eigenvalues of ``A``, found with a symmetric solver (no scipy).
    """
    root1 = sqrtm_psd(sigma1)
    inner = root1 @ sigma2 @ root1
    values = np.linalg.eigvalsh((inner + inner.T) / 2)
    return float(np.sqrt(np.clip(values, 0, None)).sum())


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2):
    ``|mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr sqrt(sigma1 sigma2)`` (never below 0)."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    sigma1, sigma2 = np.asarray(sigma1, np.float64), np.asarray(sigma2, np.float64)
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError("the two distributions have different feature sizes")
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2))
    return max(value, 0.0)


def fid_from_features(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    """FID between two feature sets (N, D) and (M, D)."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def mean_of(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are not None (None when there are none)."""
    present = [float(v) for v in values if v is not None]
    return sum(present) / len(present) if present else None

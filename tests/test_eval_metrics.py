"""Pure metric functions of `stargan eval`: FID math, shares, preservation masks, L1/PSNR."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from stargan_cli.attributes import CELEBA_ATTRIBUTES
from stargan_cli.evaluation import metrics


def random_spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_sqrtm_psd_squares_back():
    rng = np.random.default_rng(0)
    a = random_spd(rng, 6)
    root = metrics.sqrtm_psd(a)
    np.testing.assert_allclose(root @ root, a, atol=1e-9)
    np.testing.assert_allclose(root, root.T, atol=1e-12)


def test_trace_sqrt_product_matches_eigenvalues_of_the_product():
    rng = np.random.default_rng(1)
    a, b = random_spd(rng, 5), random_spd(rng, 5)
    # AB is not symmetric, but its eigenvalues are real and positive.
    expected = np.sqrt(np.linalg.eigvals(a @ b).real).sum()
    assert metrics.trace_sqrt_product(a, b) == pytest.approx(expected, rel=1e-9)


def test_fid_of_identical_distributions_is_zero():
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(300, 8))
    assert metrics.fid_from_features(feats, feats) == pytest.approx(0.0, abs=1e-8)
    mu, sigma = metrics.gaussian_stats(feats)
    assert metrics.frechet_distance(mu, sigma, mu, sigma) == pytest.approx(0.0, abs=1e-8)


def test_fid_closed_form_for_gaussians():
    # Diagonal covariances: FID = |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2.
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, -1.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 9.0])
    expected = ((mu1 - mu2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()  # 10 + 2
    assert metrics.frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected)
    assert expected == pytest.approx(12.0)
    # A rotation of both distributions changes nothing (non-diagonal covariances).
    q, _ = np.linalg.qr(np.random.default_rng(3).normal(size=(3, 3)))
    rotated = metrics.frechet_distance(q @ mu1, q @ np.diag(v1) @ q.T, q @ mu2, q @ np.diag(v2) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-9)


def test_fid_from_samples_approaches_the_closed_form():
    rng = np.random.default_rng(4)
    a = rng.normal(size=(20000, 2))
    b = rng.normal(size=(20000, 2)) * 2.0 + np.array([3.0, 0.0])
    # |dmu|^2 = 9, covariances I and 4I: 2 * (1 - 2)^2 = 2.
    assert metrics.fid_from_features(a, b) == pytest.approx(11.0, rel=0.03)
    assert metrics.fid_from_features(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(
        metrics.fid_from_features(a, b)
    )


def test_fid_needs_two_rows_and_same_sizes():
    with pytest.raises(ValueError):
        metrics.gaussian_stats(np.zeros((1, 4)))
    with pytest.raises(ValueError):
        metrics.frechet_distance(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))


def test_mixture_stats_is_the_pooled_population():
    rng = np.random.default_rng(5)
    g1 = rng.normal(size=(3000, 3))
    g2 = rng.normal(size=(1000, 3)) + 4
    parts = [(3.0, g1.mean(0), np.cov(g1.T, bias=True)), (1.0, g2.mean(0), np.cov(g2.T, bias=True))]
    mu, sigma = metrics.mixture_stats(parts)
    pooled = np.concatenate([g1, g2])
    np.testing.assert_allclose(mu, pooled.mean(0), atol=1e-12)
    np.testing.assert_allclose(sigma, np.cov(pooled.T, bias=True), atol=1e-10)
    only_first = metrics.mixture_stats([(1.0, *metrics.gaussian_stats(g1))])
    np.testing.assert_allclose(only_first[1], metrics.gaussian_stats(g1)[1])


def test_l1_and_psnr_known_values():
    x = torch.zeros(2, 3, 4, 4)
    y = x.clone()
    y[1] += 0.2  # 0.1 on the [0, 1] scale
    assert metrics.l1_per_image(x, y).tolist() == pytest.approx([0.0, 0.1])
    psnr = metrics.psnr_per_image(x, y)
    assert psnr[0].item() == metrics.PSNR_CAP_DB
    assert psnr[1].item() == pytest.approx(20.0, rel=1e-5)  # mse 0.01


def test_success_count_and_share():
    read = torch.tensor([True, False, True, True])
    target = torch.tensor([1.0, 0.0, 0.0, 1.0])
    assert metrics.success_count(read, target) == 3
    assert metrics.share(3, 4) == 0.75
    assert metrics.share(0, 0) is None
    assert metrics.mean_of([1.0, None, 3.0]) == 2.0
    assert metrics.mean_of([None]) is None


def test_preservation_mask_rules():
    model = ["Black_Hair", "Blond_Hair", "Male"]
    judge = list(CELEBA_ATTRIBUTES)
    source = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    # Target Blond_Hair: image 0 loses Black_Hair (asked), image 1 keeps it off.
    target = torch.tensor([[0.0, 1.0, 1.0], [0.0, 1.0, 0.0]])
    own = metrics.preservation_mask(source, target, model, judge, "Blond_Hair", all_attributes=False)
    col = {a: i for i, a in enumerate(judge)}
    assert own[:, col["Blond_Hair"]].tolist() == [False, False]  # the target itself
    assert own[:, col["Black_Hair"]].tolist() == [False, True]
    assert own[:, col["Male"]].tolist() == [True, True]
    assert int(own.sum()) == 3  # nothing outside the model's list
    full = metrics.preservation_mask(source, target, model, judge, "Blond_Hair", all_attributes=True)
    assert full[:, col["Gray_Hair"]].tolist() == [False, False]  # hair colour target: hair excluded
    assert full[:, col["Smiling"]].tolist() == [True, True]
    assert int(full.sum()) == 3 + 2 * (40 - 3 - 2)  # + the 35 non-model attributes but Brown/Gray_Hair
    male = metrics.preservation_mask(source, source, model, judge, "Male", all_attributes=True)
    assert male[:, col["Gray_Hair"]].tolist() == [True, True]
    kept, counted = metrics.preservation_counts(
        torch.ones(2, 40, dtype=torch.bool), torch.zeros(2, 40, dtype=torch.bool), own
    )
    assert (kept, counted) == (0, 3)
    assert metrics.preservation_counts(torch.ones(2, 40, dtype=torch.bool), torch.ones(2, 40, dtype=torch.bool), own) == (3, 3)


def test_format_and_best_marks():
    from stargan_cli.evaluation.report import best_index, format_value

    assert format_value("success", 0.5) == "50.0%"
    assert format_value("fid", None) == "-"
    assert format_value("psnr", 31.234) == "31.23 dB"
    assert best_index("fid", [3.0, 1.0, None]) == [1]
    assert best_index("success", [0.2, 0.9, 0.9]) == [1, 2]
    assert best_index("l1", [0.3]) == []
    assert not math.isnan(metrics.PSNR_CAP_DB)

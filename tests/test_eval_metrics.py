"""Pure metric functions of `stargan eval`: FID math, shares, preservation masks, L1/PSNR, SSIM,
the face box and its colour shift."""

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


def to_model_scale(x01: torch.Tensor) -> torch.Tensor:
    return x01 * 2 - 1


C1, C2 = metrics.SSIM_K1**2, metrics.SSIM_K2**2


def test_ssim_of_identical_images_is_exactly_one():
    x = to_model_scale(torch.rand(3, 3, 20, 17, generator=torch.Generator().manual_seed(0)))
    assert metrics.ssim_per_image(x, x.clone()).tolist() == [1.0, 1.0, 1.0]


def test_ssim_of_flat_images_is_the_luminance_term():
    # No variance: only (2ab + C1) / (a^2 + b^2 + C1) is left, at every window position.
    a, b = 0.25, 0.75
    x = to_model_scale(torch.full((1, 3, 16, 16), a))
    y = to_model_scale(torch.full((1, 3, 16, 16), b))
    expected = (2 * a * b + C1) / (a * a + b * b + C1)
    assert metrics.ssim_per_image(x, y).item() == pytest.approx(expected, rel=1e-6)


def test_ssim_of_an_inverted_checkerboard_by_hand():
    # One 11x11 window position. x is a 0/1 checkerboard (1 where i + j is even), y = 1 - x.
    # With Gaussian weights w (sum 1): m = weight on the ones = e^2 + o^2 (e, o: weights of the
    # even and odd taps), var x = var y = m (1 - m) because x^2 = x, cov = -m (1 - m).
    w = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
    w /= w.sum()
    e, o = w[::2].sum(), w[1::2].sum()
    m = e * e + o * o
    v = m * (1 - m)
    expected = ((2 * m * (1 - m) + C1) * (-2 * v + C2)) / ((m * m + (1 - m) ** 2 + C1) * (2 * v + C2))
    i, j = np.indices((11, 11))
    board = torch.tensor((i + j) % 2 == 0, dtype=torch.float32).expand(1, 3, 11, 11)
    got = metrics.ssim_per_image(to_model_scale(board), to_model_scale(1 - board)).item()
    assert got == pytest.approx(expected, rel=1e-6)
    assert got < 0  # anti-correlated structure


def test_ssim_falls_as_noise_grows():
    g = torch.Generator().manual_seed(1)
    x = to_model_scale(torch.rand(1, 3, 32, 32, generator=g))
    noise = torch.randn(1, 3, 32, 32, generator=g)
    scores = [metrics.ssim_per_image(x, (x + s * noise).clamp(-1, 1)).item() for s in (0.01, 0.1, 0.5)]
    assert 1 > scores[0] > scores[1] > scores[2]


def test_ssim_agrees_with_scikit_image_when_installed():
    skm = pytest.importorskip("skimage.metrics")
    g = torch.Generator().manual_seed(2)
    x01 = torch.rand(1, 3, 24, 24, generator=g)
    y01 = (x01 + 0.1 * torch.randn(1, 3, 24, 24, generator=g)).clamp(0, 1)
    theirs = skm.structural_similarity(
        x01[0].double().numpy(), y01[0].double().numpy(), channel_axis=0, data_range=1.0,
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
    )
    assert metrics.ssim_per_image(to_model_scale(x01), to_model_scale(y01)).item() == pytest.approx(theirs, rel=1e-5)


def test_face_box_is_eyes_to_chin_and_scales_with_the_image():
    assert metrics.face_box(64) == (slice(28, 60), slice(16, 48))
    assert metrics.face_box(128) == (slice(56, 120), slice(32, 96))
    assert metrics.face_box(32) == (slice(14, 30), slice(8, 24))


def test_face_shift_in_8_bit_levels():
    x = to_model_scale(torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(3))) * 0.5
    assert metrics.face_shift_per_image(x, x.clone()).tolist() == [0.0, 0.0]
    # A constant added everywhere: 0.1 on the model scale is 12.75 levels.
    assert metrics.face_shift_per_image(x, x + 0.1).tolist() == pytest.approx([12.75, 12.75], rel=1e-6)
    # One channel tinted in image 1: a third of the change, averaged over the channels.
    tinted = x.clone()
    tinted[1, 0] += 0.3
    assert metrics.face_shift_per_image(x, tinted).tolist() == pytest.approx([0.0, 0.3 * 127.5 / 3], rel=1e-6)
    # Changes outside the box (the hair) do not count; a change of either sign inside it does.
    hair = x.clone()
    hair[:, :, :28] = 1.0
    hair[:, :, :, :16] = -1.0
    assert metrics.face_shift_per_image(x, hair).tolist() == [0.0, 0.0]
    noisy = x.clone()
    noisy[:, :, 28:60:2, 16:48] += 0.2
    noisy[:, :, 29:60:2, 16:48] -= 0.2
    assert metrics.face_shift_per_image(x, noisy).tolist() == pytest.approx([25.5, 25.5], rel=1e-5)
    # Half the box (16 of its 32 rows) changed by 0.2: half of 25.5.
    half = x.clone()
    half[:, :, 44:60, 16:48] += 0.2
    assert metrics.face_shift_per_image(x, half).tolist() == pytest.approx([12.75, 12.75], rel=1e-5)


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
    assert format_value("identity_psnr", 28.0) == "28.00 dB"
    assert format_value("identity_ssim", 0.91234) == "0.9123"
    assert format_value("face_shift", 2.345) == "2.35"
    assert best_index("face_shift", [3.0, 1.0]) == [1]
    assert best_index("identity_ssim", [0.8, 0.9]) == [1]
    assert best_index("fid", [3.0, 1.0, None]) == [1]
    assert best_index("success", [0.2, 0.9, 0.9]) == [1, 2]
    assert best_index("l1", [0.3]) == []
    assert not math.isnan(metrics.PSNR_CAP_DB)

"""Learning-rate schedules: the paper's linear decay and the official code's schedule."""

from __future__ import annotations

import pytest

from stargan_cli.training.schedule import LRSchedule


def test_paper_schedule_decays_linearly_to_zero():
    s = LRSchedule("paper", g_lr=1e-4, d_lr=2e-4, iters=200_000, decay_iters=100_000)
    assert s.rates(0) == (1e-4, 2e-4)
    assert s.rates(99_999) == (1e-4, 2e-4)
    assert s.rates(100_000) == pytest.approx((1e-4, 2e-4))
    assert s.rates(150_000) == pytest.approx((5e-5, 1e-4))
    assert s.rates(199_999) == pytest.approx((1e-9, 2e-9))
    assert s.factor(200_000) == 0.0


def test_official_schedule_barely_decays():
    s = LRSchedule("official", g_lr=1e-4, d_lr=1e-4, iters=200_000, decay_iters=100_000)
    # The first update follows iteration i = 100,999 (i+1 = 101,000 > iters - decay_iters).
    assert s.factor(100_000) == s.factor(100_999) == 1.0
    assert s.factor(101_000) == s.factor(101_999) == pytest.approx(1 - 1e-5)
    assert s.factor(102_000) == pytest.approx((1 - 1e-5) ** 2)
    assert s.factor(199_999) == pytest.approx((1 - 1e-5) ** 99)
    assert s.factor(200_000) == pytest.approx((1 - 1e-5) ** 100)
    assert 0.998 < s.factor(200_000) < 0.9995
    # The official code subtracts a fixed self.g_lr / num_iters_decay each time: linear, not geometric.
    assert s.factor(200_000) == pytest.approx(1 - 100 / 100_000, rel=1e-12, abs=0)
    assert s.rates(150_000)[0] == pytest.approx(1e-4 * (1 - 50 / 100_000), rel=1e-12, abs=0)


def test_schedule_without_decay_and_validation():
    s = LRSchedule("paper", 1e-4, 1e-4, iters=10, decay_iters=0)
    assert all(s.factor(i) == 1.0 for i in range(11))
    with pytest.raises(ValueError):
        LRSchedule("paper", 1e-4, 1e-4, iters=10, decay_iters=11)
    with pytest.raises(ValueError):
        LRSchedule("cosine", 1e-4, 1e-4, iters=10, decay_iters=5)

import numpy as np
import pytest
from scipy import stats

from bounds.tv.partition import PARTITIONS, PartitionTV, histogram_tv, null_histogram_tv


def _shift_pair(n: int, delta: float, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    shift = np.zeros(d)
    shift[0] = delta
    return rng.standard_normal((n, d)), rng.standard_normal((n, d)) + shift


def _gauss_tv(delta: float) -> float:
    return float(2 * stats.norm.cdf(delta / 2) - 1)


@pytest.mark.parametrize("k", [2, 5, 40])
def test_histogram_tv_is_half_l1_exactly(k):
    rng = np.random.default_rng(k)
    for _ in range(20):
        p, q = rng.dirichlet(np.ones(k)), rng.dirichlet(np.ones(k))
        np.testing.assert_allclose(
            histogram_tv(p, q), 0.5 * np.abs(p - q).sum(), rtol=0, atol=1e-12
        )


def test_histogram_tv_extremes():
    np.testing.assert_allclose(histogram_tv(np.array([1.0, 0.0]), np.array([0.0, 1.0])), 1.0)
    p = np.array([0.2, 0.3, 0.5])
    np.testing.assert_allclose(histogram_tv(p, p), 0.0, atol=1e-15)


def test_null_tv_matches_normal_approximation():
    # Two cells of mass 1/2, n per side: T = |p_hat - q_hat| with sd sqrt(2 * 0.25 / n).
    rng = np.random.RandomState(0)
    n = 400
    t0 = null_histogram_tv(np.array([n // 2, n // 2]), np.array([n // 2, n // 2]), 4000, rng)
    np.testing.assert_allclose(t0, np.sqrt(0.5 / n) * np.sqrt(2 / np.pi), rtol=0.05)


@pytest.mark.parametrize("partition", sorted(PARTITIONS))
def test_closed_form_gaussian(partition):
    # N(0, I) vs N(2 e1, I) in d=2: TV = 2 Phi(1) - 1 = 0.683; tolerance 0.08.
    s, t = _shift_pair(4000, 2.0, 2, seed=1)
    est = PartitionTV(partition=partition, random_state=0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, _gauss_tv(2.0), atol=0.08)
    assert est.lower_ <= _gauss_tv(2.0)


def test_identical_distributions_near_zero():
    rng = np.random.default_rng(2)
    s, t = rng.standard_normal((2000, 3)), rng.standard_normal((2000, 3))
    est = PartitionTV(random_state=0).fit(s, t)
    assert est.estimate_ <= 0.05
    assert est.histogram_tv_ > est.estimate_  # the raw histogram TV carries the noise bias
    np.testing.assert_allclose(est.null_tv_, est.histogram_tv_, atol=0.05)


def test_disjoint_supports_near_one():
    rng = np.random.default_rng(3)
    s, t = rng.uniform(0, 1, (1000, 2)), rng.uniform(2, 3, (1000, 2))
    est = PartitionTV(partition="kmeans", random_state=0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, 1.0, atol=0.02)
    assert est.lower_ >= 0.9


def test_outputs_in_unit_interval_and_result_fields():
    s, t = _shift_pair(300, 1.0, 4, seed=4)
    res = PartitionTV(random_state=0).fit(s, t).result_
    assert 0.0 <= res.estimate <= 1.0
    assert 0.0 <= res.lower <= 1.0
    assert res.upper is None and res.method == "partition"
    assert (res.n_source, res.n_target) == (300, 300)


def test_lower_is_binomial_bound_of_the_witness_set():
    s, t = _shift_pair(1000, 1.0, 2, seed=5)
    res = PartitionTV(random_state=0, alpha=0.1).fit(s, t).result_
    n_s, n_t = res.details["n_hist_source"], res.details["n_hist_target"]
    # equal sizes: one Clopper-Pearson bound on the pooled held-out accuracy of the witness
    k = round((res.details["witness_tv"] + 1.0) * n_s)
    p_low = stats.beta.ppf(0.1, k, n_s + n_t - k + 1)
    np.testing.assert_allclose(res.lower, max(0.0, 2 * p_low - 1), rtol=1e-9)
    assert res.lower <= res.details["witness_tv"]


def test_symmetry():
    s, t = _shift_pair(3000, 1.5, 2, seed=6)
    a = PartitionTV(random_state=0).fit(s, t).estimate_
    b = PartitionTV(random_state=0).fit(t, s).estimate_
    np.testing.assert_allclose(a, b, atol=0.05)


def test_unequal_sizes():
    rng = np.random.default_rng(7)
    s, t = rng.standard_normal((3000, 2)), rng.standard_normal((700, 2)) + [2.0, 0.0]
    est = PartitionTV(random_state=0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, _gauss_tv(2.0), atol=0.1)


@pytest.mark.parametrize(
    ("delta", "partition", "alpha"),
    [(0.0, "tree", 0.01), (0.0, "kmeans", 0.01), (1.0, "score", 0.05)],
)
def test_coverage_of_lower_bound(delta, partition, alpha):
    # 100 seeded repetitions: the lower bound must stay below the true TV in >= 95 of them.
    # At TV = 0 the bound is exact (misses ~ Binomial(100, alpha)), so alpha = 0.01 there
    # makes ">= 95" a real test of validity rather than a coin flip at its nominal level.
    truth = _gauss_tv(delta)
    covered = sum(
        PartitionTV(partition=partition, alpha=alpha, random_state=r)
        .fit(*_shift_pair(200, delta, 2, seed=r))
        .lower_
        <= truth
        for r in range(100)
    )
    assert covered >= 95, covered


def test_data_processing_dropping_coordinates():
    # Shift in both coordinates: TV(full) = 0.711 > TV(first coordinate) = 0.547.
    diffs = []
    for r in range(5):
        rng = np.random.default_rng(100 + r)
        s, t = rng.standard_normal((2000, 2)), rng.standard_normal((2000, 2)) + 1.5
        full = PartitionTV(random_state=r).fit(s, t).estimate_
        proj = PartitionTV(random_state=r).fit(s[:, :1], t[:, :1]).estimate_
        diffs.append(proj - full)
    assert np.mean(diffs) <= 0.02, diffs


@pytest.mark.slow
def test_scales_to_100k_per_side():
    s, t = _shift_pair(100_000, 1.0, 8, seed=8)
    est = PartitionTV(random_state=0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, _gauss_tv(1.0), atol=0.03)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"partition": "voronoi"}, "partition"),
        ({"n_cells": 1}, "n_cells"),
        ({"fit_fraction": 1.0}, "fit_fraction"),
        ({"n_null_draws": 0}, "n_null_draws"),
        ({"alpha": 1.5}, "alpha"),
    ],
)
def test_bad_parameters(kwargs, match):
    s, t = _shift_pair(50, 1.0, 2, seed=9)
    with pytest.raises(ValueError, match=match):
        PartitionTV(**kwargs).fit(s, t)


def test_too_few_samples():
    with pytest.raises(ValueError, match="source"):
        PartitionTV().fit(np.zeros((3, 2)), np.ones((10, 2)))

"""References: held-out logistic regression, DANN-script proxy A-distance, k-means histograms."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.svm import LinearSVC

from bounds.truth.groundtruth import make_pair
from bounds.truth.references import (
    PAD_C_GRID,
    REFERENCES,
    kmeans_histogram_tv,
    logistic_tv,
    oracle_tv,
    pad_tv,
    proxy_a_distance,
)


def _gauss(n: int, d: int, shift: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.standard_normal((n, d)) + shift


def test_logistic_tv_tracks_a_mean_shift() -> None:
    pair = make_pair("mean_shift", 4, 0.5)
    xs, xt = pair.sample(3000, random_state=0)
    np.testing.assert_allclose(logistic_tv(xs, xt, random_state=0), pair.true_tv, atol=0.06)


def test_logistic_tv_range_and_determinism() -> None:
    xs, xt = _gauss(300, 3, 0.0, 1)
    val = logistic_tv(xs, xt, random_state=3)
    assert 0.0 <= val < 0.2
    np.testing.assert_allclose(logistic_tv(xs, xt, random_state=3), val, atol=0)
    xs, xt = _gauss(300, 3, 20.0, 1)
    np.testing.assert_allclose(logistic_tv(xs, xt, random_state=0), 1.0, atol=1e-12)


def test_logistic_tv_misses_a_quadratic_difference() -> None:
    # Moment-matched mixture: no linear signal, so the linear reference sits far below TV.
    pair = make_pair("mixture", 2, 0.7)
    xs, xt = pair.sample(2000, random_state=0)
    assert logistic_tv(xs, xt, random_state=0) < pair.true_tv - 0.4


def _naive_pad(xs: np.ndarray, xt: np.ndarray, c_grid: tuple[float, ...]) -> float:
    """Written from the DANN reference script, line by line."""
    ns, nt = len(xs), len(xt)
    train_x = np.vstack((xs[: ns // 2], xt[: nt // 2]))
    test_x = np.vstack((xs[ns // 2 :], xt[nt // 2 :]))
    train_y = np.hstack((np.zeros(ns // 2), np.ones(nt // 2)))
    test_y = np.hstack((np.zeros(ns - ns // 2), np.ones(nt - nt // 2)))
    best_risk = 1.0
    for c in c_grid:
        clf = LinearSVC(C=c, max_iter=2000, random_state=0).fit(train_x, train_y)
        test_risk = np.mean(clf.predict(test_x) != test_y)
        if test_risk > 0.5:
            test_risk = 1.0 - test_risk
        best_risk = min(best_risk, test_risk)
    return 2 * (1.0 - 2 * best_risk)


def test_proxy_a_distance_matches_the_script() -> None:
    xs, xt = _gauss(121, 3, 0.4, 2)
    grid = (1e-3, 1e-1, 1.0)
    np.testing.assert_allclose(
        proxy_a_distance(xs, xt, c_grid=grid), _naive_pad(xs, xt, grid), atol=1e-12
    )
    np.testing.assert_allclose(2 * pad_tv(xs, xt), proxy_a_distance(xs, xt), atol=1e-12)


def test_proxy_a_distance_range() -> None:
    xs, xt = _gauss(200, 2, 20.0, 0)
    np.testing.assert_allclose(proxy_a_distance(xs, xt), 2.0, atol=1e-12)
    assert len(PAD_C_GRID) == 10


@pytest.mark.slow
def test_pad_selection_on_the_test_split_biases_upward() -> None:
    # Identical distributions (TV = 0): the full C grid can only lower the best test risk,
    # so it never reports less than one fixed C, and it reports a positive "distance" in
    # most draws.
    full, fixed = [], []
    for seed in range(40):
        xs, xt = _gauss(100, 2, 0.0, seed)
        full.append(pad_tv(xs, xt))
        fixed.append(pad_tv(xs, xt, c_grid=(1.0,)))
    assert np.all(np.asarray(full) >= np.asarray(fixed) - 1e-12)
    n_positive = int(np.sum(np.asarray(full) > 0))
    assert n_positive >= 35, n_positive


def test_kmeans_histogram_is_biased_up_on_identical_samples() -> None:
    values = [
        kmeans_histogram_tv(*_gauss(200, 2, 0.0, seed), random_state=seed) for seed in range(20)
    ]
    # With K = 14 cells and 200 points a side the noise floor is near 0.56 sqrt(K / n) ~ 0.15.
    n_above = int(np.sum(np.asarray(values) > 0.05))
    assert n_above == 20, values
    np.testing.assert_allclose(np.mean(values), 0.15, atol=0.06)


def test_kmeans_histogram_extremes() -> None:
    xs, xt = _gauss(100, 2, 30.0, 0)
    np.testing.assert_allclose(kmeans_histogram_tv(xs, xt, random_state=0), 1.0, atol=0)
    np.testing.assert_allclose(
        kmeans_histogram_tv(xs, xt, n_clusters=1, random_state=0), 0.0, atol=0
    )
    xs, xt = _gauss(100, 2, 0.5, 1)
    assert 0.0 <= kmeans_histogram_tv(xs, xt[:37], n_clusters=5, random_state=0) <= 1.0


def test_oracle_tv_is_close_to_the_truth() -> None:
    pair = make_pair("student_t", 8, 0.5)
    xs, xt = pair.sample(4000, random_state=0)
    tv = oracle_tv(xs, xt, pair.logpdf_source, pair.logpdf_target)
    # standard deviation <= 1 / (2 sqrt(4000)) ~ 0.008
    np.testing.assert_allclose(tv, pair.true_tv, atol=4 * 0.008)


def test_registry_calls() -> None:
    xs, xt = _gauss(60, 2, 1.0, 0)
    for name, fn in REFERENCES.items():
        val = fn(xs, xt, random_state=0)
        assert isinstance(val, float) and 0.0 <= val <= 1.0, name


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: logistic_tv(np.ones((5, 2)), np.ones((5, 3))), "same number of features"),
        (lambda: logistic_tv(np.full((5, 2), np.nan), np.ones((5, 2))), "NaN"),
        (lambda: logistic_tv(np.ones((1, 2)), np.ones((5, 2))), "at least 2"),
        (lambda: pad_tv(np.ones((5, 2)), np.ones((5, 2)), c_grid=()), "c_grid"),
        (lambda: pad_tv(np.ones((5, 2)), np.ones((5, 2)), c_grid=(-1.0,)), "c_grid"),
        (lambda: kmeans_histogram_tv(np.ones((5, 2)), np.ones(5)), "2-D"),
        (lambda: kmeans_histogram_tv(np.ones((5, 2)), np.ones((5, 2)), n_clusters=0), "n_clusters"),
        (lambda: kmeans_histogram_tv(np.ones((2, 2)), np.ones((2, 2)), n_clusters=9), "at least 9"),
    ],
)
def test_bad_input(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()

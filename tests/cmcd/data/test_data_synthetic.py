"""Synthetic paired modalities: construction, latent TV ground truth, bad input."""

import numpy as np
import pytest
from scipy.stats import norm

from cmcd.data import load_dataset, mixture_shift_tv

SMALL = {"n_samples": 200, "tv_samples": 4000}


def test_shapes_labels_and_split():
    ds = load_dataset("synthetic", gap=0.3, **SMALL)
    assert ds.x_source.shape == (200, 32) and ds.x_target.shape == (200, 24)
    assert ds.source.kind == ds.target.kind == "vector"
    np.testing.assert_array_equal(np.bincount(ds.y), np.full(4, 50))
    np.testing.assert_array_equal(np.bincount(ds.y[ds.test_idx]), np.full(4, 15))


def test_gap_zero_has_zero_latent_tv():
    info = load_dataset("synthetic", gap=0.0, **SMALL).info
    assert info["latent_tv"] == 0.0 and info["latent_tv_conditional"] == 0.0
    assert info["latent_tv_stderr"] == 0.0


def test_latent_tv_rises_with_gap_and_stays_below_conditional():
    gaps = np.linspace(0, 1, 6)
    infos = [load_dataset("synthetic", gap=g, **SMALL).info for g in gaps]
    tv = np.array([i["latent_tv"] for i in infos])
    se = np.array([i["latent_tv_stderr"] for i in infos])
    cond = np.array([i["latent_tv_conditional"] for i in infos])
    np.testing.assert_array_less(0.0, np.diff(tv))
    np.testing.assert_allclose(cond, 2 * norm.cdf(gaps * 4.0 / 2) - 1, rtol=1e-12)
    # marginal TV <= label-aware TV (data processing), up to Monte Carlo error
    np.testing.assert_array_less(tv, cond + 3 * se + 1e-12)
    assert np.all(se <= 1 / (2 * np.sqrt(SMALL["tv_samples"])))


def test_mixture_tv_matches_quadrature_in_one_dimension():
    means, shift = np.array([[-1.0], [1.5]]), np.array([0.8])
    grid = np.linspace(-15, 15, 60001)
    p = 0.5 * (norm.pdf(grid, -1) + norm.pdf(grid, 1.5))
    q = 0.5 * (norm.pdf(grid, -1 + 0.8) + norm.pdf(grid, 1.5 + 0.8))
    truth = 0.5 * np.trapezoid(np.abs(p - q), grid)
    est, se = mixture_shift_tv(means, shift, 20000, np.random.default_rng(1))
    np.testing.assert_allclose(est, truth, atol=4 * se)


def test_monte_carlo_interval_coverage_single_gaussian():
    """With one class the marginal TV is 2 Phi(|s|/2) - 1; est +- 2 se covers it ~95%."""
    shift = np.array([1.2, 0.0, 0.0])
    truth = 2 * norm.cdf(1.2 / 2) - 1
    hits = 0
    for rep in range(40):
        est, se = mixture_shift_tv(np.zeros((1, 3)), shift, 2000, np.random.default_rng(rep))
        hits += abs(est - truth) <= 2 * se
    assert hits >= 34, hits  # P(hits < 34) < 1% for a 95% interval


def test_same_seed_same_data_gap_moves_only_the_target():
    a = load_dataset("synthetic", gap=0.2, seed=7, **SMALL)
    b = load_dataset("synthetic", gap=0.2, seed=7, **SMALL)
    c = load_dataset("synthetic", gap=0.21, seed=7, **SMALL)
    np.testing.assert_array_equal(a.x_target, b.x_target)
    np.testing.assert_array_equal(a.x_source, c.x_source)
    step = np.abs(a.x_target - c.x_target).mean()
    full = np.abs(
        load_dataset("synthetic", gap=0.0, seed=7, **SMALL).x_target
        - load_dataset("synthetic", gap=1.0, seed=7, **SMALL).x_target
    ).mean()
    assert 0 < step < 0.05 * full


def test_structure_seed_fixes_the_world_seed_the_samples():
    a = load_dataset("synthetic", seed=0, **SMALL)
    b = load_dataset("synthetic", seed=1, **SMALL)
    c = load_dataset("synthetic", seed=0, structure_seed=1, **SMALL)
    assert not np.array_equal(a.x_source, b.x_source)
    assert not np.array_equal(a.x_source, c.x_source)
    np.testing.assert_array_equal(a.y, c.y)  # same samples of labels, other maps


def test_views_carry_class_information():
    from sklearn.linear_model import LogisticRegression

    ds = load_dataset("synthetic", gap=0.5, n_samples=800, tv_samples=1000)
    tr, te = ds.train_idx, ds.test_idx
    for x in (ds.x_source, ds.x_target):
        acc = LogisticRegression(max_iter=2000).fit(x[tr], ds.y[tr]).score(x[te], ds.y[te])
        assert acc > 0.6, acc  # chance is 0.25


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"gap": 1.2}, "gap must be a number in"),
        ({"n_samples": 6}, "n_samples must be an integer >= 8"),
        ({"n_classes": 0}, "n_classes"),
        ({"noise": -0.1}, "noise must be a non-negative number"),
        ({"shift_norm": "big"}, "shift_norm"),
        ({"latent_dim": 2.5}, "latent_dim"),
    ],
)
def test_bad_input(opts, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("synthetic", **{**SMALL, **opts})


def test_latent_tv_is_the_ground_truth_monte_carlo_of_bounds():
    from bounds.truth.groundtruth import GaussianMixture, monte_carlo_tv

    means, shift = np.array([[0.0, 1.0], [2.0, -1.0]]), np.array([0.7, 0.3])
    got = mixture_shift_tv(means, shift, 5000, np.random.default_rng(3))
    p, q = GaussianMixture(means), GaussianMixture(means + shift)
    want = monte_carlo_tv(p.rvs, q.rvs, p.logpdf, q.logpdf, n=5000, random_state=3)
    assert got == (want.tv, want.stderr)

"""Ground truth: closed forms, Monte Carlo, catalogue pairs, cross-checked with scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from bounds.truth import groundtruth as gt
from bounds.truth.groundtruth import (
    FAMILIES,
    DistributionPair,
    ScipyDensity,
    catalogue,
    gaussian_tv,
    make_pair,
    monte_carlo_tv,
)

N_MC = 20_000


def _gauss(mean: np.ndarray, cov: np.ndarray | float = 1.0) -> ScipyDensity:
    mean = np.atleast_1d(np.asarray(mean, dtype=float))
    return ScipyDensity(stats.multivariate_normal(mean, cov), mean.size)


def _mc(p: ScipyDensity, q: ScipyDensity, n: int = N_MC, seed: int = 0) -> gt.MonteCarloTV:
    return monte_carlo_tv(p.rvs, q.rvs, p.logpdf, q.logpdf, n=n, random_state=seed)


# ----------------------------------------------------------------------------- gaussian_tv
def test_gaussian_tv_known_values() -> None:
    # Delta = 2 -> 2 Phi(1) - 1 = 0.682689...
    np.testing.assert_allclose(gaussian_tv([0.0, 0.0], [2.0, 0.0]), 0.6826894921, atol=1e-9)
    np.testing.assert_allclose(gaussian_tv([0.0], [0.0]), 0.0, atol=0)
    np.testing.assert_allclose(gaussian_tv([0.0], [100.0]), 1.0, atol=1e-12)


def test_gaussian_tv_symmetric_and_mahalanobis() -> None:
    rng = np.random.default_rng(1)
    a = rng.standard_normal((5, 5))
    cov = a @ a.T + 0.5 * np.eye(5)
    mp, mq = rng.standard_normal(5), rng.standard_normal(5)
    np.testing.assert_allclose(gaussian_tv(mp, mq, cov), gaussian_tv(mq, mp, cov), atol=1e-14)
    # Whitening reduces it to the identity case.
    w = np.linalg.inv(np.linalg.cholesky(cov))
    np.testing.assert_allclose(gaussian_tv(mp, mq, cov), gaussian_tv(w @ mp, w @ mq), atol=1e-12)
    # A scalar covariance is a variance.
    np.testing.assert_allclose(
        gaussian_tv([0.0], [2.0], 4.0), gaussian_tv([0.0], [1.0]), atol=1e-14
    )


def test_gaussian_tv_matches_quadrature_in_1d() -> None:
    for delta in (0.3, 1.0, 2.5):
        p, q = stats.norm(0.0, 1.0), stats.norm(delta, 1.0)
        val, err = integrate.quad(
            lambda x, p=p, q=q: 0.5 * abs(p.pdf(x) - q.pdf(x)), -20, 20, points=[delta / 2]
        )
        assert err < 1e-7
        np.testing.assert_allclose(gaussian_tv([0.0], [delta]), val, atol=1e-8)


def test_gaussian_tv_matches_monte_carlo() -> None:
    cov = np.array([[2.0, 0.5], [0.5, 1.0]])
    mp, mq = np.array([0.0, 0.0]), np.array([1.0, -1.0])
    res = _mc(_gauss(mp, cov), _gauss(mq, cov))
    assert abs(res.tv - gaussian_tv(mp, mq, cov)) < 4 * res.stderr


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"mean_p": [0.0, 1.0], "mean_q": [0.0]}, "mean_p and mean_q"),
        ({"mean_p": [0.0], "mean_q": [np.nan]}, "finite"),
        ({"mean_p": [0.0, 0.0], "mean_q": [1.0, 0.0], "cov": np.eye(3)}, "cov must have shape"),
        ({"mean_p": [0.0, 0.0], "mean_q": [1.0, 0.0], "cov": -np.eye(2)}, "positive definite"),
        ({"mean_p": [0.0], "mean_q": [1.0], "cov": 0.0}, "cov must be positive"),
    ],
)
def test_gaussian_tv_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        gaussian_tv(**kwargs)


# ----------------------------------------------------------------------------- monte_carlo_tv
def test_monte_carlo_identical_is_zero() -> None:
    p = _gauss(np.zeros(3))
    res = _mc(p, p)
    np.testing.assert_allclose([res.tv, res.stderr], [0.0, 0.0], atol=1e-12)


def test_monte_carlo_stderr_bound_and_determinism() -> None:
    p, q = _gauss(np.zeros(2)), _gauss(np.array([1.0, 1.0]))
    for n in (100, 1_001, 10_000):
        res = _mc(p, q, n=n)
        assert res.n == n
        assert res.stderr <= 1.0 / (2.0 * np.sqrt(n)) + 1e-12
    np.testing.assert_allclose(_mc(p, q, seed=5).tv, _mc(p, q, seed=5).tv, atol=0)
    assert _mc(p, q, seed=5).tv != _mc(p, q, seed=6).tv


def test_monte_carlo_symmetric_within_noise() -> None:
    pair = make_pair("student_t", 4, 0.4)
    a = pair.monte_carlo(N_MC, random_state=0)
    b = monte_carlo_tv(
        pair.sample_target, pair.sample_source, pair.logpdf_target, pair.logpdf_source, N_MC, 0
    )
    assert abs(a.tv - b.tv) < 4 * np.hypot(a.stderr, b.stderr)


def test_monte_carlo_stable_for_disjoint_mass() -> None:
    # log-densities differ by ~1e5: the naive ratio of densities would overflow.
    p, q = _gauss(np.zeros(1)), _gauss(np.array([500.0]))
    res = _mc(p, q, n=1_000)
    np.testing.assert_allclose([res.tv, res.stderr], [1.0, 0.0], atol=1e-12)


def test_monte_carlo_rejects_tiny_n() -> None:
    p = _gauss(np.zeros(1))
    with pytest.raises(ValueError, match="n must be at least 2"):
        _mc(p, p, n=1)


# ----------------------------------------------------------------------------- catalogue
@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("d", [1, 2, 8, 32])
def test_exact_truth_matches_monte_carlo(family: str, d: int) -> None:
    for level in (0.1, 0.5, 0.9):
        pair = make_pair(family, d, level)
        np.testing.assert_allclose(pair.true_tv, level, atol=1e-8)
        res = pair.monte_carlo(N_MC, random_state=d)
        assert abs(res.tv - pair.true_tv) < 4 * res.stderr, (pair.name, res, pair.true_tv)


def _quad_tv_1d(pair: DistributionPair, scale: float) -> float:
    """Return 1/2 int |p - q| on the real line, split at 0 and at +-scale (sharp features)."""

    def half_abs(x: float) -> float:
        z = np.array([[x]])
        return 0.5 * abs(np.exp(pair.logpdf_source(z)[0]) - np.exp(pair.logpdf_target(z)[0]))

    cuts = [-np.inf, -scale, 0.0, scale, np.inf]
    return sum(
        integrate.quad(half_abs, a, b, limit=500, epsabs=1e-11)[0]
        for a, b in zip(cuts[:-1], cuts[1:], strict=True)
    )


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("level", [0.1, 0.5, 0.8])
def test_exact_truth_matches_scipy_quadrature_in_1d(family: str, level: float) -> None:
    pair = make_pair(family, 1, level)
    scale = {"mixture": pair.param, "student_t": 0.1, "scale": pair.param}.get(family, 1.0)
    np.testing.assert_allclose(_quad_tv_1d(pair, scale), pair.true_tv, atol=1e-6)


def test_exact_truth_is_symmetric() -> None:
    law_p = gt._NormalMixture1D((-2.0, 2.0))
    law_q = gt._NormalMixture1D((0.0,), np.sqrt(5.0))
    grid = np.linspace(-30, 30, 2001)
    np.testing.assert_allclose(
        gt._tv_1d(law_p, law_q, grid), gt._tv_1d(law_q, law_p, grid), atol=1e-14
    )


def test_level_orders_parameters() -> None:
    for family in FAMILIES:
        params = [make_pair(family, 8, lv).param for lv in (0.2, 0.4, 0.6, 0.8)]
        diffs = np.diff(params)
        # nu falls as TV grows; every other parameter rises.
        assert np.all(diffs < 0) if family == "student_t" else np.all(diffs > 0), (family, params)


def test_sampling_shapes_and_seeds() -> None:
    for pair in catalogue([1, 3], levels=(0.3,)):
        xs, xt = pair.sample(50, random_state=3, n_target=20)
        assert xs.shape == (50, pair.d) and xt.shape == (20, pair.d)
        ys, yt = pair.sample(50, random_state=3, n_target=20)
        np.testing.assert_allclose(xs, ys, atol=0)
        np.testing.assert_allclose(xt, yt, atol=0)
        assert pair.logpdf_source(xs).shape == (50,) and pair.logpdf_target(xs[:1]).shape == (1,)


def test_moment_matching() -> None:
    n = 200_000
    # Student t (nu ~ 6.7 > 4, so the sample covariance converges) has identity covariance.
    pair = make_pair("student_t", 2, 0.1)
    assert pair.param > 4
    np.testing.assert_allclose(np.cov(pair.sample_source(n, 0).T), np.eye(2), atol=0.05)
    # The mixture and its Gaussian share mean and covariance.
    pair = make_pair("mixture", 3, 0.3)
    xs, xt = pair.sample(n, random_state=1)
    np.testing.assert_allclose(np.cov(xs.T), np.cov(xt.T), atol=0.1)
    np.testing.assert_allclose(xs.mean(0), xt.mean(0), atol=0.05)


def test_catalogue_contents() -> None:
    pairs = catalogue([2, 8], levels=(0.2, 0.6), families=["scale", "mixture"])
    assert [(p.d, p.family, p.level) for p in pairs] == [
        (d, f, lv) for d in (2, 8) for f in ("scale", "mixture") for lv in (0.2, 0.6)
    ]
    assert all(p.true_tv_stderr == 0.0 and p.truth_method == "exact" for p in pairs)


def test_from_densities_uses_monte_carlo() -> None:
    d, s = 3, 1.3
    pair = DistributionPair.from_densities(
        _gauss(np.zeros(d)), _gauss(np.zeros(d), s**2), d, n_mc=N_MC, random_state=0
    )
    assert pair.truth_method == "monte carlo" and pair.true_tv_stderr > 0
    assert abs(pair.true_tv - gt._tv_scale(d, s)) < 4 * pair.true_tv_stderr


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (("gamma", 2, 0.5), "family must be one of"),
        (("scale", 0, 0.5), "d must be a positive integer"),
        (("scale", 2, 0.0), "level must be"),
        (("scale", 2, 1.0), "level must be"),
        (("mixture", 2, 0.995), "beyond what family"),
    ],
)
def test_make_pair_bad_input(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_pair(*args)


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_maximal_coupling(family: str) -> None:
    n = 8_000
    pair = make_pair(family, 2, 0.6)
    x = pair.sample_source(n, 0)
    y = gt.maximal_coupling(pair, x, random_state=1)
    # P(X != Y) = TV, within 4 binomial standard errors.
    frac = float(np.mean(np.any(x != y, axis=1)))
    assert abs(frac - pair.true_tv) < 4 * np.sqrt(0.6 * 0.4 / n), frac
    # Y has the target law: two-sample KS tests against fresh target draws.
    z = pair.sample_target(n, 2)
    for stat in (lambda a: a[:, 0], lambda a: (a**2).sum(1)):
        assert stats.ks_2samp(stat(y), stat(z)).pvalue > 1e-3


def test_mixture_logpdf_matches_scipy() -> None:
    pair = make_pair("mixture", 3, 0.5)
    x = pair.sample_source(50, 0)
    m = pair.source.means
    ref = np.logaddexp(
        stats.multivariate_normal(m[0]).logpdf(x), stats.multivariate_normal(m[1]).logpdf(x)
    ) - np.log(2.0)
    np.testing.assert_allclose(pair.logpdf_source(x), ref, rtol=1e-12, atol=1e-12)

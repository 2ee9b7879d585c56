"""The coverage study's truths against brute force, and a small seeded coverage run.

The full study (200 draws per term at 1000 and 12000 pairs) is ``benchmarks/coverage.py``;
here every truth is checked against an independent computation (quadrature or a big sample)
and a 20-draw run checks the study end to end on the joint-TV issue case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from bounds.target.generalization import TERMS
from bounds.target.heads import LinearHead
from bounds.truth.coverage import (
    COVERAGE_TERMS,
    GaussianMixtureLaw,
    PairedGaussianScenario,
    ProjectedNormalMixtureLaw,
    class_tvs,
    clopper_pearson_interval,
    coverage_draw,
    coverage_study,
    linear_head_error,
    log_radial_moment,
    mixture_tv,
    monte_carlo_error,
    population_truths,
    projected_normal_logpdf,
    summarise,
)

E1 = np.eye(2)[0]
#: The joint-TV issue case: class 0 is N(-4 e1, I) vs N(+4 e1, I), class 1 the same law.
ISSUE = PairedGaussianScenario([-4 * E1, 0 * E1], [8 * E1, 0 * E1], [0, 0], [0.5, 0.5])
#: A 3-class, d = 4 case with a gap, class shifts, unequal prior and correlated pairs.
LATENT = PairedGaussianScenario(
    2.0 * np.eye(3, 4),
    [[0, 0, 0, 0], [0, 0, 0, 0.8], [0, 0, -0.8, 0]],
    [0, 0, 0, 1.5],
    [0.5, 0.3, 0.2],
    rho=0.8,
)
#: Four standard errors: a correct Monte Carlo value is further away in < 1e-4 of seeds.
Z = 4.0


def _quad_moment(k: int, t: float) -> float:
    return integrate.quad(
        lambda r: r**k * np.exp(-((r - t) ** 2) / 2), 0, np.inf, epsabs=0, epsrel=1e-12, limit=200
    )[0]


@pytest.mark.parametrize("k", [0, 1, 2, 3, 5, 7])
def test_radial_moment_matches_quadrature(k):
    t = np.array([-12.0, -8.0, -5.0, -4.9, -3.0, -1.0, 0.0, 0.5, 3.0, 8.0])
    got = np.exp(log_radial_moment(k, t) + t**2 / 2)  # scaled, so tiny values compare too
    want = np.array([_quad_moment(k, v) * np.exp(v**2 / 2) for v in t])
    np.testing.assert_allclose(got, want, rtol=1e-8)


def test_radial_moment_follows_its_recursion():
    t = np.linspace(-4.0, 6.0, 41)
    m = [np.exp(log_radial_moment(k, t)) for k in range(6)]
    np.testing.assert_allclose(m[0], np.sqrt(2 * np.pi) * stats.norm.cdf(t), rtol=1e-12)
    np.testing.assert_allclose(m[1], np.exp(-(t**2) / 2) + t * m[0], rtol=1e-9, atol=1e-14)
    for k in range(2, 6):
        np.testing.assert_allclose(m[k], (k - 1) * m[k - 2] + t * m[k - 1], rtol=1e-9)


@pytest.mark.parametrize("mean", [[0.0, 0.0], [0.4, -0.3], [3.0, 1.0], [-7.0, 2.0]])
def test_projected_normal_density_integrates_to_one_on_the_circle(mean):
    angles = np.linspace(0, 2 * np.pi, 4001)[:-1]  # periodic trapezoid: spectral accuracy
    u = np.column_stack([np.cos(angles), np.sin(angles)])
    mass = np.exp(projected_normal_logpdf(u, mean)).mean() * 2 * np.pi
    np.testing.assert_allclose(mass, 1.0, atol=1e-9)


def _sphere_grid(n: int = 200, lo: float = -1.0) -> tuple[np.ndarray, np.ndarray]:
    """Points of S^2 with cos(theta) in [lo, 1] and their weights (Gauss-Legendre x uniform)."""
    x, w = np.polynomial.legendre.leggauss(n)
    x, w = lo + (x + 1) * (1 - lo) / 2, w * (1 - lo) / 2
    phi = np.linspace(0, 2 * np.pi, 2 * n + 1)[:-1]
    c, p = np.meshgrid(x, phi, indexing="ij")
    s = np.sqrt(1 - c**2)
    u = np.column_stack([(s * np.cos(p)).ravel(), (s * np.sin(p)).ravel(), c.ravel()])
    return u, np.repeat(w, phi.size) * (2 * np.pi / phi.size)


@pytest.mark.parametrize("mean", [[0.0, 0.0, 0.0], [1.0, -0.5, 2.0], [0.0, 4.0, 0.0]])
def test_projected_normal_density_integrates_to_one_on_the_sphere(mean):
    u, w = _sphere_grid()
    np.testing.assert_allclose(np.exp(projected_normal_logpdf(u, mean)) @ w, 1.0, atol=1e-8)


def test_projected_normal_density_matches_the_law_of_the_samples():
    mean = np.array([1.0, -0.5, 2.0])
    u, w = _sphere_grid(lo=0.8)  # the cap {u_3 > 0.8}
    p_cap = np.exp(projected_normal_logpdf(u, mean)) @ w
    x = np.random.default_rng(3).normal(size=(400_000, 3)) + mean
    freq = np.mean(x[:, 2] / np.linalg.norm(x, axis=1) > 0.8)
    assert abs(freq - p_cap) < Z * np.sqrt(p_cap * (1 - p_cap) / 400_000), (freq, p_cap)


def test_class_tv_closed_form_matches_monte_carlo():
    rng = np.random.default_rng(4)
    out = class_tvs(LATENT.law("source"), LATENT.law("target"), 100_000, rng)
    se_bound = 1 / (2 * np.sqrt(100_000))  # monte_carlo_tv's bound on each standard error
    np.testing.assert_allclose(out["per_class"], LATENT.class_tv(), atol=Z * se_bound)
    np.testing.assert_allclose(out["joint"], LATENT.joint_tv(), atol=Z * out["joint_se"])
    np.testing.assert_allclose(ISSUE.joint_tv(), 0.5 * (2 * stats.norm.cdf(4) - 1), rtol=1e-12)


def test_marginal_tv_of_the_issue_case_equals_its_closed_form():
    # TV of 0.5 N(-4e1) + 0.5 N(0) vs 0.5 N(4e1) + 0.5 N(0) = 0.5 TV(N(-4), N(4)) exactly.
    truths = population_truths(ISSUE, n_mc=200_000, random_state=5)
    assert abs(truths["marginal_tv"] - ISSUE.joint_tv()) < Z * truths["marginal_tv_se"]
    latent = population_truths(LATENT, n_mc=200_000, random_state=5)
    assert latent["marginal_tv"] <= LATENT.joint_tv()  # data processing: marginal <= joint


def test_aligned_tv_matches_quadrature_on_the_circle():
    center_a, center_b = np.array([-1.0, 0.3]), np.array([0.8, 0.0])
    law_a, law_b = ISSUE.law("source", center_a), ISSUE.law("target", center_b)
    assert isinstance(law_a, ProjectedNormalMixtureLaw)
    angles = np.linspace(0, 2 * np.pi, 8001)[:-1]
    u = np.column_stack([np.cos(angles), np.sin(angles)])
    quad = 0.5 * np.abs(np.exp(law_a.logpdf(u)) - np.exp(law_b.logpdf(u))).mean() * 2 * np.pi
    mc = mixture_tv(law_a, law_b, 200_000, np.random.default_rng(6))
    assert abs(mc.tv - quad) < Z * mc.stderr, (mc, quad)
    per = class_tvs(law_a, law_b, 200_000, np.random.default_rng(7))
    pa, pb = (np.exp(law.component_logpdf(u)) for law in (law_a, law_b))
    quad_joint = 0.5 * (0.5 * np.abs(pa - pb).mean(axis=0) * 2 * np.pi).sum()
    assert abs(per["joint"] - quad_joint) < Z * per["joint_se"], (per, quad_joint)


def test_linear_head_error_matches_a_big_sample():
    head = LinearHead(
        np.array([[1.0, 0.2, 0.0, -0.3], [0.0, 1.1, 0.1, 0.0], [-0.2, 0.0, 0.9, 0.4]]),
        np.array([0.1, -0.2, 0.0]),
        np.array([0, 1, 2]),
    )
    law = LATENT.law("target")
    exact = linear_head_error(head, law)
    mc, se = monte_carlo_error(head.predict, law, 400_000, np.random.default_rng(8))
    assert abs(exact - mc) < Z * se, (exact, mc, se)
    binary = LinearHead(
        np.array([[0.3, -1.0], [-0.3, 1.0]]), np.array([0.2, -0.2]), np.array([0, 1])
    )
    exact2 = linear_head_error(binary, ISSUE.law("target"))
    mc2, se2 = monte_carlo_error(
        binary.predict, ISSUE.law("target"), 400_000, np.random.default_rng(9)
    )
    assert abs(exact2 - mc2) < Z * se2, (exact2, mc2, se2)


def test_far_pair_probability_matches_a_big_sample():
    z_a, z_b, _ = LATENT.sample(400_000, random_state=10)
    for eps in (0.5, 1.5, 2.5):
        freq = np.mean(np.linalg.norm(z_a - z_b, axis=1) > eps)
        exact = LATENT.far_pair_probability(eps)
        assert abs(freq - exact) < Z * np.sqrt(exact * (1 - exact) / 400_000) + 1e-12, eps


def test_sample_has_the_stated_laws():
    z_a, z_b, y = LATENT.sample(200_000, random_state=11)
    np.testing.assert_allclose(np.bincount(y) / y.size, LATENT.prior, atol=0.005)
    for c in range(3):
        np.testing.assert_allclose(z_a[y == c].mean(0), LATENT.class_means("source")[c], atol=0.03)
        np.testing.assert_allclose(z_b[y == c].mean(0), LATENT.class_means("target")[c], atol=0.03)
        np.testing.assert_allclose(np.cov(z_b[y == c].T), np.eye(4), atol=0.03)
    corr = np.mean(
        (z_a - LATENT.class_means("source")[y]) * (z_b - LATENT.class_means("target")[y])
    )
    np.testing.assert_allclose(corr, 0.8, atol=0.01)


def test_mixture_law_density_is_the_weighted_mixture():
    law = GaussianMixtureLaw(np.array([[0.0, 0.0], [2.0, 1.0]]), np.array([0.3, 0.7]))
    x = np.array([[0.5, -0.2], [3.0, 1.0]])
    want = sum(
        p * stats.multivariate_normal(m, np.eye(2)).pdf(x)
        for m, p in zip(law.means, law.prior, strict=True)
    )
    np.testing.assert_allclose(np.exp(law.logpdf(x)), want, rtol=1e-12)


def test_scenario_rejects_bad_arguments():
    with pytest.raises(ValueError, match="prior must be positive"):
        PairedGaussianScenario([[0.0], [1.0]], [[0.0], [0.0]], [0.0], [0.2, 0.2])
    with pytest.raises(ValueError, match="rho"):
        PairedGaussianScenario([[0.0], [1.0]], [[0.0], [0.0]], [0.0], [0.5, 0.5], rho=1.0)
    with pytest.raises(ValueError, match="gap"):
        PairedGaussianScenario([[0.0], [1.0]], [[0.0], [0.0]], [0.0, 1.0], [0.5, 0.5])


def test_registry_covers_every_certified_term_of_compute_bound():
    certified = {n for n, (status, _) in TERMS.items() if status != "estimate"}
    assert set(COVERAGE_TERMS) == certified
    assert {t.direction for t in COVERAGE_TERMS.values()} == {"upper", "lower"}


def test_summary_counts_misses_and_applies_the_holding_rule():
    def rows(misses: int) -> pd.DataFrame:
        return pd.DataFrame({
            "term": "t", "status": "certified", "direction": "lower", "value": 0.0,
            "truth": 1.0, "truth_se": 0.0, "margin": 1.0,
            "missed": [True] * misses + [False] * (200 - misses),
        })  # fmt: skip

    for misses, holds in ((5, True), (7, False), (10, False)):
        s = summarise(rows(misses), alpha=0.05, by=["term"]).iloc[0]
        low, high = clopper_pearson_interval(misses, 200)
        assert (s["misses"], s["n_draws"], s["holds"]) == (misses, 200, holds)
        np.testing.assert_allclose([s["ci_low"], s["ci_high"]], [low, high])
    np.testing.assert_allclose(
        clopper_pearson_interval(7, 200), stats.binomtest(7, 200).proportion_ci(method="exact")
    )


#: Cheap TV options for the tests: the null permutations only feed the point estimate
#: (``ClassifierTV``: drawn after every other random draw), never the lower bounds.
FAST_TV = {"candidates": ["logistic"], "n_null_draws": 1}


@pytest.mark.slow
def test_stubs_and_term_subsets_leave_every_studied_term_unchanged():
    """The NaN stubs of the O(n^2) estimates, and leaving out inputs a subset of terms does
    not need, change no studied value: a study can be extended for some terms only."""
    kw = {"n_train": 60, "n_align": 100, "n_mc": 2000, "tv_kwargs": FAST_TV}
    pop = population_truths(LATENT, n_mc=2000)
    fast = coverage_draw(LATENT, 120, 3, population=pop, **kw)
    full = coverage_draw(LATENT, 120, 3, population=pop, descriptive=True, **kw)
    pd.testing.assert_frame_equal(fast.drop(columns="seconds"), full.drop(columns="seconds"))
    assert set(fast["term"]) == set(COVERAGE_TERMS)
    for terms in (["tv_lower", "tv_joint_lower", "certified_target_bound"], ["robust_tv_upper"]):
        part = coverage_draw(LATENT, 120, 3, population=pop, terms=terms, **kw)
        same = fast.set_index("term").loc[terms].reset_index()[list(part.columns)]
        pd.testing.assert_frame_equal(part.drop(columns="seconds"), same.drop(columns="seconds"))


@pytest.mark.slow
def test_small_coverage_run_of_the_joint_tv_issue_case():
    """20 seeded draws at 400 pairs: each certified term misses at most 3 times.

    At a true miss rate of 0.05, P(>= 4 misses in 20) = 0.016; the old plug-in prior rule
    missed in about half the draws once the class bounds were tight.
    """
    terms = ("tv_joint_lower", "certified_target_bound")
    pop = population_truths(ISSUE, n_mc=20_000)
    df = coverage_study(
        ISSUE, 400, 20, random_state=1, terms=terms, population=pop, n_train=40,
        tv_kwargs=FAST_TV, progress=False,
    )  # fmt: skip
    assert len(df) == 40 and set(df["status"]) == {"certified"}
    summary = summarise(df).set_index("term")
    assert summary.loc["tv_joint_lower", "misses"] <= 3, summary
    assert summary.loc["certified_target_bound", "misses"] <= 3, summary
    np.testing.assert_allclose(df.loc[df["term"] == "tv_joint_lower", "truth"], ISSUE.joint_tv())

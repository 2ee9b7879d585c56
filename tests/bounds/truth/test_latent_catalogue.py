"""Tests of ``bounds.truth.latent_catalogue``: exact truths against independent Monte Carlo, the
catalogue's pairs, bad input, and the lower bound's coverage on latent-like pairs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from bounds.truth.latent_catalogue import (
    CASES,
    VMFMixture,
    latent_case,
    latent_catalogue,
    vmf_angle_tv,
    vmf_kappa_tv,
)

D = 64
N_MC = 100_000


def _likelihood_ratio_tv(p, q, n: int, seed: int) -> tuple[float, float]:
    """Monte Carlo TV = E_P[max(0, 1 - q/p)] from the two scipy laws, and its standard error."""
    x = p.rvs(n, random_state=seed)
    terms = np.maximum(0.0, 1.0 - np.exp(q.logpdf(x) - p.logpdf(x)))
    return float(terms.mean()), float(terms.std() / np.sqrt(n))


@pytest.mark.parametrize("angle", [0.1, 0.25])
def test_vmf_angle_tv_matches_likelihood_ratio_monte_carlo(angle: float) -> None:
    mu1, mu2 = np.eye(D)[0], np.cos(angle) * np.eye(D)[0] + np.sin(angle) * np.eye(D)[1]
    kappa = 2.0 * D
    mc, se = _likelihood_ratio_tv(
        stats.vonmises_fisher(mu1, kappa), stats.vonmises_fisher(mu2, kappa), N_MC, seed=1
    )
    assert abs(vmf_angle_tv(D, kappa, angle) - mc) < 4 * se + 1e-4


@pytest.mark.parametrize("ratio", [1.5, 2.5])
def test_vmf_kappa_tv_matches_likelihood_ratio_monte_carlo(ratio: float) -> None:
    mu, kappa = np.eye(D)[0], float(D)
    mc, se = _likelihood_ratio_tv(
        stats.vonmises_fisher(mu, kappa), stats.vonmises_fisher(mu, ratio * kappa), N_MC, seed=2
    )
    assert abs(vmf_kappa_tv(D, kappa, ratio * kappa) - mc) < 4 * se + 1e-4


def test_exact_truths_are_zero_at_equal_parameters_and_grow() -> None:
    assert vmf_angle_tv(D, 128.0, 0.0) == 0.0 and vmf_kappa_tv(D, 64.0, 64.0) == 0.0
    angles = [vmf_angle_tv(D, 128.0, a) for a in (0.05, 0.1, 0.2, 0.4)]
    assert np.all(np.diff(angles) > 0) and 0.0 < angles[0] and angles[-1] < 1.0


def test_vmf_mixture_of_one_component_is_scipys_vmf() -> None:
    mu = np.eye(D)[3]
    law = VMFMixture(mu[None, :], 128.0)
    x = law.rvs(50, np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.0, atol=1e-9)
    np.testing.assert_allclose(
        law.logpdf(x), stats.vonmises_fisher(mu, 128.0).logpdf(x), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("case", [c for c, spec in CASES.items() if "exact" in spec.description])
def test_exact_cases_hit_their_nominal_level(case: str) -> None:
    for level in CASES[case].levels:
        pair = latent_case(case, D, level)
        assert pair.true_tv_stderr == 0.0 and pair.truth_method.startswith("exact")
        assert abs(pair.true_tv - level) < 1e-6, (pair.name, pair.true_tv)


@pytest.mark.slow
@pytest.mark.parametrize("case", ["vmf_clusters_gap", "gauss_clusters_offset"])
def test_monte_carlo_cases_are_near_their_level_with_a_small_stderr(case: str) -> None:
    pair = latent_case(case, D)
    assert pair.truth_method == "monte carlo"
    assert 0.0 < pair.true_tv_stderr <= 0.003
    assert abs(pair.true_tv - pair.level) < 0.02, (pair.name, pair.true_tv)


@pytest.mark.parametrize("case", list(CASES))
def test_samples_have_the_shape_and_norm_of_contrastive_latents(case: str) -> None:
    xs, xt = latent_case(case, D).sample(200, random_state=0)
    assert xs.shape == xt.shape == (200, D)
    norms = np.linalg.norm(np.vstack([xs, xt]), axis=1)
    if CASES[case].needs_sphere:
        np.testing.assert_allclose(norms, 1.0, atol=1e-9)
    else:
        assert 0.7 < float(np.median(norms)) < 1.3, float(np.median(norms))


def test_identical_cases_have_tv_zero_but_independent_sides() -> None:
    for case in (c for c, spec in CASES.items() if spec.identical):
        pair = latent_case(case, D)
        assert pair.true_tv == 0.0 and pair.source is pair.target
        xs, xt = pair.sample(100, random_state=3)
        assert not np.allclose(xs, xt)


@pytest.mark.slow
def test_default_catalogue_covers_both_dimensions_and_every_case() -> None:
    pairs = latent_catalogue()
    names = [p.name for p in pairs]
    assert len(names) == len(set(names)) == 2 * sum(len(c.levels) for c in CASES.values())
    assert {p.d for p in pairs} == {64, 128} and {p.family for p in pairs} == set(CASES)


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("vmf_anglee", D, 0.3), "case"),
        (("vmf_angle", 2, 0.3), "d"),
        (("vmf_angle", 64.0, 0.3), "d"),
        (("vmf_angle", D, 1.0), "level"),
        (("vmf_angle", D, -0.1), "level"),
        (("identical_vmf_clusters", D, 0.3), "level"),
    ],
)
def test_bad_arguments_are_named(args: tuple, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        latent_case(*args)


@pytest.mark.slow
def test_classifier_lower_bound_covers_latent_pairs() -> None:
    """``lower <= true TV`` in >= 95 of 100 seeded draws, where latents live (d = 64, n = 300).

    Cases whose Bayes classifier is linear (vMF at an angle, equal-covariance Gaussians) and
    identical laws, with one linear logistic candidate, so the bound is tight and a
    miscalibrated one would fail.
    """
    from bounds.tv.api import estimate_tv

    cases = [latent_case("vmf_angle", D, lv) for lv in (0.3, 0.7)]
    cases += [latent_case(c, D) for c in ("aniso_gauss_high", "identical_vmf_clusters")]
    linear = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=1000))
    covered, gaps = 0, []
    for rep in range(100):
        pair = cases[rep % len(cases)]
        xs, xt = pair.sample(300, random_state=20_000 + rep)
        res = estimate_tv(xs, xt, alpha=0.05, random_state=rep, candidates=[("lin", linear)])
        covered += int(res.lower <= pair.true_tv)
        gaps.append(pair.true_tv - res.lower)
    assert covered >= 95, covered
    assert float(np.mean(gaps)) < 0.3, float(np.mean(gaps))

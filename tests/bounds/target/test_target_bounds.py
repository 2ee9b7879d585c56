"""Certified target bounds: pointwise inequalities, exact values, coverage over seeded draws."""

from __future__ import annotations

import numpy as np
import pytest

from bounds._confidence import clopper_pearson_upper
from bounds.target.heads import LinearHead
from bounds.target.target_bounds import (
    DEFAULT_RADII,
    best_certified_target_bound,
    certified_target_bound,
    margin_transport_bound,
    transport_costs,
)

MEANS = 2.0 * np.eye(3, 4)


def draw_pairs(rng: np.random.Generator, n: int, noise: float = 0.6):
    """Paired latents: z_A ~ N(mu_y, I), z_B = z_A + a constant shift + noise."""
    y = rng.integers(0, 3, size=n)
    z_a = MEANS[y] + rng.normal(size=(n, 4))
    z_b = z_a + np.array([0.0, 0.0, 0.0, 0.5]) + noise * rng.normal(size=(n, 4))
    return z_a, z_b, y


def nearest_mean_head(shift: float = 0.0) -> LinearHead:
    """argmin ||z - mu_k|| as a linear head (scores 2 mu_k.z - ||mu_k||^2)."""
    means = MEANS + np.array([0.0, 0.0, 0.0, shift])
    return LinearHead(2 * means, -np.sum(means**2, axis=1), np.arange(3))


def test_triangle_bound_exact_value():
    r = certified_target_bound([0, 1, 2, 2], [0, 1, 2, 0], [0, 1, 1, 1, 2], [0, 1, 2, 1, 2], 0.1)
    np.testing.assert_allclose(r["source_error_upper"], clopper_pearson_upper(1, 4, 0.05))
    np.testing.assert_allclose(r["disagreement_upper"], clopper_pearson_upper(1, 5, 0.05))
    assert (r["n_labelled"], r["n_pairs"]) == (4, 5)
    with pytest.raises(ValueError, match="unlabeled pairs"):
        certified_target_bound([0], [0], [], [])


@pytest.mark.parametrize("name", ["triangle", "best", "margin"])
def test_certified_bounds_cover_the_population_error(name):
    """Over 200 seeded draws the bound is below err_B(h_B) at most as often as alpha allows."""
    h_a, h_b = nearest_mean_head(), nearest_mean_head(0.5)
    big_a, big_b, big_y = draw_pairs(np.random.default_rng(99), 200_000)
    truth = float(np.mean(h_b.predict(big_b) != big_y))  # population err_B(h_B), MC
    misses = 0
    for seed in range(200):
        z_a, z_b, y = draw_pairs(np.random.default_rng(seed), 120)
        lab, pair = slice(0, 60), slice(60, 120)
        if name == "triangle":
            value = certified_target_bound(
                h_a.predict(z_a[lab]), y[lab], h_a.predict(z_a[pair]), h_b.predict(z_b[pair])
            )["value"]
        elif name == "best":
            cands = [(h.predict(z_a[lab]), h.predict(z_a[pair])) for h in (h_a, h_b)]
            value = best_certified_target_bound(cands, y[lab], h_b.predict(z_b[pair]))["value"]
        else:
            value = margin_transport_bound(h_b, z_a[lab], y[lab], z_a[pair], z_b[pair])["value"]
        misses += value < truth
    assert 0.05 < truth < 0.5
    assert misses <= 18  # Binomial(200, 0.05) exceeds 18 with probability < 0.05


def test_margin_pointwise_inequality_and_brute_force():
    rng = np.random.default_rng(3)
    z_a, z_b, y = draw_pairs(rng, 300)
    head = nearest_mean_head(0.5)
    k = head.lipschitz()
    margins, dist = head.margin(z_a, y), np.linalg.norm(z_a - z_b, axis=1)
    wrong_b = head.predict(z_b) != y
    for gamma in k * DEFAULT_RADII:
        assert np.all(wrong_b <= (margins <= gamma) | (dist >= gamma / k))
    r = margin_transport_bound(head, z_a[:150], y[:150], z_a[150:], z_b[150:], alpha=0.1)
    level = 0.1 / (2 * DEFAULT_RADII.size)
    brute = min(
        clopper_pearson_upper(int(np.sum(margins[:150] <= g)), 150, level)
        + clopper_pearson_upper(int(np.sum(dist[150:] >= g / k)), 150, level)
        for g in k * DEFAULT_RADII
    )
    np.testing.assert_allclose(r["value"], min(1.0, brute))


@pytest.mark.parametrize("gammas", [[], [0.1, -1.0], [0.0], [np.nan]])
def test_margin_refuses_bad_gamma_grid(gammas):
    z_a, z_b, y = draw_pairs(np.random.default_rng(0), 20)
    with pytest.raises(ValueError, match="gammas"):
        margin_transport_bound(nearest_mean_head(), z_a, y, z_a, z_b, gammas=gammas)


def test_best_bound_needs_candidates_and_picks_the_minimum():
    with pytest.raises(ValueError, match="candidates"):
        best_certified_target_bound([], [0], [0])
    good, bad = ([0, 1] * 20, [0, 1] * 20), ([1, 0] * 20, [1, 0] * 20)
    r = best_certified_target_bound([bad, good], [0, 1] * 20, [0, 1] * 20)
    assert r["best"] == 1 and r["value"] == min(r["per_candidate"])


def test_transport_costs_pairing_never_below_w1():
    rng = np.random.default_rng(4)
    z_a, z_b, _ = draw_pairs(rng, 80)
    costs = transport_costs(z_a, z_b)
    assert costs["w1"] <= costs["paired_cost"] + 1e-9
    perm = rng.permutation(80)
    np.testing.assert_allclose(transport_costs(z_a, z_a[perm])["w1"], 0.0, atol=1e-6)

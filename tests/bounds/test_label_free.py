"""DIS², ATC, disagreement and the independent-errors estimate, against their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from bounds.heads import LinearHead
from bounds.label_free import (
    atc_estimate,
    dis2_bound,
    disagreement_estimate,
    fit_disagreement_critic,
    paired_error_estimate,
)

MEANS = 2.0 * np.eye(3, 4)
HEAD = LinearHead(2 * MEANS, -np.sum(MEANS**2, axis=1), np.arange(3))


def draw(rng: np.random.Generator, n: int, shift: float = 0.0, sep: float = 1.0):
    y = rng.integers(0, 3, size=n)
    return sep * MEANS[y] + rng.normal(size=(n, 4)) + np.array([shift, 0.0, 0.0, 0.0]), y


def test_dis2_formula():
    rng = np.random.default_rng(0)
    zs, ys = draw(rng, 200)
    zt, _ = draw(rng, 100, shift=1.5)
    critic = LinearHead(-HEAD.weight, -HEAD.bias, HEAD.classes)
    r = dis2_bound(HEAD, critic, zs, ys, zt, alpha=0.05)
    err = np.mean(HEAD.predict(zs) != ys)
    disc = np.mean(critic.predict(zt) != HEAD.predict(zt)) - np.mean(
        critic.predict(zs) != HEAD.predict(zs)
    )
    conc = np.sqrt((4 * 100 + 200) * np.log(20) / (2 * 200 * 100))
    np.testing.assert_allclose([r["source_error"], r["discrepancy"]], [err, disc])
    np.testing.assert_allclose(r["value"], np.clip(err + disc + conc, 0, 1))
    np.testing.assert_allclose(r["concentration"], conc)


def test_critic_disagrees_more_on_target_than_on_source():
    rng = np.random.default_rng(1)
    zs, _ = draw(rng, 600)
    zt, _ = draw(rng, 600, shift=2.0)
    critic = fit_disagreement_critic(HEAD, zs, zt, random_state=0)
    on_s = np.mean(critic.predict(zs) != HEAD.predict(zs))
    on_t = np.mean(critic.predict(zt) != HEAD.predict(zt))
    assert on_t - on_s > 0.3


def test_atc_without_shift_recovers_the_error_and_tracks_a_shift():
    rng = np.random.default_rng(2)
    zs, ys = draw(rng, 3000)
    zt, yt = draw(rng, 3000)
    r = atc_estimate(HEAD, zs, ys, zt)
    np.testing.assert_allclose(r["value"], np.mean(HEAD.predict(zt) != yt), atol=0.02)
    z_far, y_far = draw(rng, 3000, sep=0.6)  # classes closer: lower confidence, more errors
    far = atc_estimate(HEAD, zs, ys, z_far)["value"]
    assert far > r["value"] + 0.1
    assert abs(far - np.mean(HEAD.predict(z_far) != y_far)) < 0.15


def test_disagreement_of_a_head_with_itself_is_zero():
    z, _ = draw(np.random.default_rng(3), 50)
    assert disagreement_estimate(HEAD, HEAD, z) == 0.0
    flipped = LinearHead(HEAD.weight[::-1], HEAD.bias[::-1], HEAD.classes)
    assert disagreement_estimate(HEAD, flipped, z) > 0.3


def test_paired_estimate_is_exact_for_independent_errors():
    rng = np.random.default_rng(4)
    n, k, e_a, e_b = 400_000, 10, 0.15, 0.3
    y = rng.integers(0, k, size=n)

    def noisy(e):
        wrong = rng.random(n) < e
        return np.where(wrong, (y + rng.integers(1, k, size=n)) % k, y)

    pred_a, pred_b = noisy(e_a), noisy(e_b)
    d = float(np.mean(pred_a != pred_b))
    estimate = paired_error_estimate(float(np.mean(pred_a != y)), d, k)
    np.testing.assert_allclose(estimate, e_b, atol=0.005)
    assert np.isnan(paired_error_estimate(0.95, 0.5, 10))
    with pytest.raises(ValueError, match="n_classes"):
        paired_error_estimate(0.1, 0.1, 1)

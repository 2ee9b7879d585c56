"""DIS², ATC, disagreement and the independent-errors estimate, against their definitions."""

from __future__ import annotations

import numpy as np
import pytest

from bounds.target.heads import LinearHead
from bounds.target.label_free import (
    CRITIC_VARIANTS,
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
    np.testing.assert_allclose(r["discrepancy_clipped"], max(disc, 0.0))
    np.testing.assert_allclose(r["value"], np.clip(err + max(disc, 0.0) + conc, 0, 1))
    np.testing.assert_allclose(r["estimate"], np.clip(err + max(disc, 0.0), 0, 1))
    np.testing.assert_allclose(r["concentration"], conc)


def test_negative_discrepancy_is_clipped_at_zero():
    # The critic swaps classes 0 and 1: it disagrees with h wherever h says 0 or 1 (all of
    # the source, which holds classes 0 and 1) and agrees where h says 2 (the target).
    rng = np.random.default_rng(5)
    ys = rng.integers(0, 2, size=400)
    zs = MEANS[ys] + rng.normal(size=(400, 4))
    zt = MEANS[np.full(300, 2)] + rng.normal(size=(300, 4))
    swap = [1, 0, 2]
    critic = LinearHead(HEAD.weight[swap], HEAD.bias[swap], HEAD.classes)
    r = dis2_bound(HEAD, critic, zs, ys, zt, alpha=0.05)
    assert r["discrepancy"] < -0.5
    assert r["discrepancy_clipped"] == 0.0
    expected = np.clip(r["source_error"] + r["concentration"], 0.0, 1.0)
    assert expected < 1.0  # the case is not decided by the clip to 1
    np.testing.assert_allclose(r["value"], expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(r["estimate"], r["source_error"], rtol=0, atol=1e-15)


@pytest.mark.slow
def test_critic_disagrees_more_on_target_than_on_source():
    rng = np.random.default_rng(1)
    zs, _ = draw(rng, 600)
    zt, _ = draw(rng, 600, shift=2.0)
    critic = fit_disagreement_critic(HEAD, zs, zt, random_state=0)
    on_s = np.mean(critic.predict(zs) != HEAD.predict(zs))
    on_t = np.mean(critic.predict(zt) != HEAD.predict(zt))
    assert on_t - on_s > 0.3


def test_logit_critic_is_a_feature_critic_on_the_logits_composed_onto_z():
    rng = np.random.default_rng(6)
    zs, _ = draw(rng, 300)
    zt, _ = draw(rng, 300, shift=1.5)
    composed = fit_disagreement_critic(HEAD, zs, zt, variant="logits", random_state=3)
    # By hand: the head seen on its logits is argmax of s, so the feature critic fitted on
    # (s(z_S), s(z_T)) is the logit critic V s + c; compose it onto z ourselves.
    on_logits = LinearHead(np.eye(3), np.zeros(3), HEAD.classes)
    logit_critic = fit_disagreement_critic(
        on_logits, HEAD.scores(zs), HEAD.scores(zt), variant="features", random_state=3
    )
    v, c = logit_critic.weight, logit_critic.bias
    np.testing.assert_allclose(composed.weight, v @ HEAD.weight, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(composed.bias, v @ HEAD.bias + c, rtol=1e-9, atol=1e-12)
    # h ignores the 4th coordinate, so a critic on its logits must ignore it too.
    np.testing.assert_allclose(composed.weight[:, 3], 0.0, rtol=0, atol=1e-12)
    # The affine composition, on fresh random z: same scores, same predictions.
    z = rng.normal(scale=3.0, size=(2000, 4))
    by_hand = HEAD.scores(z) @ v.T + c
    np.testing.assert_allclose(composed.scores(z), by_hand, rtol=1e-9, atol=1e-9)
    np.testing.assert_array_equal(composed.predict(z), HEAD.classes[np.argmax(by_hand, axis=1)])
    # And the critic does what DIS² asks of it (it is not, e.g., h itself).
    gap = np.mean(composed.predict(zt) != HEAD.predict(zt)) - np.mean(
        composed.predict(zs) != HEAD.predict(zs)
    )
    assert gap > 0.1


def test_bad_variant_is_refused_by_name():
    z, _ = draw(np.random.default_rng(7), 20)
    with pytest.raises(ValueError, match=r"variant must be one of \['features', 'logits'\]"):
        fit_disagreement_critic(HEAD, z, z, variant="logit")
    assert sorted(CRITIC_VARIANTS) == ["features", "logits"]


def test_both_variants_cover_the_true_target_error():
    # Gaussian classes, the target shifted along the first axis: a linear critic can follow
    # this shift, so the DIS² assumption plausibly holds. Critic rows are disjoint from the
    # scored rows; the true error is measured on a large labelled target sample.
    n_seeds, covered, values = 8, {"features": 0, "logits": 0}, []
    for seed in range(n_seeds):
        rng = np.random.default_rng(100 + seed)
        fit_s, _ = draw(rng, 500)
        fit_t, _ = draw(rng, 500, shift=1.5)
        zs, ys = draw(rng, 500)
        zt, _ = draw(rng, 500, shift=1.5)
        z_true, y_true = draw(rng, 50_000, shift=1.5)
        true_error = np.mean(HEAD.predict(z_true) != y_true)
        for variant in covered:
            critic = fit_disagreement_critic(HEAD, fit_s, fit_t, variant=variant, random_state=seed)
            value = dis2_bound(HEAD, critic, zs, ys, zt, alpha=0.05)["value"]
            covered[variant] += int(value >= true_error)
            values.append(value)
    assert covered["features"] >= n_seeds - 1 and covered["logits"] >= n_seeds - 1, covered
    assert max(values) < 0.7  # informative, not the trivial bound 1


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

import itertools

import numpy as np
import pytest
from scipy import stats

from bounds.tv.robust_ot import PairedTV, RobustOTTV, nn_distance_quantile, robust_ot_tv


def _naive_assignment(s: np.ndarray, t: np.ndarray, eps: float) -> float:
    """Equal sizes and uniform weights: OT is the best permutation (Birkhoff)."""
    cost = np.linalg.norm(s[:, None, :] - t[None, :, :], axis=2) > eps
    n = len(s)
    return min(cost[np.arange(n), list(p)].mean() for p in itertools.permutations(range(n)))


@pytest.mark.parametrize("seed", range(5))
def test_robust_ot_matches_brute_force_assignment(seed):
    rng = np.random.default_rng(seed)
    s, t = rng.normal(size=(6, 2)), rng.normal(size=(6, 2)) + 0.5
    for eps in (0.3, 0.8, 1.5):
        np.testing.assert_allclose(
            robust_ot_tv(s, t, eps), _naive_assignment(s, t, eps), atol=1e-12
        )


def test_robust_ot_on_atoms_is_histogram_tv():
    # Samples on the atoms {0, 1, 2}: with eps below the atom spacing, robust OT = TV of counts.
    rng = np.random.default_rng(0)
    s = rng.choice(3, size=(200, 1), p=[0.5, 0.3, 0.2]).astype(float)
    t = rng.choice(3, size=(150, 1), p=[0.2, 0.3, 0.5]).astype(float)
    p = np.bincount(s[:, 0].astype(int), minlength=3) / len(s)
    q = np.bincount(t[:, 0].astype(int), minlength=3) / len(t)
    np.testing.assert_allclose(robust_ot_tv(s, t, eps=0.5), 0.5 * np.abs(p - q).sum(), atol=1e-12)


def test_robust_ot_extremes_symmetry_and_monotonicity():
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=(80, 3)), rng.normal(size=(60, 3)) + 0.7
    np.testing.assert_allclose(robust_ot_tv(s, s, 0.0), 0.0, atol=1e-12)
    np.testing.assert_allclose(robust_ot_tv(s, s + 100.0, 1.0), 1.0, atol=1e-12)
    for eps in (0.2, 1.0):
        np.testing.assert_allclose(robust_ot_tv(s, t, eps), robust_ot_tv(t, s, eps), atol=1e-12)
    values = [robust_ot_tv(s, t, eps) for eps in (0.0, 0.3, 0.6, 1.2, 2.4, 10.0)]
    assert all(a >= b - 1e-12 for a, b in zip(values, values[1:], strict=False)), values
    np.testing.assert_allclose(values[0], 1.0, atol=1e-12)  # continuous data, eps = 0
    np.testing.assert_allclose(values[-1], 0.0, atol=1e-12)


def test_nn_distance_quantile_naive():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 4))
    dist = np.linalg.norm(x[:, None] - x[None], axis=2)
    np.fill_diagonal(dist, np.inf)
    for q in (0.1, 0.5, 0.9):
        np.testing.assert_allclose(nn_distance_quantile(x, q), np.quantile(dist.min(1), q))


def test_far_apart_gaussians_near_one_and_result_fields():
    rng = np.random.default_rng(3)
    s, t = rng.normal(size=(500, 2)), rng.normal(size=(400, 2)) + [8.0, 0.0]
    est = RobustOTTV(random_state=0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, 1.0, atol=0.01)
    res = est.result_
    assert (res.method, res.lower, res.upper) == ("robust_ot", 0.0, None)
    assert (res.n_source, res.n_target) == (500, 400)
    assert res.details["n_ot_source"] == 400 and res.details["n_ot_target"] == 320  # 1/5 held out


def test_auto_eps_comes_from_held_out_rows_and_max_samples():
    rng = np.random.default_rng(4)
    s, t = rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2))
    est = RobustOTTV(max_samples=300, n_eps_samples=100, random_state=0).fit(s, t)
    assert est.result_.details["n_ot_source"] == 300
    assert 0.0 < est.eps_ < 0.5
    fixed = RobustOTTV(eps=0.25, max_samples=300, random_state=0).fit(s, t)
    assert fixed.eps_ == 0.25


def test_null_bias_and_loss_of_contrast_in_high_dimension():
    # Documented behaviour: V is well above 0 at P = Q, and the gap between TV = 0.9 and
    # TV = 0 shrinks as the dimension grows (mean shift 2 Phi^-1(0.95) along 1/sqrt(d)).
    delta = 2 * stats.norm.ppf(0.95)
    contrast = {}
    for d in (2, 128):
        rng = np.random.default_rng(5)
        s, t0, t1 = (rng.normal(size=(600, d)) for _ in range(3))
        null = RobustOTTV(random_state=0).fit(s, t0).estimate_
        far = RobustOTTV(random_state=0).fit(s, t1 + delta / np.sqrt(d)).estimate_
        assert null > 0.2, (d, null)
        contrast[d] = far - null
    assert contrast[2] > contrast[128] + 0.2, contrast


def test_robust_tv_below_tv_for_a_shift_in_one_dimension():
    # eps-robust TV <= TV: N(0,1) vs N(2,1), TV = 0.683, with a generous eps = 0.5.
    rng = np.random.default_rng(6)
    s, t = rng.normal(size=(1500, 1)), rng.normal(size=(1500, 1)) + 2.0
    value = RobustOTTV(eps=0.5, random_state=0).fit(s, t).estimate_
    assert value <= 2 * stats.norm.cdf(1.0) - 1 + 0.02


def test_paired_upper_is_clopper_pearson_of_far_pairs():
    rng = np.random.default_rng(7)
    s = rng.normal(size=(300, 2))
    t = s + rng.normal(scale=0.5, size=(300, 2))
    est = PairedTV(eps=0.6, alpha=0.1, random_state=0).fit(s, t)
    far = int(np.sum(np.linalg.norm(s - t, axis=1) > 0.6))
    np.testing.assert_allclose(est.estimate_, far / 300)
    np.testing.assert_allclose(est.upper_, stats.beta.ppf(0.9, far + 1, 300 - far), rtol=1e-10)
    res = est.result_
    assert (res.method, res.lower, res.upper) == ("paired", 0.0, est.upper_)


def test_paired_upper_coverage():
    # Noise N(0, s^2 I): P(||x - y|| > eps) = P(chi2_d > (eps/s)^2) is covered in >= 95 of 100.
    d, scale, eps = 3, 0.5, 0.8
    p_far = stats.chi2.sf((eps / scale) ** 2, d)
    covered = 0
    for r in range(100):
        rng = np.random.default_rng(r)
        s = rng.normal(size=(100, d))
        covered += PairedTV(eps=eps).fit(s, s + scale * rng.normal(size=(100, d))).upper_ >= p_far
    assert covered >= 95, covered


def test_paired_with_eps_zero_bounds_tv():
    # x_i = y_i for 70% of the rows: TV <= P(X != Y) = 0.3, the upper bound sees it.
    rng = np.random.default_rng(8)
    s = rng.normal(size=(1000, 2))
    t = s.copy()
    move = rng.random(1000) < 0.3
    t[move] = rng.normal(size=(move.sum(), 2))
    est = PairedTV(eps=0.0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, move.mean())
    assert est.upper_ >= est.estimate_


def test_paired_auto_eps_holds_out_pairs():
    rng = np.random.default_rng(9)
    s = rng.normal(size=(1000, 2))
    est = PairedTV(random_state=0).fit(s, s + 0.01)
    assert est.result_.details["n_pairs"] == 800
    assert est.eps_ > 0.01 and est.estimate_ == 0.0


def test_paired_needs_equal_sizes():
    with pytest.raises(ValueError, match="paired"):
        PairedTV(eps=1.0).fit(np.zeros((10, 2)), np.zeros((9, 2)))


@pytest.mark.parametrize("eps", ["median", -1.0, float("nan"), float("inf"), None])
def test_bad_eps(eps):
    x = np.random.default_rng(0).normal(size=(20, 2))
    for cls in (RobustOTTV, PairedTV):
        with pytest.raises(ValueError, match="eps"):
            cls(eps=eps).fit(x, x + 1)


@pytest.mark.parametrize("cls", [RobustOTTV, PairedTV])
def test_bad_quantile_and_too_few_rows(cls):
    x = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(ValueError, match="eps_quantile"):
        cls(eps_quantile=1.5).fit(x, x)
    with pytest.raises(ValueError, match="source"):
        cls().fit(x[:3], x[:3])

import numpy as np
import pytest
from scipy import stats
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from bounds.tv.classifier import (
    CANDIDATES,
    ClassifierTV,
    QuadraticFeatures,
    RadialPCAFeatures,
    balanced_posterior,
    calibrate_crossfit,
    null_corrected_tv,
    null_plug_in_tv,
    plug_in_tv,
)

CHEAP = ("logistic",)


def _shift(n_s: int, n_t: int, delta: float, d: int = 2, seed: int = 0):
    rng = np.random.default_rng(seed)
    mu = np.zeros(d)
    mu[0] = delta
    return rng.normal(size=(n_s, d)), rng.normal(size=(n_t, d)) + mu


def _gauss_tv(delta: float) -> float:
    return float(2 * stats.norm.cdf(abs(delta) / 2) - 1)


# ----------------------------------------------------------------------------- building blocks
def test_balanced_posterior_removes_the_training_prior():
    # True densities a(x), b(x); posterior under prior pi is pi b / (pi b + (1 - pi) a).
    rng = np.random.default_rng(0)
    a, b = rng.uniform(0.1, 2, 50), rng.uniform(0.1, 2, 50)
    for pi in (0.1, 0.5, 0.8):
        proba = pi * b / (pi * b + (1 - pi) * a)
        np.testing.assert_allclose(balanced_posterior(proba, pi), b / (a + b), rtol=1e-12)


def test_plug_in_matches_naive_loop():
    rng = np.random.default_rng(1)
    eta, y = rng.uniform(size=30), rng.integers(0, 2, 30)
    src = [abs(2 * e - 1) for e, lab in zip(eta, y, strict=True) if lab == 0]
    tgt = [abs(2 * e - 1) for e, lab in zip(eta, y, strict=True) if lab == 1]
    np.testing.assert_allclose(plug_in_tv(eta, y), 0.5 * np.mean(src) + 0.5 * np.mean(tgt))


def test_plug_in_with_true_posterior_is_tv():
    # For N(0,1) vs N(delta,1) the balanced posterior is a logistic in x: plug-in -> TV.
    delta = 1.5
    s, t = _shift(100_000, 100_000, delta, d=1, seed=2)
    x = np.r_[s[:, 0], t[:, 0]]
    eta = 1 / (1 + np.exp(-(delta * x - delta**2 / 2)))
    y = np.r_[np.zeros(100_000, int), np.ones(100_000, int)]
    np.testing.assert_allclose(plug_in_tv(eta, y), _gauss_tv(delta), atol=0.005)


def test_calibration_is_cross_fitted_and_monotone():
    rng = np.random.default_rng(3)
    eta, y = rng.uniform(size=200), rng.integers(0, 2, 200)
    fold = np.arange(200) % 4
    out = calibrate_crossfit(eta, y, fold)
    assert np.all((out >= 0) & (out <= 1))
    for k in range(4):
        m = fold == k
        order = np.argsort(eta[m])
        assert np.all(np.diff(out[m][order]) >= -1e-12)
    # changing the labels of fold 0 leaves the calibrated values of fold 0 unchanged
    y2 = y.copy()
    y2[fold == 0] = 1 - y2[fold == 0]
    np.testing.assert_allclose(calibrate_crossfit(eta, y2, fold)[fold == 0], out[fold == 0])


def test_quadratic_features_full_expansion_and_budget():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(20, 3))
    q = QuadraticFeatures().fit(x)
    out = q.transform(x)
    xc = x - x.mean(0)
    expected = np.hstack(
        [x, x**2, np.c_[xc[:, 0] * xc[:, 1], xc[:, 0] * xc[:, 2], xc[:, 1] * xc[:, 2]]]
    )
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)
    big = QuadraticFeatures(max_features=600).fit(rng.normal(size=(300, 128)))
    assert 2 * 128 + big.n_components_ * (big.n_components_ - 1) // 2 <= 600
    assert big.transform(rng.normal(size=(5, 128))).shape[1] <= 600


@pytest.mark.slow
def test_feature_maps_with_fewer_rows_than_features():
    # ~30 rows per side in 64 dimensions: fewer rows than principal directions requested
    rng = np.random.default_rng(16)
    x = rng.normal(size=(20, 64))
    q = QuadraticFeatures().fit(x)
    assert q.n_components_ <= 20
    assert q.transform(x).shape == (20, 128 + q.n_components_ * (q.n_components_ - 1) // 2)
    assert RadialPCAFeatures(n_components=30).fit(x[:5]).transform(x).shape == (20, 64 + 5 + 1)
    s, t = rng.normal(size=(30, 64)), rng.normal(size=(30, 64)) + 0.5
    est = ClassifierTV(n_folds=3, random_state=0).fit(s, t)
    assert 0.0 <= est.lower_ <= 1.0 and 0.0 <= est.estimate_ <= 1.0


def test_radial_features():
    x = np.random.default_rng(5).normal(size=(40, 4))
    out = RadialPCAFeatures(n_components=2).fit(x).transform(x)
    assert out.shape == (40, 4 + 2 + 1)
    np.testing.assert_allclose(out[:, :4], x)
    np.testing.assert_allclose(out[:, -1], np.log(1e-3 + np.mean(x**2, axis=1)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("name", sorted(CANDIDATES))
def test_every_candidate_fits_and_predicts_probabilities(name):
    s, t = _shift(60, 60, 2.0, d=3, seed=6)
    x, y = np.vstack([s, t]), np.r_[np.zeros(60, int), np.ones(60, int)]
    proba = CANDIDATES[name](120, 3, 0).fit(x, y).predict_proba(x)[:, 1]
    assert proba.shape == (120,) and np.all((proba >= 0) & (proba <= 1))
    assert proba[y == 1].mean() > proba[y == 0].mean()


# ----------------------------------------------------------------------------- the estimator
@pytest.mark.slow
def test_default_on_closed_form_gaussian():
    # N(0, I) vs N(mu, I), d = 4, |mu| = 1: TV = 0.383; tolerance 0.05 at n = 1000 per side.
    s, t = _shift(1000, 1000, 1.0, d=4, seed=7)
    est = ClassifierTV(random_state=0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, _gauss_tv(1.0), atol=0.05)
    assert est.lower_ <= _gauss_tv(1.0)
    assert len(est.selected_models_) == 5


def test_identical_distributions_near_zero():
    rng = np.random.default_rng(8)
    s, t = rng.normal(size=(500, 3)), rng.normal(size=(500, 3))
    est = ClassifierTV(candidates=("logistic", "quadratic", "knn"), random_state=0).fit(s, t)
    assert est.estimate_ <= 0.06
    assert est.lower_ == 0.0


def test_disjoint_supports_near_one():
    rng = np.random.default_rng(9)
    s, t = rng.uniform(0, 1, (300, 2)), rng.uniform(3, 4, (300, 2))
    est = ClassifierTV(candidates=("logistic", "knn"), random_state=0).fit(s, t)
    np.testing.assert_allclose(est.estimate_, 1.0, atol=0.01)
    assert est.lower_ >= 0.98


def test_outputs_details_and_symmetry():
    s, t = _shift(400, 400, 1.5, seed=10)
    a = ClassifierTV(candidates=CHEAP, random_state=0).fit(s, t)
    b = ClassifierTV(candidates=CHEAP, random_state=0).fit(t, s)
    for est in (a, b):
        res = est.result_
        assert 0.0 <= res.lower <= res.estimate <= 1.0
        assert res.upper is None and res.details["plug_in_is_bound"] is False
        assert len(res.details["fold_balanced_accuracy"]) == 5
        np.testing.assert_allclose(
            res.details["two_bacc_minus_one"], 2 * res.details["balanced_accuracy"] - 1
        )
    np.testing.assert_allclose(a.estimate_, b.estimate_, atol=0.03)
    np.testing.assert_allclose(a.lower_, b.lower_, atol=0.05)


def test_unequal_sizes_use_per_class_bonferroni_bounds():
    s, t = _shift(600, 150, 1.0, seed=11)
    res = ClassifierTV(candidates=CHEAP, random_state=0, alpha=0.1).fit(s, t).result_
    d = res.details
    m_s, m_t, k_s, k_t = (
        d[key]
        for key in ("certify_n_source", "certify_n_target", "correct_source", "correct_target")
    )
    assert (m_s, m_t) == (300, 75)
    low_s = stats.beta.ppf(0.05, k_s, m_s - k_s + 1)
    low_t = stats.beta.ppf(0.05, k_t, m_t - k_t + 1)
    np.testing.assert_allclose(res.lower, max(0.0, low_s + low_t - 1), rtol=1e-10)
    np.testing.assert_allclose(res.estimate, _gauss_tv(1.0), atol=0.08)


def test_equal_sizes_use_the_pooled_binomial_bound():
    s, t = _shift(301, 301, 1.0, seed=12)
    res = ClassifierTV(candidates=CHEAP, random_state=0, certify_fraction=0.4).fit(s, t).result_
    m = res.details["certify_n_source"]
    assert m == res.details["certify_n_target"] == 120
    k = res.details["correct_source"] + res.details["correct_target"]
    np.testing.assert_allclose(
        res.lower, max(0.0, 2 * stats.beta.ppf(0.05, k, 2 * m - k + 1) - 1), rtol=1e-10
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("delta", "n_s", "n_t", "alpha"),
    [(1.0, 100, 100, 0.05), (2.0, 150, 60, 0.05), (0.0, 100, 100, 0.01), (0.0, 80, 120, 0.01)],
)
def test_coverage_of_the_lower_bound(delta, n_s, n_t, alpha):
    # 100 seeded repetitions with a cheap candidate: lower <= TV in at least 95 of them.
    # At TV = 0 the bound is nearly exact (misses ~ Binomial(100, alpha)), so there alpha =
    # 0.01 makes ">= 95" a test of validity rather than a coin flip at the nominal level.
    truth = _gauss_tv(delta)
    covered = sum(
        ClassifierTV(candidates=CHEAP, alpha=alpha, random_state=r)
        .fit(*_shift(n_s, n_t, delta, seed=1000 + r))
        .lower_
        <= truth
        for r in range(100)
    )
    assert covered >= 95, covered


@pytest.mark.slow
def test_null_miss_rate_is_at_most_alpha():
    # Validity at the nominal level: at TV = 0 and alpha = 0.1, misses over 200 repetitions
    # must not exceed what Binomial(200, 0.1) allows (P(X >= 31) < 0.05).
    misses = sum(
        ClassifierTV(candidates=CHEAP, alpha=0.1, n_folds=2, random_state=r)
        .fit(*_shift(40, 40, 0.0, seed=5000 + r))
        .lower_
        > 0.0
        for r in range(200)
    )
    assert misses <= 30, misses


@pytest.mark.slow
def test_coverage_with_model_selection_under_the_null():
    # Selection among several models must not make the bound optimistic at TV = 0.
    covered = sum(
        ClassifierTV(candidates=("logistic", "knn"), alpha=0.01, random_state=r)
        .fit(*_shift(60, 60, 0.0, seed=2000 + r))
        .lower_
        <= 0.0
        for r in range(100)
    )
    assert covered >= 95, covered


@pytest.mark.slow
def test_data_processing_dropping_a_coordinate():
    # Shift (1.2, 1.2): TV = 0.605 before, 0.451 after dropping the second coordinate.
    diffs = []
    for r in range(4):
        rng = np.random.default_rng(300 + r)
        s, t = rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 1.2
        full = ClassifierTV(candidates=CHEAP, random_state=r).fit(s, t).estimate_
        proj = ClassifierTV(candidates=CHEAP, random_state=r).fit(s[:, :1], t[:, :1]).estimate_
        diffs.append(proj - full)
    assert np.mean(diffs) <= 0.0, diffs


class _Spy(ClassifierMixin, BaseEstimator):
    """Logistic regression that logs every row it is fitted on."""

    log: list = []

    def __init__(self, tag: str = "a") -> None:
        self.tag = tag

    def fit(self, x, y):
        _Spy.log.append({tuple(row) for row in x})
        self.model_ = LogisticRegression().fit(x, y)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, x):
        return self.model_.predict_proba(x)


def test_selection_and_fitting_never_see_the_scored_rows():
    _Spy.log = []
    s, t = _shift(40, 40, 1.0, seed=13)
    est = ClassifierTV(candidates=[("a", _Spy("a")), ("b", _Spy("b"))], n_folds=4, random_state=0)
    est.fit(s, t)
    x = np.vstack([s, t])
    # per fold: two selection fits and one refit; then the same for the certification split
    assert len(_Spy.log) == 4 * 3 + 3
    for k in range(4):
        scored = {tuple(row) for row in x[est.fold_id_ == k]}
        for rows in _Spy.log[3 * k : 3 * k + 3]:
            assert not rows & scored
    certified = {tuple(row) for row in x[est.certify_rows_]}
    assert len(certified) == 40
    for rows in _Spy.log[12:]:
        assert not rows & certified
    assert set(est.selected_models_) <= {"a", "b"}


def test_point_rules():
    s, t = _shift(300, 300, 1.0, seed=14)
    details = ClassifierTV(candidates=CHEAP, random_state=0).fit(s, t).result_.details
    for point, key in [("raw_plug_in", "raw_plug_in"), ("bacc", "two_bacc_minus_one")]:
        est = ClassifierTV(candidates=CHEAP, point=point, random_state=0).fit(s, t)
        np.testing.assert_allclose(est.estimate_, np.clip(details[key], 0, 1))


def test_null_corrected_rule_keeps_every_other_output():
    s, t = _shift(300, 300, 1.0, seed=16)
    base = ClassifierTV(candidates=CHEAP, random_state=0).fit(s, t)
    corr = ClassifierTV(candidates=CHEAP, point="null_corrected", random_state=0).fit(s, t)
    assert corr.lower_ == base.lower_
    assert corr.result_.details["plug_in"] == base.estimate_
    null = base.result_.details["null_plug_in"]
    assert 0.0 < null < base.estimate_
    np.testing.assert_allclose(corr.estimate_, np.sqrt(base.estimate_**2 - null**2))


def test_null_plug_in_is_the_calibration_noise_of_unrelated_scores():
    # Scores independent of the labels: the calibrated plug-in is pure noise, and its
    # permutation mean matches its own level; scores that separate the labels sit far above it.
    rng = np.random.RandomState(0)
    y, folds = np.repeat([0, 1], 300), np.tile(np.arange(5), 120)
    noise = rng.uniform(size=600)
    null = null_plug_in_tv(noise, y, folds, 50, rng)
    assert abs(plug_in_tv(calibrate_crossfit(noise, y, folds), y) - null) < 0.05
    informative = np.clip(0.5 + 0.4 * (2 * y - 1) + rng.normal(0, 0.1, 600), 0, 1)
    assert plug_in_tv(calibrate_crossfit(informative, y, folds), y) > 0.7 > 10 * null
    assert null_corrected_tv(0.03, 0.04) == 0.0 and null_corrected_tv(0.5, 0.0) == 0.5


@pytest.mark.slow
def test_null_correction_cuts_the_upward_bias_on_identical_samples():
    calibrated, corrected = [], []
    for seed in range(8):
        s, t = _shift(300, 300, 0.0, d=8, seed=100 + seed)
        est = ClassifierTV(point="null_corrected", random_state=seed).fit(s, t)
        calibrated.append(est.result_.details["plug_in"])
        corrected.append(est.estimate_)
    assert np.mean(corrected) < 0.5 * np.mean(calibrated), (calibrated, corrected)


def test_bad_null_draws_are_named():
    s, t = _shift(50, 50, 1.0)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="n_null_draws"):
            ClassifierTV(candidates=CHEAP, n_null_draws=bad).fit(s, t)


@pytest.mark.slow
def test_speed_budget_at_large_n_is_respected_by_selection_subsampling():
    # select_size caps the rows used to compare models: selection scores exist per fold.
    s, t = _shift(3000, 3000, 0.5, d=8, seed=15)
    est = ClassifierTV(random_state=0, select_size=600, n_folds=3).fit(s, t)
    assert len(est.result_.details["selection_scores"]) == 3
    np.testing.assert_allclose(est.estimate_, _gauss_tv(0.5), atol=0.05)

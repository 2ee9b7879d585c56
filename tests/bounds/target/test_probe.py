import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.preprocessing import StandardScaler

from bounds.target.probe import C_GRID, FALLBACK_C, LinearProbe


def _clusters(n_per_class=8, d=16, classes=4, seed=0, spread=1.0):
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(classes), n_per_class)
    centres = rng.normal(size=(classes, d))
    return centres[y] + spread * rng.normal(size=(len(y), d)), y


@pytest.mark.slow
def test_latents_scaled_by_10_give_the_same_predictions():
    z, y = _clusters(spread=2.0)
    z_eval, _ = _clusters(n_per_class=50, seed=1, spread=2.0)
    a = LinearProbe(random_state=0).fit(z, y)
    b = LinearProbe(random_state=0).fit(10 * z, y)
    assert a.C_ == b.C_
    np.testing.assert_array_equal(a.predict(z_eval), b.predict(10 * z_eval))


@pytest.mark.slow
def test_without_standardising_the_chosen_C_moves_with_the_latent_scale():
    # the scale dependence the protocol removes: on raw latents, x10 shifts C by 1/100
    z, y = _clusters(spread=2.0)
    a = LinearProbe(standardise=False, random_state=0).fit(z / 10, y)
    b = LinearProbe(standardise=False, random_state=0).fit(z, y)
    assert a.C_ > b.C_


@pytest.mark.slow
def test_selection_matches_a_naive_loop_over_folds_and_grid():
    z, y = _clusters(n_per_class=6, spread=3.0, seed=3)
    probe = LinearProbe(random_state=5).fit(z, y)
    folds = RepeatedStratifiedKFold(n_splits=5, n_repeats=1, random_state=5)
    scores = []
    for c in C_GRID:
        fold_scores = []
        for tr, te in folds.split(z, y):
            scaler = StandardScaler().fit(z[tr])
            clf = LogisticRegression(C=c, max_iter=5000, random_state=5)
            clf.fit(scaler.transform(z[tr]), y[tr])
            p = clf.predict_proba(scaler.transform(z[te]))
            fold_scores.append(-log_loss(y[te], p, labels=clf.classes_))
        scores.append(np.mean(fold_scores))
    np.testing.assert_allclose(list(probe.cv_scores_.values()), scores, rtol=1e-6, atol=1e-8)
    assert probe.C_ == C_GRID[int(np.argmax(scores))]


@pytest.mark.slow
def test_regularisation_adapts_to_the_data():
    # separable clusters want a weak penalty, pure noise a strong one
    z, y = _clusters(n_per_class=10, spread=0.2)
    noise = np.random.default_rng(9).normal(size=z.shape)
    assert LinearProbe(random_state=0).fit(z, y).C_ > LinearProbe(random_state=0).fit(noise, y).C_


def test_one_row_per_class_falls_back_to_the_fixed_C_with_a_warning():
    z, y = _clusters(n_per_class=1)
    with pytest.warns(UserWarning, match="fallback C"):
        probe = LinearProbe(random_state=0).fit(z, y)
    assert probe.selection_ == "fallback" and probe.C_ == FALLBACK_C


def test_a_fixed_C_overrides_the_selection_without_warning():
    z, y = _clusters(n_per_class=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probe = LinearProbe(C=0.3, random_state=0).fit(z, y)
    assert probe.selection_ == "fixed" and probe.C_ == 0.3 and probe.cv_scores_ is None


def test_affine_map_reproduces_the_decision_scores():
    z, y = _clusters(spread=2.0)
    probe = LinearProbe(random_state=0).fit(z, y)
    weight, bias = probe.affine()
    np.testing.assert_allclose(z @ weight.T + bias, probe.decision_function(z), atol=1e-8)


def test_affine_map_of_a_binary_probe_gives_its_probabilities():
    z, y = _clusters(classes=2, spread=2.0)
    probe = LinearProbe(random_state=0).fit(z, y)
    weight, bias = probe.affine()
    scores = z @ weight.T + bias
    proba = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(proba, probe.predict_proba(z), atol=1e-8)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"C": -1.0}, "C must be positive"), ({"scoring": "f1"}, "scoring must be")],
)
def test_bad_parameters_are_named(kwargs, match):
    z, y = _clusters()
    with pytest.raises(ValueError, match=match):
        LinearProbe(**kwargs).fit(z, y)


def test_single_class_and_mismatched_labels_are_refused():
    z, y = _clusters()
    with pytest.raises(ValueError, match="two classes"):
        LinearProbe().fit(z, np.zeros(len(z)))
    with pytest.raises(ValueError, match="y must have shape"):
        LinearProbe().fit(z, y[:-1])

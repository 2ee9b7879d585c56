import numpy as np
import pandas as pd
import pytest
import torch
from scipy import stats

import bounds
from bounds import METHODS, TVEstimate, estimate_tv, method_params
from bounds.tv.classifier import ClassifierTV

FAST = {
    "classifier": {"candidates": ("logistic",)},
    "partition": {},
    "robust_ot": {"max_samples": 300},
    "paired": {"eps": 0.5},
}


def _pair(n: int = 400, delta: float = 2.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 2)), rng.normal(size=(n, 2)) + [delta, 0.0]


def test_registry_names_and_public_api():
    assert sorted(METHODS) == ["classifier", "paired", "partition", "robust_ot"]
    assert set(bounds.__all__) >= {"estimate_tv", "METHODS", "TVEstimate", "ClassifierTV"}
    for name, cls in METHODS.items():
        assert getattr(bounds, cls.__name__) is cls, name


@pytest.mark.parametrize("method", sorted(METHODS))
def test_every_method_returns_a_tv_estimate_in_unit_interval(method):
    s, t = _pair()
    res = estimate_tv(s, t, method, alpha=0.1, random_state=0, **FAST[method])
    assert isinstance(res, TVEstimate)
    assert res.method == method and res.alpha == 0.1
    assert 0.0 <= res.lower <= 1.0 and 0.0 <= res.estimate <= 1.0
    assert (res.upper is None) == (method != "paired")
    assert (res.n_source, res.n_target) == (400, 400)


@pytest.mark.parametrize("method", ["classifier", "partition"])
def test_same_result_as_the_estimator_class(method):
    s, t = _pair()
    res = estimate_tv(s, t, method, random_state=3, **FAST[method])
    direct = METHODS[method](random_state=3, **FAST[method]).fit(s, t).result_
    np.testing.assert_allclose([res.estimate, res.lower], [direct.estimate, direct.lower])


@pytest.mark.slow
def test_default_is_classifier_and_accurate_on_closed_form():
    s, t = _pair(n=1000, delta=1.0, seed=1)
    res = estimate_tv(s, t, random_state=0)
    truth = 2 * stats.norm.cdf(0.5) - 1
    assert res.method == "classifier"
    np.testing.assert_allclose(res.estimate, truth, atol=0.05)
    assert res.lower <= truth


@pytest.mark.slow
def test_torch_and_pandas_inputs_give_the_numpy_answer():
    s, t = _pair(n=200)
    ref = estimate_tv(s, t, random_state=0, **FAST["classifier"])
    from_torch = estimate_tv(
        torch.from_numpy(s), torch.from_numpy(t), random_state=0, **FAST["classifier"]
    )
    from_pandas = estimate_tv(
        pd.DataFrame(s), pd.DataFrame(t), random_state=0, **FAST["classifier"]
    )
    for res in (from_torch, from_pandas):
        np.testing.assert_allclose([res.estimate, res.lower], [ref.estimate, ref.lower])


def test_random_state_makes_results_reproducible():
    s, t = _pair(n=300)
    a = estimate_tv(s, t, "partition", random_state=5)
    b = estimate_tv(s, t, "partition", random_state=5)
    np.testing.assert_allclose([a.estimate, a.lower], [b.estimate, b.lower])


def test_unknown_method_lists_valid_names():
    s, t = _pair(n=50)
    with pytest.raises(ValueError, match="classifier.*paired.*partition.*robust_ot"):
        estimate_tv(s, t, "wasserstein")
    with pytest.raises(ValueError, match="method"):
        estimate_tv(s, t, ["classifier"])


def test_unknown_parameter_names_it_and_the_valid_ones():
    s, t = _pair(n=50)
    with pytest.raises(ValueError, match=r"\['n_fold'\].*'classifier'.*n_folds"):
        estimate_tv(s, t, "classifier", n_fold=3)
    with pytest.raises(ValueError, match="eps"):
        estimate_tv(s, t, "partition", eps=0.1)


def test_method_params():
    assert "candidates" in method_params("classifier")
    assert "alpha" not in method_params("partition")
    with pytest.raises(ValueError, match="method"):
        method_params("nope")


def test_estimator_classes_follow_sklearn_conventions():
    from sklearn.base import clone

    est = ClassifierTV(n_folds=3, candidates=("logistic",), random_state=0)
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(est, "result_")
    est.fit(*_pair(n=100))
    assert isinstance(est.result_, TVEstimate) and est.estimate_ == est.result_.estimate

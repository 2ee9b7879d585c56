import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bounds import METHODS, estimate_tv
from bounds._validation import as_2d_float_array, check_alpha, check_pair

SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
METHOD_NAMES = sorted(METHODS)
methods = st.sampled_from(METHOD_NAMES)
finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


def _good(n: int = 30, d: int = 2, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


@st.composite
def arrays_with_a_non_finite_value(draw):
    shape = (draw(st.integers(12, 40)), draw(st.integers(1, 4)))
    arr = draw(hnp.arrays(np.float64, shape, elements=finite))
    i, j = draw(st.integers(0, shape[0] - 1)), draw(st.integers(0, shape[1] - 1))
    arr[i, j] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    return arr


@SETTINGS
@given(bad=arrays_with_a_non_finite_value(), method=methods, bad_side=st.sampled_from([0, 1]))
def test_nan_or_inf_names_the_argument(bad, method, bad_side):
    good = _good(len(bad), bad.shape[1])
    args = (bad, good) if bad_side == 0 else (good, bad)
    name = ("source", "target")[bad_side]
    with pytest.raises(ValueError, match=f"{name} contains NaN or inf"):
        estimate_tv(*args, method)


@SETTINGS
@given(d_s=st.integers(1, 6), d_t=st.integers(1, 6), n=st.integers(12, 40), method=methods)
def test_different_feature_counts(d_s, d_t, n, method):
    if d_s == d_t:
        d_t += 1
    with pytest.raises(ValueError, match="same number of features"):
        estimate_tv(_good(n, d_s), _good(n, d_t, seed=1), method)


@SETTINGS
@given(
    bad=hnp.arrays(
        np.float64,
        st.one_of(
            hnp.array_shapes(min_dims=1, max_dims=1, min_side=1, max_side=20),
            hnp.array_shapes(min_dims=3, max_dims=4, min_side=1, max_side=5),
        ),
        elements=finite,
    ),
    method=methods,
)
def test_wrong_number_of_dimensions(bad, method):
    with pytest.raises(ValueError, match="source must be 2-D"):
        estimate_tv(bad, _good(), method)
    with pytest.raises(ValueError, match="target must be 2-D"):
        estimate_tv(_good(), bad, method)


@SETTINGS
@given(shape=st.sampled_from([(0, 2), (0, 0), (5, 0)]), method=methods)
def test_empty_arrays(shape, method):
    with pytest.raises(ValueError, match="target is empty"):
        estimate_tv(_good(), np.zeros(shape), method)


@SETTINGS
@given(
    bad=st.one_of(
        hnp.arrays(hnp.unicode_string_dtypes(), st.tuples(st.integers(1, 10), st.integers(1, 3))),
        st.lists(st.lists(st.text(max_size=3), min_size=2, max_size=2), min_size=1, max_size=5),
        hnp.arrays(np.complex128, (5, 2)),
    ),
    method=methods,
)
def test_non_numeric_input(bad, method):
    with pytest.raises(ValueError, match="source"):
        estimate_tv(bad, _good(), method)


def test_ragged_and_object_input():
    with pytest.raises(ValueError, match="source"):
        estimate_tv([[1.0, 2.0], [3.0]], _good())
    with pytest.raises(ValueError, match="target must be numeric"):
        estimate_tv(_good(), np.array([[object()] * 2] * 30))


@SETTINGS
@given(
    alpha=st.one_of(
        st.floats(max_value=0.0), st.floats(min_value=1.0), st.just(float("nan")), st.text()
    ),
    method=methods,
)
def test_alpha_outside_unit_interval(alpha, method):
    s, t = _good(), _good(seed=1)
    with pytest.raises(ValueError, match="alpha"):
        estimate_tv(s, t, method, alpha=alpha, **({"eps": 0.5} if method == "paired" else {}))


@SETTINGS
@given(name=st.text(max_size=12).filter(lambda x: x not in METHODS))
def test_unknown_method(name):
    with pytest.raises(ValueError, match="method must be one of"):
        estimate_tv(_good(), _good(seed=1), name)


@SETTINGS
@given(n=st.integers(1, 9), n_folds=st.integers(2, 5))
def test_too_few_samples_for_the_folds(n, n_folds):
    # the classifier needs 2 * n_folds rows per sample (cross-fitting + nested selection)
    if n >= 2 * n_folds:
        n = 2 * n_folds - 1
    with pytest.raises(ValueError, match=f"target has {n} samples.*{n_folds}-fold"):
        estimate_tv(_good(40), _good(n, seed=1), n_folds=n_folds)


def test_bad_classifier_parameters():
    s, t = _good(), _good(seed=1)
    with pytest.raises(ValueError, match="n_folds"):
        estimate_tv(s, t, n_folds=1)
    with pytest.raises(ValueError, match="candidates"):
        estimate_tv(s, t, candidates=("logistic", "svm"))
    with pytest.raises(ValueError, match="candidates"):
        estimate_tv(s, t, candidates="logistic")
    with pytest.raises(ValueError, match="point"):
        estimate_tv(s, t, point="median")


def test_helpers_accept_good_input():
    arr = as_2d_float_array(np.ones((3, 2), dtype=np.int32), "source")
    assert arr.dtype == np.float64 and arr.shape == (3, 2)
    assert as_2d_float_array(np.ones((2, 2), dtype=bool), "x").sum() == 4
    s, t = check_pair([[0.0, 1.0]], [[2.0, 3.0], [4.0, 5.0]])
    assert (s.shape, t.shape) == ((1, 2), (2, 2))
    assert check_alpha(np.float32(0.25)) == 0.25


@pytest.mark.slow
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_random_state_accepts_a_generator_and_rejects_junk(method):
    s, t = _good(40), _good(40, seed=1) + 1.0
    kw = {"eps": 0.5} if method == "paired" else {}
    a = estimate_tv(s, t, method, random_state=np.random.default_rng(3), **kw)
    b = estimate_tv(s, t, method, random_state=np.random.default_rng(3), **kw)
    np.testing.assert_allclose([a.estimate, a.lower], [b.estimate, b.lower])
    with pytest.raises(ValueError, match="random_state"):
        estimate_tv(s, t, method, random_state="seed", **kw)

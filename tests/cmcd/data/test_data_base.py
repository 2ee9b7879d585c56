"""Container, registry, option checks and seeded splits of cmcd.data (mirrors _base/_sampling)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cmcd.data import DATASETS, PairedDataset, ViewSpec, dataset_options, load_dataset
from cmcd.data._base import check_seed
from cmcd.data._sampling import allocate, check_fraction, split_indices, stratified_subsample
from cmcd.seeding import rng_for

ALL = {
    "mfeat",
    "digits",
    "fashion",
    "synthetic",
    "npz",
    "csv",
    "parquet",
    "spoken_digits",
    "paired_files",
}


def _toy(**kw):
    x = np.zeros((4, 2), dtype=np.float32)
    args = dict(
        x_source=x,
        x_target=x,
        y=np.array([0, 1, 0, 1]),
        source=ViewSpec("a", "vector", (2,)),
        target=ViewSpec("b", "vector", (2,)),
        train_idx=np.array([0, 1]),
        test_idx=np.array([2, 3]),
        name="toy",
        info={},
    )
    args.update(kw)
    return PairedDataset(**args)


def test_registry_holds_every_dataset():
    assert set(DATASETS) == ALL


@pytest.mark.parametrize("name", sorted(ALL))
def test_dataset_options_are_keyword_defaults_without_seed(name):
    opts = dataset_options(name)
    assert "seed" not in opts
    np.testing.assert_allclose(opts["test_fraction"], 0.3, rtol=0)


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown dataset 'mfeet'.*'mfeat'"):
        load_dataset("mfeet")
    with pytest.raises(ValueError, match="unknown dataset"):
        dataset_options(3)


def test_unknown_option_named_with_valid_ones():
    with pytest.raises(ValueError, match=r"\['sorce'\].*'mfeat'.*valid options.*'source'"):
        load_dataset("mfeat", sorce="fac")


@pytest.mark.parametrize("seed", [-1, 1.5, True, "0"])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed"):
        load_dataset("digits", seed=seed, n_samples=50)
    with pytest.raises(ValueError, match="seed"):
        check_seed(seed)


def test_paired_dataset_properties_and_casts():
    ds = _toy(x_source=np.ones((4, 2), dtype=np.float64))
    assert ds.x_source.dtype == np.float32 and ds.y.dtype == np.int64
    assert (ds.n_samples, ds.n_classes) == (4, 2)
    assert _toy(y=None).n_classes is None


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"x_target": np.zeros((3, 2))}, "x_target must have shape"),
        ({"test_idx": np.array([1, 2])}, "disjoint"),
        ({"train_idx": np.array([0, 9])}, "train_idx"),
        ({"y": np.array([0, 1])}, "y must be"),
    ],
)
def test_paired_dataset_rejects_inconsistent_fields(kw, match):
    with pytest.raises(ValueError, match=match):
        _toy(**kw)


@pytest.mark.parametrize(
    ("kind", "shape"), [("vector", (2, 3)), ("image", (5,)), ("tensor", (2,)), ("vector", (0,))]
)
def test_viewspec_rejects_bad_kind_or_shape(kind, shape):
    with pytest.raises(ValueError, match="ViewSpec"):
        ViewSpec("v", kind, shape)


def test_rng_streams_are_reproducible_and_independent():
    a = rng_for(5, "split").integers(1 << 30, size=4)
    np.testing.assert_array_equal(a, rng_for(5, "split").integers(1 << 30, size=4))
    assert not np.array_equal(a, rng_for(5, "gap").integers(1 << 30, size=4))
    assert not np.array_equal(a, rng_for(6, "split").integers(1 << 30, size=4))


def test_allocate_sums_to_total_and_is_proportional():
    parts = allocate(np.array([50, 30, 20]), 11)
    assert parts.sum() == 11
    np.testing.assert_allclose(parts, [5.5, 3.3, 2.2], atol=1)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.lists(st.integers(2, 30), min_size=1, max_size=6),
    fraction=st.floats(0.05, 0.95),
    seed=st.integers(0, 1000),
)
def test_stratified_split_properties(counts, fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    train, test = split_indices(y, len(y), fraction, np.random.default_rng(seed))
    assert np.intersect1d(train, test).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(len(y)))
    n_test = np.bincount(y[test], minlength=len(counts))
    assert np.all(n_test >= 1) and np.all(n_test <= np.array(counts) - 1)
    # per class within one row of the exact share (when the 1-row floor does not bind)
    exact = fraction * np.array(counts)
    free = (exact >= 1) & (exact <= np.array(counts) - 1)
    np.testing.assert_allclose(n_test[free], exact[free], atol=1.5)


def test_split_fixed_by_seed_and_changes_with_it():
    y = np.repeat(np.arange(3), 20)
    a = split_indices(y, 60, 0.3, rng_for(0, "split"))
    b = split_indices(y, 60, 0.3, rng_for(0, "split"))
    c = split_indices(y, 60, 0.3, rng_for(1, "split"))
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])
    np.testing.assert_array_equal(np.bincount(y[a[1]]), [6, 6, 6])


def test_unlabeled_split_sizes():
    train, test = split_indices(None, 10, 0.3, np.random.default_rng(0))
    assert (len(train), len(test)) == (7, 3)
    assert np.intersect1d(train, test).size == 0


@pytest.mark.parametrize("fraction", [0, 1, -0.2, 1.5, True, "0.3", None])
def test_bad_test_fraction(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        check_fraction(fraction)
    with pytest.raises(ValueError, match="test_fraction"):
        load_dataset("digits", n_samples=50, test_fraction=fraction)


def test_split_refuses_singleton_classes():
    with pytest.raises(ValueError, match=r"classes \[2\] have fewer than 2"):
        split_indices(np.array([0, 0, 1, 1, 2]), 5, 0.3, np.random.default_rng(0))


def test_stratified_subsample_keeps_shares():
    y = np.repeat(np.arange(4), [100, 50, 30, 20])
    idx = stratified_subsample(y, 40, np.random.default_rng(0))
    np.testing.assert_array_equal(np.bincount(y[idx]), [20, 10, 6, 4])
    assert len(np.unique(idx)) == 40

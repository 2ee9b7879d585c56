"""Digits and Fashion-MNIST with a controlled gap; the IDX parser; missing files."""

import gzip
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits

from cmcd.data import FASHION_ROOT, GAP_FAMILIES, load_dataset, read_idx

FASHION_PRESENT = all(
    (Path(FASHION_ROOT) / f"{p}-{k}-ubyte.gz").is_file()
    for p in ("train", "t10k")
    for k in ("images-idx3", "labels-idx1")
)


def _write_idx(path, array, code=0x08):
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def test_digits_source_is_the_scaled_image_and_aligned():
    ds = load_dataset("digits", gap=0.7, family="depth")
    bunch = load_digits()
    assert ds.n_samples == 1797 and ds.n_classes == 10
    assert ds.source.kind == ds.target.kind == "image" and ds.target.shape == (8, 8)
    np.testing.assert_allclose(ds.x_source, bunch.images / 16.0, atol=1e-7)
    np.testing.assert_array_equal(ds.y, bunch.target)
    assert ds.info == {"gap": 0.7, "family": "depth"}


@pytest.mark.parametrize("family", sorted(GAP_FAMILIES))
def test_digits_gap_zero_target_equals_source(family):
    ds = load_dataset("digits", gap=0, family=family, n_samples=200)
    np.testing.assert_array_equal(ds.x_target, ds.x_source)


def test_digits_same_seed_same_data_other_seed_other_data():
    a = load_dataset("digits", gap=0.5, family="occlusion", n_samples=300, seed=4)
    b = load_dataset("digits", gap=0.5, family="occlusion", n_samples=300, seed=4)
    c = load_dataset("digits", gap=0.5, family="occlusion", n_samples=300, seed=5)
    for field in ("x_source", "x_target", "y", "train_idx", "test_idx"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    assert not np.array_equal(a.y, c.y)


def test_digits_subsample_and_split_are_stratified():
    ds = load_dataset("digits", n_samples=500, seed=1)
    counts = np.bincount(ds.y)
    full = np.bincount(load_digits().target)
    np.testing.assert_allclose(counts, 500 * full / full.sum(), atol=1)
    np.testing.assert_allclose(np.bincount(ds.y[ds.test_idx]), 0.3 * counts, atol=1.5)
    assert np.intersect1d(ds.train_idx, ds.test_idx).size == 0


@pytest.mark.parametrize(
    ("opts", "match"),
    [
        ({"gap": 1.5}, "gap must be a number in"),
        ({"gap": -0.01}, "gap"),
        ({"family": "cartoon"}, r"family: unknown gap family 'cartoon'"),
        ({"n_samples": 5000}, "n_samples must be at most 1797"),
        ({"n_samples": 1}, "n_samples must be an integer >= 2"),
    ],
)
def test_digits_bad_input(opts, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("digits", **opts)


def test_read_idx_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    _write_idx(tmp_path / "img.gz", images)
    np.testing.assert_array_equal(read_idx(tmp_path / "img.gz"), images)
    floats = np.linspace(0, 1, 6).astype(">f4")
    _write_idx(tmp_path / "f.gz", floats, code=0x0D)
    np.testing.assert_allclose(read_idx(tmp_path / "f.gz"), floats, rtol=0)


def test_read_idx_rejects_bad_files(tmp_path):
    with gzip.open(tmp_path / "bad.gz", "wb") as f:
        f.write(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad.gz")
    with gzip.open(tmp_path / "short.gz", "wb") as f:
        f.write(bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]))
    with pytest.raises(ValueError, match=r"announces shape \(5,\) but holds 2"):
        read_idx(tmp_path / "short.gz")


def test_fashion_missing_files_name_path_and_package(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"train-images-idx3-ubyte\.gz.*apt-get install"):
        load_dataset("fashion", root=str(tmp_path))


def test_fashion_from_a_tiny_idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    for part, n in (("train", 40), ("t10k", 20)):
        _write_idx(
            tmp_path / f"{part}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28), np.uint8)
        )
        _write_idx(tmp_path / f"{part}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    ds = load_dataset("fashion", root=str(tmp_path), n_samples=30, gap=0.0)
    assert ds.x_source.shape == (30, 28, 28) and ds.x_source.max() <= 1.0
    np.testing.assert_array_equal(np.bincount(ds.y), np.full(10, 3))
    np.testing.assert_array_equal(ds.x_target, ds.x_source)


@pytest.mark.skipif(not FASHION_PRESENT, reason="Fashion-MNIST files not installed")
def test_fashion_real_files():
    ds = load_dataset("fashion", n_samples=300, gap=0.4, family="depth", seed=2)
    assert ds.x_source.shape == ds.x_target.shape == (300, 28, 28)
    assert ds.x_source.dtype == np.float32 and 0 <= ds.x_source.min() <= ds.x_source.max() <= 1
    np.testing.assert_array_equal(np.bincount(ds.y), np.full(10, 30))
    np.testing.assert_array_equal(np.bincount(ds.y[ds.test_idx]), np.full(10, 9))
    assert 0 < np.abs(ds.x_target - ds.x_source).mean() < 0.2

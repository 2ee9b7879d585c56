"""User files (npz, csv, parquet): round trips, label handling, safety and bad input."""

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cmcd.data import load_dataset
from cmcd.data.files import read_array, read_table


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return {
        "source": rng.normal(size=(30, 5)),
        "target": rng.normal(size=(30, 3)),
        "labels": np.repeat([3, 7, 9], 10),
    }


def _npz(tmp_path, **arrays):
    path = tmp_path / "pairs.npz"
    np.savez(path, **arrays)
    return str(path)


def test_npz_round_trip_with_labels(tmp_path, arrays):
    ds = load_dataset("npz", path=_npz(tmp_path, **arrays), seed=2)
    np.testing.assert_allclose(ds.x_source, arrays["source"], rtol=1e-6)
    np.testing.assert_allclose(ds.x_target, arrays["target"], rtol=1e-6)
    np.testing.assert_array_equal(ds.y, np.repeat([0, 1, 2], 10))
    assert ds.info["classes"] == [3, 7, 9] and ds.n_classes == 3
    assert ds.source.shape == (5,) and ds.target.kind == "vector"
    np.testing.assert_array_equal(np.bincount(ds.y[ds.test_idx]), [3, 3, 3])
    again = load_dataset("npz", path=_npz(tmp_path, **arrays), seed=2)
    np.testing.assert_array_equal(ds.test_idx, again.test_idx)


def test_npz_unlabeled_and_custom_keys(tmp_path, arrays):
    path = _npz(tmp_path, a=arrays["source"], b=arrays["target"], cls=np.array(["x", "y"] * 15))
    ds = load_dataset("npz", path=path, source_key="a", target_key="b", labels_key=None)
    assert ds.y is None and ds.n_classes is None
    assert (len(ds.train_idx), len(ds.test_idx)) == (21, 9)
    labeled = load_dataset("npz", path=path, source_key="a", target_key="b", labels_key="cls")
    assert labeled.info["classes"] == ["x", "y"]
    np.testing.assert_array_equal(labeled.y, [0, 1] * 15)
    unlabeled = load_dataset(
        "npz", path=_npz(tmp_path, source=arrays["source"], target=arrays["target"])
    )
    assert unlabeled.y is None


def test_npz_images_from_shape_or_3d_arrays(tmp_path):
    rng = np.random.default_rng(1)
    flat = rng.random((12, 20))
    cube = (rng.random((12, 4, 4)) * 255).astype(np.uint8)
    ds = load_dataset("npz", path=_npz(tmp_path, source=flat, target=cube), source_shape=[4, 5])
    assert ds.source == ds.source.__class__("source", "image", (4, 5))
    assert ds.target.kind == "image" and ds.target.shape == (4, 4)
    np.testing.assert_allclose(ds.x_source, flat.reshape(12, 4, 5), rtol=1e-6)
    np.testing.assert_allclose(ds.x_target, cube / 255.0, rtol=1e-6)


def test_npz_pickled_object_array_is_refused(tmp_path, arrays):
    path = tmp_path / "evil.npz"
    obj = np.empty(30, dtype=object)
    obj[:] = [{"a": i} for i in range(30)]
    np.savez(path, source=obj, target=arrays["target"])
    with pytest.raises(ValueError, match="object arrays are refused for safety"):
        load_dataset("npz", path=str(path))


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"target": np.zeros((29, 3))}, "source has 30 rows, target has 29"),
        ({"labels": np.zeros(31)}, "31 labels .* for 30 pairs"),
        ({"labels": np.r_[np.nan, np.zeros(29)]}, "NaN or inf labels"),
        ({"source": np.r_[[[np.nan] * 5], np.zeros((29, 5))]}, "source contains NaN"),
        ({"source": np.zeros(30)}, r"source must be a numeric array of shape \(n, ...\)"),
        ({"source": np.array(["a"] * 30)[:, None]}, "source must be a numeric array"),
    ],
)
def test_npz_bad_content(tmp_path, arrays, change, match):
    with pytest.raises(ValueError, match=match):
        load_dataset("npz", path=_npz(tmp_path, **{**arrays, **change}))


def test_npz_bad_options(tmp_path, arrays):
    path = _npz(tmp_path, **arrays)
    with pytest.raises(FileNotFoundError, match=r"path: file '.*nowhere\.npz' does not exist"):
        load_dataset("npz", path=str(tmp_path / "nowhere.npz"))
    with pytest.raises(ValueError, match="option 'path' is required"):
        load_dataset("npz")
    with pytest.raises(ValueError, match=r"source_key='x': no such array.*\['labels', 'source'"):
        load_dataset("npz", path=path, source_key="x")
    with pytest.raises(ValueError, match="labels_key='y': no such array"):
        load_dataset("npz", path=path, labels_key="y")
    with pytest.raises(ValueError, match=r"source: shape \(4, 4\) must be"):
        load_dataset("npz", path=path, source_shape=(4, 4))
    with pytest.raises(ValueError, match=r"image values must lie in \[0, 1\]"):
        load_dataset("npz", path=path, source_shape=(5, 1))
    with pytest.raises(ValueError, match="source_shape must be a sequence of ints"):
        load_dataset("npz", path=path, source_shape=5)
    np.save(tmp_path / "one.npy", arrays["source"])
    with pytest.raises(ValueError, match="holds a single array"):
        load_dataset("npz", path=str(tmp_path / "one.npy"))


def _tables(tmp_path, arrays, fmt, label_in_source=False):
    src = pd.DataFrame(arrays["source"], columns=[f"s{i}" for i in range(5)])
    tgt = pd.DataFrame(arrays["target"], columns=[f"t{i}" for i in range(3)])
    lab = pd.DataFrame({"label": arrays["labels"]})
    if label_in_source:
        src["label"] = arrays["labels"]
    paths = {k: str(tmp_path / f"{k}.{fmt}") for k in ("source", "target", "labels")}
    write = {"csv": lambda df, p: df.to_csv(p, index=False), "parquet": pd.DataFrame.to_parquet}
    for key, df in (("source", src), ("target", tgt), ("labels", lab)):
        write[fmt](df, paths[key])
    return paths


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_round_trip_with_labels_file(tmp_path, arrays, fmt):
    p = _tables(tmp_path, arrays, fmt)
    ds = load_dataset(
        fmt, source_path=p["source"], target_path=p["target"], labels_path=p["labels"]
    )
    np.testing.assert_allclose(ds.x_source, arrays["source"], rtol=1e-6)
    np.testing.assert_allclose(ds.x_target, arrays["target"], rtol=1e-6)
    np.testing.assert_array_equal(ds.y, np.repeat([0, 1, 2], 10))
    unlabeled = load_dataset(fmt, source_path=p["source"], target_path=p["target"])
    assert unlabeled.y is None and unlabeled.source.shape == (5,)


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_label_column_is_removed_from_features(tmp_path, arrays, fmt):
    p = _tables(tmp_path, arrays, fmt, label_in_source=True)
    ds = load_dataset(fmt, source_path=p["source"], target_path=p["target"], label_column="label")
    assert ds.source.shape == (5,) and ds.info["classes"] == [3, 7, 9]
    np.testing.assert_allclose(ds.x_source, arrays["source"], rtol=1e-6)


def test_table_bad_input(tmp_path, arrays):
    p = _tables(tmp_path, arrays, "csv")
    with pytest.raises(FileNotFoundError, match="target_path: file"):
        load_dataset("csv", source_path=p["source"], target_path=str(tmp_path / "no.csv"))
    with pytest.raises(ValueError, match="label_column 'cls' is not a column"):
        load_dataset("csv", source_path=p["source"], target_path=p["target"], label_column="cls")
    pd.DataFrame({"a": ["u", "v"] * 15}).to_csv(tmp_path / "text.csv", index=False)
    with pytest.raises(ValueError, match=r"source_path: columns \['a'\] are not numeric"):
        load_dataset("csv", source_path=str(tmp_path / "text.csv"), target_path=p["target"])
    pd.DataFrame({"label": np.arange(12)}).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(ValueError, match="labels_path: 12 labels"):
        load_dataset(
            "csv",
            source_path=p["source"],
            target_path=p["target"],
            labels_path=str(tmp_path / "short.csv"),
        )
    pd.DataFrame(np.zeros((29, 3))).to_csv(tmp_path / "t29.csv", index=False)
    with pytest.raises(ValueError, match="source has 30 rows, target has 29"):
        load_dataset("csv", source_path=p["source"], target_path=str(tmp_path / "t29.csv"))
    src = pd.read_csv(p["source"])
    src.iloc[3, 2] = np.nan
    src.to_csv(tmp_path / "nan.csv", index=False)
    with pytest.raises(ValueError, match="source contains NaN"):
        load_dataset("csv", source_path=str(tmp_path / "nan.csv"), target_path=p["target"])


def test_table_label_column_must_agree_between_files(tmp_path, arrays):
    p = _tables(tmp_path, arrays, "csv", label_in_source=True)
    tgt = pd.read_csv(p["target"])
    tgt["label"] = arrays["labels"][::-1]
    tgt.to_csv(p["target"], index=False)
    with pytest.raises(ValueError, match="differs between source and target"):
        load_dataset("csv", source_path=p["source"], target_path=p["target"], label_column="label")


# ------------------------------------------------- issue 12: one reader for datasets and `cmcd tv`
def _pair_csv(tmp_path, arrays, **to_csv):
    src, tgt = tmp_path / "s.csv", tmp_path / "t.csv"
    pd.DataFrame(arrays["source"]).to_csv(src, **to_csv)
    pd.DataFrame(arrays["target"]).to_csv(tgt, **to_csv)
    return str(src), str(tgt)


def test_csv_with_pandas_index_is_refused_and_index_col_drops_it(tmp_path, arrays):
    src, tgt = _pair_csv(tmp_path, arrays)  # df.to_csv(path): the index is written
    with pytest.raises(ValueError, match=r"source_path: the first column .* index_col=0"):
        load_dataset("csv", source_path=src, target_path=tgt)
    with pytest.raises(ValueError, match=r"source: the first column .*--index-col 0"):
        read_array(src, key="source")
    ds = load_dataset("csv", source_path=src, target_path=tgt, index_col=0)
    np.testing.assert_allclose(ds.x_source, arrays["source"], rtol=1e-6)
    np.testing.assert_allclose(read_array(src, index_col=0), arrays["source"], rtol=1e-12)


def test_headerless_csv_keeps_its_first_row(tmp_path, arrays):
    src, tgt = _pair_csv(tmp_path, arrays, index=False, header=False)
    assert read_array(src).shape == (30, 5)
    np.testing.assert_allclose(read_array(src), arrays["source"], rtol=1e-12)
    ds = load_dataset("csv", source_path=src, target_path=tgt)
    assert ds.n_samples == 30
    assert read_array(src, header=True).shape == (29, 5)  # explicit header wins


def test_pandas_default_column_labels_are_a_header(tmp_path, arrays):
    src, _ = _pair_csv(tmp_path, arrays, index=False)  # header row "0,1,2,3,4"
    np.testing.assert_allclose(read_array(src), arrays["source"], rtol=1e-12)
    assert read_array(src, header=False).shape == (31, 5)


@settings(max_examples=15, deadline=None)
@given(
    values=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 4)),
        elements=st.floats(-1e6, 1e6, allow_nan=False),
    )
)
def test_headerless_numeric_csv_round_trips_every_row(tmp_path_factory, values):
    if values.shape[0] and np.array_equal(values[0], np.arange(values.shape[1])):
        values[0, 0] += 0.5  # the one row read as pandas' default labels (documented)
    path = tmp_path_factory.mktemp("h") / "x.csv"
    np.savetxt(path, values, delimiter=",", fmt="%.17g")
    np.testing.assert_array_equal(read_array(str(path)), values.reshape(len(values), -1))


def test_text_column_is_refused_by_name_in_the_tv_reader(tmp_path):
    path = tmp_path / "mixed.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "city": ["a", "b", "c"]}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"source: columns \['city'\] are not numeric"):
        read_array(str(path), key="source")


@pytest.mark.parametrize(("sep", "header"), [(";", True), (";", False), ("\t", True)])
def test_csv_of_another_separator_names_the_file_and_the_separator(tmp_path, sep, header):
    path = tmp_path / "other.csv"
    rows = [sep.join(("f0", "f1", "f2"))] if header else []
    rows += [sep.join(f"{v:.3f}" for v in row) for row in np.eye(3)]
    path.write_text("\n".join(rows) + "\n")
    message = f"source: {str(path)!r} looks like {sep!r}-separated"
    with pytest.raises(ValueError, match=re.escape(message) + ".*reads comma-separated files"):
        read_array(str(path), key="source")
    one_text_column = tmp_path / "one.csv"
    pd.DataFrame({"city": ["a;b", "c"]}).to_csv(one_text_column, index=False)
    with pytest.raises(ValueError, match=r"columns \['city'\] are not numeric"):
        read_array(str(one_text_column), key="source")


def test_npy_messages_say_what_is_wrong(tmp_path):
    text = tmp_path / "text.npy"
    np.savetxt(text, np.ones((3, 2)))
    with pytest.raises(ValueError, match=r"is not a \.npy file") as err:
        read_array(str(text), key="source")
    assert "pickled" not in str(err.value)
    pickled = tmp_path / "obj.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="pickled object array"):
        read_array(str(pickled))
    strings = tmp_path / "str.npy"
    np.save(strings, np.array([["a", "b"]]))
    with pytest.raises(ValueError, match=r"holds <U1 values, not numbers"):
        read_array(str(strings))
    with pytest.raises(ValueError, match=r"is not a \.npz file"):
        load_dataset("npz", path=str(text))


def test_directory_is_not_reported_as_missing(tmp_path, arrays):
    with pytest.raises(ValueError, match="is a directory, not a file"):
        read_array(str(tmp_path), key="source")
    with pytest.raises(ValueError, match="path: .* is a directory"):
        load_dataset("npz", path=str(tmp_path))
    _, tgt = _pair_csv(tmp_path, arrays, index=False)
    with pytest.raises(ValueError, match="source_path: .* is a directory"):
        load_dataset("csv", source_path=str(tmp_path), target_path=tgt)
    with pytest.raises(FileNotFoundError, match="source: file"):
        read_array(str(tmp_path / "missing.npy"), key="source")


def test_read_array_npz_keys_and_suffixes(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, a=np.ones((4, 2)), b=np.zeros((4, 3)))
    assert read_array(f"{path}:b").shape == (4, 3)
    with pytest.raises(ValueError, match=r"holds \['a', 'b'\]; name one"):
        read_array(str(path))
    with pytest.raises(ValueError, match="no such array"):
        read_array(f"{path}:c")
    (tmp_path / "x.txt").write_text("1\n")
    with pytest.raises(ValueError, match=r"unsupported file type '\.txt'"):
        read_array(str(tmp_path / "x.txt"))
    with pytest.raises(ValueError, match="header must be 'infer', true or false"):
        read_table(str(tmp_path / "x.txt"), "csv", header="maybe")

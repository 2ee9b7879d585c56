"""Tables as users have them: pandas written twice, BOMs, numeric headers, label files.

Every file is written here; each test runs ``cmcd tv`` (or the csv dataset) and checks the
rows and columns read, the estimate, and the one decision line per file on stderr.
"""

import json

import numpy as np
import pandas as pd
import pytest

from cmcd.cli.main import main
from cmcd.data import load_dataset


@pytest.fixture
def samples():
    rng = np.random.default_rng(0)
    return rng.normal(size=(400, 3)), rng.normal(size=(200, 3))


def _tv(capsys, *argv):
    code = main(["tv", *map(str, argv), "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else None), captured.err


def _reference(tmp_path, capsys, samples):
    np.save(tmp_path / "a.npy", samples[0])
    np.save(tmp_path / "b.npy", samples[1])
    return _tv(capsys, tmp_path / "a.npy", tmp_path / "b.npy")[1]


@pytest.mark.slow
def test_a_csv_written_twice_by_pandas_drops_both_index_columns(tmp_path, capsys, samples):
    for name, x in zip("ab", samples, strict=True):
        pd.DataFrame(x).to_csv(tmp_path / f"{name}.csv")
        pd.read_csv(tmp_path / f"{name}.csv").to_csv(tmp_path / f"{name}2.csv")  # "Unnamed: 0"
    reference = _reference(tmp_path, capsys, samples)
    code, est, err = _tv(capsys, tmp_path / "a2.csv", tmp_path / "b2.csv", "--index-col", "0")
    assert code == 0 and (est["n_source"], est["n_target"]) == (400, 200)
    np.testing.assert_allclose(est["estimate"], reference["estimate"], atol=1e-12)
    lines = err.strip().splitlines()
    assert len(lines) == 2 and all(
        "further index column(s) ['Unnamed: 0'] dropped" in ln for ln in lines
    )
    assert "400 rows x 3 columns" in lines[0] and "200 rows x 3 columns" in lines[1]
    code, _, err = _tv(capsys, tmp_path / "a2.csv", tmp_path / "b2.csv")
    assert code == 2 and "a2.csv" in err and "--index-col 0" in err


def test_a_column_of_row_numbers_is_an_index_not_a_feature(tmp_path, capsys, samples):
    frame = pd.DataFrame(samples[0], columns=["f0", "f1", "f2"]).reset_index()  # "index" 0..n-1
    frame.to_csv(tmp_path / "a.csv", index=False)
    np.save(tmp_path / "b.npy", samples[1])
    code, _, err = _tv(capsys, tmp_path / "a.csv", tmp_path / "b.npy")
    assert code == 2 and "row numbers" in err and "a.csv" in err
    code, est, _ = _tv(capsys, tmp_path / "a.csv", tmp_path / "b.npy", "--index-col", "index")
    assert code == 0 and est["n_source"] == 400


def test_index_col_on_a_file_without_index_is_refused(tmp_path, capsys, samples):
    pd.DataFrame(samples[0]).to_csv(tmp_path / "a.csv", index=False)
    np.save(tmp_path / "b.npy", samples[1])
    code, _, err = _tv(capsys, tmp_path / "a.csv", tmp_path / "b.npy", "--index-col", "0")
    assert code == 2 and "fractional numbers" in err and "no index column" in err


def _rows(x):
    return "\n".join(",".join(f"{v:.6f}" for v in row) for row in x) + "\n"


@pytest.mark.slow
def test_a_headerless_csv_with_a_utf8_bom_keeps_its_first_row(tmp_path, capsys, samples):
    (tmp_path / "a.csv").write_bytes(b"\xef\xbb\xbf" + _rows(samples[0]).encode())
    reference = _reference(tmp_path, capsys, samples)
    code, est, err = _tv(capsys, tmp_path / "a.csv", tmp_path / "b.npy")
    assert code == 0 and est["n_source"] == 400
    np.testing.assert_allclose(est["estimate"], reference["estimate"], atol=1e-3)
    assert "UTF-8 BOM skipped" in err and "header: no" in err


@pytest.mark.slow
def test_a_header_of_numbers_is_read_as_names(tmp_path, capsys, samples):
    (tmp_path / "a.csv").write_text("400,410,420\n" + _rows(samples[0]))
    np.save(tmp_path / "b.npy", samples[1])
    code, est, err = _tv(capsys, tmp_path / "a.csv", tmp_path / "b.npy")
    assert code == 0 and est["n_source"] == 400
    assert "header: yes" in err and "400" in err
    code, est, _ = _tv(capsys, tmp_path / "a.csv", tmp_path / "b.npy", "--header", "no")
    assert code == 0 and est["n_source"] == 401  # as asked


def test_an_ambiguous_numeric_first_row_is_refused(tmp_path, capsys, samples):
    body = np.column_stack([samples[0][:, :2], np.arange(400) % 7])  # an integer column
    lines = "\n".join(f"{a:.6f},{b:.6f},{int(c)}" for a, b, c in body)
    (tmp_path / "a.csv").write_text("400,410,3\n" + lines + "\n")
    np.save(tmp_path / "b.npy", samples[1])
    code, _, err = _tv(capsys, tmp_path / "a.csv", tmp_path / "b.npy")
    assert code == 2 and "cannot tell whether the first row" in err and "--header" in err


@pytest.mark.slow
def test_trailing_commas_comments_and_r_row_names(tmp_path, capsys, samples):
    x = samples[0]
    (tmp_path / "t.csv").write_text("a,b,c\n" + _rows(x).replace("\n", ",\n"))
    (tmp_path / "c.csv").write_text("# made by a script\n# a, b, c\n" + _rows(x))
    names = "\n".join(f'"{i + 1}",' + ",".join(f"{v:.6f}" for v in r) for i, r in enumerate(x))
    (tmp_path / "r.csv").write_text('"a","b","c"\n' + names + "\n")  # R's write.table
    np.save(tmp_path / "b.npy", samples[1])
    for name, note in [("t", "trailing commas"), ("c", "comment"), ("r", "row names")]:
        code, est, err = _tv(capsys, tmp_path / f"{name}.csv", tmp_path / "b.npy")
        assert code == 0 and est["n_source"] == 400 and note in err, (name, err)
    (tmp_path / "title.csv").write_text("my table\n" + _rows(x))
    code, _, err = _tv(capsys, tmp_path / "title.csv", tmp_path / "b.npy")
    assert code == 1 and "title.csv" in err and "names 1 columns" in err


def test_headerless_label_file_keeps_a_first_label_of_zero(tmp_path, samples):
    y = np.arange(200) % 2  # the first label is 0
    np.savetxt(tmp_path / "s.csv", samples[1], delimiter=",")
    np.savetxt(tmp_path / "t.csv", samples[1][:, :2], delimiter=",")
    np.savetxt(tmp_path / "y.csv", y, fmt="%d")
    ds = load_dataset(
        "csv",
        source_path=str(tmp_path / "s.csv"),
        target_path=str(tmp_path / "t.csv"),
        labels_path=str(tmp_path / "y.csv"),
    )
    assert ds.n_samples == 200
    np.testing.assert_array_equal(ds.y, y)


def test_a_label_file_of_one_class_is_refused_naming_it(tmp_path, capsys, samples):
    np.savetxt(tmp_path / "s.csv", samples[1], delimiter=",")
    np.savetxt(tmp_path / "y.csv", np.ones(200), fmt="%d")
    data = {"name": "csv", "source_path": "s.csv", "target_path": "s.csv", "labels_path": "y.csv"}
    (tmp_path / "c.yaml").write_text(json.dumps({"data": data, "device": "cpu"}))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(tmp_path)
        code = main(["run", "c.yaml", "--out", "out", "--no-progress"])
    err = capsys.readouterr().err
    assert code == 1 and "y.csv" in err and "one class" in err
    assert "Traceback" not in err

"""Checks before any compute (issue 12): shared argument checks, keyword options, --out, CLI."""

import os
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

import cmcd.runs.pipeline
import cmcd.validation
from cmcd._checks import check_choice, check_count, check_number, did_you_mean
from cmcd.cli.main import main
from cmcd.runs.sweep import parse_sweep
from cmcd.validation import check_keywords, check_out_dir, keyword_parameters


# ------------------------------------------------------------------------ shared checks
@settings(max_examples=30, deadline=None)
@given(st.one_of(st.booleans(), st.floats(), st.text(max_size=2), st.integers(max_value=0)))
def test_check_count_refuses_non_counts(value):
    with pytest.raises(ValueError, match=r"n_data must be an integer >= 1, got"):
        check_count(value, "n_data", 1)


def test_check_number_interval_and_types():
    assert check_number(0, "mask", low=0, high=1) == 0.0
    for bad in (-0.1, 1.1, float("nan"), True, "0.5", None):
        with pytest.raises(ValueError, match=r"mask must be a finite number in \[0, 1\]"):
            check_number(bad, "mask", low=0, high=1)
    with pytest.raises(ValueError, match=r"lr must be a finite number in \(0, inf\), got 0"):
        check_number(0, "lr", low=0, low_open=True)


def test_check_choice_and_did_you_mean():
    assert check_choice("cmc", "loss", ("cmc", "cmd")) == "cmc"
    with pytest.raises(ValueError, match=r"loss must be one of \['cmc', 'cmd'\], got 'cmx'"):
        check_choice("cmx", "loss", ("cmc", "cmd"))
    with pytest.raises(ValueError, match="got True"):
        check_choice(True, "flag", (1, 2))
    assert did_you_mean("zzzz", ["cmc"]) == ""


def test_keyword_parameters_and_check_keywords():
    def loss(n_data: int, temperature: float = 0.1, flag: bool = True, *args, **kwargs):
        del n_data, temperature, flag, args, kwargs

    assert keyword_parameters(loss, ["n_data"]) == {"temperature": "float", "flag": "bool"}
    check_keywords({"temperature": 1, "flag": False}, loss, "p", exclude=["n_data"])
    with pytest.raises(ValueError, match=r"unknown config key 'p\.n_data'; valid keys"):
        check_keywords({"n_data": 3}, loss, "p", exclude=["n_data"])
    with pytest.raises(ValueError, match=r"'p\.temperature' must be a number, got '1'"):
        check_keywords({"temperature": "1"}, loss, "p")


# ------------------------------------------------------------------------------- --out
def test_out_refuses_a_file_a_path_under_a_file_and_a_folder_output(tmp_path):
    existing = tmp_path / "result.txt"
    existing.write_text("x")
    with pytest.raises(ValueError, match=r"--out '.*result\.txt' is an existing file"):
        check_out_dir(existing)
    with pytest.raises(ValueError, match=r"lies under '.*result\.txt', which is a file"):
        check_out_dir(existing / "run" / "deeper")
    (tmp_path / "run" / "result.json").mkdir(parents=True)
    with pytest.raises(ValueError, match="'result.json' there is a folder"):
        check_out_dir(tmp_path / "run", outputs=["result.json"])
    assert check_out_dir(tmp_path / "new" / "run") == tmp_path / "new" / "run"
    assert not (tmp_path / "new").exists()  # nothing is created


def test_out_refuses_an_unwritable_folder(tmp_path, monkeypatch):
    def refuse(**kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cmcd.validation.tempfile, "NamedTemporaryFile", refuse)
    with pytest.raises(ValueError, match=r"folder '.*' is not writable \(Permission denied\)"):
        check_out_dir(tmp_path / "run")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_out_refuses_a_read_only_folder(tmp_path):
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(ValueError, match="is not writable"):
            check_out_dir(tmp_path / "run")
    finally:
        tmp_path.chmod(0o700)


# ------------------------------------------------------------------- CLI, before compute
@pytest.fixture
def no_training(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the run started although its input was invalid")

    monkeypatch.setattr(cmcd.runs.pipeline, "run", fail)


def _config(tmp_path, **config):
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"data": {"name": "synthetic"}, **config}))
    return str(path)


@pytest.mark.parametrize(
    ("sets", "match"),
    [
        (["distill.loss=cmcx"], "did you mean 'cmc'"),
        (["distill.params={temprature: 0.2}"], "did you mean 'temperature'"),
        (["distill.epochs=ten"], r"'distill\.epochs' must be an integer >= 0, got 'ten'"),
        (["pretrain.lr=-1"], r"'pretrain\.lr' must be a finite number in \(0, inf\)"),
        (["distill.epochs=-1"], r"'distill\.epochs' must be an integer >= 0, got -1"),
        (["seed=1.5"], r"'seed' must be an integer >= 0, got 1\.5"),
        (["seed=true"], r"'seed' must be an integer >= 0, got True"),
        (["pretrain.mask=2"], r"'pretrain\.mask' must be a finite number in \[0, 1\]"),
        (["pretrain.noise=-1"], r"'pretrain\.noise' must be a finite number in \[0, inf\)"),
    ],
)
def test_run_refuses_bad_config_before_training(tmp_path, capsys, no_training, sets, match):
    argv = ["run", _config(tmp_path), "--out", str(tmp_path / "out")]
    assert main(argv + [x for s in sets for x in ("--set", s)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("cmcd run: error: config key") or "unknown config key" in err
    assert re.search(match, err), err


def test_run_refuses_a_set_value_that_is_not_yaml(tmp_path, capsys, no_training):
    argv = ["run", _config(tmp_path), "--out", str(tmp_path / "out"), "--set", "seed=[1"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("cmcd run: error: --set 'seed=[1': the value '[1' is not valid YAML")
    assert "Traceback" not in err and not (tmp_path / "out").exists()


def test_run_refuses_bad_out_before_training(tmp_path, capsys, no_training):
    existing = tmp_path / "file.txt"
    existing.write_text("x")
    assert main(["run", _config(tmp_path), "--out", str(existing)]) == 2
    assert "is an existing file" in capsys.readouterr().err
    assert main(["run", _config(tmp_path), "--out", str(existing / "sub")]) == 2
    assert "which is a file" in capsys.readouterr().err


def test_sweep_checks_every_grid_combination_and_out(tmp_path, capsys):
    spec = {"data": {"name": "synthetic"}, "grid": {"seed": [0, 1], "distill.epochs": [2, -1]}}
    with pytest.raises(ValueError, match=r"'distill\.epochs' must be an integer >= 0, got -1"):
        parse_sweep(spec)
    spec["grid"] = {"distill.params.temprature": [0.1]}
    with pytest.raises(ValueError, match="did you mean 'temperature'"):
        parse_sweep(spec)
    good = tmp_path / "s.yaml"
    good.write_text(yaml.safe_dump({"data": {"name": "synthetic"}, "grid": {"seed": [0, 1]}}))
    existing = tmp_path / "file.txt"
    existing.write_text("x")
    assert main(["sweep", str(good), "--out", str(existing)]) == 2
    assert "is an existing file" in capsys.readouterr().err


@pytest.mark.parametrize("threads", ["0", "-2", "1.5", "x"])
def test_sweep_threads_must_be_positive(tmp_path, capsys, threads):
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "s.yaml", "--out", str(tmp_path), "--threads", threads])
    assert exit_info.value.code == 2
    assert "argument --threads: must be an integer >= 1" in capsys.readouterr().err


def test_report_by_must_be_a_grid_column(tmp_path, capsys):
    rows = pd.DataFrame({"run_id": ["a", "b"], "gap": [0.0, 1.0], "loss": ["cmc", "cmc"]})
    rows["target_error"] = [0.1, 0.2]
    rows.to_csv(tmp_path / "results.csv", index=False)
    assert main(["report", str(tmp_path), "--by", "xyz", "--no-figures"]) == 2
    err = capsys.readouterr().err
    assert "--by 'xyz' is not a grid column" in err and "valid columns: ['gap', 'loss']" in err
    assert main(["report", str(tmp_path), "--by", "gapp", "--no-figures"]) == 2
    assert "did you mean 'gap'" in capsys.readouterr().err


def test_tv_refuses_pandas_index_and_reads_it_with_index_col(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("s", "t"):
        pd.DataFrame(rng.normal(size=(40, 2))).to_csv(tmp_path / f"{name}.csv")
    argv = ["tv", str(tmp_path / "s.csv"), str(tmp_path / "t.csv"), "--json"]
    assert main(argv) == 2
    assert "cmcd tv: error: source: the first column" in capsys.readouterr().err
    assert main([*argv, "--index-col", "0"]) == 0
    assert '"estimate"' in capsys.readouterr().out
    assert main(["tv", str(tmp_path), str(tmp_path / "t.csv")]) == 2
    assert "is a directory, not a file" in capsys.readouterr().err


def test_tv_names_the_file_and_separator_of_a_semicolon_csv(tmp_path, capsys):
    rows = np.random.default_rng(0).normal(size=(40, 3))
    text = "f0;f1;f2\n" + "\n".join(";".join(f"{v:.4f}" for v in row) for row in rows)
    (tmp_path / "semi.csv").write_text(text + "\n")
    np.save(tmp_path / "t.npy", rows)
    assert main(["tv", str(tmp_path / "semi.csv"), str(tmp_path / "t.npy")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cmcd tv: error: source: {str(tmp_path / 'semi.csv')!r} looks like ';'")
    assert "cmcd reads comma-separated files" in err


def test_tv_reads_every_row_of_a_headerless_csv(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for name in ("s", "t"):
        np.savetxt(tmp_path / f"{name}.csv", rng.normal(size=(40, 2)), delimiter=",")
    argv = ["tv", str(tmp_path / "s.csv"), str(tmp_path / "t.csv"), "--json"]
    assert main(argv) == 0
    assert '"n_source": 40' in capsys.readouterr().out  # the first row is data, not a header
    assert main([*argv, "--header", "yes"]) == 0
    assert '"n_source": 39' in capsys.readouterr().out  # only when the user says so

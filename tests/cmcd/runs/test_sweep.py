"""Sweeps: grid expansion, the results folder, resume after a real kill, bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cmcd.config import config_hash, resolve_config
from cmcd.runs.sweep import (
    METRIC_COLUMNS,
    SETTING_COLUMNS,
    RunTask,
    parse_sweep,
    read_results,
    run_one,
    run_sweep,
    short_names,
    valid_grid_keys,
)

REPO = Path(__file__).resolve().parents[3]
PYTHON = sys.executable

#: A tiny real sweep: 2 losses x 2 seeds on synthetic data, small encoders, 2 epochs.
TINY = {
    "data": {"name": "synthetic", "n_samples": 300},
    "model": {"hidden": [32], "latent_dim": 8, "projection_dim": 8},
    "pretrain": {"epochs": 2, "batch_size": 128},
    "distill": {"epochs": 2, "batch_size": 128},
    "grid": {"distill.loss": ["cmc", "l2"], "seed": [0, 1]},
}


def fake_run(task: RunTask) -> dict:
    """Cheap stand-in for ``run_one``: metrics computed from the config, no training."""
    gap = float(task.config["data"].get("gap", 0.0))
    row = {"run_id": task.run_id, **task.values, **dict.fromkeys(METRIC_COLUMNS, 0.0)}
    row.update({"tv_estimate": gap, "target_error": gap / 2, "seconds": 0.01})
    Path(task.run_dir).mkdir(parents=True, exist_ok=True)
    (Path(task.run_dir) / "ran.txt").write_text(task.cache_dir)
    return row


def failing_on_seed_one(task: RunTask) -> dict:
    if task.config["seed"] == 1:
        return {"run_id": task.run_id, "error": "RuntimeError: boom"}
    return fake_run(task)


def _spec(**grid) -> dict:
    return {"data": {"name": "synthetic", "n_samples": 300}, "grid": grid}


# ------------------------------------------------------------------------ grid expansion
def test_runs_are_the_cartesian_product_in_grid_order():
    sweep = parse_sweep(_spec(**{"data.gap": [0.0, 0.5], "distill.loss": ["cmc", "l2", "none"]}))
    runs = sweep.runs()
    assert [r.index for r in runs] == list(range(6))
    assert [(r.values["gap"], r.values["loss"]) for r in runs] == [
        (g, loss) for g in (0.0, 0.5) for loss in ("cmc", "l2", "none")
    ]
    expected = resolve_config(
        {"data": {"name": "synthetic", "n_samples": 300, "gap": 0.5}, "distill": {"loss": "l2"}}
    )
    assert runs[4].config == expected
    assert runs[4].run_id == config_hash(expected)
    assert len({r.run_id for r in runs}) == 6


def test_one_leader_run_per_teacher_first():
    from cmcd.runs.sweep import _schedule

    spec = _spec(**{"data.gap": [0.0, 0.5], "distill.loss": ["cmc", "l2"], "seed": [0, 1]})
    first, rest = _schedule(parse_sweep(spec).runs())
    assert [(r.values["gap"], r.values["loss"], r.values["seed"]) for r in first] == [
        (0.0, "cmc", 0),
        (0.0, "cmc", 1),
    ]
    assert len(rest) == 6 and not {r.run_id for r in first} & {r.run_id for r in rest}


def test_short_names_are_unique_and_avoid_result_columns():
    keys = ["data.gap", "pretrain.epochs", "distill.epochs", "x.seconds", "seed"]
    assert short_names(keys) == {
        "data.gap": "gap",
        "pretrain.epochs": "pretrain_epochs",
        "distill.epochs": "distill_epochs",
        "x.seconds": "x_seconds",
        "seed": "seed",
    }


def test_valid_keys_include_dataset_options():
    keys = valid_grid_keys({"data": {"name": "digits"}})
    assert {"data.gap", "data.family", "distill.loss", "seed"} <= set(keys)
    assert "data.source" not in keys  # an mfeat option, not a digits one


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_spec(**{"distill.los": ["cmc"]}), "unknown grid key 'distill.los'; valid keys: "),
        (_spec(**{"data.gap": []}), "grid key 'data.gap' has an empty list"),
        (_spec(**{"data.gap": 0.5}), "must map to a list of values"),
        (_spec(**{"seed": [0, 0]}), "repeats a value"),
        ({"data": {"name": "synthetic"}}, "a sweep needs a non-empty 'grid:'"),
        ({"data": {"name": "synthetic"}, "grid": {}}, "a sweep needs a non-empty 'grid:'"),
        ({**_spec(seed=[0]), "bound": {"alpah": 0.1}}, "unknown key(s) ['alpah']"),
        ({"data": {"name": "synthetic", "colour": 1}, "grid": {"seed": [0]}}, "data.colour"),
        ({"data": {"name": "mfeat"}, "grid": {"data.gap": [0.1]}}, "unknown grid key 'data.gap'"),
    ],
)
def test_bad_sweeps_are_refused_with_clear_errors(spec, message):
    with pytest.raises(ValueError, match=None) as info:
        parse_sweep(spec)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("bound", "message"),
    [
        ({"alpha": 2}, "'bound.alpha' must be a finite number in (0, 1), got 2"),
        ({"alpha": 0}, "'bound.alpha' must be a finite number in (0, 1), got 0"),
        ({"tv_method": "nosuch"}, "'bound.tv_method' must be one of ['classifier', "),
        ({"alignment": "centre"}, "'bound.alignment' must be one of ['none', 'center', "),
        ({"compare_alignments": ["whiten", "x"]}, "'bound.compare_alignments' entry must be"),
        ({"compare_alignments": "whiten"}, "'bound.compare_alignments' must be a list"),
        ({"min_class_samples": 0}, "'bound.min_class_samples' must be an integer >= 1"),
        ({"random_state": -1}, "'bound.random_state' must be an integer >= 0"),
        ({"split_pairs": "yes"}, "'bound.split_pairs' must be true or false"),
        ({"tv_kwargs": [1]}, "'bound.tv_kwargs' must be a mapping"),
        (
            {"tv_kwargs": {"n_foldz": 3}},
            "unknown key(s) ['n_foldz'] in sweep key 'bound.tv_kwargs'",
        ),
        ({"gammas": []}, "'bound.gammas' must be a non-empty sequence of finite positive numbers"),
        ({"gammas": [-1, 0.5]}, "'bound.gammas' must be a non-empty sequence of finite positive"),
    ],
)
def test_bad_bound_values_are_refused_before_any_run(bound, message):
    with pytest.raises(ValueError) as info:
        parse_sweep({**_spec(seed=[0]), "bound": bound})
    assert message in str(info.value)


def test_every_bound_option_has_a_check_and_good_values_pass():
    import inspect

    from bounds.target.generalization import compute_bound
    from cmcd.runs.sweep import _BOUND_FIXED, bound_checks

    valid = set(inspect.signature(compute_bound).parameters) - _BOUND_FIXED - {"estimate_tv"}
    assert set(bound_checks()) == valid
    good = {"tv_method": "paired", "alpha": 0.1, "random_state": 3, "split_pairs": None,
            "tv_kwargs": {"eps": 0.5}, "min_class_samples": 5, "alignment": "linear",
            "compare_alignments": ["whiten"], "gammas": [0.5, 1.0]}  # fmt: skip
    assert parse_sweep({**_spec(seed=[0]), "bound": good}).bound == good


def test_run_sweep_refuses_bad_workers_before_writing(tmp_path):
    with pytest.raises(ValueError, match="workers must be an integer >= 1, got 0"):
        run_sweep(parse_sweep(_spec(seed=[0])), tmp_path / "o", workers=0, progress=False)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"executor": "nosuch"}, "executor must be one of \\['local', 'ray'\\], got 'nosuch'"),
        ({"threads": 0}, "threads"),
    ],
)
def test_run_sweep_refuses_bad_executor_options_before_writing(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        run_sweep(parse_sweep(_spec(seed=[0])), tmp_path / "o", progress=False, **options)
    assert not (tmp_path / "o").exists()


def test_unknown_grid_key_lists_valid_keys():
    with pytest.raises(ValueError) as info:
        parse_sweep(_spec(**{"data.gapp": [0.1]}))
    assert "data.gap" in str(info.value) and "distill.loss" in str(info.value)


def test_run_one_reports_a_failing_run_without_raising(tmp_path):
    cfg = resolve_config({"data": {"name": "digits", "n_samples": 5000}})
    task = RunTask("abc", cfg, {"seed": 0}, str(tmp_path / "run"), str(tmp_path / "c"), {})
    row = run_one(task)
    assert row["run_id"] == "abc"
    assert row["error"].startswith("ValueError: n_samples must be at most 1797")
    assert "Traceback" in (tmp_path / "run" / "error.txt").read_text()


# ------------------------------------------------------------------------ the folder
@pytest.mark.slow
def test_results_rows_and_resume_without_rerunning(tmp_path):
    sweep = parse_sweep(_spec(**{"data.gap": [0.0, 0.25, 0.5], "seed": [0, 1]}))
    first = run_sweep(sweep, tmp_path, run_fn=fake_run, progress=False)
    assert (first.ran, first.skipped, first.failed) == (6, 0, {})
    df = read_results(tmp_path)
    assert list(df.columns) == ["run_id", "gap", "seed", *METRIC_COLUMNS, *SETTING_COLUMNS]
    assert list(df["run_id"]) == [r.run_id for r in sweep.runs()]
    status = json.loads((tmp_path / "columns.json").read_text())
    assert status["columns"]["gap"]["status"] == "setting"
    assert status["columns"]["certified_bound"]["status"] in ("certified", "estimate")
    np.testing.assert_allclose(df["tv_estimate"], df["gap"], atol=0)
    assert len(list((tmp_path / "rows").glob("*.json"))) == 6
    stored = yaml.safe_load((tmp_path / "sweep.yaml").read_text())
    assert stored["sweep_id"] == sweep.sweep_id and stored["grid"] == sweep.grid
    # every run got the shared cache folder
    cache = {(p / "ran.txt").read_text() for p in (tmp_path / "runs").iterdir()}
    assert cache == {str(tmp_path / "cache")}

    for path in (tmp_path / "runs").glob("*/ran.txt"):
        path.unlink()
    again = run_sweep(sweep, tmp_path, run_fn=fake_run, progress=False)
    assert (again.ran, again.skipped) == (0, 6)
    assert not list((tmp_path / "runs").glob("*/ran.txt"))  # nothing ran again
    pd.testing.assert_frame_equal(read_results(tmp_path), df)


def test_rows_of_a_copied_results_table_are_kept(tmp_path):
    sweep = parse_sweep(_spec(**{"data.gap": [0.0, 0.5], "seed": [0, 1]}))
    run_sweep(sweep, tmp_path, run_fn=fake_run, progress=False)
    table = read_results(tmp_path)
    for path in (tmp_path / "rows").glob("*.json"):
        path.unlink()  # only sweep.yaml and results.csv were copied
    again = run_sweep(sweep, tmp_path, run_fn=fake_run, progress=False)
    assert (again.ran, again.skipped) == (0, 4)
    pd.testing.assert_frame_equal(read_results(tmp_path), table)


@pytest.mark.slow
def test_failed_runs_are_reported_and_retried(tmp_path):
    sweep = parse_sweep(_spec(**{"data.gap": [0.0, 0.5], "seed": [0, 1]}))
    outcome = run_sweep(sweep, tmp_path, run_fn=failing_on_seed_one, progress=False)
    assert outcome.ran == 2 and len(outcome.failed) == 2
    assert set(outcome.failed.values()) == {"RuntimeError: boom"}
    assert sorted(read_results(tmp_path)["seed"]) == [0, 0]
    retry = run_sweep(sweep, tmp_path, run_fn=fake_run, progress=False)
    assert (retry.ran, retry.skipped, retry.failed) == (2, 2, {})
    assert len(read_results(tmp_path)) == 4


def test_a_different_sweep_in_the_same_folder_is_refused(tmp_path):
    run_sweep(parse_sweep(_spec(seed=[0, 1])), tmp_path, run_fn=fake_run, progress=False)
    other = parse_sweep(_spec(seed=[0, 1, 2]))
    with pytest.raises(ValueError, match="different sweep .*differs in: grid.seed"):
        run_sweep(other, tmp_path, run_fn=fake_run, progress=False)
    assert len(read_results(tmp_path)) == 2  # untouched


def test_a_results_file_without_a_sweep_spec_is_refused(tmp_path):
    pd.DataFrame({"run_id": ["abc"], "gap": [0.1]}).to_csv(tmp_path / "results.csv", index=False)
    with pytest.raises(ValueError, match="results file from a different sweep"):
        run_sweep(parse_sweep(_spec(seed=[0])), tmp_path, run_fn=fake_run, progress=False)


def test_read_results_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="sweep results file not found"):
        read_results(tmp_path)
    (tmp_path / "results.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no 'run_id' column"):
        read_results(tmp_path / "results.csv")


# ------------------------------------------------------------------------ real runs
def _rows(folder: Path) -> pd.DataFrame:
    path = folder / "results.csv"
    return pd.read_csv(path) if path.is_file() else pd.DataFrame(columns=["run_id"])


@pytest.mark.slow
def test_real_kill_then_rerun_loses_nothing_and_duplicates_nothing(tmp_path):
    spec_path = tmp_path / "sweep.yaml"
    spec_path.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    cmd = [PYTHON, "-m", "cmcd", "sweep", str(spec_path), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(
        cmd, cwd=REPO, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 240
    while len(_rows(out)) < 1 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)  # the sweep and its worker processes
    proc.wait()
    before = _rows(out)
    assert 1 <= len(before) < 4, proc.stdout.read().decode()[-2000:]

    rerun = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "skipped (finished before)" in rerun.stdout
    after = _rows(out)
    sweep = parse_sweep(TINY)
    assert sorted(after["run_id"]) == sorted(r.run_id for r in sweep.runs())
    assert after["run_id"].is_unique
    kept = after.set_index("run_id").loc[before["run_id"]]
    # finished rows were not recomputed: their wall-clock seconds are unchanged
    np.testing.assert_allclose(kept["seconds"], before["seconds"].to_numpy(), rtol=0)
    for run_id, row in after.set_index("run_id").iterrows():
        result = json.loads((out / "runs" / run_id / "result.json").read_text())
        np.testing.assert_allclose(row["target_error"], result["target_error"], rtol=1e-12)
        assert row["certified_bound"] >= row["transfer_error"]
        assert 0.0 <= row["tv_lower"] <= 1.0 and 0.0 <= row["tv_estimate"] <= 1.0
    # one teacher per seed (data, model and pretrain settings are shared by the losses)
    assert len(list((out / "cache").glob("source_ssl-*.pt"))) == 2

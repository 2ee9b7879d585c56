"""CLI commands sweep, bound and report: help, output, and one-line errors on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from cmcd.cli.main import COMMANDS, main
from cmcd.runs.sweep import METRIC_COLUMNS

REPO = Path(__file__).resolve().parents[2]


def make_run_dir(folder: Path, shift: float = 0.3, n: int = 200, seed: int = 0) -> Path:
    """A run folder with paired Gaussian latents (2 classes) and a result.json."""
    rng = np.random.default_rng(seed)
    y_train, y_test = np.repeat([0, 1], 40), np.repeat([0, 1], n // 2)
    z_train = rng.normal(size=(80, 4)) + 2.0 * y_train[:, None]
    z_source = rng.normal(size=(n, 4)) + 2.0 * y_test[:, None]
    z_target = z_source + shift + 0.3 * rng.normal(size=(n, 4))
    folder.mkdir(parents=True)
    np.savez(
        folder / "features.npz",
        z_source_train=z_train,
        y_train=y_train,
        z_source_test=z_source,
        z_target_test=z_target,
        y_test=y_test,
    )
    result = {"target_error": 0.2, "target_accuracy": 0.8, "config": {"seed": 3}}
    (folder / "result.json").write_text(json.dumps(result))
    return folder


def make_results(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for i, gap in enumerate([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]):
        row = dict.fromkeys(METRIC_COLUMNS, 0.3)
        row.update(run_id=f"r{i}", gap=gap, loss="cmc", tv_estimate=gap, bound=rng.uniform())
        rows.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows)[["run_id", "gap", "loss", *METRIC_COLUMNS]].to_csv(
        folder / "results.csv", index=False
    )
    return folder


@pytest.mark.parametrize("command", ["sweep", "bound", "report"])
def test_every_new_command_has_help_with_examples(command, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "examples:" in out and f"cmcd {command}" in out


@pytest.mark.slow
def test_python_dash_m_lists_the_commands():
    proc = subprocess.run(
        [sys.executable, "-m", "cmcd", "--help"], cwd=REPO, capture_output=True, text=True
    )
    assert proc.returncode == 0
    for name in COMMANDS:
        assert name in proc.stdout
    assert {"sweep", "bound", "report"} <= set(COMMANDS)


# ------------------------------------------------------------------------ sweep
def _write_sweep(tmp_path: Path, grid: dict) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"data": {"name": "synthetic"}, "grid": grid}))
    return path


@pytest.mark.parametrize(
    ("grid", "message"),
    [
        ({"distill.los": ["cmc"]}, "unknown grid key 'distill.los'; valid keys: "),
        ({"seed": []}, "grid key 'seed' has an empty list"),
    ],
)
def test_sweep_bad_grid_is_one_line_error(tmp_path, capsys, grid, message):
    code = main(["sweep", str(_write_sweep(tmp_path, grid)), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("cmcd sweep: error: ") and message in err
    assert "Traceback" not in err


@pytest.mark.parametrize("workers", ["0", "-1", "x"])
def test_sweep_workers_is_refused_before_any_folder_is_made(tmp_path, capsys, workers):
    spec = _write_sweep(tmp_path, {"seed": [0]})
    with pytest.raises(SystemExit) as info:
        main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--workers", workers])
    assert info.value.code == 2
    assert "argument --workers: must be an integer >= 1" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_sweep_bound_alpha_out_of_range_is_refused_before_any_run(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    spec = {"data": {"name": "synthetic"}, "grid": {"seed": [0]}, "bound": {"alpha": 2}}
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "sweep key 'bound.alpha' must be a finite number in (0, 1), got 2" in err
    assert not (tmp_path / "o").exists()


def test_sweep_refuses_a_folder_with_foreign_results(tmp_path, capsys):
    out = make_results(tmp_path / "out")
    code = main(["sweep", str(_write_sweep(tmp_path, {"seed": [0]})), "--out", str(out)])
    assert code == 2 and "refusing to mix" in capsys.readouterr().err


def test_sweep_with_ray_missing_names_the_extra(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    spec = _write_sweep(tmp_path, {"seed": [0]})
    code = main(["sweep", str(spec), "--out", str(tmp_path / "o"), "--executor", "ray"])
    err = capsys.readouterr().err
    assert code == 2 and "pip install 'cmcd[ray]'" in err


# ------------------------------------------------------------------------ bound
@pytest.mark.slow
def test_bound_of_a_run_folder(tmp_path, capsys):
    run = make_run_dir(tmp_path / "run")
    assert main(["bound", str(run), "--json", "--tv-method", "classifier"]) == 0
    out = json.loads(capsys.readouterr().out)
    terms = out["values"]
    assert out["status"]["certified_bound"] == "certified" and out["status"]["bound"] == "estimate"
    assert out["alpha"] == 0.05 and out["split_pairs"] is True and out["rows_independent"] is True
    assert out["rows"]["certified_bound"].startswith("all held-out rows")
    np.testing.assert_allclose(terms["target_error"], 0.2, atol=0)
    assert terms["certified_bound"] >= terms["transfer_error"]
    np.testing.assert_allclose(terms["bound"], terms["source_error"] + terms["tv_joint_estimate"])
    # the default seed is the run's own (3): the table with --seed 3 shows the same numbers
    assert main(["bound", str(run), "--seed", "3"]) == 0
    text = capsys.readouterr().out
    for name in ("certified_bound", "tv_estimate", "disagreement"):
        line = next(row for row in text.splitlines() if row.strip().startswith(name + " "))
        assert f"{terms[name]:.4f}" in line
    assert "estimate" in text and "certified" in text


def test_bound_with_an_unknown_alignment_names_the_valid_ones(tmp_path, capsys):
    run = make_run_dir(tmp_path / "run")
    assert main(["bound", str(run), "--alignment", "centre"]) == 2
    err = capsys.readouterr().err
    assert "cmcd bound: error:" in err and "alignment must be one of" in err and "center" in err


def test_bound_of_an_unreadable_features_file(tmp_path, capsys):
    run = make_run_dir(tmp_path / "run")
    (run / "features.npz").write_bytes(b"not a zip file")
    assert main(["bound", str(run)]) == 2
    err = capsys.readouterr().err
    assert "cmcd bound: error:" in err and "not a readable .npz features file" in err


def test_bound_of_a_missing_run(tmp_path, capsys):
    assert main(["bound", str(tmp_path / "nothing")]) == 2
    assert "run directory not found" in capsys.readouterr().err


def test_bound_of_a_sweep_lists_rows_and_coverage(tmp_path, capsys):
    folder = make_results(tmp_path / "sweep")
    assert main(["bound", str(folder), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["run_id"] for r in out["runs"]] == [f"r{i}" for i in range(6)]
    df = pd.read_csv(folder / "results.csv")
    expected = int(np.sum(df.certified_bound < df.transfer_error))
    assert out["coverage"][0]["certified_bound<transfer_error"] == expected
    assert "bound<target_error" not in out["coverage"][0]  # an estimate is never a bound
    assert out["columns"]["columns"]["certified_bound"]["status"] == "certified"


# ------------------------------------------------------------------------ report
def test_report_prints_tables_and_writes_figures(tmp_path, capsys):
    folder = make_results(tmp_path / "sweep")
    assert main(["report", str(folder), "--figures", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert "gap ~ tv_estimate" in out and "cmc (n=6)" in out and "figure tv_vs_gap" in out
    assert (folder / "report.md").is_file()
    assert sorted(p.name for p in (tmp_path / "figs").iterdir()) == [
        "bound_vs_error.png",
        "error_vs_aligned_tv.png",
        "error_vs_gap.png",
        "error_vs_tv.png",
        "target_terms_vs_error.png",
        "tv_vs_gap.png",
        "tv_vs_gap_by_alignment.png",
    ]


def test_report_figures_at_an_existing_file_is_refused_and_the_file_kept(tmp_path, capsys):
    folder = make_results(tmp_path / "sweep")
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    assert main(["report", str(folder), "--figures", str(notes)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"cmcd report: error: --figures {str(notes)!r} is an existing file")
    assert notes.read_text() == "keep me" and not (folder / "report.md").exists()


def test_report_of_a_missing_sweep(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "sweep results file not found" in capsys.readouterr().err


def test_rank_teachers_prints_kendall_tau(tmp_path, capsys):
    rows = [
        {"run_id": f"{t}{s}{seed}", "source": s, "target": t, "seed": seed,
         "target_error": e + 0.01 * seed, "pair_disagreement": e, "atc_estimate": 1 - e}
        for t in ("zer", "fou")
        for s, e in zip("abc", (0.1, 0.2, 0.3), strict=True)
        for seed in (0, 1)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "results.csv", index=False)
    assert main(["rank-teachers", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "pair_disagreement" in out and "atc_estimate" in out
    table = [line.split("|") for line in out.splitlines() if "| mean" in line]
    taus = {cells[2].strip(): float(cells[4]) for cells in table}
    assert taus == {"pair_disagreement": 1.0, "atc_estimate": -1.0}
    assert main(["rank-teachers", str(tmp_path), "--source", "view"]) == 2
    assert "--source 'view'" in capsys.readouterr().err

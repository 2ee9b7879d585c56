"""columns.json: every results column says whether it is certified, under which settings."""

from __future__ import annotations

import json

import pandas as pd

from cmcd.runs.columns import COLUMNS_FILE, column_status, read_column_status, write_column_status


def frame(**settings):
    base = {"run_id": ["a", "b"], "loss": ["cmc", "cmd"], "certified_bound": [0.3, 0.4],
            "tv_lower": [0.1, 0.2], "bound": [0.2, 0.3], "dis2_bound": [0.5, 0.6],
            "target_error": [0.1, 0.2], "alpha": [0.05, 0.05], "split_pairs": [True, True],
            "tv_method": ["classifier"] * 2, "rows_independent": [True, True]}  # fmt: skip
    base.update(settings)
    return pd.DataFrame(base)


def test_each_column_gets_its_status_and_the_settings_are_recorded():
    status = column_status(frame())
    cols = status["columns"]
    assert cols["certified_bound"]["status"] == "certified"
    assert cols["tv_lower"]["status"] == "certified"
    assert cols["bound"]["status"] == "estimate"
    assert cols["dis2_bound"]["status"] == "certified under an assumption"
    assert cols["loss"]["status"] == cols["run_id"]["status"] == "setting"
    assert cols["target_error"]["status"] == "measured"
    assert cols["alpha"]["status"] == cols["tv_method"]["status"] == "setting"
    assert status["alpha"] == [0.05] and status["split_pairs"] == [True]


def test_the_weakest_row_decides_a_column():
    status = column_status(frame(split_pairs=[True, False]))["columns"]
    assert status["tv_lower"]["status"] == "estimate"  # one row estimated TV on kept pairs
    assert status["certified_bound"]["status"] == "certified"
    dependent = column_status(frame(rows_independent=[True, False]))["columns"]
    assert dependent["certified_bound"]["status"] == "estimate"
    assert dependent["dis2_bound"]["status"] == "estimate"


def test_round_trip_and_old_sweeps_without_the_sidecar(tmp_path):
    path = write_column_status(frame(), tmp_path)
    assert path.name == COLUMNS_FILE
    assert read_column_status(tmp_path) == json.loads(path.read_text())
    old = tmp_path / "old"
    old.mkdir()
    frame().drop(columns=["split_pairs"]).to_csv(old / "results.csv", index=False)
    assert read_column_status(old / "results.csv")["columns"]["tv_lower"]["status"] == "certified"


def test_rows_of_an_old_sweep_without_settings_read_with_the_defaults(tmp_path):
    old = frame().astype({"split_pairs": object, "rows_independent": object})
    old.loc[0, ["split_pairs", "tv_method", "rows_independent"]] = None  # a row written before
    old.to_csv(tmp_path / "results.csv", index=False)
    cols = read_column_status(tmp_path)["columns"]
    assert cols["tv_lower"]["status"] == "certified"
    assert cols["certified_bound"]["status"] == "certified"
    assert cols["target_error"]["status"] == "measured"

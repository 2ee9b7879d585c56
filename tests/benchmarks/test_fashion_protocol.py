"""Tests of benchmarks/fashion_protocol.py: presets parse, spread and intervals are right."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmcd.plotting.notebook_context import import_benchmark
from cmcd.runs.sweep import parse_sweep

fp = import_benchmark("fashion_protocol")


@pytest.mark.parametrize("preset", ["cpu", "gpu"])
def test_presets_are_valid_sweeps_with_at_least_2000_held_out_pairs(preset):
    spec = fp.protocol_spec(preset, None)
    runs = parse_sweep(spec).runs()
    data = spec["data"]
    n = 70000 if data["n_samples"] is None else data["n_samples"]
    held_out = round(n * data["test_fraction"])
    assert held_out >= 2000
    assert set(spec["grid"]["distill.loss"]) == {"cmc", "cmd", "l2"}
    assert len(runs) == np.prod([len(v) for v in spec["grid"].values()])


def test_seeds_replace_the_seed_grid_only():
    spec = fp.protocol_spec("cpu", [7, 8])
    assert spec["grid"]["seed"] == [7, 8]
    assert spec["grid"]["data.gap"] == fp.protocol_spec("cpu", None)["grid"]["data.gap"]


def _table(flip_seed: int) -> pd.DataFrame:
    """TV rises with the gap for every seed but ``flip_seed``, where it falls."""
    rows = []
    for loss in ("cmc", "l2"):
        for seed in range(3):
            for gap in (0.0, 0.25, 0.5, 0.75, 1.0):
                tv = gap if seed != flip_seed else 1.0 - gap
                rows.append({"loss": loss, "seed": seed, "gap": gap, fp.TV: tv,
                             "target_error": 0.1 + tv / 2, "seconds": 1.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_per_seed_spread_shows_a_seed_whose_sign_flips():
    summary = fp.spread_summary(fp.per_seed_spread(_table(flip_seed=2)))
    gap_tv = summary[(summary["x"] == "gap") & (summary["y"] == fp.TV)]
    assert len(gap_tv) == 2
    np.testing.assert_allclose(gap_tv["min"], -1.0)
    np.testing.assert_allclose(gap_tv["max"], 1.0)
    assert gap_tv["sign_flips"].all()
    tv_err = summary[(summary["x"] == fp.TV) & (summary["y"] == "target_error")]
    np.testing.assert_allclose(tv_err["min"], 1.0)
    assert not tv_err["sign_flips"].any()


def test_correlations_carry_intervals_per_loss_and_over_all_runs():
    table = fp.correlations(_table(flip_seed=-1))
    assert set(table["loss"]) == {"cmc", "l2", "all"}
    row = table[(table["loss"] == "cmc") & (table["x"] == "gap") & (table["y"] == fp.TV)]
    np.testing.assert_allclose(row["rho"], 1.0)
    assert bool(row["finding"].iloc[0])

"""Figures of the TV accuracy benchmark draw the numbers of the benchmark table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bounds.report.plots import accuracy_table, headline_size, plot_accuracy, plot_estimate_vs_truth
from cmcd.plotting.figure_data import figure_data

METHODS = {"classifier": "estimator", "logistic_heldout": "reference", "oracle": "oracle"}


def fake_results(seed: int = 0) -> pd.DataFrame:
    """A benchmark-shaped table: 3 methods x 2 n x 2 d x 3 levels x 2 reps, one failure."""
    rng = np.random.default_rng(seed)
    rows = []
    for method, kind in METHODS.items():
        for n in (250, 1000):
            for d in (2, 8):
                for level in (0.1, 0.5, 0.9):
                    for rep in range(2):
                        est = float(np.clip(level + rng.normal(0, 0.05), 0, 1))
                        low = est - 0.1 if kind == "estimator" else np.nan
                        rows.append(
                            dict(
                                method=method,
                                kind=kind,
                                family="mean_shift",
                                d=d,
                                n=n,
                                level=level,
                                rep=rep,
                                truth=level,
                                estimate=est,
                                lower=low,
                                covered="" if np.isnan(low) else bool(low <= level),
                                failure="",
                            )  # fmt: skip
                        )
    rows.append({**rows[0], "estimate": np.nan, "failure": "ValueError: boom"})
    return pd.DataFrame(rows)


def naive_mae(df: pd.DataFrame, by: str, level: float = 0.95, n: int | None = None) -> dict:
    """(method, value) -> (mae, low, high) from a loop over the rows."""
    out = {}
    ok = df[df["failure"] == ""]
    if n is not None:
        ok = ok[ok["n"] == n]
    for (method, value), part in ok.groupby(["method", by]):
        err = np.abs(part["estimate"].to_numpy() - part["truth"].to_numpy())
        half = stats.t.ppf(0.5 + level / 2, len(err) - 1) * err.std(ddof=1) / np.sqrt(len(err))
        out[(method, value)] = (err.mean(), max(err.mean() - half, 0.0), err.mean() + half)
    return out


def test_accuracy_table_matches_a_naive_loop() -> None:
    df = fake_results()
    for by, n in (("n", None), ("d", 1000)):
        table = accuracy_table(df, by, n=n)
        want = naive_mae(df, by, n=n)
        assert len(table) == len(want)
        for row in table.itertuples():
            np.testing.assert_allclose(
                (row.mae, row.ci_low, row.ci_high), want[(row.method, getattr(row, by))], rtol=1e-12
            )
    cov = accuracy_table(df).set_index(["method", "n"])["coverage"]
    assert cov[("classifier", 250)] == pytest.approx(1.0)
    assert np.isnan(cov[("oracle", 250)])


def test_accuracy_table_orders_estimators_references_oracle() -> None:
    assert list(dict.fromkeys(accuracy_table(fake_results())["method"])) == list(METHODS)


def test_plot_accuracy_draws_the_table_with_intervals() -> None:
    df = fake_results(1)
    drawn = figure_data(plot_accuracy(df))
    want = naive_mae(df, "n")
    by_n = drawn[drawn["axis"] == 0]
    for method in METHODS:
        line = by_n[(by_n["artist"] == "line") & (by_n["label"] == method)].sort_values("x")
        seg = by_n[(by_n["artist"] == "segment") & (by_n["label"] == method)].sort_values("x")
        expect = np.array([want[(method, n)] for n in (250, 1000)])
        np.testing.assert_allclose(line[["x"]].to_numpy().ravel(), [250, 1000])
        np.testing.assert_allclose(line["y"], expect[:, 0], rtol=1e-12)
        np.testing.assert_allclose(seg[["y", "y2"]].to_numpy(), expect[:, 1:], rtol=1e-12)
    by_d = drawn[(drawn["axis"] == 1) & (drawn["artist"] == "line")]
    assert set(by_d["label"]) >= set(METHODS)
    assert "n = 1000" in drawn.loc[drawn["axis"] == 1, "title"].iloc[0]
    coverage = drawn[(drawn["axis"] == 2) & (drawn["label"] == "classifier")]
    np.testing.assert_allclose(coverage["y"], [1.0, 1.0])


def test_plot_estimate_vs_truth_draws_every_draw_at_the_headline_n() -> None:
    df = fake_results(2)
    drawn = figure_data(plot_estimate_vs_truth(df))
    for method in METHODS:
        panel = drawn[drawn["title"].str.startswith(f"{method} (")]
        pts = panel[panel["label"].str.startswith("d=")]
        rows = df[(df["method"] == method) & (df["n"] == 1000) & (df["failure"] == "")]
        np.testing.assert_allclose(np.sort(pts["y"]), np.sort(rows["estimate"]))
        assert (panel["label"] == "lower bound").sum() == rows["lower"].notna().sum()


def test_headline_size_prefers_the_closest_then_the_larger() -> None:
    assert headline_size([500, 1500]) == 1500
    assert headline_size([4000]) == 4000
    with pytest.raises(ValueError, match="sizes"):
        headline_size([])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"results": pd.DataFrame({"method": ["a"]})}, "needs column"),
        ({"results": [1, 2]}, "DataFrame"),
        ({"results": fake_results(), "by": "nope"}, "column"),
        ({"results": fake_results(), "level": 1.5}, "level"),
        ({"results": fake_results(), "n": 7}, "n=7"),
    ],
)
def test_accuracy_table_rejects_bad_input(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        accuracy_table(**kwargs)


def test_plot_estimate_vs_truth_rejects_unknown_methods() -> None:
    with pytest.raises(ValueError, match="methods must be among"):
        plot_estimate_vs_truth(fake_results(), methods=["nope"])


def test_figures_are_written_through_one_function_only() -> None:
    root = Path(__file__).resolve().parents[3]
    writers = sorted(
        str(path.relative_to(root))
        for package in ("cmcd", "bounds")
        for path in (root / package).rglob("*.py")
        if ".savefig(" in path.read_text()
    )
    assert writers == ["bounds/report/plots.py"]

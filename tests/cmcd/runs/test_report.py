"""Sweep report: Spearman tables, bound coverage counts, figures and report.md."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata

from cmcd.plotting.plots import plot_bound_vs_error, plot_error_vs_tv, plot_tv_vs_gap, save_figure
from cmcd.runs.report import (
    condition_means,
    correlation_table,
    coverage_table,
    grid_columns,
    pivot_rho,
    report_figures,
    rho_of,
    spearman,
    sweep_report,
)
from cmcd.runs.sweep import METRIC_COLUMNS

LOSSES = ("cmc", "cmd", "l2", "none")
GAPS = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


def fake_results(seed: int = 0) -> pd.DataFrame:
    """A results table shaped like a gap sweep's (4 losses x 6 gaps x 3 seeds)."""
    rng = np.random.default_rng(seed)
    rows = []
    for loss in LOSSES:
        for gap in GAPS:
            for s in range(3):
                tv = min(1.0, 0.1 + 0.8 * gap + rng.normal(0, 0.05))
                err = 0.1 + 0.5 * tv + rng.normal(0, 0.05)
                row = dict.fromkeys(METRIC_COLUMNS, 0.5)
                row.update(
                    run_id=f"{loss}-{gap}-{s}",
                    gap=gap,
                    loss=loss,
                    seed=s,
                    tv_estimate=tv,
                    target_error=err,
                    transfer_error=err + 0.02,
                    bound=err + rng.normal(0, 0.1),
                    certified_bound=err + 0.1,
                )
                rows.append(row)
    cols = ["run_id", "gap", "loss", "seed", *METRIC_COLUMNS]
    return pd.DataFrame(rows)[cols]


def naive_spearman(x, y) -> float:
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float(np.sum(rx * ry) / np.sqrt(np.sum(rx**2) * np.sum(ry**2)))


# ------------------------------------------------------------------------ tables
def test_spearman_matches_a_naive_rank_correlation_with_ties():
    rng = np.random.default_rng(1)
    x = rng.integers(0, 5, size=40).astype(float)  # many ties
    y = x + rng.normal(0, 2, size=40)
    rho, p = spearman(x, y)
    np.testing.assert_allclose(rho, naive_spearman(x, y), rtol=1e-10)
    assert 0.0 <= p < 0.05


def test_spearman_undefined_cases_and_bad_input():
    assert np.isnan(spearman([1, 2], [3, 4])[0])  # fewer than 3 pairs
    assert np.isnan(spearman([1, 2, 3], [5, 5, 5])[0])  # constant column
    rho, _ = spearman([1, 2, np.nan, 3, 4], [1, 2, 100, 3, 4])  # nan pair dropped
    np.testing.assert_allclose(rho, 1.0, atol=1e-12)
    with pytest.raises(ValueError, match="same length"):
        spearman([1, 2, 3], [1, 2])


def test_correlation_table_per_group_and_pooled():
    df = fake_results()
    table = correlation_table(df)
    terms = [
        *("tv_estimate", "tv_aligned_estimate"),
        *(f"tv_aligned_estimate_{name}" for name in ("none", "center", "whiten", "linear")),
        *("tv_joint_estimate", "tv_aligned_joint_estimate", "gap_norm", "relative_gap"),
        "disagreement",
    ]
    pairs = [("gap", t) for t in (*terms, "target_error")] + [(t, "target_error") for t in terms]
    assert list(zip(table["x"], table["y"], strict=True)) == [p for p in pairs for _ in range(5)]
    assert list(table["loss"][:5]) == [*LOSSES, "all"]
    assert list(table["n"][:5]) == [18, 18, 18, 18, 72]
    for loss in LOSSES:
        part = df[df["loss"] == loss]
        np.testing.assert_allclose(
            rho_of(table, "gap", "tv_estimate", loss),
            naive_spearman(part["gap"], part["tv_estimate"]),
            rtol=1e-10,
        )
    np.testing.assert_allclose(
        rho_of(table, "tv_estimate", "target_error"),
        naive_spearman(df["tv_estimate"], df["target_error"]),
        rtol=1e-10,
    )
    assert np.isnan(rho_of(table, "gap", "disagreement"))  # a constant column
    with pytest.raises(ValueError, match="no correlation of"):
        rho_of(table, "gap", "seed")


def test_pivot_shows_rho_per_pair_and_group():
    table = correlation_table(fake_results())
    wide = pivot_rho(table)
    assert list(wide.columns) == ["pair", *(f"{g} (n=18)" for g in LOSSES), "all (n=72)"]
    assert wide["pair"].iloc[0] == "gap ~ tv_estimate"
    np.testing.assert_allclose(
        wide.set_index("pair").loc["tv_estimate ~ target_error", "l2 (n=18)"],
        rho_of(table, "tv_estimate", "target_error", "l2"),
        rtol=0,
    )


def test_coverage_counts_certified_columns_only_each_against_its_error():
    df = fake_results(2)
    df.loc[df.index[:3], "certified_bound"] = 0.0  # three runs below their transfer error
    table = coverage_table(df).set_index("loss")
    assert "bound<target_error" not in table.columns  # an estimate is never counted
    assert "certified_bound<target_error" not in table.columns  # nor against another error
    for loss in LOSSES:
        part = df[df["loss"] == loss]
        expected = sum(
            b < e for b, e in zip(part["certified_bound"], part["transfer_error"], strict=True)
        )
        assert table.loc[loss, "certified_bound<transfer_error"] == expected
    assert table.loc["all", "certified_bound<transfer_error"] == 3


def test_correlations_carry_bootstrap_intervals_and_only_intervals_off_zero_are_findings():
    rng = np.random.default_rng(0)
    x = np.arange(30.0)
    df = pd.DataFrame({"a": x, "mono": x**3, "noise": rng.normal(size=30)})
    table = correlation_table(df, pairs=[("a", "mono"), ("a", "noise")], by=None)
    mono, noise = table.iloc[0], table.iloc[1]
    assert mono["rho"] == 1.0 and mono["rho_low"] > 0.95 and mono["finding"]
    assert noise["rho_low"] < 0 < noise["rho_high"] and not noise["finding"]
    again = correlation_table(df, pairs=[("a", "mono"), ("a", "noise")], by=None)
    pd.testing.assert_frame_equal(table, again)
    shown = pivot_rho(table, intervals=True)
    assert shown.iloc[0, 1].endswith("*") and not shown.iloc[1, 1].endswith("*")


def test_condition_means_average_over_seeds():
    df = fake_results()
    means = condition_means(df)
    assert len(means) == len(LOSSES) * len(GAPS)
    assert set(means["runs"]) == {3}
    pick = df[(df["loss"] == "cmd") & (df["gap"] == 0.4)]
    row = means[(means["loss"] == "cmd") & (means["gap"] == 0.4)].iloc[0]
    np.testing.assert_allclose(row["tv_estimate"], pick["tv_estimate"].mean(), rtol=1e-12)
    assert grid_columns(df) == ["gap", "loss", "seed"]


def test_tables_name_missing_columns():
    with pytest.raises(ValueError, match=r"needs column\(s\) \['gap'\]"):
        correlation_table(pd.DataFrame({"tv_estimate": [1.0]}), pairs=[("gap", "tv_estimate")])
    with pytest.raises(ValueError, match="certified_bound"):
        coverage_table(pd.DataFrame({"bound": [1.0], "transfer_error": [0.1]}))


# ------------------------------------------------------------------------ figures
def test_error_vs_tv_shows_each_run_in_its_loss_colour():
    df = fake_results()
    ax = plot_error_vs_tv(df).axes[0]
    assert len(ax.collections) == len(LOSSES)
    for coll, loss in zip(ax.collections, LOSSES, strict=True):
        part = df[df["loss"] == loss]
        np.testing.assert_allclose(coll.get_offsets(), part[["tv_estimate", "target_error"]])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(LOSSES)


def test_tv_vs_gap_shows_seed_means_and_std():
    df = fake_results()
    ax = plot_tv_vs_gap(df).axes[0]
    assert len(ax.containers) == len(LOSSES)
    for container, loss in zip(ax.containers, LOSSES, strict=True):
        line = container.lines[0]
        np.testing.assert_allclose(line.get_xdata(), GAPS)
        cells = [
            [r.tv_estimate for r in df.itertuples() if r.loss == loss and r.gap == g] for g in GAPS
        ]
        np.testing.assert_allclose(line.get_ydata(), [np.mean(c) for c in cells], rtol=1e-12)
        segments = container.lines[2][0].get_segments()  # vertical error bars
        half = [(seg[1][1] - seg[0][1]) / 2 for seg in segments]
        np.testing.assert_allclose(half, [np.std(c, ddof=1) for c in cells], rtol=1e-9)


def test_bound_vs_error_counts_points_below_the_diagonal():
    df = fake_results(3)
    fig = plot_bound_vs_error(df)
    assert len(fig.axes) == 2
    ax = fig.axes[1]  # target_error
    np.testing.assert_allclose(ax.collections[0].get_offsets(), df[["target_error", "bound"]])
    below = int(np.sum(df["bound"] < df["target_error"]))
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == f"estimated bound ({below}/{len(df)} below)"
    assert labels[1] == f"certified bound (0/{len(df)} below)"
    df.loc[0, "bound"] = 1.8  # an estimated bound above 1 stays inside the axes
    assert plot_bound_vs_error(df).axes[0].get_ylim()[1] >= 1.8


def test_save_figure_and_bad_input(tmp_path):
    path = save_figure(plot_error_vs_tv(fake_results()), "scatter", tmp_path / "figs")
    assert path == tmp_path / "figs" / "scatter.png" and path.stat().st_size > 1000
    assert save_figure(plot_tv_vs_gap(fake_results()), "g.pdf", tmp_path).suffix == ".pdf"
    with pytest.raises(ValueError, match="plain file name"):
        save_figure(plot_error_vs_tv(fake_results()), "../x", tmp_path)
    with pytest.raises(ValueError, match=r"plot_tv_vs_gap needs column\(s\) \['gap'\]"):
        plot_tv_vs_gap(fake_results().drop(columns="gap"))
    with pytest.raises(ValueError, match="at least one row"):
        plot_error_vs_tv(fake_results().iloc[:0])


# ------------------------------------------------------------------------ the report
def test_sweep_report_writes_markdown_and_figures(tmp_path):
    df = fake_results()
    df.to_csv(tmp_path / "results.csv", index=False)
    report = sweep_report(tmp_path, figures_dir=tmp_path / "figs", prefix="t_")
    assert set(report.tables) == {
        "correlations", "correlations_of_means", "coverage", "means", "tightness"
    }  # fmt: skip
    tight = report.tables["tightness"].set_index("term")
    np.testing.assert_allclose(tight.loc["certified_bound", "median_slack"], 0.08, atol=1e-9)
    assert tight.loc["certified_bound", "validity"] == 1.0
    assert sorted(p.name for p in report.figures.values()) == [
        "t_bound_vs_error.png",
        "t_error_vs_aligned_tv.png",
        "t_error_vs_gap.png",
        "t_error_vs_tv.png",
        "t_target_terms_vs_error.png",
        "t_tv_vs_gap.png",
        "t_tv_vs_gap_by_alignment.png",
    ]
    assert all(p.is_file() for p in report.figures.values())
    text = (tmp_path / "report.md").read_text()
    assert text == report.markdown
    rho = naive_spearman(df["gap"], df["tv_estimate"])
    assert f"{rho:.2f} [" in text  # rho with its bootstrap interval
    assert re.search(
        rf"\|\s*gap ~ tv_estimate\s*\|.*\|\s*{rho:.2f} \[[-0-9.]+, [-0-9.]+\]\*?\s*\|", text
    )
    assert "all (n=72)" in text and "cmc (n=18)" in text
    assert "bound<target_error" in text


def test_a_pair_noise_sweep_is_reported_against_its_dial(tmp_path):
    df = fake_results().rename(columns={"gap": "pair_noise"})
    df.to_csv(tmp_path / "results.csv", index=False)
    report = sweep_report(tmp_path, figures_dir=tmp_path / "figs")
    names = {p.name for p in report.figures.values()}
    assert {"tv_vs_pair_noise.png", "error_vs_pair_noise.png"} <= names
    assert not any("_gap" in name for name in names)
    rho = naive_spearman(df["pair_noise"], df["target_error"])
    assert re.search(
        rf"\|\s*pair_noise ~ target_error\s*\|.*\|\s*{rho:.2f} \[[-0-9.]+, [-0-9.]+\]\*?\s*\|",
        report.markdown,
    )


def test_error_vs_dial_figure_draws_the_seed_means_of_the_error():
    df = fake_results().rename(columns={"gap": "pair_noise"})
    ax = report_figures(df)["error_vs_pair_noise"].axes[0]
    cmc = df[df["loss"] == "cmc"].groupby("pair_noise")["target_error"].mean()
    np.testing.assert_allclose(ax.containers[0].lines[0].get_ydata(), cmc.to_numpy())
    assert ax.get_xlabel() == "pair noise (share of mismatched pairs)"
    assert ax.get_title() == "Measured target error vs pair noise"


def test_sweep_report_without_gap_or_loss(tmp_path):
    df = fake_results().drop(columns=["gap", "loss"])
    df["pair"] = np.repeat(["fac-zer", "pix-fou", "kar-mor", "zer-fac"], 18)
    df.to_csv(tmp_path / "results.csv", index=False)
    report = sweep_report(tmp_path)
    assert sorted(report.figures) == [
        "bound_vs_error", "error_vs_aligned_tv", "error_vs_tv", "target_terms_vs_error"
    ]  # fmt: skip
    table = report.tables["correlations"]
    assert set(table["group"]) == {"all"} and set(table["y"]) == {"target_error"}
    assert len(table) == 11  # every TV, gap and disagreement term against the target error
    assert list(report.tables["means"]["pair"]) == ["fac-zer", "pix-fou", "kar-mor", "zer-fac"]


def test_sweep_report_of_an_empty_sweep(tmp_path):
    pd.DataFrame(columns=["run_id", "gap", *METRIC_COLUMNS]).to_csv(
        tmp_path / "results.csv", index=False
    )
    with pytest.raises(ValueError, match="no finished runs yet"):
        sweep_report(tmp_path)


def test_sweep_report_refuses_a_figure_folder_that_is_a_file(tmp_path):
    fake_results().to_csv(tmp_path / "results.csv", index=False)
    notes = tmp_path / "notes.txt"
    notes.write_text("keep me")
    with pytest.raises(ValueError, match=r"figures_dir '.*notes\.txt' is an existing file"):
        sweep_report(tmp_path, figures_dir=notes)
    assert notes.read_text() == "keep me" and not (tmp_path / "report.md").exists()
    assert sweep_report(tmp_path, figures_dir=notes, write=False).figures == {}

"""Method comparison figure: bars and TV markers equal the per-pair means of the runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cmcd.plotting.figure_data import figure_data
from cmcd.plotting.method_plots import (
    MEAN_OVER_PAIRS,
    method_summary,
    pair_tv,
    plot_method_comparison,
)

PAIRS = (("fac", "fou"), ("fac", "zer"), ("pix", "mor"))
METHODS = ("cmc", "cmd", "FT(target)")


def fake_runs(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy rows (3 pairs x 3 methods x 3 seeds) and TV rows (2 losses)."""
    rng = np.random.default_rng(seed)
    acc, tv = [], []
    for source, target in PAIRS:
        for s in range(3):
            for method in METHODS:
                acc.append(dict(source=source, target=target, seed=s, method=method,
                                target_accuracy=rng.uniform(0.4, 0.9)))  # fmt: skip
            for loss in ("cmc", "cmd"):
                tv.append(dict(source=source, target=target, seed=s, loss=loss,
                               tv_estimate=rng.uniform(0.5, 1.0)))  # fmt: skip
    return pd.DataFrame(acc), pd.DataFrame(tv)


def test_method_summary_matches_a_naive_loop() -> None:
    acc, _ = fake_runs()
    table = method_summary(acc).set_index(["method", "pair"])
    for method in METHODS:
        pair_means = []
        for source, target in PAIRS:
            vals = 100 * acc[(acc["method"] == method) & (acc["source"] == source)
                             & (acc["target"] == target)]["target_accuracy"].to_numpy()  # fmt: skip
            row = table.loc[(method, f"{source}->{target}")]
            np.testing.assert_allclose([row["mean"], row["std"]], [vals.mean(), vals.std(ddof=1)])
            pair_means.append(vals.mean())
        overall = table.loc[(method, MEAN_OVER_PAIRS), "mean"]
        np.testing.assert_allclose(overall, np.mean(pair_means))
    overall = method_summary(acc).query("pair == @MEAN_OVER_PAIRS")["mean"].to_numpy()
    assert np.all(np.diff(overall) <= 0), "methods are ranked by mean over pairs"


def test_pair_tv_matches_a_naive_loop() -> None:
    _, tv = fake_runs(1)
    table = pair_tv(tv).set_index(["pair", "loss"])
    for (source, target), loss in ((p, lo) for p in PAIRS for lo in ("cmc", "cmd")):
        vals = tv[(tv["source"] == source) & (tv["target"] == target) & (tv["loss"] == loss)]
        got = table.loc[(f"{source}->{target}", loss)]
        np.testing.assert_allclose(got["mean"], vals["tv_estimate"].mean())
        assert got["runs"] == 3


def test_plot_method_comparison_draws_the_summary() -> None:
    acc, tv = fake_runs(2)
    summary, tv_table = method_summary(acc), pair_tv(tv)
    drawn = figure_data(plot_method_comparison(summary, tv_table))
    groups = [*(f"{s}->{t}" for s, t in PAIRS), MEAN_OVER_PAIRS]
    bars = drawn[drawn["artist"] == "bar"]
    for method in METHODS:
        got = bars[bars["label"] == method].sort_values("x")["y"].to_numpy()
        want = summary[summary["method"] == method].set_index("pair").loc[groups, "mean"]
        np.testing.assert_allclose(got, want.to_numpy())
    markers = drawn[(drawn["axis"] == 1) & (drawn["artist"] == "line")]
    for loss in ("cmc", "cmd"):
        got = markers[markers["label"] == loss].sort_values("x")
        want = tv_table[tv_table["loss"] == loss].set_index("pair").loc[groups[:-1], "mean"]
        np.testing.assert_allclose(got["y"].to_numpy(), want.to_numpy())
        # the markers sit on the bar groups of their pairs
        np.testing.assert_allclose(np.round(got["x"].to_numpy()), np.arange(len(PAIRS)))


def test_plot_method_comparison_without_tv_has_one_axis() -> None:
    acc, _ = fake_runs(3)
    fig = plot_method_comparison(method_summary(acc), methods=["cmc"])
    assert len(fig.axes) == 1
    assert set(figure_data(fig).query("artist == 'bar'")["label"]) == {"cmc"}


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: method_summary(pd.DataFrame({"method": ["a"]})), "needs column"),
        (
            lambda: method_summary(
                pd.DataFrame(columns=["source", "target", "method", "target_accuracy"])
            ),
            "empty",
        ),  # fmt: skip
        (lambda: pair_tv("not a frame"), "DataFrame"),
        (lambda: plot_method_comparison(method_summary(fake_runs()[0]), methods=["x"]), "methods"),
    ],
)
def test_bad_input_is_refused(call, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call()

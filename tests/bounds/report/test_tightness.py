"""Tightness table and teacher ranking, against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bounds.report.tightness import rank_teachers, tightness_table


def test_tightness_table_values():
    frame = pd.DataFrame({
        "certified_target_bound": [0.3, 0.5, 0.9, np.nan],
        "atc_estimate": [0.1, 0.4, 0.5, 0.2],
        "target_error": [0.2, 0.6, 0.7, 0.1],
    })  # fmt: skip
    table = tightness_table(frame).set_index("term")
    bound = table.loc["certified_target_bound"]
    assert bound["n_runs"] == 3 and bound["kind"] == "bound"
    np.testing.assert_allclose(bound["validity"], 2 / 3)
    np.testing.assert_allclose(bound["median_slack"], 0.1)
    np.testing.assert_allclose(bound["p90_slack"], np.quantile([0.1, -0.1, 0.2], 0.9))
    np.testing.assert_allclose(bound["spearman"], 1.0)
    est = table.loc["atc_estimate"]
    assert np.isnan(est["validity"]) and est["n_runs"] == 4
    np.testing.assert_allclose(est["mae"], np.mean([0.1, 0.2, 0.2, 0.1]))
    assert "dis2_bound" not in table.index


def test_rank_teachers_averages_seeds_and_scores_kendall():
    rows = []
    for target, order in (("zer", [0.1, 0.2, 0.3]), ("fou", [0.3, 0.2, 0.1])):
        for source, err in zip(("a", "b", "c"), order, strict=True):
            for seed in (0, 1):
                rows.append({"data.target": target, "data.source": source, "seed": seed,
                             "target_error": err + 0.01 * seed, "term": err})  # fmt: skip
    ranks = rank_teachers(pd.DataFrame(rows), ["term"])
    per = ranks[ranks["target"] != "mean"].set_index("target")
    np.testing.assert_allclose(per["kendall_tau"], [1.0, 1.0])
    assert per.loc["zer", "best_by_term"] == "a" and per.loc["fou", "best_by_error"] == "c"
    np.testing.assert_allclose(ranks[ranks["target"] == "mean"]["kendall_tau"], [1.0])
    with pytest.raises(ValueError, match="column 'nope'"):
        rank_teachers(pd.DataFrame(rows), ["nope"])


def test_tau_intervals_and_picks_are_labelled():
    rng = np.random.default_rng(0)
    rows = []
    for target in ("zer", "fou", "kar", "pix", "fac", "mor"):  # MIN_ROWS targets for the mean
        errs = rng.uniform(0.1, 0.5, size=8)
        for i, err in enumerate(errs):
            rows.append({"data.target": target, "data.source": f"s{i}", "seed": 0,
                         "target_error": err, "good": err, "noise": rng.uniform()})  # fmt: skip
    ranks = rank_teachers(pd.DataFrame(rows), ["good", "noise"])
    per = ranks[ranks["target"] != "mean"]
    assert not per["pick_certified"].any()  # a pick after seeing the candidates
    good = per[per["term"] == "good"]
    assert (good["kendall_tau"] == 1.0).all() and good["finding"].all()
    assert (good["tau_low"] > 0.5).all()
    mean = ranks[ranks["target"] == "mean"].set_index("term")
    assert mean.loc["good", "finding"]
    assert (
        mean.loc["noise", "tau_low"]
        <= mean.loc["noise", "kendall_tau"]
        <= mean.loc["noise", "tau_high"]
    )


def test_tightness_spearman_has_a_bootstrap_interval():
    x = np.linspace(0.1, 0.5, 25)
    frame = pd.DataFrame({"atc_estimate": x + 0.01, "target_error": x})
    row = tightness_table(frame).iloc[0]
    assert row["spearman"] == 1.0 and row["spearman_low"] > 0.9


def test_tightness_interval_is_seeded_and_a_noise_term_is_no_finding():
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"atc_estimate": rng.uniform(size=30),
                          "target_error": rng.uniform(size=30)})  # fmt: skip
    first = tightness_table(frame, random_state=3).iloc[0]
    again = tightness_table(frame, random_state=3).iloc[0]
    pd.testing.assert_series_equal(first, again)
    assert first["spearman_low"] < 0 < first["spearman_high"] and not first["finding"]


def test_rank_teachers_with_five_teachers_gives_no_per_target_interval():
    rows = [{"data.target": t, "data.source": f"s{i}", "target_error": e, "term": e}
            for t in ("zer", "fou") for i, e in enumerate([0.1, 0.2, 0.3, 0.4, 0.5])]  # fmt: skip
    ranks = rank_teachers(pd.DataFrame(rows), ["term"], random_state=1)
    per = ranks[ranks["target"] != "mean"]
    np.testing.assert_allclose(per["kendall_tau"], [1.0, 1.0])
    assert per["tau_low"].isna().all() and not per["finding"].any()

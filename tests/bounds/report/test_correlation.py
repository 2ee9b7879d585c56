"""Bootstrap intervals of rank correlations: against scipy, and statistically under the null."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from bounds.report.correlation import MIN_ROWS, bootstrap_interval, correlation_interval


@pytest.mark.parametrize(
    ("method", "reference"), [("spearman", spearmanr), ("kendall", kendalltau)]
)
def test_value_matches_scipy_with_ties(method, reference):
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, size=25), rng.integers(0, 5, size=25)
    got = correlation_interval(x, y, method=method)["value"]
    np.testing.assert_allclose(got, reference(x, y).statistic, atol=1e-12)


def test_monotone_30_rows_is_a_finding_and_noise_is_not():
    rng = np.random.default_rng(1)
    x = np.arange(30.0)
    mono = correlation_interval(x, np.exp(x / 10))
    assert mono["value"] == 1.0 and mono["low"] > 0.95 and mono["finding"]
    noise = correlation_interval(x, rng.normal(size=30))
    assert noise["low"] < 0 < noise["high"] and not noise["finding"]
    tau = correlation_interval(x, -(x**2), method="kendall")
    assert tau["high"] < -0.95 and tau["finding"]


def test_same_seed_same_interval_other_seed_other_interval():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=30), rng.normal(size=30)
    a, b = correlation_interval(x, y, random_state=5), correlation_interval(x, y, random_state=5)
    assert a == b
    c = correlation_interval(x, y, random_state=6)
    assert (c["low"], c["high"]) != (a["low"], a["high"])


def test_constant_resamples_are_dropped_and_too_few_rows_get_no_interval():
    few = correlation_interval([1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 5.0, 4.0])
    assert few["value"] == pytest.approx(0.9) and np.isnan(few["low"]) and not few["finding"]
    assert few["n"] == 5 < MIN_ROWS
    constant = correlation_interval(np.arange(10.0), np.ones(10))
    assert np.isnan(constant["value"]) and np.isnan(constant["low"]) and not constant["finding"]
    # 6 rows: about 1 resample in 6**5 / 6**6 is one repeated row (constant), dropped, not nan
    six = correlation_interval(np.arange(6.0), np.arange(6.0) ** 2)
    assert (six["low"], six["high"]) == (1.0, 1.0) and six["finding"]
    holes = correlation_interval([1, 2, np.nan, 4, 5, 6, 7], [1, 2, 3, np.inf, 5, 6, 7])
    assert holes["n"] == 5
    with pytest.raises(ValueError, match="method must be one of"):
        correlation_interval([1, 2, 3], [1, 2, 3], method="pearson")
    with pytest.raises(ValueError, match="same length"):
        correlation_interval([1, 2, 3], [1, 2])


@pytest.mark.parametrize(("method", "n"), [("spearman", 6), ("spearman", 20), ("kendall", 8)])
def test_null_findings_stay_near_the_level(method, n):
    """Independent columns: at most 27 of 300 seeded repetitions (5% is 15) are findings."""
    rng = np.random.default_rng(3)
    found = sum(
        correlation_interval(
            rng.normal(size=n), rng.normal(size=n), method=method, n_boot=500, random_state=i
        )["finding"]  # fmt: skip
        for i in range(300)
    )
    assert found <= 27


def test_bootstrap_of_a_mean_brackets_it():
    values = np.random.default_rng(4).normal(loc=1.0, size=40)
    mean = bootstrap_interval(lambda v: v.mean(axis=1), values, random_state=0)
    assert mean["low"] < values.mean() < mean["high"] and mean["finding"]
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    np.testing.assert_allclose(mean["high"] - mean["low"], 2 * half_width, rtol=0.2)

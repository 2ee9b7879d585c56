"""The estimator demo: table of every method against the true TV, and its figure."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bounds.demo import INPUTS, plot_demo, run_demo
from bounds.truth.groundtruth import gaussian_tv, make_pair
from bounds.truth.references import REFERENCES


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path, float]:
    out = tmp_path_factory.mktemp("figures")
    start = time.perf_counter()
    table = run_demo(out)  # the default seed, as `python -m bounds.demo` runs it
    return table, out, time.perf_counter() - start


@pytest.mark.slow
def test_demo_table_has_every_method_and_the_truth(demo) -> None:
    from bounds.tv.api import METHODS

    table, _, _ = demo
    assert list(table["method"]) == [*METHODS, *REFERENCES]
    assert table["failure"].isna().all(), table[["method", "failure"]]
    np.testing.assert_allclose(table["true_tv"], 0.5, atol=1e-8)
    delta = make_pair("mean_shift", 5, 0.5).param  # the closed form behind the truth
    np.testing.assert_allclose(gaussian_tv(np.zeros(5), np.full(5, delta / np.sqrt(5))), 0.5)
    est = table.loc[table["kind"] == "estimator"]
    assert est["estimate"].between(0, 1).all() and est["lower"].between(0, 1).all()
    assert (est["lower"] <= est["estimate"] + 1e-12).all()
    assert set(table["input"]) == {"independent samples", INPUTS["paired"][0]}


@pytest.mark.slow
def test_demo_classifier_lower_is_informative_and_estimate_close(demo) -> None:
    # lower <= truth holds with probability 1 - alpha per draw, so one draw cannot test it: the
    # coverage over 100+ seeded draws is asserted in test_coverage.py. Here: the demo's lower
    # bound sits below its estimate and within 0.1 of the truth, and the estimate is close.
    table, _, _ = demo
    row = table.set_index("method").loc["classifier"]
    assert row["lower"] <= row["estimate"]
    np.testing.assert_allclose(row["lower"], row["true_tv"], atol=0.1)
    np.testing.assert_allclose(row["estimate"], row["true_tv"], atol=0.1)


@pytest.mark.slow
def test_demo_writes_the_figure(demo) -> None:
    _, out, _ = demo
    path = out / "tv_demo.png"
    assert path.exists() and path.stat().st_size > 10_000


def test_plot_demo_handles_failed_rows(tmp_path: Path) -> None:
    nan = float("nan")
    table = pd.DataFrame(
        {
            "method": ["ok", "broken", "ref"],
            "kind": ["estimator", "estimator", "reference"],
            "estimate": [0.4, nan, 0.7],
            "lower": [0.3, nan, nan],
            "upper": [nan, nan, nan],
            "true_tv": [0.5, 0.5, 0.5],
        }
    )
    path = plot_demo(table, tmp_path / "sub" / "fig.png", title="t")
    assert path.exists() and path.stat().st_size > 5_000

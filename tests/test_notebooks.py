"""Every notebook runs in fast mode, and every figure draws the numbers its data give.

Each notebook is executed once (in a kernel, as ``make notebooks`` does) into a temporary
folder; the figure tests then read what the figure drew (``figure_data/NAME.csv``, extracted
from the figure's artists by ``cmcd.plotting.figure_data.figure_data``) and the tables the notebook
drew it from (``tables/NAME.csv``), and recompute the numbers naively from the tables.
"""

from __future__ import annotations

import fnmatch
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from bounds.report.plots import headline_size
from bounds.tv.api import estimate_tv
from cmcd.plotting.notebook_context import ROOT
from cmcd.plotting.notebooks import (
    FIGURES,
    NOTEBOOK_DIR,
    OTHER_FIGURES,
    execute_notebook,
    notebook_paths,
    read_notebook,
)
from cmcd.plotting.plots import LABELS

pytestmark = pytest.mark.slow

#: The notebooks CI executes, and the figures each writes in fast mode.
FAST_FIGURES: dict[str, tuple[str, ...]] = {
    "01_tv_estimators": ("tv_estimators_vs_truth", "tv_estimators_mae"),
    "02_modality_gap": (
        "modality_gap_examples",
        "gap_sweep_synthetic_tv_vs_gap",
        "gap_sweep_synthetic_tv_vs_gap_by_alignment",
        "gap_sweep_synthetic_error_vs_gap",
        "gap_sweep_synthetic_error_vs_tv",
        "gap_sweep_synthetic_error_vs_aligned_tv",
        "gap_sweep_synthetic_bound_vs_error",
    ),
    "03_mfeat_methods": (
        "mfeat_methods",
        "mfeat_methods_error_vs_tv",
        "mfeat_methods_bound_vs_error",
        "mfeat_methods_pairs_error_vs_tv",
        "target_bounds_mfeat_methods",
    ),
    "04_your_data": ("your_data_bound_vs_error", "your_data_error_vs_tv"),
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class Outputs:
    """Where one fast execution wrote its figures and tables."""

    figures: Path
    work: Path

    def drawn(self, figure: str) -> pd.DataFrame:
        return pd.read_csv(self.work / "figure_data" / f"{figure}.csv")

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_csv(self.work / "tables" / f"{name}.csv")


@pytest.fixture(scope="module")
def executed(tmp_path_factory: pytest.TempPathFactory):
    """Execute a notebook once per module (fast mode); fail every test that needs a broken one."""
    cache: dict[str, tuple[Outputs, BaseException | None]] = {}

    def get(name: str) -> Outputs:
        if name not in cache:
            root = tmp_path_factory.mktemp(name)
            out = Outputs(root / "figures", root / "work" / name)
            try:
                execute_notebook(
                    NOTEBOOK_DIR / f"{name}.py",
                    fast=True,
                    figures_dir=out.figures,
                    work_dir=root / "work",
                    timeout=600,
                )
                cache[name] = (out, None)
            except Exception as err:  # reported by every test that needs this notebook
                cache[name] = (out, err)
        out, err = cache[name]
        if err is not None:
            pytest.fail(f"notebook {name} failed in fast mode:\n{err}")
        return out

    return get


# ----------------------------------------------------------------------------- execution
@pytest.mark.parametrize("name", sorted(FAST_FIGURES))
def test_notebook_runs_in_fast_mode_and_writes_its_figures(executed, name: str) -> None:
    out = executed(name)
    for figure in FAST_FIGURES[name]:
        path = out.figures / f"{figure}.png"
        assert path.is_file(), f"{name} did not write {path.name}"
        assert path.read_bytes()[:8] == PNG_MAGIC
        assert (out.work / "figure_data" / f"{figure}.csv").is_file()


def test_every_notebook_in_the_folder_is_executed_by_ci() -> None:
    found = {p.stem for p in notebook_paths()}
    assert found == set(FAST_FIGURES), (
        f"notebooks not executed by CI: {sorted(found - set(FAST_FIGURES))}; "
        f"executed but missing: {sorted(set(FAST_FIGURES) - found)}"
    )
    assert set(FIGURES) == found


def test_notebook_listing_sees_new_sources(tmp_path: Path) -> None:
    for name in ("01_a.py", "_helper.py", "02_b.ipynb", "01_a.ipynb"):
        (tmp_path / name).write_text("")
    assert [p.name for p in notebook_paths(tmp_path)] == ["01_a.py", "02_b.ipynb"]


@pytest.mark.parametrize("name", sorted(FAST_FIGURES))
def test_notebook_starts_with_what_it_makes_and_how(name: str) -> None:
    first = read_notebook(NOTEBOOK_DIR / f"{name}.py").cells[0]
    assert first.cell_type == "markdown"
    for part in ("**Figures.**", "**Question.**", "**Data.**", "**Regenerate.**", "figures/"):
        assert part in first.source, f"{name}: first cell lacks {part!r}"
    assert f"python -m cmcd.plotting.notebooks --full {name}" in first.source


def test_every_committed_figure_comes_from_a_notebook() -> None:
    patterns = [p for pats in FIGURES.values() for p in pats]
    for path in sorted((ROOT / "figures").glob("*.png")):
        owners = [p for p in patterns if fnmatch.fnmatch(path.name, p)]
        assert owners or path.name in OTHER_FIGURES, f"no notebook writes figures/{path.name}"


# ----------------------------------------------------------------------------- 01: TV estimators
def _points(drawn: pd.DataFrame, artist: str = "scatter") -> pd.DataFrame:
    return drawn[drawn["artist"] == artist]


def test_tv_estimators_vs_truth_passes_near_the_truth(executed) -> None:
    out = executed("01_tv_estimators")
    drawn, table = out.drawn("tv_estimators_vs_truth"), out.table("tv_accuracy")
    default = inspect.signature(estimate_tv).parameters["method"].default
    n0 = headline_size(table["n"])
    panel = _points(drawn)[drawn["title"].str.startswith(f"{default} (")]
    est = panel[panel["label"].str.startswith("d=")]
    rows = table[(table["method"] == default) & (table["n"] == n0)]
    np.testing.assert_allclose(np.sort(est["y"]), np.sort(rows["estimate"]), rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.sort(est["x"]), np.sort(rows["truth"]), rtol=0, atol=1e-12)
    errors = np.abs(est["y"].to_numpy() - est["x"].to_numpy())
    assert errors.mean() <= 0.08 and errors.max() <= 0.2, errors
    low = panel[panel["label"] == "lower bound"]
    assert len(low) == len(rows)
    # P(>= 3 of 8 misses | coverage 0.95) < 0.006: at most 2 draws may sit above the truth
    assert int(np.sum(low["y"] > low["x"])) <= 2
    oracle = _points(drawn)[drawn["title"].str.startswith("oracle (")]
    np.testing.assert_allclose(oracle["y"], oracle["x"], rtol=0, atol=0.06)


def test_tv_estimators_mae_draws_the_mean_error_with_its_interval(executed) -> None:
    out = executed("01_tv_estimators")
    drawn, table = out.drawn("tv_estimators_mae"), out.table("tv_accuracy")
    by_n = drawn[drawn["axis"] == 0]
    naive = table.assign(err=(table["estimate"] - table["truth"]).abs())
    naive = naive.groupby(["method", "n"])["err"].mean()
    for method in table["method"].unique():
        line = by_n[(by_n["artist"] == "line") & (by_n["label"] == method)].sort_values("x")
        want = naive[method].sort_index()
        np.testing.assert_allclose(line["x"], want.index.to_numpy(dtype=float))
        np.testing.assert_allclose(line["y"], want.to_numpy(), rtol=1e-12, atol=1e-14)
        seg = by_n[(by_n["artist"] == "segment") & (by_n["label"] == method)].sort_values("x")
        assert np.all(seg["y"].to_numpy() <= line["y"].to_numpy() + 1e-12)
        assert np.all(seg["y2"].to_numpy() >= line["y"].to_numpy() - 1e-12)
    mae = by_n[by_n["artist"] == "line"].groupby("label")["y"].max()
    references = table.loc[table["kind"] == "reference", "method"].unique()
    assert all(mae["oracle"] < mae[ref] for ref in references), mae


# ----------------------------------------------------------------------------- 02: modality gap
def test_gap_figures_draw_the_sweep_and_its_correlation_sign(executed) -> None:
    out = executed("02_modality_gap")
    results = out.table("gap_sweep_synthetic")
    drawn = _points(out.drawn("gap_sweep_synthetic_error_vs_tv"))
    pts = drawn[["x", "y"]].sort_values(["x", "y"]).to_numpy()
    want = results[["tv_estimate", "target_error"]].sort_values(["tv_estimate", "target_error"])
    np.testing.assert_allclose(pts, want.to_numpy(), rtol=0, atol=1e-12)
    rho_drawn = spearmanr(drawn["x"], drawn["y"]).statistic
    rho_data = spearmanr(results["tv_estimate"], results["target_error"]).statistic
    assert np.sign(np.nan_to_num(rho_drawn)) == np.sign(np.nan_to_num(rho_data))
    tv_gap = out.drawn("gap_sweep_synthetic_tv_vs_gap")
    means = results.groupby(["loss", "gap"])["tv_estimate"].mean()
    for loss in results["loss"].unique():
        line = tv_gap[(tv_gap["artist"] == "line") & (tv_gap["label"] == loss)].sort_values("x")
        np.testing.assert_allclose(line["y"], means[loss].sort_index().to_numpy(), atol=1e-12)


def test_error_vs_gap_figure_draws_each_losss_mean_target_error(executed) -> None:
    out = executed("02_modality_gap")
    results = out.table("gap_sweep_synthetic")
    drawn = out.drawn("gap_sweep_synthetic_error_vs_gap")
    means = results.groupby(["loss", "gap"])["target_error"].mean()
    for loss in results["loss"].unique():
        line = drawn[(drawn["artist"] == "line") & (drawn["label"] == loss)].sort_values("x")
        np.testing.assert_allclose(line["y"], means[loss].sort_index().to_numpy(), atol=1e-12)


def test_gap_by_alignment_figure_draws_each_maps_mean_tv(executed) -> None:
    out = executed("02_modality_gap")
    results = out.table("gap_sweep_synthetic")
    drawn = out.drawn("gap_sweep_synthetic_tv_vs_gap_by_alignment")
    lines = drawn[drawn["artist"] == "line"]
    columns = {
        "none": "tv_estimate",
        "center": "tv_aligned_estimate",
        **{name: f"tv_aligned_estimate_{name}" for name in ("whiten", "linear")},
    }
    assert set(lines["label"]) == set(columns)
    for axis, loss in enumerate(results["loss"].unique()):
        part = results[results["loss"] == loss]
        for label, column in columns.items():
            line = lines[(lines["axis"] == axis) & (lines["label"] == label)].sort_values("x")
            want = part.groupby("gap")[column].mean().sort_index().to_numpy()
            np.testing.assert_allclose(line["y"], want, atol=1e-12)


def _certified_points(drawn: pd.DataFrame) -> pd.DataFrame:
    """Points (transfer_error, certified_bound) of a bound-vs-error figure."""
    axis = drawn[drawn["xlabel"] == LABELS["transfer_error"]]
    return _points(axis)[lambda d: d["label"].str.startswith(LABELS["certified_bound"])]


def test_gap_certified_bound_never_below_the_transfer_error(executed) -> None:
    out = executed("02_modality_gap")
    results = out.table("gap_sweep_synthetic")
    cert = _certified_points(out.drawn("gap_sweep_synthetic_bound_vs_error"))
    assert len(cert) == len(results)
    np.testing.assert_allclose(np.sort(cert["y"]), np.sort(results["certified_bound"]), atol=1e-12)
    assert np.all(cert["y"].to_numpy() >= cert["x"].to_numpy())


# ----------------------------------------------------------------------------- 03: mfeat methods
def test_mfeat_method_bars_and_pair_tv_match_the_runs(executed) -> None:
    out = executed("03_mfeat_methods")
    drawn, acc = out.drawn("mfeat_methods"), out.table("mfeat_methods")
    runs = out.table("pair_runs")
    bars = drawn[drawn["artist"] == "bar"]
    acc = acc.assign(pair=acc["source"] + "->" + acc["target"])
    pairs = list(dict.fromkeys(acc["pair"]))
    for method, part in acc.groupby("method"):
        heights = bars[bars["label"] == method].sort_values("x")["y"].to_numpy()
        per_pair = [100 * part.loc[part["pair"] == p, "target_accuracy"].mean() for p in pairs]
        np.testing.assert_allclose(heights, [*per_pair, np.mean(per_pair)], rtol=1e-12)
    markers = drawn[(drawn["axis"] == 1) & (drawn["artist"] == "line")]
    runs = runs.assign(pair=runs["source"] + "->" + runs["target"])
    for loss, part in runs.groupby("loss"):
        got = markers[markers["label"] == loss].sort_values("x")["y"].to_numpy()
        want = [part.loc[part["pair"] == p, "tv_estimate"].mean() for p in pairs]
        np.testing.assert_allclose(got, want, rtol=1e-12)
        assert np.all((got >= 0) & (got <= 1))


def test_mfeat_pair_figures_draw_the_runs(executed) -> None:
    out = executed("03_mfeat_methods")
    runs = out.table("pair_runs")
    pts = _points(out.drawn("mfeat_methods_error_vs_tv"))[["x", "y"]]
    want = runs[["tv_estimate", "target_error"]]
    np.testing.assert_allclose(
        pts.sort_values(["x", "y"]).to_numpy(),
        want.sort_values(["tv_estimate", "target_error"]).to_numpy(),
        atol=1e-12,
    )
    cert = _certified_points(out.drawn("mfeat_methods_bound_vs_error"))
    assert len(cert) == len(runs) and np.all(cert["y"].to_numpy() >= cert["x"].to_numpy())


def test_mfeat_target_bounds_figure_matches_the_tightness_table(executed) -> None:
    out = executed("03_mfeat_methods")
    tight = out.table("target_tightness").set_index("term")
    drawn = _points(out.drawn("target_bounds_mfeat_methods"))
    label = LABELS["certified_target_bound"]
    cert = drawn[drawn["label"].str.startswith(label + " (")]
    n_runs = tight.loc["certified_target_bound", "n_runs"]
    assert n_runs == len(out.table("mfeat_methods")) == len(cert)
    below = int(np.sum(cert["y"].to_numpy() < cert["x"].to_numpy()))
    np.testing.assert_allclose(tight.loc["certified_target_bound", "validity"], 1 - below / n_runs)


# ----------------------------------------------------------------------------- 04: your data
def test_your_data_bound_figure_and_tv_estimates(executed) -> None:
    out = executed("04_your_data")
    results = out.table("your_data_results")
    cert = _certified_points(out.drawn("your_data_bound_vs_error"))
    pairs = cert[["x", "y"]].sort_values(["x", "y"]).to_numpy()
    want = results[["transfer_error", "certified_bound"]]
    want = want.sort_values(["transfer_error", "certified_bound"]).to_numpy()
    np.testing.assert_allclose(pairs, want, atol=1e-12)
    assert np.all(cert["y"].to_numpy() >= cert["x"].to_numpy())
    tv = out.table("your_data_tv")
    assert np.all((tv["lower"] <= tv["estimate"] + 1e-12) & (tv["estimate"] <= 1.0))
    paired = tv[tv["method"] == "paired"].iloc[0]
    assert paired["lower"] <= paired["upper"]

"""The notebook runner: settings from the environment, figure data, kernel execution."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from nbclient.exceptions import CellExecutionError

from cmcd.plotting.figure_data import figure_data
from cmcd.plotting.notebook_context import (
    FAST_ENV,
    FIGURES_ENV,
    ROOT,
    WORK_ENV,
    import_benchmark,
    notebook_context,
)
from cmcd.plotting.notebooks import execute_notebook, main

TINY = """# %% [markdown]
# # tiny

# %%
from matplotlib.figure import Figure
from cmcd.plotting.notebook_context import notebook_context

ctx = notebook_context("tiny")
fig = Figure()
ax = fig.add_subplot()
ax.scatter([1.0, 2.0], [3.0, 1.0 if ctx.fast else 5.0], label="pts")
ctx.save(fig, "tiny")
"""


def test_figure_data_reads_every_kind_of_artist() -> None:
    fig = Figure()
    ax, other = fig.subplots(1, 2)
    ax.scatter([0.5, 1.5], [2.0, 3.0], label="s")
    ax.errorbar([1.0, 2.0], [1.0, 2.0], yerr=[0.25, 0.5], label="e", capsize=3)
    ax.axline((0, 0), slope=1)
    other.bar([0.0, 1.0], [4.0, 5.0], yerr=[1.0, 2.0], label="b")
    other.plot([0, 1, 2], [2, 1, 0], label="l")
    df = figure_data(fig)
    got = {k: g[["x", "y"]].to_numpy().tolist() for k, g in df.groupby(["artist", "label"])}
    assert got[("scatter", "s")] == [[0.5, 2.0], [1.5, 3.0]]
    assert got[("line", "e")] == [[1.0, 1.0], [2.0, 2.0]]
    assert got[("bar", "b")] == [[0.0, 4.0], [1.0, 5.0]]
    assert got[("line", "l")] == [[0, 2], [1, 1], [2, 0]]
    seg = df[(df["artist"] == "segment") & (df["label"] == "e")]
    np.testing.assert_allclose(seg[["y", "y2"]].to_numpy(), [[0.75, 1.25], [1.5, 2.5]])
    seg = df[(df["artist"] == "segment") & (df["label"] == "b")]
    np.testing.assert_allclose(seg[["y", "y2"]].to_numpy(), [[3.0, 5.0], [3.0, 7.0]])
    assert len(df) == 2 + 2 + 2 + 2 + 2 + 3  # caps and the axline are left out
    assert sorted(df["axis"].unique()) == [0, 1]


def test_figure_data_refuses_a_non_figure() -> None:
    with pytest.raises(ValueError, match="fig must be a matplotlib Figure"):
        figure_data("figure.png")


def test_context_reads_mode_and_folders(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FAST_ENV, "1")
    monkeypatch.setenv(WORK_ENV, str(tmp_path / "work"))
    monkeypatch.delenv(FIGURES_ENV, raising=False)
    ctx = notebook_context("nb")
    assert ctx.fast and ctx.work_dir == tmp_path / "work" / "nb" and ctx.work_dir.is_dir()
    assert ctx.figures_dir == ROOT / "runs" / "notebooks" / "fast" / "figures"
    monkeypatch.setenv(FAST_ENV, "0")
    monkeypatch.setenv(FIGURES_ENV, str(tmp_path / "figs"))
    ctx = notebook_context("nb")
    assert not ctx.fast and ctx.mode == "full" and ctx.figures_dir == tmp_path / "figs"
    monkeypatch.delenv(FIGURES_ENV)
    assert notebook_context("nb").figures_dir == ROOT / "figures"


def test_save_writes_the_image_and_what_it_draws(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(FIGURES_ENV, str(tmp_path / "figs"))
    monkeypatch.setenv(WORK_ENV, str(tmp_path / "work"))
    ctx = notebook_context("nb")
    fig = Figure()
    fig.add_subplot().scatter([1.0], [2.0], label="p")
    path = ctx.save(fig, "one")
    assert path == tmp_path / "figs" / "one.png" and path.stat().st_size > 0
    drawn = pd.read_csv(tmp_path / "work" / "nb" / "figure_data" / "one.csv")
    assert drawn[["x", "y"]].to_numpy().tolist() == [[1.0, 2.0]]
    table = ctx.record(pd.DataFrame({"a": [1]}), "t")
    assert pd.read_csv(table)["a"].tolist() == [1]


def test_import_benchmark_loads_a_script_and_refuses_unknown_names() -> None:
    assert import_benchmark("tv_accuracy").HEADLINE_N == 1000
    with pytest.raises(ValueError, match="name must name a script"):
        import_benchmark("no_such_benchmark")


@pytest.mark.slow
@pytest.mark.parametrize("fast", [True, False])
def test_execute_notebook_passes_the_mode_to_the_kernel(tmp_path: Path, fast: bool) -> None:
    source = tmp_path / "tiny.py"
    source.write_text(TINY)
    out = tmp_path / "executed.ipynb"
    execute_notebook(source, fast, figures_dir=tmp_path / "f", work_dir=tmp_path / "w", output=out)
    assert (tmp_path / "f" / "tiny.png").is_file() and out.is_file()
    drawn = pd.read_csv(tmp_path / "w" / "tiny" / "figure_data" / "tiny.csv")
    assert drawn["y"].tolist() == [3.0, 1.0 if fast else 5.0]


@pytest.mark.slow
def test_execute_notebook_raises_on_a_failing_cell(tmp_path: Path) -> None:
    source = tmp_path / "broken.py"
    source.write_text("# %%\nraise RuntimeError('cell failed on purpose')\n")
    with pytest.raises(CellExecutionError, match="cell failed on purpose"):
        execute_notebook(source, figures_dir=tmp_path / "f", work_dir=tmp_path / "w")


def test_execute_notebook_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="notebook not found"):
        execute_notebook(tmp_path / "nope.py")


def test_command_line_refuses_unknown_notebooks(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        main(["99_nope"])
    assert "unknown notebook" in capsys.readouterr().err

"""Execute the notebooks of ``notebooks/`` and give them one place to save figures.

Notebook sources are jupytext percent ``.py`` files. :func:`execute_notebook` reads one with
jupytext and runs it with nbclient in a kernel of the running interpreter, in the repository
root, with the settings passed through environment variables:

- ``CMCD_FAST=1``: fast mode (small grids, tiny epochs; a few minutes for all notebooks);
  unset or ``0``: full mode, which regenerates the committed ``figures/*.png``;
- ``CMCD_FIGURES_DIR``: where figures go (default ``figures/`` in full mode,
  ``runs/notebooks/fast/figures`` in fast mode, so fast runs never touch committed figures);
- ``CMCD_NOTEBOOK_WORK``: scratch folder for sweeps and tables (default
  ``runs/notebooks/{fast,full}``).

Inside a notebook, :func:`notebook_context` reads those variables and :meth:`NotebookContext.save`
is the one helper that saves figures: it writes the image through
:func:`cmcd.plots.save_figure` and the numbers the figure draws (:func:`figure_data`) as a CSV
under the work folder, which the tests check.

Command line (``make notebooks`` / ``make figures``)::

    python -m cmcd.notebooks                 # every notebook, fast mode
    python -m cmcd.notebooks --full          # full mode: rewrites figures/*.png
    python -m cmcd.notebooks 02_modality_gap --fast

Examples
--------
>>> [p.stem for p in notebook_paths()][:1]
['01_tv_estimators']
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.lines import AxLine, Line2D
from matplotlib.patches import Rectangle

__all__ = [
    "FAST_ENV",
    "FIGURES",
    "FIGURES_ENV",
    "NOTEBOOK_DIR",
    "OTHER_FIGURES",
    "ROOT",
    "WORK_ENV",
    "NotebookContext",
    "execute_notebook",
    "figure_data",
    "import_benchmark",
    "notebook_context",
    "notebook_paths",
    "read_notebook",
]

ROOT = Path(__file__).resolve().parents[1]
"""Repository root (the notebooks run there)."""
NOTEBOOK_DIR = ROOT / "notebooks"
FAST_ENV, FIGURES_ENV, WORK_ENV = "CMCD_FAST", "CMCD_FIGURES_DIR", "CMCD_NOTEBOOK_WORK"

#: Notebook name -> patterns of the committed figures its full mode writes to ``figures/``.
FIGURES: dict[str, tuple[str, ...]] = {
    "01_tv_estimators": ("tv_estimators_vs_truth.png", "tv_estimators_mae.png"),
    "02_modality_gap": ("modality_gap_examples.png", "gap_sweep_*.png"),
    "03_mfeat_methods": (
        "mfeat_methods.png",
        "mfeat_methods_*.png",
        "gap_sweep_mfeat_*.png",
        "target_bounds_*.png",
    ),
    "04_your_data": ("your_data_*.png",),
}
#: Committed figures written by another command than a notebook (figure -> command).
OTHER_FIGURES: dict[str, str] = {"tv_demo.png": "make demo", "demo_mfeat.png": "make demo"}


def notebook_paths(folder: str | Path = NOTEBOOK_DIR) -> list[Path]:
    """Notebook sources in ``folder``, sorted: ``*.py`` (not ``_*``) and lone ``*.ipynb``.

    An ``.ipynb`` beside a ``.py`` of the same name is that source's executed copy and is
    not listed again.
    """
    folder = Path(folder)
    sources = [p for p in folder.glob("*.py") if not p.name.startswith("_")]
    stems = {p.stem for p in sources}
    lone = [p for p in folder.glob("*.ipynb") if p.stem not in stems]
    return sorted(sources + lone, key=lambda p: p.name)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class NotebookContext:
    """Mode and folders of one notebook execution (see :func:`notebook_context`).

    Attributes
    ----------
    name : str
        Notebook name, e.g. ``"01_tv_estimators"``.
    fast : bool
        Fast mode (``CMCD_FAST=1``).
    root : Path
        Repository root: relative data paths (``benchmarks/results/...``) start here.
    figures_dir : Path
        Where :meth:`save` writes figures.
    work_dir : Path
        This notebook's scratch folder (sweeps, tables, the data of each figure).
    """

    name: str
    fast: bool
    root: Path
    figures_dir: Path
    work_dir: Path

    @property
    def mode(self) -> str:
        """``"fast"`` or ``"full"``."""
        return "fast" if self.fast else "full"

    def save(self, fig: Figure, name: str) -> Path:
        """Save ``fig`` as ``figures_dir/name.png`` and its drawn numbers as a CSV.

        The image goes through :func:`cmcd.plots.save_figure`; :func:`figure_data` goes to
        ``work_dir/figure_data/name.csv``. Returns the image path.
        """
        from cmcd.plots import save_figure

        path = save_figure(fig, name, self.figures_dir)
        data_dir = self.work_dir / "figure_data"
        data_dir.mkdir(parents=True, exist_ok=True)
        figure_data(fig).to_csv(data_dir / f"{path.stem}.csv", index=False)
        return path

    def record(self, table: pd.DataFrame, name: str) -> Path:
        """Write a table the notebook computed to ``work_dir/tables/name.csv``."""
        folder = self.work_dir / "tables"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.csv"
        table.to_csv(path, index=False)
        return path


def notebook_context(name: str) -> NotebookContext:
    """Read the mode and folders of a notebook run from the environment.

    Parameters
    ----------
    name : str
        The notebook's name (its file stem).

    Returns
    -------
    NotebookContext
        Its folders exist.

    Examples
    --------
    >>> import tempfile
    >>> env = {"CMCD_FAST": "1", "CMCD_FIGURES_DIR": tempfile.mkdtemp(),
    ...        "CMCD_NOTEBOOK_WORK": tempfile.mkdtemp()}
    >>> with _environ(env):
    ...     ctx = notebook_context("demo")
    >>> ctx.mode, ctx.work_dir.name, ctx.work_dir.is_dir()
    ('fast', 'demo', True)
    """
    fast = _truthy(os.environ.get(FAST_ENV))
    mode = "fast" if fast else "full"
    default_figures = ROOT / "runs" / "notebooks" / "fast" / "figures" if fast else ROOT / "figures"
    figures = Path(os.environ.get(FIGURES_ENV) or default_figures)
    work = Path(os.environ.get(WORK_ENV) or ROOT / "runs" / "notebooks" / mode) / name
    figures.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    return NotebookContext(name, fast, ROOT, figures, work)


def import_benchmark(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` (a script folder, not a package) as a module.

    Examples
    --------
    >>> import_benchmark("tv_accuracy").HEADLINE_N
    1000
    """
    module_name = f"benchmarks.{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = ROOT / "benchmarks" / f"{name}.py"
    if not path.is_file():
        raise ValueError(f"name must name a script in {path.parent}, got {name!r}")
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while defined
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module


# ----------------------------------------------------------------------------- figure data
def _rows(kind: str, label: str, xy: np.ndarray, xy2: np.ndarray | None = None) -> list[dict]:
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    end = np.full_like(xy, np.nan) if xy2 is None else np.asarray(xy2, dtype=float)
    return [
        {"artist": kind, "label": label, "index": i, "x": a, "y": b, "x2": c, "y2": d}
        for i, ((a, b), (c, d)) in enumerate(zip(xy, end.reshape(-1, 2), strict=True))
    ]


def _artist_rows(artist: Any, label: str) -> list[dict]:
    """Rows of one artist: points, line vertices, segment ends or bar tops."""
    if isinstance(artist, PathCollection):
        return _rows("scatter", label, artist.get_offsets())
    if isinstance(artist, LineCollection):
        segs = [np.asarray(s, dtype=float) for s in artist.get_segments() if len(s) >= 2]
        if not segs:
            return []
        return _rows("segment", label, [s[0] for s in segs], [s[-1] for s in segs])
    if isinstance(artist, Line2D):
        return [] if isinstance(artist, AxLine) else _rows("line", label, artist.get_xydata())
    if isinstance(artist, Rectangle):
        x, y = artist.get_x() + artist.get_width() / 2, artist.get_y() + artist.get_height()
        return _rows("bar", label, [x, y], [x, artist.get_y()])
    return []


def _labels(ax: Any) -> tuple[dict[int, str], set[int]]:
    """Artist id -> label from the axis' containers, and the ids of error-bar caps to skip.

    Bars take their container's label; an error bar's data line and segments take its
    label (a bar's error bars take the bar's); caps repeat the segment ends.
    """
    labels: dict[int, str] = {}
    caps: set[int] = set()
    for container in ax.containers:
        label = str(container.get_label())
        if isinstance(container, ErrorbarContainer):
            line, cap_lines, segments = container.lines
            caps.update(id(c) for c in cap_lines)
            for artist in [line, *segments]:
                if artist is not None:
                    labels.setdefault(id(artist), label)
        elif isinstance(container, BarContainer):
            labels.update({id(patch): label for patch in container.patches})
            if container.errorbar is not None:
                labels.update({id(seg): label for seg in container.errorbar.lines[2]})
    return labels, caps


def figure_data(fig: Figure) -> pd.DataFrame:
    r"""Return the numbers a figure draws: one row per point, line vertex, segment or bar.

    .. math:: \{(x_k, y_k)\}_{k} \text{ of every artist of every axis}

    Scatter points and line vertices give ``x, y``; segments (error bars) give their ends
    ``(x, y)`` and ``(x2, y2)``; bars give their centre ``x``, top ``y`` and bottom ``y2``.
    Error bars and bars carry their container's label (``ax.errorbar(label=)``,
    ``ax.bar(label=)``). ``axline`` guides, error-bar caps and images are left out.

    Returns
    -------
    pandas.DataFrame
        Columns ``axis`` (index), ``title``, ``xlabel``, ``ylabel``, ``artist`` (``scatter``,
        ``line``, ``segment``, ``bar``), ``label``, ``index``, ``x``, ``y``, ``x2``, ``y2``.

    Examples
    --------
    >>> fig = Figure(); ax = fig.add_subplot()
    >>> _ = ax.scatter([1, 2], [3, 4], label="a"); _ = ax.bar([0], [5.0], label="b")
    >>> figure_data(fig)[["artist", "label", "x", "y"]].values.tolist()
    [['scatter', 'a', 1.0, 3.0], ['scatter', 'a', 2.0, 4.0], ['bar', 'b', 0.0, 5.0]]
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    rows = []
    for i, ax in enumerate(fig.axes):
        meta = {"axis": i, "title": ax.get_title(), "xlabel": ax.get_xlabel()}
        meta["ylabel"] = ax.get_ylabel()
        labels, caps = _labels(ax)
        for artist in [*ax.collections, *ax.lines, *ax.patches]:
            if id(artist) in caps:
                continue
            label = labels.get(id(artist), str(artist.get_label()))
            rows += [{**meta, **row} for row in _artist_rows(artist, label)]
    columns = ["axis", "title", "xlabel", "ylabel", "artist", "label", "index"]
    out = pd.DataFrame(rows, columns=[*columns, "x", "y", "x2", "y2"])
    bars = out["artist"] == "bar"  # one artist per bar: number them within their label
    out.loc[bars, "index"] = out[bars].groupby(["axis", "label"]).cumcount()
    return out


# ----------------------------------------------------------------------------- execution
@contextlib.contextmanager
def _environ(updates: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration (the kernel inherits them)."""
    old = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def read_notebook(path: str | Path) -> Any:
    """Read a notebook source: jupytext percent ``.py`` or ``.ipynb`` (nbformat 4)."""
    import jupytext
    import nbformat

    path = Path(path)
    if path.suffix == ".ipynb":
        return nbformat.read(path, as_version=4)
    return jupytext.read(path, fmt="py:percent")


def execute_notebook(
    path: str | Path,
    fast: bool = True,
    *,
    figures_dir: str | Path | None = None,
    work_dir: str | Path | None = None,
    output: str | Path | None = None,
    timeout: int = 900,
) -> Any:
    """Execute one notebook source in the repository root and return the executed notebook.

    Parameters
    ----------
    path : str or Path
        A jupytext percent ``.py`` file (or an ``.ipynb``).
    fast : bool
        Fast mode (sets ``CMCD_FAST``).
    figures_dir, work_dir : str, Path or None
        Set ``CMCD_FIGURES_DIR`` / ``CMCD_NOTEBOOK_WORK`` (default: see the module notes).
    output : str, Path or None
        Write the executed notebook there as ``.ipynb``.
    timeout : int
        Seconds allowed per cell.

    Returns
    -------
    nbformat.NotebookNode

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    nbclient.exceptions.CellExecutionError
        When a cell raises (the message holds the cell's traceback).
    """
    from nbclient import NotebookClient

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"notebook not found: {path}")
    nb = read_notebook(path)
    env = {FAST_ENV: "1" if fast else "0"}
    env.update({k: str(v) for k, v in ((FIGURES_ENV, figures_dir), (WORK_ENV, work_dir)) if v})
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}
    )
    quiet = {"MPLBACKEND": "Agg", "TQDM_DISABLE": os.environ.get("TQDM_DISABLE", "1")}
    with _environ({**env, **quiet}):
        client.execute()
    if output is not None:
        import nbformat

        Path(output).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, output)
    return nb


def main(argv: Sequence[str] | None = None) -> int:
    """Execute notebooks from the command line; return the number that failed."""
    parser = argparse.ArgumentParser(description="Execute the notebooks of notebooks/.")
    parser.add_argument("names", nargs="*", help="notebook names (default: all)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--fast", dest="fast", action="store_true", default=True)
    mode.add_argument("--full", dest="fast", action="store_false", help="rewrite figures/")
    parser.add_argument("--figures-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    paths = notebook_paths()
    if args.names:
        unknown = sorted(set(args.names) - {p.stem for p in paths})
        if unknown:
            parser.error(f"unknown notebook(s) {unknown}; valid: {[p.stem for p in paths]}")
        paths = [p for p in paths if p.stem in args.names]
    mode_name = "fast" if args.fast else "full"
    failed = 0
    for path in paths:
        start = time.perf_counter()
        out = ROOT / "runs" / "notebooks" / mode_name / f"{path.stem}.ipynb"
        try:
            execute_notebook(path, args.fast, figures_dir=args.figures_dir, output=out)
            status = f"ok, executed copy in {out.relative_to(ROOT)}"
        except Exception as err:  # report every notebook, then fail
            failed += 1
            status = f"FAILED: {type(err).__name__}: {str(err)[-2000:]}"
        print(f"[{mode_name}] {path.name}: {time.perf_counter() - start:.1f} s, {status}")
    return failed


if __name__ == "__main__":
    sys.exit(1 if main() else 0)

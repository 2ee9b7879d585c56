"""What a notebook sees while it runs: its mode, its folders, one way to save a figure.

:func:`cmcd.plotting.notebooks.execute_notebook` passes the settings through environment variables:

- ``CMCD_FAST=1``: fast mode (small grids, tiny epochs); unset or ``0``: full mode, which
  regenerates the committed ``figures/*.png``;
- ``CMCD_FIGURES_DIR``: where figures go (default ``figures/`` in full mode,
  ``runs/notebooks/fast/figures`` in fast mode, so fast runs never touch committed figures);
- ``CMCD_NOTEBOOK_WORK``: scratch folder for sweeps and tables (default
  ``runs/notebooks/{fast,full}``).

Inside a notebook, :func:`notebook_context` reads them, and :meth:`NotebookContext.save` is the
one helper that saves figures: the image through :func:`bounds.report.plots.save_figure`, and the
numbers the figure draws (:func:`cmcd.plotting.figure_data.figure_data`) as a CSV under the
work folder, which the tests check. :func:`import_benchmark` imports a script of ``benchmarks/``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import cast

import pandas as pd
from matplotlib.figure import Figure

from bounds.report.plots import save_figure
from cmcd.plotting.figure_data import figure_data

__all__ = [
    "FAST_ENV",
    "FIGURES_ENV",
    "ROOT",
    "WORK_ENV",
    "NotebookContext",
    "import_benchmark",
    "notebook_context",
    "temporary_environ",
]

ROOT = Path(__file__).resolve().parents[2]
"""Repository root (the notebooks run there)."""
FAST_ENV, FIGURES_ENV, WORK_ENV = "CMCD_FAST", "CMCD_FIGURES_DIR", "CMCD_NOTEBOOK_WORK"


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@contextlib.contextmanager
def temporary_environ(updates: dict[str, str]) -> Iterator[None]:
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

        The image goes through :func:`bounds.report.plots.save_figure`; :func:`figure_data` goes to
        ``work_dir/figure_data/name.csv``. Returns the image path.
        """
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
    >>> with temporary_environ(env):
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
    spec = cast(ModuleSpec, importlib.util.spec_from_file_location(module_name, path))
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses look their module up while defined
    try:
        cast(Loader, spec.loader).exec_module(module)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return module

"""Execute the notebooks of ``notebooks/``: list them, run them in a kernel, from the CLI.

Notebook sources are jupytext percent ``.py`` files. :func:`execute_notebook` reads one with
jupytext and runs it with nbclient in a kernel of the running interpreter, in the repository
root, with its mode and folders passed through environment variables (read inside the
notebook by :func:`cmcd.plotting.notebook_context.notebook_context`). :data:`FIGURES` says which
committed figures each notebook writes.

Command line (``make notebooks`` / ``make figures``)::

    python -m cmcd.plotting.notebooks                 # every notebook, fast mode
    python -m cmcd.plotting.notebooks --full          # full mode: rewrites figures/*.png
    python -m cmcd.plotting.notebooks 02_modality_gap --fast

Examples
--------
>>> [p.stem for p in notebook_paths()][:1]
['01_tv_estimators']
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cmcd.plotting.notebook_context import FAST_ENV, FIGURES_ENV, ROOT, WORK_ENV, temporary_environ

__all__ = [
    "FIGURES",
    "NOTEBOOK_DIR",
    "OTHER_FIGURES",
    "execute_notebook",
    "notebook_paths",
    "read_notebook",
]

NOTEBOOK_DIR = ROOT / "notebooks"

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


# ----------------------------------------------------------------------------- figure data
# ----------------------------------------------------------------------------- execution
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
    with temporary_environ({**env, **quiet}):
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

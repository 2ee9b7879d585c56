"""Figures of the TV-estimator accuracy benchmark: estimates against exact ground truth.

Both functions take the long table of ``benchmarks/tv_accuracy.py`` (one row per method x
family x d x n x TV level x repetition, columns ``method``, ``kind``, ``n``, ``d``,
``truth``, ``estimate``, ``lower``, ``abs_error``, ``covered``, ``failure``) and return a
:class:`matplotlib.figure.Figure` built without ``pyplot``.

- :func:`plot_estimate_vs_truth`: each method's estimates (and lower confidence bounds)
  against the true TV, one panel per method;
- :func:`plot_accuracy`: mean absolute error against ``n`` and against ``d`` with confidence
  intervals, and the coverage of the lower bound against ``n``; estimators, the references
  researchers use today and the density-knowing oracle side by side.

:func:`accuracy_table` computes the numbers :func:`plot_accuracy` draws. :func:`save_figure`
is the one figure writer of the package (the sweep figures, the notebooks and both demos).

References
----------
.. [1] Lin et al., "A Generalization Theory of Cross-Modality Distillation with Contrastive
   Learning", arXiv:2405.03355, 2024.
.. [2] Ben-David et al., "A theory of learning from different domains", Machine Learning 79,
   2010 (the proxy A-distance reference).

Examples
--------
>>> df = pd.DataFrame({"method": ["a"] * 4, "kind": "estimator", "n": [100, 100, 200, 200],
...                    "d": 2, "truth": 0.5, "estimate": [0.25, 0.75, 0.5, 0.625]})
>>> accuracy_table(df)[["n", "mae", "draws"]].to_dict("records")
[{'n': 100, 'mae': 0.25, 'draws': 2}, {'n': 200, 'mae': 0.0625, 'draws': 2}]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator
from scipy import stats

__all__ = [
    "accuracy_table",
    "headline_size",
    "plot_accuracy",
    "plot_estimate_vs_truth",
    "save_figure",
]

#: Order and line style of the method kinds (our choice).
KIND_STYLE: dict[str, dict[str, Any]] = {
    "estimator": {"linestyle": "-", "marker": "o"},
    "reference": {"linestyle": "--", "marker": "s"},
    "oracle": {"linestyle": ":", "marker": "^", "color": "0.35"},
}
_NEEDED = ("method", "n", "d", "truth", "estimate")
_COVERED = {True: 1.0, False: 0.0, "True": 1.0, "False": 0.0}


def _clean(results: pd.DataFrame, what: str) -> pd.DataFrame:
    """Check the columns; keep rows whose method ran; add ``kind``/``abs_error``/``covered``."""
    if not isinstance(results, pd.DataFrame):
        raise ValueError(f"results must be a pandas DataFrame, got {type(results).__name__}")
    missing = [c for c in _NEEDED if c not in results.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; results has {list(results.columns)}")
    df = results.copy()
    if "failure" in df.columns:
        df = df[df["failure"].isna() | (df["failure"].astype(str) == "")]
    df = df[np.isfinite(df["estimate"].to_numpy(dtype=float))]
    if df.empty:
        raise ValueError(f"{what} needs at least one row with a finite estimate")
    if "kind" not in df.columns:
        df["kind"] = "estimator"
    df["abs_error"] = (df["estimate"].astype(float) - df["truth"].astype(float)).abs()
    cov = df["covered"] if "covered" in df.columns else pd.Series(np.nan, index=df.index)
    df["covered"] = cov.map(lambda v: _COVERED.get(v, np.nan)).astype(float)
    return df


def headline_size(sizes: Sequence[int], target: int = 1000) -> int:
    """Return the size in ``sizes`` closest to ``target`` (the headline ``n``).

    Examples
    --------
    >>> headline_size([250, 1000, 4000]), headline_size([200, 400])
    (1000, 400)
    """
    sizes = sorted({int(s) for s in sizes})
    if not sizes:
        raise ValueError("sizes must not be empty")
    return min(sizes, key=lambda s: (abs(s - target), -s))


def _method_order(df: pd.DataFrame) -> list[str]:
    """Methods by kind (estimators, references, oracle), then by name."""
    rank = {kind: i for i, kind in enumerate(KIND_STYLE)}
    kinds = df.groupby("method")["kind"].first()
    return sorted(kinds.index, key=lambda m: (rank.get(kinds[m], len(rank)), m))


def accuracy_table(
    results: pd.DataFrame, by: str = "n", *, n: int | None = None, level: float = 0.95
) -> pd.DataFrame:
    r"""Mean absolute error per method and value of ``by``, with a t confidence interval.

    .. math:: \mathrm{MAE} = \frac1R \sum_{r=1}^R |\widehat{\mathrm{TV}}_r - \mathrm{TV}_r|,
              \quad \mathrm{MAE} \pm t_{(1+\ell)/2,\,R-1}\, s / \sqrt{R}

    over the ``R`` draws (families, TV levels, repetitions and the other dimension pooled).
    The interval treats the draws as independent, which they are; it describes the mean
    over this design of test pairs, not over all distributions, and its lower end is
    clipped at 0 (our choices).

    Parameters
    ----------
    results : pandas.DataFrame
        The benchmark table (see the module notes).
    by : str
        ``"n"`` or ``"d"`` (any column).
    n : int or None
        Keep only rows with this sample size per side (e.g. the headline ``n`` for ``by="d"``).
    level : float
        Confidence level of the interval, in (0, 1).

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``kind``, ``by``, ``mae``, ``ci_low``, ``ci_high``, ``draws``,
        ``coverage`` (share of draws with ``lower <= truth``; NaN without a lower bound).
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    df = _clean(results, "accuracy_table")
    if by not in df.columns:
        raise ValueError(f"by must be a column of results, got {by!r}")
    if n is not None:
        df = df[df["n"] == n]
        if df.empty:
            raise ValueError(f"n={n} is not a sample size of results")
    grouped = df.groupby(["method", "kind", by], sort=True)
    out = grouped["abs_error"].agg(mae="mean", sd="std", draws="size").reset_index()
    out["coverage"] = grouped["covered"].mean().to_numpy()
    dof = np.maximum(out["draws"].to_numpy() - 1, 1)
    half = stats.t.ppf(0.5 + level / 2, dof) * out["sd"].fillna(0.0) / np.sqrt(out["draws"])
    out["ci_low"], out["ci_high"] = np.maximum(out["mae"] - half, 0.0), out["mae"] + half
    rank = {m: i for i, m in enumerate(_method_order(df))}
    out = out.assign(rank=out["method"].map(rank)).sort_values(["rank", by])
    cols = ["method", "kind", by, "mae", "ci_low", "ci_high", "draws", "coverage"]
    return out[cols].reset_index(drop=True)


def _draw_lines(ax: Axes, table: pd.DataFrame, x: str, y: str, with_ci: bool) -> None:
    """One line per method (style by kind), with CI error bars when asked."""
    for method, part in table.groupby("method", sort=False):
        part = part.dropna(subset=[y])
        if part.empty:
            continue
        style = KIND_STYLE.get(str(part["kind"].iloc[0]), {})
        xs, ys = part[x].to_numpy(dtype=float), part[y].to_numpy(dtype=float)
        yerr = np.vstack([ys - part["ci_low"], part["ci_high"] - ys]) if with_ci else None
        ax.errorbar(xs, ys, yerr=yerr, label=str(method), capsize=3, **style)


def plot_accuracy(
    results: pd.DataFrame,
    *,
    n: int | None = None,
    level: float = 0.95,
    target_mae: float | None = 0.05,
    target_coverage: float | None = 0.95,
) -> Figure:
    r"""MAE against ``n`` and against ``d`` (with CIs), and lower-bound coverage against ``n``.

    .. math:: \mathrm{MAE}(n),\ \mathrm{MAE}(d \mid n = n_0),\
              \Pr(\text{lower} \le \mathrm{TV} \mid n)

    Parameters
    ----------
    results : pandas.DataFrame
        The benchmark table.
    n : int or None
        Sample size of the MAE-vs-d panel (default :func:`headline_size`, 1000 when present).
    level : float
        Confidence level of the error bars (:func:`accuracy_table`).
    target_mae, target_coverage : float or None
        Horizontal guide lines (the benchmark's targets); ``None`` draws none.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes: MAE vs n, MAE vs d at ``n``, coverage vs n. In the first two, line ``i``
        joins method ``i``'s MAE values and its error-bar segments span the interval.
    """
    table_n = accuracy_table(results, "n", level=level)
    n0 = headline_size(table_n["n"]) if n is None else int(n)
    table_d = accuracy_table(results, "d", n=n0, level=level)
    fig = Figure(figsize=(15.0, 4.4), layout="constrained")
    ax_n, ax_d, ax_c = fig.subplots(1, 3)
    _draw_lines(ax_n, table_n, "n", "mae", True)
    _draw_lines(ax_d, table_d, "d", "mae", True)
    _draw_lines(ax_c, table_n, "n", "coverage", False)
    for ax in (ax_n, ax_d):
        ax.set_yscale("symlog", linthresh=0.01)
        ax.set_ylabel(f"mean |estimate - true TV| ({level:.0%} CI)")
        if target_mae is not None:
            ax.axhline(target_mae, color="red", linewidth=0.8, label=f"target {target_mae:g}")
    ax_n.set(xscale="log", xlabel="n per side", title="MAE vs sample size (families, d pooled)")
    ax_d.set(xscale="log", xlabel="dimension d", title=f"MAE vs dimension (n = {n0} per side)")
    ax_c.set(xscale="log", xlabel="n per side", ylabel="share of draws with lower <= TV")
    ax_c.set(title="Coverage of the lower confidence bound", ylim=(-0.02, 1.02))
    for ax in (ax_n, ax_d):
        ax.set_ylim(bottom=0.0)
    if target_coverage is not None:
        ax_c.axhline(target_coverage, color="red", linewidth=0.8, label=f"{target_coverage:g}")
    for ax, values in ((ax_n, table_n["n"]), (ax_d, table_d["d"]), (ax_c, table_n["n"])):
        ticks = sorted({int(v) for v in values})
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xticks(ticks, [str(t) for t in ticks])
    ax_n.legend(fontsize="x-small")
    ax_c.legend(fontsize="x-small")
    return fig


def plot_estimate_vs_truth(
    results: pd.DataFrame, *, n: int | None = None, methods: Sequence[str] | None = None
) -> Figure:
    r"""Each method's estimates against the true TV at one ``n``, one panel per method.

    .. math:: (\mathrm{TV}_r, \widehat{\mathrm{TV}}_r) \text{ and } (\mathrm{TV}_r,
              \text{lower}_r) \text{ per draw } r

    Parameters
    ----------
    results : pandas.DataFrame
        The benchmark table.
    n : int or None
        Sample size per side shown (default :func:`headline_size`).
    methods : sequence of str or None
        Methods to show (default all, estimators first).

    Returns
    -------
    matplotlib.figure.Figure
        Panel ``i`` is titled with method ``i`` and its MAE; its scatter collections hold
        ``(truth, estimate)`` per ``d`` (labels ``d=...``) and ``(truth, lower)`` (label
        ``lower bound``) where the method has one.
    """
    df = _clean(results, "plot_estimate_vs_truth")
    n0 = headline_size(df["n"]) if n is None else int(n)
    df = df[df["n"] == n0]
    if df.empty:
        raise ValueError(f"n={n} is not a sample size of results")
    order = _method_order(df) if methods is None else list(methods)
    unknown = sorted(set(order) - set(df["method"]))
    if unknown or not order:
        raise ValueError(f"methods must be among {sorted(set(df['method']))}, got {order!r}")
    ncols = min(4, len(order))
    nrows = -(-len(order) // ncols)
    fig = Figure(figsize=(3.4 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, method in zip(axes, order, strict=False):
        part = df[df["method"] == method]
        for d, rows in part.groupby("d"):
            ax.scatter(rows["truth"], rows["estimate"], s=16, alpha=0.75, label=f"d={d}")
        low = part.dropna(subset=["lower"]) if "lower" in part.columns else part.iloc[:0]
        if len(low):
            ax.scatter(low["truth"], low["lower"], s=10, marker="v", color="0.5",
                       label="lower bound")  # fmt: skip
        ax.axline((0.0, 0.0), slope=1.0, color="0.3", linestyle="--", linewidth=1)
        ax.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), xlabel="true TV", ylabel="estimate")
        ax.set_title(f"{method} (MAE {part['abs_error'].mean():.3f})", fontsize="medium")
        ax.legend(fontsize="x-small", loc="upper left")
    for ax in axes[len(order) :]:
        ax.set_axis_off()
    fig.suptitle(f"TV estimates against exact ground truth, n = {n0} per side")
    return fig


def save_figure(
    fig: Figure, name: str, figures_dir: str | Path = "figures", *, dpi: int = 150
) -> Path:
    """Write ``fig`` to ``figures_dir/name`` (``.png`` unless ``name`` has a suffix).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    name : str
        File name, with or without suffix (``png``, ``pdf``, ``svg``).
    figures_dir : str or Path
        Folder, created if needed.
    dpi : int
        Resolution of raster formats.

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile
    >>> path = save_figure(Figure(), "empty", tempfile.mkdtemp())
    >>> path.name, path.stat().st_size > 0
    ('empty.png', True)
    """
    if not isinstance(fig, Figure):
        raise ValueError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not name or Path(name).name != name:
        raise ValueError(f"name must be a plain file name, got {name!r}")
    path = Path(figures_dir) / name
    if not path.suffix:
        path = path.with_suffix(".png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path

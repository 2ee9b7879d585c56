"""The method comparison on mfeat view pairs: accuracy per method and pair, and TV per pair.

- :func:`method_summary`: mean and standard deviation over seeds of each method's target
  accuracy per view pair, plus the mean over pairs (the paper-style table in long form);
- :func:`pair_tv`: mean and standard deviation over seeds of the estimated teacher/student
  latent TV per view pair and distillation loss;
- :func:`plot_method_comparison`: grouped bars of the first, with the second drawn under
  them on the same pairs, so one sees whether the pairs with the larger TV are the harder
  ones.

Input tables are those of ``benchmarks/mfeat_methods.py`` (columns ``source``, ``target``,
``seed``, ``method``, ``target_accuracy``) and of a sweep over view pairs
(:mod:`cmcd.runs.sweep`: ``source``, ``target``, ``loss``, ``seed``, ``tv_estimate``).

References
----------
.. [1] Lin et al., "A Generalization Theory of Cross-Modality Distillation with Contrastive
   Learning", arXiv:2405.03355, 2024 (the method comparison of its Table 1, here on mfeat).

Examples
--------
>>> acc = pd.DataFrame({"source": "fac", "target": ["zer", "zer", "mor", "mor"],
...                     "seed": [0, 1, 0, 1], "method": "cmc",
...                     "target_accuracy": [0.5, 0.75, 0.25, 0.5]})
>>> method_summary(acc)[["method", "pair", "mean", "runs"]].values.tolist()
[['cmc', 'fac->zer', 62.5, 2], ['cmc', 'fac->mor', 37.5, 2], ['cmc', 'mean over pairs', 50.0, 4]]
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["MEAN_OVER_PAIRS", "method_summary", "pair_tv", "plot_method_comparison"]

MEAN_OVER_PAIRS = "mean over pairs"
"""Label of the summary column/group that averages the per-pair means."""


def _check(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"{what} needs a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; the table has {list(df.columns)}")
    if df.empty:
        raise ValueError(f"{what} needs at least one row; the table is empty")


def _with_pair(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(pair=df["source"].astype(str) + "->" + df["target"].astype(str))


def method_summary(
    results: pd.DataFrame, *, value: str = "target_accuracy", scale: float = 100.0
) -> pd.DataFrame:
    r"""Mean and std over seeds of ``value`` per method and view pair, and over pairs.

    .. math:: \bar a_{m,p} = \frac{1}{S}\sum_s a_{m,p,s}, \qquad
              \bar a_{m} = \frac{1}{P}\sum_p \bar a_{m,p}

    Parameters
    ----------
    results : pandas.DataFrame
        Columns ``source``, ``target``, ``method`` and ``value`` (one row per run).
    value : str
        The measured column (default ``target_accuracy``).
    scale : float
        Multiplier (100 gives percent).

    Returns
    -------
    pandas.DataFrame
        Columns ``method``, ``pair``, ``mean``, ``std`` (sample std over seeds; NaN for one
        run and for the mean over pairs), ``runs``. Pairs in order of first appearance, then
        ``mean over pairs``; methods by decreasing mean over pairs.
    """
    _check(results, ["source", "target", "method", value], "method_summary")
    df = _with_pair(results).assign(value=lambda d: scale * d[value].astype(float))
    pairs = list(dict.fromkeys(df["pair"]))
    stats = df.groupby(["method", "pair"])["value"].agg(mean="mean", std="std", runs="size")
    stats = stats.reset_index()
    overall = stats.groupby("method").agg(mean=("mean", "mean"), runs=("runs", "sum"))
    overall = overall.reset_index().assign(pair=MEAN_OVER_PAIRS, std=np.nan)
    rank = overall.set_index("method")["mean"].rank(ascending=False, method="first")
    out = pd.concat([stats, overall], ignore_index=True)
    order = {p: i for i, p in enumerate([*pairs, MEAN_OVER_PAIRS])}
    out = out.assign(_m=out["method"].map(rank), _p=out["pair"].map(order))
    out = out.sort_values(["_m", "_p"]).drop(columns=["_m", "_p"])
    return out[["method", "pair", "mean", "std", "runs"]].reset_index(drop=True)


def pair_tv(results: pd.DataFrame, *, tv: str = "tv_estimate", by: str = "loss") -> pd.DataFrame:
    r"""Mean and std over seeds of the estimated latent TV per view pair (and loss).

    .. math:: \overline{\mathrm{TV}}_{p,\ell} = \frac1S \sum_s \widehat{\mathrm{TV}}_{p,\ell,s}

    Parameters
    ----------
    results : pandas.DataFrame
        Sweep rows with ``source``, ``target`` and ``tv`` (and ``by`` when present).
    tv : str
        TV column (``tv_estimate`` marginal, ``tv_joint_estimate`` label-aware).
    by : str
        Grouping column besides the pair (ignored when absent).

    Returns
    -------
    pandas.DataFrame
        Columns ``pair``, ``by`` (when present), ``mean``, ``std``, ``runs``; pairs in order
        of first appearance.

    Examples
    --------
    >>> rows = pd.DataFrame({"source": "fac", "target": "zer", "loss": "cmc",
    ...                      "tv_estimate": [0.5, 0.75]})
    >>> pair_tv(rows).values.tolist()
    [['fac->zer', 'cmc', 0.625, 0.1767766952966369, 2]]
    """
    _check(results, ["source", "target", tv], "pair_tv")
    df = _with_pair(results)
    keys = ["pair", by] if by in df.columns else ["pair"]
    out = df.groupby(keys, sort=False)[tv].agg(mean="mean", std="std", runs="size")
    return out.reset_index()


def _colors(names: Sequence[str]) -> dict[str, Any]:
    """One colour per name (tab10, tab20 beyond ten names)."""
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: cmap(i % cmap.N) for i, name in enumerate(names)}


def _bars(
    ax: Axes, summary: pd.DataFrame, methods: list[str], groups: list[str], colors: dict
) -> None:
    width = 0.8 / len(methods)
    for j, method in enumerate(methods):
        part = summary[summary["method"] == method].set_index("pair").reindex(groups)
        x = np.arange(len(groups)) + (j - (len(methods) - 1) / 2) * width
        ax.bar(x, part["mean"], width, yerr=part["std"].fillna(0.0), label=method, capsize=2,
               color=colors[method])  # fmt: skip
    ax.set_xticks(np.arange(len(groups)), groups, rotation=20, fontsize="small")


def _tv_markers(ax: Axes, tv: pd.DataFrame, groups: list[str], colors: dict) -> None:
    """One marker per pair and loss; a loss named like a method takes that method's colour."""
    hue = [c for c in tv.columns if c not in ("pair", "mean", "std", "runs")]
    parts = list(tv.groupby(hue[0], sort=False)) if hue else [("TV", tv)]
    for k, (label, part) in enumerate(parts):
        part = part.set_index("pair").reindex(groups)
        x = np.arange(len(groups)) + 0.1 * (k - (len(parts) - 1) / 2)
        ax.errorbar(x, part["mean"], yerr=part["std"].fillna(0.0), fmt="D", capsize=3,
                    label=str(label), color=colors.get(str(label), "0.2"))  # fmt: skip
    ax.set_xticks(np.arange(len(groups)), groups, rotation=20, fontsize="small")
    ax.set(ylabel="estimated latent TV", ylim=(-0.02, 1.05), xlim=(-0.5, len(groups) - 0.5))
    ax.legend(title="TV of loss", fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))


def plot_method_comparison(
    summary: pd.DataFrame,
    tv: pd.DataFrame | None = None,
    *,
    methods: Sequence[str] | None = None,
    ylabel: str = "target test accuracy (%)",
) -> Figure:
    r"""Draw grouped bars of accuracy per method and pair, with the latent TV per pair below.

    .. math:: \bar a_{m,p} \pm s_{m,p} \text{ (bars)}, \qquad
              \overline{\mathrm{TV}}_{p,\ell} \pm s_{p,\ell} \text{ (markers)}

    Parameters
    ----------
    summary : pandas.DataFrame
        From :func:`method_summary`.
    tv : pandas.DataFrame or None
        From :func:`pair_tv`; ``None`` draws the bars only.
    methods : sequence of str or None
        Methods to show, in order (default all, in ``summary`` order).
    ylabel : str
        Label of the bar axis.

    Returns
    -------
    matplotlib.figure.Figure
        Axis 0: one bar per method and pair group (``label`` = method; height = mean, error
        bar = std over seeds); axis 1 (with ``tv``): one marker per pair and loss.
    """
    _check(summary, ["method", "pair", "mean", "std"], "plot_method_comparison")
    order = list(dict.fromkeys(summary["method"])) if methods is None else list(methods)
    unknown = sorted(set(order) - set(summary["method"]))
    if unknown or not order:
        raise ValueError(f"methods must be among {sorted(set(summary['method']))}, got {order}")
    groups = list(dict.fromkeys(summary["pair"]))
    pairs = [g for g in groups if g != MEAN_OVER_PAIRS]
    rows = 2 if tv is not None else 1
    fig = Figure(figsize=(max(8.0, 1.6 * len(groups) + 2.0), 4.2 + 2.4 * (rows - 1)))
    fig.set_layout_engine("constrained")
    axes = fig.subplots(rows, 1, squeeze=False, height_ratios=[2, 1][:rows])[:, 0]
    colors = _colors(order)
    _bars(axes[0], summary, order, groups, colors)
    axes[0].set(ylabel=ylabel, title="Methods on mfeat view pairs (mean ± std over seeds)")
    low = np.nanmin(summary.loc[summary["method"].isin(order), "mean"])
    axes[0].set_ylim(max(0.0, low - 15.0), None)
    axes[0].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if tv is not None:
        _check(tv, ["pair", "mean", "std"], "plot_method_comparison (tv)")
        _tv_markers(axes[1], tv[tv["pair"].isin(pairs)], pairs, colors)
        axes[1].set_title("Teacher/student latent TV per pair (mean ± std over seeds)")
        axes[1].set_xlim(axes[0].get_xlim())
    return fig

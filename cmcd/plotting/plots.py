"""Figures of a sweep report: theory (TV, bounds) against practice (measured errors).

Every function takes a results table (``results.csv`` of :mod:`cmcd.runs.sweep`, one row per run)
and returns a :class:`matplotlib.figure.Figure` built without ``pyplot`` (no global state, no
display needed); :func:`save_figure` (from :mod:`bounds.report.plots`, the one figure writer of
the package) writes it.

- :func:`plot_error_vs_tv`: measured target error against estimated latent TV, one colour
  per loss;
- :func:`plot_tv_vs_gap`: estimated TV against the modality gap, mean and standard deviation
  over seeds per loss;
- :func:`plot_bound_vs_error`: the estimated bound and the certified bound against the
  measured error (the theory-vs-practice plot): a point under the diagonal is a bound that
  fell below the error it bounds.

Examples
--------
>>> import pandas as pd
>>> df = pd.DataFrame({"loss": ["cmc", "cmc", "l2"], "tv_estimate": [0.1, 0.5, 0.9],
...                    "target_error": [0.2, 0.3, 0.6]})
>>> fig = plot_error_vs_tv(df)
>>> fig.axes[0].collections[0].get_offsets().tolist()
[[0.1, 0.2], [0.5, 0.3]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from bounds.report.plots import save_figure

__all__ = [
    "plot_bound_vs_error",
    "plot_error_vs_tv",
    "plot_tv_by_alignment",
    "plot_tv_vs_gap",
    "save_figure",
]

#: Axis labels of the result columns (our wording).
LABELS: dict[str, str] = {
    "gap": "modality gap",
    "pair_noise": "pair noise (share of mismatched pairs)",
    "tv_estimate": "estimated latent TV (marginal)",
    "tv_joint_estimate": "estimated latent TV (label-aware)",
    "tv_lower": "TV lower confidence bound",
    "target_error": "measured target error (fine-tuned)",
    "transfer_error": "measured transfer error err_B(h)",
    "bound": "estimated bound",
    "certified_bound": "certified bound",
    "tv_aligned_estimate": "estimated latent TV after alignment",
    "aligned_transfer_error": "measured transfer error err_B(h o T_B)",
    "aligned_bound": "estimated aligned bound",
    "aligned_certified_bound": "certified aligned bound",
    "certified_target_bound": "certified target bound (triangle)",
    "best_certified_target_bound": "certified target bound (best of 3)",
    "margin_transport_bound": "certified OT margin bound",
    "dis2_bound": "DIS2 bound (under its assumption)",
    "atc_estimate": "ATC estimate",
    "disagreement_estimate": "disagreement estimate",
    "pair_disagreement": "pair disagreement (estimate)",
    "paired_error_estimate": "paired independent-errors estimate",
}
_MARKERS: dict[str, str] = {
    "bound": "o",
    "certified_bound": "^",
    "aligned_bound": "D",
    "aligned_certified_bound": "v",
    "certified_target_bound": "^",
    "best_certified_target_bound": "v",
    "margin_transport_bound": "P",
    "dis2_bound": "X",
    "atc_estimate": "o",
    "disagreement_estimate": "s",
    "pair_disagreement": "D",
    "paired_error_estimate": "*",
}


def _check_columns(df: pd.DataFrame, columns: Sequence[str | None], what: str) -> None:
    """Raise ``ValueError`` naming the columns of ``df`` that ``what`` needs and lacks."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; df has {list(df.columns)}")
    if df.empty:
        raise ValueError(f"{what} needs at least one row; df is empty")


def _groups(df: pd.DataFrame, hue: str | None) -> list[tuple[str, pd.DataFrame]]:
    """``(label, rows)`` per value of ``hue`` in order of appearance, or one group."""
    if hue is None or hue not in df.columns:
        return [("all runs", df)]
    return [(str(key), part) for key, part in df.groupby(hue, sort=False)]


def _label(column: str) -> str:
    return LABELS.get(column, column)


def _short_label(column: str) -> str:
    """Return the label without its parenthesised detail, for titles."""
    return _label(column).split(" (")[0]


def plot_error_vs_tv(
    df: pd.DataFrame,
    *,
    tv: str = "tv_estimate",
    error: str = "target_error",
    hue: str | None = "loss",
) -> Figure:
    r"""Scatter the measured error against the estimated TV, one colour per ``hue`` value.

    .. math:: (\widehat{\mathrm{TV}}_i, \mathrm{err}_i) \text{ for each run } i

    Parameters
    ----------
    df : pandas.DataFrame
        Results table with columns ``tv`` and ``error`` (and ``hue`` if present).
    tv, error : str
        Columns on the x and y axes.
    hue : str or None
        Column that colours the points (ignored when absent from ``df``).

    Returns
    -------
    matplotlib.figure.Figure
        One axis; collection ``i`` holds the points of the ``i``-th ``hue`` value.
    """
    _check_columns(df, [tv, error], "plot_error_vs_tv")
    fig = Figure(figsize=(5.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for label, part in _groups(df, hue):
        ax.scatter(part[tv], part[error], label=label, alpha=0.8, s=24)
    ax.set(xlabel=_label(tv), ylabel=_label(error), title="Target error vs estimated TV")
    ax.legend(title=hue if hue in df.columns else None, fontsize="small")
    return fig


def _mean_std_line(ax: Any, part: pd.DataFrame, x: str, y: str, label: str, capsize: int) -> None:
    """Draw the mean of ``y`` per value of ``x``, with the standard deviation as error bars."""
    stats = part.groupby(x)[y].agg(["mean", "std"]).sort_index()
    ax.errorbar(
        stats.index.to_numpy(dtype=float),
        stats["mean"].to_numpy(dtype=float),
        yerr=stats["std"].fillna(0.0).to_numpy(dtype=float),
        label=label,
        marker="o",
        capsize=capsize,
    )


def plot_tv_vs_gap(
    df: pd.DataFrame,
    *,
    gap: str = "gap",
    tv: str = "tv_estimate",
    hue: str | None = "loss",
) -> Figure:
    r"""Plot a column (default: the estimated TV) against the gap: mean and std at each gap.

    .. math:: \bar{T}(g) = \frac{1}{|R_g|}\sum_{i \in R_g} \widehat{\mathrm{TV}}_i

    Parameters
    ----------
    df : pandas.DataFrame
        Results table with columns ``gap`` and ``tv``.
    gap, tv : str
        Columns on the x and y axes.
    hue : str or None
        One line per value of this column (ignored when absent from ``df``).

    Returns
    -------
    matplotlib.figure.Figure
        One axis; line ``i`` joins the per-gap means of the ``i``-th ``hue`` value, with its
        error bars (standard deviation over seeds, 0 for a single run).
    """
    _check_columns(df, [gap, tv], "plot_tv_vs_gap")
    fig = Figure(figsize=(5.0, 4.0), layout="constrained")
    ax = fig.add_subplot()
    for label, part in _groups(df, hue):
        _mean_std_line(ax, part, gap, tv, label, capsize=3)
    title = f"{_short_label(tv)} vs {_short_label(gap)}"
    ax.set(xlabel=_label(gap), ylabel=_label(tv), title=title[0].upper() + title[1:])
    ax.set_ylim(-0.02, 1.02)
    ax.legend(title=hue if hue in df.columns else None, fontsize="small")
    return fig


def plot_tv_by_alignment(
    df: pd.DataFrame,
    tv_columns: dict[str, str],
    *,
    gap: str = "gap",
    panel: str | None = "loss",
) -> Figure:
    r"""Plot TV against the gap, one line per alignment map, one panel per ``panel`` value.

    .. math:: \bar{T}_a(g) = \mathrm{mean}_{i \in R_g} \widehat{\mathrm{TV}}_i(T^a)

    Parameters
    ----------
    df : pandas.DataFrame
        Results table with ``gap`` and the columns of ``tv_columns``.
    tv_columns : dict
        Line label (the alignment) -> TV column; labels whose column is absent are skipped.
    gap : str
        Column on the x axis.
    panel : str or None
        One panel per value of this column (one panel when absent).

    Returns
    -------
    matplotlib.figure.Figure
        Axis ``j`` is the ``j``-th panel; its line ``i`` the ``i``-th present alignment.
    """
    present = {label: col for label, col in tv_columns.items() if col in df.columns}
    _check_columns(df, [gap], "plot_tv_by_alignment")
    if not present:
        wanted = list(tv_columns.values())
        raise ValueError(f"plot_tv_by_alignment needs one of the columns {wanted}")
    groups = _groups(df, panel)
    fig = Figure(figsize=(3.6 * len(groups), 3.6), layout="constrained")
    axes = fig.subplots(1, len(groups), squeeze=False, sharey=True)[0]
    for (title, part), ax in zip(groups, axes, strict=True):
        for label, col in present.items():
            _mean_std_line(ax, part, gap, col, label, capsize=2)
        ax.set(xlabel=_label(gap), title=f"{panel or 'runs'}: {title}", ylim=(-0.02, 1.02))
    axes[0].set_ylabel("estimated latent TV (marginal)")
    axes[-1].legend(title="alignment", fontsize="small")
    return fig


def plot_bound_vs_error(
    df: pd.DataFrame,
    *,
    errors: Sequence[str] = ("transfer_error", "target_error"),
    bounds: Sequence[str] = ("bound", "certified_bound"),
) -> Figure:
    r"""Plot each bound against each measured error, with the diagonal ``bound = error``.

    .. math:: (\mathrm{err}_i, B_i) \text{ for } B \in \{\text{bound},
        \text{certified\_bound}\}

    A point under the diagonal is a run whose bound sits below the measured error. The
    certified bound is a guarantee for ``transfer_error`` (the head's error on student
    latents) only; ``target_error`` is the fine-tuned model's error, which the paper's
    theorem speaks of, shown for comparison.

    Parameters
    ----------
    df : pandas.DataFrame
        Results table with the ``errors`` and ``bounds`` columns.
    errors : sequence of str
        One axis per measured-error column (x axis).
    bounds : sequence of str
        One point set per bound column (y axis).

    Returns
    -------
    matplotlib.figure.Figure
        Axis ``j`` is ``errors[j]``; its collection ``i`` holds ``(error, bounds[i])``.
    """
    _check_columns(df, [*errors, *bounds], "plot_bound_vs_error")
    if not errors or not bounds:
        raise ValueError("errors and bounds must each name at least one column")
    fig = Figure(figsize=(5.0 * len(errors), 4.2), layout="constrained")
    top = max(1.0, float(np.nanmax(df[list(bounds)].to_numpy(dtype=float)))) + 0.05
    for error, ax in zip(errors, fig.subplots(1, len(errors), squeeze=False)[0], strict=True):
        for bound in bounds:
            below = int(np.sum(df[bound] < df[error]))
            ax.scatter(
                df[error],
                df[bound],
                marker=_MARKERS.get(bound, "s"),
                alpha=0.75,
                s=24,
                label=f"{_label(bound)} ({below}/{len(df)} below)",
            )
        ax.axline((0.0, 0.0), slope=1.0, color="0.3", linestyle="--", linewidth=1)
        ax.set(
            xlabel=_label(error), ylabel="bound or estimate", xlim=(-0.02, 1.02), ylim=(-0.02, top)
        )
        ax.set_title(f"Bounds vs {_label(error)}")
        ax.legend(fontsize="small", loc="lower right")
    return fig

"""Summary tables of a sweep: does the TV follow the gap, track the error; do the bounds hold.

Tables (each a :class:`pandas.DataFrame`, one row per group, e.g. per distillation loss,
plus ``all``):

- :func:`correlation_table`: Spearman rank correlations, e.g. gap ~ TV and TV ~ target error;
- :func:`coverage_table`: how often a certified bound sits BELOW the error it certifies on
  the same rows (a sanity check; validity is shown by ``benchmarks/coverage.py``);
- :func:`condition_means`: mean of every metric per grid condition, seeds averaged.

:func:`sweep_report` reads a sweep folder, builds the tables and the figures of
:mod:`cmcd.plotting.plots`, and writes ``report.md``.

Examples
--------
>>> df = pd.DataFrame({"loss": ["cmc"] * 4, "gap": [0.0, 0.3, 0.6, 0.9],
...                    "tv_estimate": [0.1, 0.2, 0.4, 0.8],
...                    "target_error": [0.2, 0.25, 0.5, 0.4]})
>>> correlation_table(df, pairs=[("gap", "tv_estimate")])[["loss", "x", "y", "n", "rho"]]
  loss    x            y  n  rho
0  cmc  gap  tv_estimate  4  1.0
1  all  gap  tv_estimate  4  1.0
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from bounds.target.alignment import ALIGNMENTS
from cmcd.runs.sweep import METRIC_COLUMNS, SETTING_COLUMNS, read_results

__all__ = [
    "ASSUMED_CERTIFIES",
    "CERTIFIES",
    "SweepReport",
    "condition_means",
    "correlation_table",
    "coverage_table",
    "DIALS",
    "default_pairs",
    "dial_column",
    "grid_columns",
    "pivot_rho",
    "rho_of",
    "spearman",
    "sweep_report",
]

ALL = "all"
"""Label of the row pooling every group."""

#: Grid columns that set a controlled gap, in order of preference: the modality gap of the
#: synthetic and occlusion datasets (``data.gap``), the correspondence gap of spoken digits
#: (``data.pair_noise``, the share of pairs whose partner is of another class).
DIALS: tuple[str, ...] = ("gap", "pair_noise")

#: Registry: each CERTIFIED column -> the measured error it certifies. Estimates (``bound``,
#: ``aligned_bound``, ...) are never counted as bounds.
CERTIFIES: dict[str, str] = {
    "certified_bound": "transfer_error",
    "aligned_certified_bound": "aligned_transfer_error",
    "certified_target_bound": "target_error",
    "best_certified_target_bound": "target_error",
    "margin_transport_bound": "target_error",
}
#: Columns certified only under an assumption (DIS²), shown apart from the certified ones.
ASSUMED_CERTIFIES: dict[str, str] = {
    "dis2_bound": "target_error",
    "dis2_logits_bound": "target_error",
}
#: Bound columns drawn against the measured errors (estimates and certified), and the errors.
BOUND_COLUMNS: tuple[str, ...] = ("bound", "certified_bound", "aligned_bound",
                                  "aligned_certified_bound")  # fmt: skip
ERROR_COLUMNS: tuple[str, ...] = ("transfer_error", "aligned_transfer_error", "target_error")
#: TV columns: the raw marginal TV, then the marginal TV after each alignment map.
TV_COLUMNS: tuple[str, ...] = (
    "tv_estimate",
    "tv_aligned_estimate",
    *(f"tv_aligned_estimate_{name}" for name in ALIGNMENTS),
)


def grid_columns(df: pd.DataFrame) -> list[str]:
    """Columns of a results table that came from the sweep's grid.

    Examples
    --------
    >>> grid_columns(pd.DataFrame(columns=["run_id", "gap", "loss", "tv_estimate"]))
    ['gap', 'loss']
    """
    settings = {*METRIC_COLUMNS, *SETTING_COLUMNS, "alignment"}
    return [c for c in df.columns if c != "run_id" and c not in settings]


def dial_column(df: pd.DataFrame) -> str | None:
    """Return the sweep's gap dial: the first of :data:`DIALS` in ``df``, else ``None``.

    Examples
    --------
    >>> dial_column(pd.DataFrame(columns=["pair_noise", "loss"]))
    'pair_noise'
    >>> dial_column(pd.DataFrame(columns=["loss"])) is None
    True
    """
    return next((c for c in DIALS if c in df.columns), None)


def spearman(x: Sequence[float], y: Sequence[float]) -> tuple[float, float]:
    r"""Spearman rank correlation and its two-sided p-value; ``nan`` when undefined.

    .. math:: \rho = \mathrm{corr}(\mathrm{rank}(x), \mathrm{rank}(y))

    Undefined (``nan``, our choice, instead of a warning) with fewer than 3 finite pairs or
    a constant column.

    Examples
    --------
    >>> spearman([1, 2, 3, 4], [10, 20, 15, 40])[0]
    0.8
    >>> spearman([1, 1, 1], [1, 2, 3])
    (nan, nan)
    """
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x_arr.shape != y_arr.shape:
        raise ValueError(f"x and y must have the same length, got {x_arr.shape} and {y_arr.shape}")
    keep = np.isfinite(x_arr) & np.isfinite(y_arr)
    x_arr, y_arr = x_arr[keep], y_arr[keep]
    if x_arr.size < 3 or np.ptp(x_arr) == 0 or np.ptp(y_arr) == 0:
        return float("nan"), float("nan")
    result = spearmanr(x_arr, y_arr)
    return round(float(result.statistic), 12), float(result.pvalue)


def _grouped(df: pd.DataFrame, by: str | None) -> list[tuple[str, pd.DataFrame]]:
    """Split ``df`` by ``by`` (in order of appearance), then ``all`` rows."""
    groups = [] if by is None else [(str(k), g) for k, g in df.groupby(by, sort=False)]
    return [*groups, (ALL, df)]


def _check(df: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise ValueError(f"df must be a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing}; df has {list(df.columns)}")


def default_pairs(df: pd.DataFrame) -> list[tuple[str, str]]:
    """Return the column pairs worth correlating in ``df`` (those whose columns it has).

    With a gap dial (a column of :data:`DIALS`): the dial against every TV term (raw,
    label-aware, aligned), the gap metrics, the disagreement and the target error. Always:
    each of those terms against the target error.

    Examples
    --------
    >>> default_pairs(pd.DataFrame({"tv_estimate": [0.5], "target_error": [0.2]}))
    [('tv_estimate', 'target_error')]
    """
    terms = (
        *TV_COLUMNS,
        *("tv_joint_estimate", "tv_aligned_joint_estimate", "gap_norm", "relative_gap"),
        "disagreement",
    )
    dial = dial_column(df)
    pairs = [] if dial is None else [(dial, t) for t in (*terms, "target_error")]
    pairs += [(t, "target_error") for t in terms]
    return [(a, b) for a, b in pairs if _has_values(df, a) and _has_values(df, b)]


def _has_values(df: pd.DataFrame, column: str) -> bool:
    return column in df.columns and bool(df[column].notna().any())


def correlation_table(
    df: pd.DataFrame,
    *,
    pairs: Sequence[tuple[str, str]] | None = None,
    by: str | None = "loss",
    random_state: int | None = 0,
) -> pd.DataFrame:
    r"""Spearman correlation of each column pair, per value of ``by`` and over all rows.

    .. math:: \rho_g(x, y) = \mathrm{Spearman}\big(\{(x_i, y_i) : i \in g\}\big)

    Every rho carries a 95% percentile-bootstrap interval over the rows of its group
    (:func:`bounds.report.correlation.correlation_interval`); ``finding`` is True only when the
    interval excludes 0. A correlation whose interval spans 0 is not a finding. Estimates.

    Parameters
    ----------
    df : pandas.DataFrame
        Results table (one row per run, or :func:`condition_means`).
    pairs : sequence of (str, str) or None
        Column pairs ``(x, y)``; default :func:`default_pairs`.
    by : str or None
        Grouping column (ignored when absent from ``df``).
    random_state : int or None
        Seed of the bootstrap resamples.

    Returns
    -------
    pandas.DataFrame
        One row per pair and group (pair-major): columns ``by`` (or ``group``), ``x``,
        ``y``, ``n``, ``rho``, its two-sided p-value ``p``, ``rho_low``, ``rho_high`` and
        ``finding``.
    """
    from bounds.report.correlation import correlation_interval

    pairs = default_pairs(df) if pairs is None else list(pairs)
    _check(df, [c for pair in pairs for c in pair], "correlation_table")
    by = by if by in df.columns else None
    rows = []
    for x, y in pairs:
        for label, part in _grouped(df, by):
            rho, p = spearman(part[x], part[y])
            ci = correlation_interval(part[x], part[y], random_state=random_state)
            rows.append({by or "group": label, "x": x, "y": y, "n": len(part), "rho": rho,
                         "p": p, "rho_low": ci["low"], "rho_high": ci["high"],
                         "finding": ci["finding"]})  # fmt: skip
    columns = [by or "group", "x", "y", "n", "rho", "p", "rho_low", "rho_high", "finding"]
    return pd.DataFrame(rows, columns=columns)


def rho_of(table: pd.DataFrame, x: str, y: str, group: str = ALL) -> float:
    """Look up ``rho`` of ``(x, y)`` for ``group`` in a :func:`correlation_table`.

    Examples
    --------
    >>> t = pd.DataFrame({"group": ["all"], "x": ["a"], "y": ["b"], "n": [3], "rho": [0.5],
    ...                   "p": [0.7]})
    >>> rho_of(t, "a", "b")
    0.5
    """
    key = table.columns[0]
    hit = table[(table[key] == group) & (table["x"] == x) & (table["y"] == y)]
    if hit.empty:
        raise ValueError(f"no correlation of ({x}, {y}) for {key} {group!r} in the table")
    return float(hit["rho"].iloc[0])


def coverage_table(
    df: pd.DataFrame,
    *,
    bounds: Mapping[str, str] | None = None,
    by: str | None = "loss",
) -> pd.DataFrame:
    r"""Count the runs whose certified bound sits below the error it certifies, on the same rows.

    .. math:: \#\{i : B_i < \mathrm{err}_i\}

    A SANITY CHECK, not evidence of validity: each bound is compared with the error measured
    on the very held-out rows it was computed from (``certified_bound`` exceeds its sample
    ``transfer_error`` by construction). Whether a certified term holds at its level is shown
    by the coverage simulation against a population truth (``benchmarks/coverage.py``).
    Only certified columns count as bounds (:data:`CERTIFIES`, each against the error it
    certifies); DIS² (:data:`ASSUMED_CERTIFIES`) is counted in columns of its own, marked
    ``(assumed)``; estimates never are.

    Parameters
    ----------
    df : pandas.DataFrame
        Results table.
    bounds : mapping or None
        Bound column -> error column; ``None``: every pair of :data:`CERTIFIES` and
        :data:`ASSUMED_CERTIFIES` whose columns ``df`` has with values.
    by : str or None
        Grouping column (ignored when absent from ``df``).

    Returns
    -------
    pandas.DataFrame
        Columns ``by`` (or ``group``), ``n`` and ``BOUND<ERROR`` (a count) per pair.

    Examples
    --------
    >>> df = pd.DataFrame({"certified_bound": [0.1, 0.5], "transfer_error": [0.2, 0.2],
    ...                    "bound": [0.0, 0.0]})
    >>> coverage_table(df).to_dict("records")
    [{'group': 'all', 'n': 2, 'certified_bound<transfer_error': 1}]
    """
    if bounds is None:
        known = {**CERTIFIES, **ASSUMED_CERTIFIES}
        bounds = {b: e for b, e in known.items() if _has_values(df, b) and e in df.columns}
        if not bounds:
            raise ValueError(
                f"coverage_table needs a certified column with its error: one of {CERTIFIES}; "
                f"df has {list(df.columns)}"
            )
    _check(df, [*bounds, *bounds.values()], "coverage_table")
    by = by if by in df.columns else None
    rows = []
    for label, part in _grouped(df, by):
        row: dict[str, object] = {by or "group": label, "n": len(part)}
        for bound, error in bounds.items():
            tag = " (assumed)" if bound in ASSUMED_CERTIFIES else ""
            row[f"{bound}<{error}{tag}"] = int(np.sum(part[bound] < part[error]))
        rows.append(row)
    return pd.DataFrame(rows)


def condition_means(df: pd.DataFrame, *, average_over: str = "seed") -> pd.DataFrame:
    """Mean of every metric per grid condition, averaging over ``average_over`` (seeds).

    Examples
    --------
    >>> df = pd.DataFrame({"run_id": ["a", "b"], "gap": [0.5, 0.5], "seed": [0, 1],
    ...                    "tv_estimate": [0.25, 0.75]})
    >>> condition_means(df).to_dict("records")
    [{'gap': 0.5, 'runs': 2, 'tv_estimate': 0.5}]
    """
    keys = [c for c in grid_columns(df) if c != average_over]
    metrics = [c for c in METRIC_COLUMNS if c in df.columns]
    if not keys:
        means = df[metrics].mean().to_frame().T
        means.insert(0, "runs", len(df))
        return means
    grouped = df.groupby(keys, sort=False)
    means = grouped[metrics].mean()
    means.insert(0, "runs", grouped.size())
    return means.reset_index()


@dataclass
class SweepReport:
    """Tables and figures of one sweep.

    Attributes
    ----------
    tables : dict
        Name -> table: ``correlations`` (per run), ``correlations_of_means`` (seeds
        averaged), ``coverage`` and ``means``.
    figures : dict
        Figure name -> written file.
    markdown : str
        The report as Markdown (also written to ``report.md``).
    """

    tables: dict[str, pd.DataFrame]
    figures: dict[str, Path] = field(default_factory=dict)
    markdown: str = ""


def summary_tables(df: pd.DataFrame, *, by: str | None = "loss") -> dict[str, pd.DataFrame]:
    """Build the four tables of a sweep report from its results table."""
    from bounds.report.tightness import tightness_table

    means = condition_means(df)
    tables = {
        "correlations": correlation_table(df, by=by),
        "correlations_of_means": correlation_table(means, by=by),
        "coverage": coverage_table(df, by=by),
        "means": means,
    }
    tight = tightness_table(df)
    if not tight.empty:
        tables["tightness"] = tight
    return tables


_TITLES: dict[str, str] = {
    "correlations": "Spearman correlations over runs, rho [95% bootstrap interval]; * = finding",
    "correlations_of_means": (
        "Spearman correlations of seed-averaged conditions, rho [95% bootstrap interval]; "
        "* = finding"
    ),
    "coverage": (
        "Runs whose certified bound sits below the error it certifies, on the same rows "
        "(counts out of n): a sanity check, not a validity test (see benchmarks/coverage.py)"
    ),
    "means": "Seed-averaged metrics per condition",
    "tightness": "Validity, slack (term - error), Spearman and MAE of every bound and estimate",
}

#: Target-model terms drawn against the measured target error (when the table has them).
TARGET_FIGURE_TERMS: tuple[str, ...] = (
    "certified_target_bound", "best_certified_target_bound", "dis2_bound",
    "atc_estimate", "pair_disagreement", "paired_error_estimate",
)  # fmt: skip


def pivot_rho(table: pd.DataFrame, *, intervals: bool = False) -> pd.DataFrame:
    """Compact view of a :func:`correlation_table`: one row per pair, one column per group.

    Cells hold ``rho`` (with ``intervals``: the text ``rho [low, high]``, marked ``*`` when the
    bootstrap interval excludes 0, i.e. a finding); column names carry the group size, e.g.
    ``cmc (n=18)``.

    Examples
    --------
    >>> t = correlation_table(pd.DataFrame({"gap": [0, 1, 2], "tv_estimate": [0.1, 0.5, 0.4]}),
    ...                       pairs=[("gap", "tv_estimate")])
    >>> pivot_rho(t).to_dict("records")
    [{'pair': 'gap ~ tv_estimate', 'all (n=3)': 0.5}]
    """
    key = table.columns[0]
    labels = {g: f"{g} (n={n})" for g, n in zip(table[key], table["n"], strict=True)}
    out = table.assign(pair=table["x"] + " ~ " + table["y"], column=table[key].map(labels))
    if intervals:
        out = out.assign(rho=[_with_interval(r) for r in out.to_dict("records")])
    wide = out.pivot(index="pair", columns="column", values="rho")
    pairs = list(dict.fromkeys(out["pair"]))
    return (
        wide.loc[pairs, list(dict.fromkeys(out["column"]))].reset_index().rename_axis(None, axis=1)
    )


def _with_interval(row: dict) -> str:
    """``rho [low, high]`` (``*``: the interval excludes 0) of one correlation-table row."""
    if not np.isfinite(row["rho"]):
        return "n/a"
    star = "*" if row.get("finding") else ""
    return f"{row['rho']:.2f} [{row['rho_low']:.2f}, {row['rho_high']:.2f}]{star}"


def to_markdown(tables: dict[str, pd.DataFrame], title: str = "Sweep report") -> str:
    """Render the tables as Markdown sections (3 significant digits).

    Correlation tables are shown pivoted with their bootstrap intervals (:func:`pivot_rho`;
    ``*`` marks an interval that excludes 0, the only correlations called findings).
    """
    parts = [f"# {title}", ""]
    for name, table in tables.items():
        is_rho = {"x", "y", "rho"} <= set(table.columns)
        shown = pivot_rho(table, intervals=True) if is_rho else table
        parts += [
            f"## {_TITLES.get(name, name)}",
            "",
            shown.to_markdown(index=False, floatfmt=".3g"),
            "",
        ]
    return "\n".join(parts)


def _figures(df: pd.DataFrame, figures_dir: Path, prefix: str) -> dict[str, Path]:
    """Draw and save the report figures that ``df``'s columns allow."""
    from cmcd.plotting.plots import save_figure

    return {name: save_figure(fig, f"{prefix}{name}", figures_dir) for name, fig in
            report_figures(df).items()}  # fmt: skip


def alignment_columns(df: pd.DataFrame) -> dict[str, str]:
    """Alignment name -> its marginal TV column in ``df`` (``none`` is the raw TV).

    The configured alignment's column is ``tv_aligned_estimate``; its name is read from the
    ``alignment`` column when the table has one (our choice: ``center`` otherwise, the default).
    """
    chosen = str(df["alignment"].iloc[0]) if "alignment" in df.columns else "center"
    out = {"none": "tv_estimate", chosen: "tv_aligned_estimate"}
    for name in ALIGNMENTS:
        column = f"tv_aligned_estimate_{name}"
        if name not in out and column in df.columns and df[column].notna().any():
            out[name] = column
    return {name: col for name, col in out.items() if col in df.columns}


def report_figures(df: pd.DataFrame) -> dict[str, Figure]:
    """Build the figures of a sweep report that ``df``'s columns allow, by name."""
    from cmcd.plotting.plots import (
        plot_bound_vs_error,
        plot_error_vs_tv,
        plot_tv_by_alignment,
        plot_tv_vs_gap,
    )

    hue = "loss" if "loss" in df.columns else None
    bounds = [b for b in BOUND_COLUMNS if b in df.columns and df[b].notna().any()]
    errors = [e for e in ERROR_COLUMNS if e in df.columns and df[e].notna().any()]
    figs = {
        "error_vs_tv": plot_error_vs_tv(df, hue=hue),
        "bound_vs_error": plot_bound_vs_error(df, errors=errors, bounds=bounds),
    }
    terms = [t for t in TARGET_FIGURE_TERMS if t in df.columns and df[t].notna().any()]
    if terms and "target_error" in df.columns:
        figs["target_terms_vs_error"] = plot_bound_vs_error(
            df, errors=("target_error",), bounds=terms
        )
    if "tv_aligned_estimate" in df.columns and df["tv_aligned_estimate"].notna().any():
        figs["error_vs_aligned_tv"] = plot_error_vs_tv(df, tv="tv_aligned_estimate", hue=hue)
    dial = dial_column(df)
    if dial is not None:
        figs[f"tv_vs_{dial}"] = plot_tv_vs_gap(df, gap=dial, hue=hue)
        figs[f"tv_vs_{dial}_by_alignment"] = plot_tv_by_alignment(
            df, alignment_columns(df), gap=dial
        )
    if dial is not None and "target_error" in df.columns:
        figs[f"error_vs_{dial}"] = plot_tv_vs_gap(df, gap=dial, tv="target_error", hue=hue)
    if {"source", "target"} <= set(df.columns):
        figs["pairs_error_vs_tv"] = plot_error_vs_tv(pair_means(df), hue="pair")
    return figs


def pair_means(df: pd.DataFrame) -> pd.DataFrame:
    """Seed-averaged rows of a view-pair sweep, one per (``source->target`` pair, grid cell).

    Examples
    --------
    >>> df = pd.DataFrame({"run_id": ["a", "b"], "source": ["fac", "fac"],
    ...                    "target": ["zer", "zer"], "seed": [0, 1], "tv_estimate": [0.2, 0.4]})
    >>> pair_means(df)[["pair", "runs"]].to_dict("records")
    [{'pair': 'fac->zer', 'runs': 2}]
    """
    runs = df.drop(columns=[c for c in ("pair",) if c in df.columns])
    runs = runs.assign(pair=runs["source"] + "->" + runs["target"])
    return condition_means(runs.drop(columns=["source", "target"]))


def sweep_report(
    path: str | Path,
    *,
    figures_dir: str | Path | None = None,
    by: str | None = "loss",
    prefix: str = "",
    write: bool = True,
) -> SweepReport:
    """Summarise a sweep: tables, figures and ``report.md``.

    Parameters
    ----------
    path : str or Path
        The sweep folder or its ``results.csv``.
    figures_dir : str or Path or None
        Where figures go (default: ``figures/`` beside ``results.csv``).
    by : str or None
        Grouping column of the tables (default ``loss``, skipped when absent).
    prefix : str
        Prepended to figure file names.
    write : bool
        Write the figures and ``report.md``; when False only the tables are built.

    Returns
    -------
    SweepReport

    Raises
    ------
    FileNotFoundError
        When there is no results file.
    ValueError
        When the results table is empty or lacks a needed column, or (with ``write``) when
        the figure folder is an existing file or cannot be created; checked before any work.
    """
    from cmcd.validation import check_out_dir

    folder = Path(path) if Path(path).is_dir() else Path(path).parent
    figures = Path(figures_dir) if figures_dir else folder / "figures"
    if write:
        check_out_dir(figures, option="figures_dir")
    df = read_results(path)
    if df.empty:
        raise ValueError(f"{path}: the sweep has no finished runs yet")
    tables = summary_tables(df, by=by)
    report = SweepReport(tables, markdown=to_markdown(tables, f"Sweep report: {folder}"))
    if write:
        report.figures = _figures(df, figures, prefix)
        (folder / "report.md").write_text(report.markdown)
    return report

r"""Is the bound valid, is it tight, does it track the error? One table over many runs.

For each term of a sweep's results and the measured error it speaks of:

- validity (bounds only): the share of runs with :math:`\text{bound} \ge \text{error}`;
- tightness: the median and 90th percentile of :math:`\text{term} - \text{error}`;
- Spearman's correlation of term and error over runs;
- the mean absolute error :math:`\tfrac1n \sum |\text{term} - \text{error}|` (the figure of
  merit of an estimate).

:func:`rank_teachers` asks the question of a researcher with several candidate source
modalities: does a term computed without target labels rank the teachers of each target
as their measured target errors do (Kendall's tau)?
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

__all__ = ["TERM_TARGETS", "rank_teachers", "tightness_table"]

#: term -> (kind, measured column it bounds or estimates). ``bound`` terms are checked for
#: validity; ``estimate`` terms are judged by their absolute error.
TERM_TARGETS: dict[str, tuple[str, str]] = {
    "certified_target_bound": ("bound", "target_error"),
    "best_certified_target_bound": ("bound", "target_error"),
    "margin_transport_bound": ("bound", "target_error"),
    "dis2_bound": ("bound", "target_error"),
    "dis2_estimate": ("estimate", "target_error"),
    "atc_estimate": ("estimate", "target_error"),
    "disagreement_estimate": ("estimate", "target_error"),
    "pair_disagreement": ("estimate", "target_error"),
    "paired_error_estimate": ("estimate", "target_error"),
    "certified_bound": ("bound", "transfer_error"),
    "aligned_certified_bound": ("bound", "aligned_transfer_error"),
    "bound": ("estimate", "transfer_error"),
    "aligned_bound": ("estimate", "aligned_transfer_error"),
}


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def _term_row(term: str, kind: str, error: str, frame: pd.DataFrame) -> dict[str, object]:
    both = frame[[term, error]].apply(pd.to_numeric, errors="coerce").dropna()
    value, measured = both[term].to_numpy(float), both[error].to_numpy(float)
    slack = value - measured
    return {
        "term": term,
        "kind": kind,
        "compared_with": error,
        "n_runs": int(value.size),
        "validity": float(np.mean(slack >= -1e-12)) if kind == "bound" else float("nan"),
        "median_slack": float(np.median(slack)),
        "p90_slack": float(np.quantile(slack, 0.9)),
        "spearman": _spearman(value, measured),
        "mae": float(np.mean(np.abs(slack))),
    }


def tightness_table(
    frame: pd.DataFrame, terms: Mapping[str, tuple[str, str]] | None = None
) -> pd.DataFrame:
    """One row per term present in ``frame`` (a sweep's results, one row per run).

    Parameters
    ----------
    frame : DataFrame
        Runs as rows; term and error columns as named in ``terms``. Runs where a term or its
        error is missing are left out of that term's row (``n_runs`` says how many remain).
    terms : mapping or None
        ``term -> (kind, error column)``; ``None`` uses :data:`TERM_TARGETS`.

    Returns
    -------
    DataFrame
        Columns term, kind, compared_with, n_runs, validity, median_slack, p90_slack,
        spearman, mae. Values are descriptive statistics of estimates over runs.

    Examples
    --------
    >>> runs = pd.DataFrame({"certified_target_bound": [0.3, 0.5], "target_error": [0.1, 0.6]})
    >>> tightness_table(runs)[["term", "validity", "median_slack"]].round(2).values.tolist()
    [['certified_target_bound', 0.5, 0.05]]
    """
    terms = TERM_TARGETS if terms is None else terms
    rows = [
        _term_row(term, kind, error, frame)
        for term, (kind, error) in terms.items()
        if term in frame and error in frame and frame[term].notna().any()
    ]
    return pd.DataFrame(rows)


def rank_teachers(
    frame: pd.DataFrame,
    terms: Sequence[str],
    *,
    target: str = "data.target",
    source: str = "data.source",
    error: str = "target_error",
) -> pd.DataFrame:
    r"""Kendall's tau between each label-free term and the measured error, across teachers.

    .. math:: \tau_t = \mathrm{Kendall}\big(\{\text{term}(s, t)\}_s,\ \{\text{err}(s, t)\}_s\big)

    Runs are first averaged over every other column (seeds, for instance) per (target,
    source). A target with fewer than two teachers gets ``nan``. The last row (target
    ``"mean"``) averages tau over targets.

    Returns
    -------
    DataFrame
        One row per target and term: ``target``, ``term``, ``n_teachers``, ``kendall_tau``,
        ``best_by_term`` (the teacher the term ranks first) and ``best_by_error``.
    """
    for column in (target, source, error, *terms):
        if column not in frame:
            raise ValueError(f"column {column!r} not in the results; columns: {sorted(frame)}")
    means = frame.groupby([target, source])[[error, *terms]].mean().reset_index()
    rows = []
    for tgt, group in means.groupby(target):
        for term in terms:
            tau = kendalltau(group[term], group[error]).statistic if len(group) > 1 else np.nan
            rows.append({
                "target": tgt, "term": term, "n_teachers": len(group), "kendall_tau": float(tau),
                "best_by_term": group.loc[group[term].idxmin(), source],
                "best_by_error": group.loc[group[error].idxmin(), source],
            })  # fmt: skip
    out = pd.DataFrame(rows)
    summary = out.groupby("term", sort=False)["kendall_tau"].mean().reset_index()
    summary["target"] = "mean"
    return pd.concat([out, summary], ignore_index=True)

r"""Is the bound valid, is it tight, does it track the error? One table over many runs.

For each term of a sweep's results and the measured error it speaks of:

- validity (bounds only): the share of runs with :math:`\text{bound} \ge \text{error}`;
- tightness: the median and 90th percentile of :math:`\text{term} - \text{error}`;
- Spearman's correlation of term and error over runs, with a 95% bootstrap interval over
  runs (:func:`bounds.report.correlation.correlation_interval`; a finding only when it excludes 0);
- the mean absolute error :math:`\tfrac1n \sum |\text{term} - \text{error}|` (the figure of
  merit of an estimate).

:func:`rank_teachers` asks the question of a researcher with several candidate source
modalities: does a term computed without target labels rank the teachers of each target
as their measured target errors do (Kendall's tau, with a bootstrap interval)? The teacher a
term ranks first is a pick made after seeing the values of every candidate: its term value is
not certified at ``alpha`` for the picked teacher (a simultaneous statement would need a
Bonferroni split, ``alpha / n_teachers`` each), and the table says so (``pick_certified``).
Every number here is a descriptive statistic of estimates over runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from bounds.report.correlation import bootstrap_interval, correlation_interval

__all__ = ["TERM_TARGETS", "rank_teachers", "tightness_table"]

#: term -> (kind, measured column it bounds or estimates). ``bound`` terms (certified) and
#: ``assumed bound`` terms (certified under an assumption: DIS²) are checked for validity on
#: the runs (a sanity check on the same rows, not a coverage test); ``estimate`` terms are
#: judged by their absolute error.
TERM_TARGETS: dict[str, tuple[str, str]] = {
    "certified_target_bound": ("bound", "target_error"),
    "best_certified_target_bound": ("bound", "target_error"),
    "margin_transport_bound": ("bound", "target_error"),
    "dis2_bound": ("assumed bound", "target_error"),
    "dis2_logits_bound": ("assumed bound", "target_error"),
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


def _term_row(
    term: str, kind: str, error: str, frame: pd.DataFrame, random_state: int | None
) -> dict[str, object]:
    both = frame[[term, error]].apply(pd.to_numeric, errors="coerce").dropna()
    value, measured = both[term].to_numpy(float), both[error].to_numpy(float)
    slack = value - measured
    rho = correlation_interval(value, measured, random_state=random_state)
    return {
        "term": term,
        "kind": kind,
        "compared_with": error,
        "n_runs": int(value.size),
        "validity": float(np.mean(slack >= -1e-12)) if kind.endswith("bound") else float("nan"),
        "median_slack": float(np.median(slack)),
        "p90_slack": float(np.quantile(slack, 0.9)),
        "spearman": rho["value"],
        "spearman_low": rho["low"],
        "spearman_high": rho["high"],
        "finding": rho["finding"],
        "mae": float(np.mean(np.abs(slack))),
    }


def tightness_table(
    frame: pd.DataFrame,
    terms: Mapping[str, tuple[str, str]] | None = None,
    *,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """One row per term present in ``frame`` (a sweep's results, one row per run).

    Parameters
    ----------
    frame : DataFrame
        Runs as rows; term and error columns as named in ``terms``. Runs where a term or its
        error is missing are left out of that term's row (``n_runs`` says how many remain).
    terms : mapping or None
        ``term -> (kind, error column)``; ``None`` uses :data:`TERM_TARGETS`.
    random_state : int or None
        Seed of the bootstrap resamples of each Spearman interval.

    Returns
    -------
    DataFrame
        Columns term, kind, compared_with, n_runs, validity, median_slack, p90_slack,
        spearman (with its 95% bootstrap interval over runs, spearman_low, spearman_high),
        finding (the interval excludes 0), mae. Values are descriptive statistics of
        estimates over runs; ``validity`` compares each bound with the error of the same
        rows (a sanity check, not a coverage test).

    Examples
    --------
    >>> runs = pd.DataFrame({"certified_target_bound": [0.3, 0.5], "target_error": [0.1, 0.6]})
    >>> tightness_table(runs)[["term", "validity", "median_slack"]].round(2).values.tolist()
    [['certified_target_bound', 0.5, 0.05]]
    """
    terms = TERM_TARGETS if terms is None else terms
    rows = [
        _term_row(term, kind, error, frame, random_state)
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
    random_state: int | None = 0,
) -> pd.DataFrame:
    r"""Kendall's tau between each label-free term and the measured error, across teachers.

    .. math:: \tau_t = \mathrm{Kendall}\big(\{\text{term}(s, t)\}_s,\ \{\text{err}(s, t)\}_s\big)

    Runs are first averaged over every other column (seeds, for instance) per (target,
    source). A target with fewer than three teachers gets ``nan``. The last rows (target
    ``"mean"``) average tau over targets, with a percentile-bootstrap interval over the
    targets (it reflects the spread between targets only); each per-target tau has one over
    the teachers, ``nan`` with fewer than :data:`bounds.report.correlation.MIN_ROWS` teachers.
    ``random_state`` seeds every bootstrap.

    Returns
    -------
    DataFrame
        One row per target and term: ``target``, ``term``, ``n_teachers``, ``kendall_tau``,
        ``tau_low``, ``tau_high``, ``finding`` (the interval excludes 0), ``best_by_term``
        (the teacher the term ranks first), ``best_by_error`` and ``pick_certified``
        (always False: a pick after seeing every candidate is not certified at alpha); the
        ``"mean"`` rows give ``n_targets``, the targets with a defined tau.
    """
    for column in (target, source, error, *terms):
        if column not in frame:
            raise ValueError(f"column {column!r} not in the results; columns: {sorted(frame)}")
    means = frame.groupby([target, source])[[error, *terms]].mean().reset_index()
    rows = [
        _rank_row(tgt, term, group, source, error, random_state)
        for tgt, group in means.groupby(target)
        for term in terms
    ]
    out = pd.DataFrame(rows)
    return pd.concat([out, _mean_rows(out, random_state)], ignore_index=True)


def _rank_row(
    tgt: str, term: str, group: pd.DataFrame, source: str, error: str, random_state: int | None
) -> dict:
    """Kendall tau of one term across the teachers of one target, with its interval."""
    tau = correlation_interval(group[term], group[error], method="kendall",
                               random_state=random_state)  # fmt: skip
    return {
        "target": tgt, "term": term, "n_teachers": len(group), "kendall_tau": tau["value"],
        "tau_low": tau["low"], "tau_high": tau["high"], "finding": tau["finding"],
        "best_by_term": group.loc[group[term].idxmin(), source],
        "best_by_error": group.loc[group[error].idxmin(), source],
        "pick_certified": False,
    }  # fmt: skip


def _mean_rows(out: pd.DataFrame, random_state: int | None) -> pd.DataFrame:
    """Tau averaged over targets, with a percentile-bootstrap interval over the targets."""
    rows = []
    for term, part in out.groupby("term", sort=False):
        mean = bootstrap_interval(lambda v: v.mean(axis=1), part["kendall_tau"],
                                  random_state=random_state)  # fmt: skip
        rows.append({"target": "mean", "term": term, "n_targets": mean["n"],
                     "kendall_tau": mean["value"], "tau_low": mean["low"],
                     "tau_high": mean["high"], "finding": mean["finding"]})  # fmt: skip
    return pd.DataFrame(rows)

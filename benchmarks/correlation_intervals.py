"""Every correlation the README quotes, with the 95% bootstrap interval that decides findings.

Reads the committed sweep tables (``benchmarks/results/gap_sweep_*.csv``, one row per run)
and the teacher sweep's target terms (``target_terms_mfeat_teachers.csv``), and recomputes
each correlation the README quotes with a percentile-bootstrap interval over its rows
(:func:`bounds.report.correlation.correlation_interval`, 2000 resamples, seed 0):

- ``over = runs``: Spearman rho over the runs of a loss and over all runs;
- ``over = seed means``: over the grid conditions with seeds averaged (6 gap levels, or
  8 mfeat view pairs, per loss);
- ``over = one seed``: the dial against the centred TV within each seed and loss (6 gaps);
- ``over = targets``: the teacher-ranking Kendall tau averaged over the 6 targets, its
  interval resampling the targets.

A correlation is a *finding* only when its interval excludes 0; fewer than
:data:`bounds.report.correlation.MIN_ROWS` rows get no interval. Descriptive statistics of
estimates; nothing here is certified.

Writes ``benchmarks/results/correlation_intervals.{csv,md}``.

Usage::

    python benchmarks/correlation_intervals.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bounds.report.tightness import rank_teachers
from bounds.target.target_terms import TARGET_TERMS
from cmcd.runs.report import condition_means, correlation_table, dial_column

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SWEEPS = {
    "digits occlusion": "gap_sweep_digits.csv",
    "digits sketch": "gap_sweep_digits_sketch.csv",
    "Fashion-MNIST occlusion": "gap_sweep_fashion.csv",
    "mfeat view pairs": "gap_sweep_mfeat.csv",
    "spoken pair noise": "gap_sweep_spoken.csv",
}
#: The terms the README correlates with the target error (and with the gap dial).
TERMS = (
    "tv_estimate", "tv_aligned_estimate", "tv_aligned_estimate_whiten",
    "tv_aligned_estimate_linear", "tv_aligned_joint_estimate", "disagreement",
)  # fmt: skip


def _pairs(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Each term against the target error, then the dial (when any) against each."""
    terms = [t for t in TERMS if t in frame and frame[t].notna().any()]
    pairs = [(t, "target_error") for t in terms]
    dial = dial_column(frame)
    if dial is not None:
        pairs += [(dial, t) for t in (*terms, "target_error")]
    return pairs


def _tidy(table: pd.DataFrame, name: str, over: str) -> pd.DataFrame:
    return table.rename(columns={"loss": "group"}).assign(
        sweep=name, statistic="spearman", over=over
    )


def sweep_correlations(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rho over runs, over seed means and within each seed, per loss (and over all runs)."""
    pairs = _pairs(frame)
    runs = _tidy(correlation_table(frame, pairs=pairs, by="loss"), name, "runs")
    means = correlation_table(condition_means(frame), pairs=pairs, by="loss")
    means = _tidy(means[means["loss"] != "all"], name, "seed means")
    dial = dial_column(frame)
    if dial is None:
        return pd.concat([runs, means], ignore_index=True)
    seeds = []
    for seed, part in frame.groupby("seed"):
        one = correlation_table(part, pairs=[(dial, "tv_aligned_estimate")], by="loss")
        one = one[one["loss"] != "all"].assign(loss=lambda t, s=seed: t["loss"] + f" seed {s}")
        seeds.append(_tidy(one, name, "one seed"))
    return pd.concat([runs, means, *seeds], ignore_index=True)


def teacher_taus() -> pd.DataFrame:
    """Kendall tau of each label-free term across teachers, averaged over targets."""
    frame = pd.read_csv(RESULTS / "target_terms_mfeat_teachers.csv")
    terms = [t for t in TARGET_TERMS if t in frame and frame[t].notna().any()]
    ranks = rank_teachers(frame, terms)
    mean = ranks[ranks["target"] == "mean"]
    return pd.DataFrame({
        "sweep": "mfeat teachers", "over": "targets", "group": "mean over targets",
        "x": mean["term"], "y": "target_error", "n": mean["n_targets"].astype(int),
        "rho": mean["kendall_tau"], "rho_low": mean["tau_low"], "rho_high": mean["tau_high"],
        "finding": mean["finding"], "statistic": "kendall",
    })  # fmt: skip


def main() -> None:
    frames = [sweep_correlations(n, pd.read_csv(RESULTS / f)) for n, f in SWEEPS.items()]
    table = pd.concat([*frames, teacher_taus()], ignore_index=True)
    table = table[["sweep", "statistic", "over", "group", "x", "y", "n", "rho", "rho_low",
                   "rho_high", "finding"]]  # fmt: skip
    table.to_csv(RESULTS / "correlation_intervals.csv", index=False)
    shown = table.assign(finding=table["finding"].map({True: "yes", False: "no"}))
    text = shown.to_markdown(index=False, floatfmt=".2f")
    (RESULTS / "correlation_intervals.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

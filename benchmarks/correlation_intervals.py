"""Every correlation the README quotes, with the 95% bootstrap interval that decides findings.

Reads the committed sweep tables (``benchmarks/results/gap_sweep_*.csv``, one row per run)
and the teacher sweep's target terms (``target_terms_mfeat_teachers.csv``), and recomputes
each Spearman rho (per loss and over all runs) and the teacher-ranking Kendall tau with a
percentile-bootstrap interval over runs (:func:`bounds.correlation.correlation_interval`,
2000 resamples, seed 0). A correlation is a *finding* only when its interval excludes 0.
Descriptive statistics of estimates; nothing here is certified.

Writes ``benchmarks/results/correlation_intervals.{csv,md}``.

Usage::

    python benchmarks/correlation_intervals.py
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bounds.target_terms import TARGET_TERMS
from bounds.tightness import rank_teachers
from cmcd.report import correlation_table, dial_column

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


def sweep_correlations(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Rho of each term with the target error (and of the dial with each), per loss and all."""
    terms = [t for t in TERMS if t in frame and frame[t].notna().any()]
    pairs = [(t, "target_error") for t in terms]
    dial = dial_column(frame)
    if dial is not None:
        pairs += [(dial, t) for t in (*terms, "target_error")]
    table = correlation_table(frame, pairs=pairs, by="loss")
    return table.rename(columns={"loss": "group"}).assign(sweep=name, statistic="spearman")


def teacher_taus() -> pd.DataFrame:
    """Kendall tau of each label-free term across teachers, averaged over targets."""
    frame = pd.read_csv(RESULTS / "target_terms_mfeat_teachers.csv")
    terms = [t for t in TARGET_TERMS if t in frame and frame[t].notna().any()]
    ranks = rank_teachers(frame, terms)
    mean = ranks[ranks["target"] == "mean"]
    return pd.DataFrame({
        "sweep": "mfeat teachers", "group": "mean over 6 targets", "x": mean["term"],
        "y": "target_error", "n": 6, "rho": mean["kendall_tau"], "rho_low": mean["tau_low"],
        "rho_high": mean["tau_high"], "finding": mean["finding"], "statistic": "kendall",
    })  # fmt: skip


def main() -> None:
    frames = [sweep_correlations(n, pd.read_csv(RESULTS / f)) for n, f in SWEEPS.items()]
    table = pd.concat([*frames, teacher_taus()], ignore_index=True)
    table = table[["sweep", "statistic", "group", "x", "y", "n", "rho", "rho_low", "rho_high",
                   "finding"]]  # fmt: skip
    table.to_csv(RESULTS / "correlation_intervals.csv", index=False)
    shown = table.assign(finding=table["finding"].map({True: "yes", False: "no"}))
    text = shown.to_markdown(index=False, floatfmt=".2f")
    (RESULTS / "correlation_intervals.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()

"""Theory vs practice: controlled gap sweeps (digits, fashion, spoken digits) and mfeat pairs.

Runs the sweeps of ``configs/sweep_*.yaml`` named in :data:`SWEEPS` with
:func:`cmcd.runs.sweep.run_sweep` (resumable: a rerun skips finished runs), then writes

- ``benchmarks/results/gap_sweep_{digits,digits_sketch,fashion,mfeat,spoken}.csv``: one row
  per run (``spoken`` sweeps the correspondence gap ``data.pair_noise`` instead of
  ``data.gap``);
- ``benchmarks/results/gap_sweep_summary.md``: Spearman rho(gap, TV), rho(TV, target error),
  how often the estimated and the certified bound sit below the measured errors, and for mfeat
  the view pairs ordered by TV; for sweeps with target terms, their tightness table;
- ``figures/gap_sweep_{name}_{error_vs_tv,tv_vs_gap,bound_vs_error}.png``.

Usage::

    python benchmarks/gap_sweeps.py                          # every sweep, 2 workers
    python benchmarks/gap_sweeps.py --only digits --workers 1
    python benchmarks/gap_sweeps.py --summary-only           # rebuild the summary and figures
    python benchmarks/gap_sweeps.py --quick                  # smoke test, outputs under runs/
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

from bounds.report.tightness import tightness_table
from cmcd.config import load_config
from cmcd.plotting.plots import save_figure
from cmcd.runs.report import (
    alignment_columns,
    condition_means,
    correlation_table,
    coverage_table,
    dial_column,
    pivot_rho,
    report_figures,
    spearman,
)
from cmcd.runs.sweep import parse_sweep, read_results, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = {
    "digits": ROOT / "configs" / "sweep_digits_gap.yaml",
    "digits_sketch": ROOT / "configs" / "sweep_digits_sketch_gap.yaml",
    "fashion": ROOT / "configs" / "sweep_fashion_gap.yaml",
    "mfeat": ROOT / "configs" / "sweep_mfeat_pairs.yaml",
    "spoken": ROOT / "configs" / "sweep_spoken_pair_noise.yaml",
}
GOALS = {("gap", "tv_estimate"): 0.9, ("tv_estimate", "target_error"): 0.7}
#: Targets on seed-averaged conditions, per loss (issue 13: the target error rises with
#: ``pair_noise`` for CMC and CMD).
CONDITION_GOALS = {("pair_noise", "target_error"): (0.9, ("cmc", "cmd"))}
#: Targets of the aligned TV (issue 10), for the configured (default) alignment: rho(gap, TV)
#: within each loss and seed over the gaps, and rho(TV, target error) over all runs.
ALIGNED_GOALS = {"per_seed_gap": 0.9, "all_runs_error": 0.8}


def quick_spec(spec: dict) -> dict:
    """Shrink a sweep for a smoke test: 2 epochs, small data, two values per grid key."""
    spec = {**spec, "grid": {k: v[:2] for k, v in spec["grid"].items()}}
    spec["pretrain"] = {**spec.get("pretrain", {}), "epochs": 2}
    spec["distill"] = {**spec.get("distill", {}), "epochs": 2}
    if spec["data"]["name"] in ("digits", "fashion"):
        spec["data"] = {**spec["data"], "n_samples": 400}
    return spec


def with_pair(df: pd.DataFrame) -> pd.DataFrame:
    """Add a ``pair`` column (``source->target``) to an mfeat table."""
    if {"source", "target"} <= set(df.columns):
        df = df.assign(pair=df["source"] + "->" + df["target"])
    return df


def figures(name: str, df: pd.DataFrame, figures_dir: Path) -> list[Path]:
    plain = df.drop(columns=[c for c in ("pair",) if c in df.columns])
    return [save_figure(fig, f"gap_sweep_{name}_{kind}", figures_dir)
            for kind, fig in report_figures(plain).items()]  # fmt: skip


def goal_lines(table: pd.DataFrame) -> list[str]:
    """One line per goal and group of a long correlation table: met or missed."""
    group = table.columns[0]
    lines = []
    for row in table.itertuples(index=False):
        goal = GOALS.get((row.x, row.y))
        if goal is not None:
            verdict = "meets" if row.rho >= goal else "MISSES"
            lines.append(
                f"- rho({row.x}, {row.y}) [{getattr(row, group)}] = {row.rho:.3f} "
                f"(n = {row.n}): {verdict} the goal >= {goal}"
            )
    return lines


def alignment_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per alignment and loss: rho(gap, TV) over runs and per seed, rho(TV, target error).

    ``gap`` is the sweep's dial (:func:`cmcd.runs.report.dial_column`).
    """
    dial, rows = dial_column(df), []
    for alignment, column in alignment_columns(df).items():
        for loss, part in [*df.groupby("loss", sort=False), ("all", df)]:
            per_seed = [spearman(s[dial], s[column])[0] for _, s in part.groupby("seed")]
            if loss == "all":
                per_seed = [spearman(s[dial], s[column])[0]
                            for _, s in part.groupby(["loss", "seed"])]  # fmt: skip
            rows.append(
                {
                    "alignment": alignment,
                    "loss": loss,
                    "runs": len(part),
                    "rho(gap, TV)": spearman(part[dial], part[column])[0],
                    "min per-seed rho(gap, TV)": min(per_seed),
                    "mean per-seed rho(gap, TV)": sum(per_seed) / len(per_seed),
                    "rho(TV, target error)": spearman(part[column], part["target_error"])[0],
                    "mean TV": part[column].mean(),
                }
            )
    return pd.DataFrame(rows)


def aligned_goal_lines(table: pd.DataFrame, chosen: str) -> list[str]:
    """Met or missed, for the configured alignment's two targets."""
    mine = table[table["alignment"] == chosen]
    lines = []
    for row in mine[mine["loss"] != "all"].itertuples(index=False):
        value, goal = row[4], ALIGNED_GOALS["per_seed_gap"]
        verdict = "meets" if value >= goal else "MISSES"
        lines.append(f"- min over seeds of rho(gap, TV) [{chosen}, {row.loss}] = {value:.3f}: "
                     f"{verdict} the target >= {goal}")  # fmt: skip
    value, goal = mine[mine["loss"] == "all"]["rho(TV, target error)"].iloc[0], 0.8
    verdict = "meets" if value >= goal else "MISSES"
    lines.append(f"- rho(TV, target error) [{chosen}, all runs] = {value:.3f}: {verdict} the "
                 f"target >= {ALIGNED_GOALS['all_runs_error']}")  # fmt: skip
    return lines


def condition_goal_lines(per_cond: pd.DataFrame) -> list[str]:
    """Met or missed, for :data:`CONDITION_GOALS` on a seed-averaged correlation table."""
    group, lines = per_cond.columns[0], []
    for row in per_cond.itertuples(index=False):
        goal, groups = CONDITION_GOALS.get((row.x, row.y), (None, ()))
        if goal is not None and getattr(row, group) in groups:
            verdict = "meets" if row.rho >= goal else "MISSES"
            lines.append(
                f"- rho({row.x}, {row.y}) [{getattr(row, group)}, seeds averaged] = "
                f"{row.rho:.3f} (n = {row.n} conditions): {verdict} the target >= {goal}"
            )
    return lines


def tightness_section(df: pd.DataFrame) -> list[str]:
    """List the target terms' validity, slack, Spearman and MAE over runs (if present)."""
    table = tightness_table(df)
    if table.empty:
        return []
    return [
        "Target terms (`bounds.target.target_terms`) against the measured errors, over runs "
        "(bounds: validity and slack; estimates: MAE):",
        "",
        table.to_markdown(index=False, floatfmt=".3f"),
        "",
    ]


def pair_section(df: pd.DataFrame) -> list[str]:
    """mfeat: view pairs ordered by seed-averaged TV, and whether TV orders target errors."""
    means = condition_means(df.drop(columns=["source", "target"]))
    lines = []
    for loss, part in means.groupby("loss", sort=False):
        part = part.sort_values("tv_estimate", ascending=False)
        rho, p = spearman(part["tv_estimate"], part["target_error"])
        cols = [
            "pair",
            "runs",
            "tv_estimate",
            "tv_joint_estimate",
            "target_error",
            "transfer_error",
        ]
        lines += [
            f"### loss = {loss}: pairs by estimated TV (largest first)",
            "",
            part[cols].to_markdown(index=False, floatfmt=".3f"),
            "",
            f"Spearman rho(TV, target error) over the {len(part)} pairs: {rho:.3f} (p = {p:.3g}).",
            "",
        ]
    return lines


def section(name: str, df: pd.DataFrame, command: str) -> list[str]:
    per_run = correlation_table(df)
    per_cond = correlation_table(condition_means(df))
    cover = coverage_table(df)
    lines = [
        f"## {name} ({len(df)} runs)",
        "",
        f"Command: `{command}`",
        "",
        "Spearman rho over runs (x ~ y), rho [95% bootstrap interval over runs]; `*`: the "
        "interval excludes 0 (a finding); without `*` the rho is not a finding:",
        "",
        pivot_rho(per_run, intervals=True).to_markdown(index=False),
        "",
        "Spearman rho of seed-averaged conditions (descriptive: too few points for a finding):",
        "",
        pivot_rho(per_cond).to_markdown(index=False, floatfmt=".3g"),
        "",
        "Runs whose certified bound sits BELOW the error it certifies, on the same rows "
        "(count out of n): a sanity check, not a validity test; validity is the coverage "
        "study of `benchmarks/coverage.py`:",
        "",
        cover.to_markdown(index=False),
        "",
        "Goals (over runs; on seed-averaged conditions where marked):",
        "",
        *goal_lines(per_run),
        *condition_goal_lines(per_cond),
        "",
        *tightness_section(df),
    ]
    if dial_column(df) and "tv_aligned_estimate" in df.columns:
        table = alignment_table(df)
        chosen = str(df["alignment"].iloc[0]) if "alignment" in df.columns else "center"
        lines += [
            "TV after each alignment map (`none` = raw; the configured map is "
            f"`{chosen}`): Spearman rho over runs, per seed (over the gaps), and with the "
            "target error:",
            "",
            table.to_markdown(index=False, floatfmt=".3f"),
            "",
            "Targets of the aligned TV (configured map):",
            "",
            *aligned_goal_lines(table, chosen),
            "",
        ]
    if "pair" in df.columns:
        lines += pair_section(df)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(SWEEPS), default=list(SWEEPS))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run")
    parser.add_argument("--executor", default="local")
    parser.add_argument("--summary-only", action="store_true", help="do not run, only report")
    parser.add_argument("--quick", action="store_true", help="smoke test; outputs under runs/")
    args = parser.parse_args()

    runs_dir = ROOT / "runs" / ("gap_sweeps_quick" if args.quick else "gap_sweeps")
    results_dir = runs_dir / "results" if args.quick else ROOT / "benchmarks" / "results"
    figures_dir = runs_dir / "figures" if args.quick else ROOT / "figures"
    results_dir.mkdir(parents=True, exist_ok=True)
    for name in args.only:
        spec = load_config(SWEEPS[name])
        sweep = parse_sweep(quick_spec(spec) if args.quick else spec)
        if not args.summary_only:
            outcome = run_sweep(
                sweep,
                runs_dir / name,
                executor=args.executor,
                workers=args.workers,
                threads=args.threads,
            )
            print(
                f"{name}: {outcome.ran} ran, {outcome.skipped} skipped, "
                f"{len(outcome.failed)} failed {outcome.failed}"
            )
        if (runs_dir / name / "results.csv").is_file():
            shutil.copyfile(runs_dir / name / "results.csv", results_dir / f"gap_sweep_{name}.csv")
    write_summary(results_dir, figures_dir, args)


def write_summary(results_dir: Path, figures_dir: Path, args: argparse.Namespace) -> None:
    lines = [
        "# Theory vs practice: gap sweeps",
        "",
        "Written by `benchmarks/gap_sweeps.py`. TV = `tv_estimate`, the classifier "
        "estimate of the marginal TV between teacher and student test latents (a lower-"
        "bound-type estimate); target error = the fine-tuned target model's test error.",
        "",
    ]
    for name, path in SWEEPS.items():
        csv = results_dir / f"gap_sweep_{name}.csv"
        if not csv.is_file():
            continue
        df = with_pair(read_results(csv))
        # workers and threads change the wall time, not the results (seeded runs)
        command = f"python benchmarks/gap_sweeps.py --only {name} --threads 1"
        lines += section(f"{name} ({path.name})", df, command)
        paths = figures(name, df, figures_dir)
        lines += ["Figures: " + ", ".join(f"`{p.relative_to(ROOT)}`" for p in paths), ""]
    (results_dir / "gap_sweep_summary.md").write_text("\n".join(lines))
    print(f"wrote {results_dir / 'gap_sweep_summary.md'}")


if __name__ == "__main__":
    main()

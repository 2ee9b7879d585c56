"""Theory vs practice: controlled modality-gap sweeps (digits, fashion) and mfeat view pairs.

Runs the sweeps of ``configs/sweep_*.yaml`` named in :data:`SWEEPS` with
:func:`cmcd.sweep.run_sweep` (resumable: a rerun skips finished runs), then writes

- ``benchmarks/results/gap_sweep_{digits,digits_sketch,fashion,mfeat}.csv``: one row per run;
- ``benchmarks/results/gap_sweep_summary.md``: Spearman rho(gap, TV), rho(TV, target error),
  how often the estimated and the certified bound sit below the measured errors, and for mfeat
  the view pairs ordered by TV;
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

from cmcd.config import load_config
from cmcd.plots import plot_bound_vs_error, plot_error_vs_tv, plot_tv_vs_gap, save_figure
from cmcd.report import (
    condition_means,
    correlation_table,
    coverage_table,
    pivot_rho,
    spearman,
)
from cmcd.sweep import parse_sweep, read_results, run_sweep

ROOT = Path(__file__).resolve().parents[1]
SWEEPS = {
    "digits": ROOT / "configs" / "sweep_digits_gap.yaml",
    "digits_sketch": ROOT / "configs" / "sweep_digits_sketch_gap.yaml",
    "fashion": ROOT / "configs" / "sweep_fashion_gap.yaml",
    "mfeat": ROOT / "configs" / "sweep_mfeat_pairs.yaml",
}
GOALS = {("gap", "tv_estimate"): 0.9, ("tv_estimate", "target_error"): 0.7}


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
    prefix = f"gap_sweep_{name}_"
    out = [
        save_figure(plot_error_vs_tv(df, hue="loss"), f"{prefix}error_vs_tv", figures_dir),
        save_figure(plot_bound_vs_error(df), f"{prefix}bound_vs_error", figures_dir),
    ]
    if "gap" in df.columns:
        out.append(save_figure(plot_tv_vs_gap(df, hue="loss"), f"{prefix}tv_vs_gap", figures_dir))
    if "pair" in df.columns:
        fig = plot_error_vs_tv(condition_means(df.drop(columns=["source", "target"])), hue="pair")
        out.append(save_figure(fig, f"{prefix}pairs_error_vs_tv", figures_dir))
    return out


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
        "Spearman rho over runs (x ~ y; p-values in the report tables):",
        "",
        pivot_rho(per_run).to_markdown(index=False, floatfmt=".3g"),
        "",
        "Spearman rho of seed-averaged conditions:",
        "",
        pivot_rho(per_cond).to_markdown(index=False, floatfmt=".3g"),
        "",
        "Runs whose bound sits BELOW the measured error (count out of n; the certified "
        "bound is a guarantee for transfer_error only):",
        "",
        cover.to_markdown(index=False),
        "",
        "Goals (over runs):",
        "",
        *goal_lines(per_run),
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
        command = f"python benchmarks/gap_sweeps.py --only {name} --workers {args.workers}"
        lines += section(f"{name} ({path.name})", df, command)
        paths = figures(name, df, figures_dir)
        lines += ["Figures: " + ", ".join(f"`{p.relative_to(ROOT)}`" for p in paths), ""]
    (results_dir / "gap_sweep_summary.md").write_text("\n".join(lines))
    print(f"wrote {results_dir / 'gap_sweep_summary.md'}")


if __name__ == "__main__":
    main()

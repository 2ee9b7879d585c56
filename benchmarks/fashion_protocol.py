"""The full Fashion-MNIST protocol: gap sweeps with enough held-out pairs to decide (issue 22).

Runs the occlusion-family gap sweep of ``configs/fashion_protocol_{preset}.yaml`` with
:func:`cmcd.runs.sweep.run_sweep` (resumable: a rerun skips finished runs, a killed run loses
only the run in progress), then reports, with 95% percentile-bootstrap intervals over runs
(:func:`cmcd.runs.report.correlation_table`; every rho is an ESTIMATE):

- rho(gap, aligned TV) within each loss, and rho(aligned TV, target error) within each loss
  and over all runs;
- the per-seed spread: the same rho computed within each seed (over the gap grid), with its
  minimum, median and maximum over seeds, so that a reader sees whether a result survives a
  change of seed;
- the held-out pairs per run (the test split every TV and error is computed on).

Presets (fixed before any result of them was seen):

- ``cpu``: 4000 images (2200 held-out pairs per run, 1800 training rows), 5 gaps x cmc / cmd
  / l2 x 3 seeds, MLP encoders, a teacher pre-trained for 30 epochs (shared by the 15 runs of
  a seed), 15 distillation epochs, the per-class TV terms skipped. Timed in
  ``benchmarks/results/fashion_protocol_cpu.md``.
- ``gpu``: all 70,000 images (21,000 held-out pairs), 6 gaps x 3 losses x 5 seeds, the CNN
  encoders, a teacher pre-trained for 100 epochs, 50 distillation epochs, every TV term. For a
  CUDA machine.

Outputs ``benchmarks/results/fashion_protocol_{preset}.csv`` (one row per run),
``fashion_protocol_{preset}_correlations.csv`` (tidy: one row per pair, loss and seed scope),
``fashion_protocol_{preset}.md``, and figures under the sweep folder (``--figures`` to move them).

Usage::

    python benchmarks/fashion_protocol.py --preset cpu --workers 2 --threads 1
    python benchmarks/fashion_protocol.py --preset cpu --seeds 7 8 9   # other seeds
    python benchmarks/fashion_protocol.py --preset cpu --summary-only
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bounds.report.plots import save_figure
from cmcd.config import load_config
from cmcd.runs.report import correlation_table, report_figures
from cmcd.runs.sweep import parse_sweep, read_results, run_sweep

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {name: ROOT / "configs" / f"fashion_protocol_{name}.yaml" for name in ("cpu", "gpu")}
TV = "tv_aligned_estimate"
#: The correlations the protocol reports (x, y), fixed with the presets.
PAIRS = (("gap", TV), (TV, "target_error"), ("gap", "target_error"))


def protocol_spec(preset: str, seeds: list[int] | None) -> dict:
    """Return the sweep spec of a preset, with the seed grid replaced by ``seeds`` if given."""
    spec = load_config(PRESETS[preset])
    if seeds:
        spec["grid"] = {**spec["grid"], "seed": [int(s) for s in seeds]}
    return spec


def per_seed_spread(df: pd.DataFrame) -> pd.DataFrame:
    """Each reported rho within every (loss, seed), over the gap grid; tidy rows.

    Within one seed and loss the rows differ only by the gap, so rho(gap, TV) there is the
    seed's own answer. Returns columns ``loss``, ``seed``, ``x``, ``y``, ``n``, ``rho``.
    """
    rows = []
    for (loss, seed), part in df.groupby(["loss", "seed"], sort=True):
        for x, y in PAIRS:
            table = correlation_table(part, pairs=[(x, y)], by=None)
            rows.append({"loss": loss, "seed": seed, "x": x, "y": y, "n": len(part),
                         "rho": float(table["rho"].iloc[0])})  # fmt: skip
    return pd.DataFrame(rows)


def spread_summary(spread: pd.DataFrame) -> pd.DataFrame:
    """Minimum, median and maximum over seeds of each per-seed rho, per loss and pair."""
    grouped = spread.groupby(["x", "y", "loss"], sort=False)["rho"]
    out = grouped.agg(seeds="count", min="min", median="median", max="max").reset_index()
    out["sign_flips"] = grouped.apply(lambda r: bool((r > 0).any() and (r < 0).any())).values
    return out


def correlations(df: pd.DataFrame) -> pd.DataFrame:
    """Return rho over runs with bootstrap intervals, per loss and over all runs (tidy)."""
    return correlation_table(df, pairs=list(PAIRS), by="loss")


def _fmt(row: pd.Series) -> str:
    star = "*" if row["finding"] else ""
    return f"{row['rho']:.2f} [{row['rho_low']:.2f}, {row['rho_high']:.2f}]{star}"


def markdown(preset: str, df: pd.DataFrame, table: pd.DataFrame, spread: pd.DataFrame,
             command: str) -> str:  # fmt: skip
    """Write the report: settings, correlations with intervals, per-seed spread."""
    wide = table.assign(cell=table.apply(_fmt, axis=1)).pivot_table(
        index=["x", "y"], columns="loss", values="cell", aggfunc="first", sort=False
    )
    held = df["n_eval"] if "n_eval" in df.columns else pd.Series(dtype=float)
    lines = [
        f"# Fashion-MNIST protocol, preset `{preset}`",
        "",
        f"Command: `{command}` ({len(df)} runs; seeds {sorted(df['seed'].unique().tolist())}; "
        f"held-out pairs per run: {held.min() if len(held) else 'n/a'}"
        f"{'' if held.nunique() <= 1 else f' to {held.max()}'}; "
        f"median seconds per run {df['seconds'].median():.0f}).",
        "",
        "Spearman rho over runs, [95% percentile-bootstrap interval over runs]; `*`: the "
        "interval excludes 0 (a finding). Every rho is an ESTIMATE. `tv_aligned_estimate` is "
        "the classifier TV after the configured alignment (`center`).",
        "",
        wide.reset_index().to_markdown(index=False),
        "",
        "Per-seed spread: each rho computed within one seed and loss (over the gap grid); "
        "min / median / max over seeds, and whether its sign flips between seeds:",
        "",
        spread.to_markdown(index=False, floatfmt=".2f"),
        "",
    ]
    return "\n".join(lines)


def write_figures(preset: str, df: pd.DataFrame, figures_dir: Path) -> list[Path]:
    """Save the sweep report's figures as ``fashion_protocol_{preset}_{kind}.png``."""
    return [save_figure(fig, f"fashion_protocol_{preset}_{kind}", figures_dir)
            for kind, fig in report_figures(df).items()]  # fmt: skip


def summarise(preset: str, out: Path, results: Path, figures_dir: Path, command: str) -> str:
    """Read the sweep's rows and write the CSVs, the markdown and the figures."""
    df = read_results(out)
    if "error" in df.columns:
        df = df[df["error"].isna()]
    df = df.dropna(subset=[TV, "target_error"])
    table, spread = correlations(df), per_seed_spread(df)
    summary = spread_summary(spread)
    results.mkdir(parents=True, exist_ok=True)
    df.to_csv(results / f"fashion_protocol_{preset}.csv", index=False)
    scoped = pd.concat([table.assign(seed="all runs"), spread.assign(seed=spread["seed"])])
    scoped.to_csv(results / f"fashion_protocol_{preset}_correlations.csv", index=False)
    text = markdown(preset, df, table, summary, command)
    (results / f"fashion_protocol_{preset}.md").write_text(text)
    write_figures(preset, df, figures_dir)
    return text


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=None, help="replace the seed grid")
    p.add_argument("--workers", type=int, default=2, help="runs at once")
    p.add_argument("--threads", type=int, default=1, help="torch threads per run")
    p.add_argument("--out", type=Path, default=None, help="default runs/fashion_protocol/PRESET")
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--figures", type=Path, default=None, help="default: SWEEP_FOLDER/figures")
    p.add_argument("--summary-only", action="store_true", help="report the finished runs")
    args = p.parse_args(argv)
    seeds_tag = "" if not args.seeds else "_seeds" + "-".join(map(str, args.seeds))
    out = args.out or ROOT / "runs" / "fashion_protocol" / f"{args.preset}{seeds_tag}"
    command = f"python benchmarks/fashion_protocol.py --preset {args.preset}" + (
        f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds else ""
    )
    if not args.summary_only:
        start = time.perf_counter()
        sweep = parse_sweep(protocol_spec(args.preset, args.seeds))
        run_sweep(sweep, out, workers=args.workers, threads=args.threads)
        print(f"sweep wall time {time.perf_counter() - start:.0f} s "
              f"({args.workers} workers x {args.threads} threads)")  # fmt: skip
    stem = f"{args.preset}{seeds_tag}"
    print(summarise(stem, out, args.results, args.figures or out / "figures", command))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()

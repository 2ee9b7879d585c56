"""Why the centred TV differs in level across losses: the spread of each modality's latents.

Issue 10 left one part unexplained: at equal target error the centred TV
(``tv_aligned_estimate``, map ``center``) sits at very different levels for CMC, CMD and L2.
The question, fixed before this script was run: does a student whose latents spread
differently from the teacher's (fewer effective directions, a smaller radius around its own
centroid; :func:`bounds.target.alignment.spread_terms`) read a higher centred TV whatever its error?
Centring removes a constant offset, not a difference in spread, so it should.

For each run folder of a finished sweep it computes :func:`~bounds.target.alignment.spread_terms` on
the test latents of ``features.npz``, joins them to the sweep's ``results.csv`` by ``run_id``
and writes

- ``benchmarks/results/latent_spread.csv``: one row per run (sweep, loss, dial, seed, spread
  terms, centred TV, target error);
- ``benchmarks/results/latent_spread.md``: seed-averaged spread per loss and dial value, and
  Spearman rho of ``erank_ratio`` with the centred TV and with the target error, per loss and
  over all runs. Every number is a descriptive ESTIMATE.

The run folders are not committed (``runs/`` is ignored): rerun the sweep first
(``python benchmarks/gap_sweeps.py --only fashion``), then::

    python benchmarks/latent_spread.py fashion=runs/gap_sweeps/fashion \
        digits_sketch=runs/gap_sweeps/digits_sketch
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from bounds.target.alignment import spread_terms
from cmcd.runs.report import dial_column
from cmcd.runs.sweep import read_results

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SPREAD = ["radius_source", "radius_target", "erank_source", "erank_target", "erank_ratio"]
JOINED = ["tv_aligned_estimate", "target_error"]


def sweep_spread(name: str, sweep_dir: Path) -> pd.DataFrame:
    """Spread terms of every finished run of one sweep, joined to its results table."""
    results = read_results(sweep_dir / "results.csv")
    dial = dial_column(results)
    if dial is None:
        raise ValueError(f"sweep {name!r} has no gap dial column (gap or pair_noise)")
    rows = []
    for run_id in results["run_id"]:
        features = np.load(sweep_dir / "runs" / run_id / "features.npz", allow_pickle=False)
        terms = spread_terms(features["z_source_test"], features["z_target_test"])
        rows.append({"run_id": run_id, **terms})
    keep = ["run_id", "loss", dial, "seed", *JOINED]
    table = results[keep].rename(columns={dial: "dial"}).merge(pd.DataFrame(rows), on="run_id")
    return table.assign(sweep=name, dial_name=dial)


def rho_table(df: pd.DataFrame) -> pd.DataFrame:
    """Spearman rho of ``erank_ratio`` with the centred TV and the error, per loss and pooled."""
    rows = []
    for sweep, per_sweep in df.groupby("sweep", sort=False):
        groups = [*per_sweep.groupby("loss", sort=False), ("all", per_sweep)]
        for loss, part in groups:
            row = {"sweep": sweep, "loss": loss, "runs": len(part)}
            for column in JOINED:
                row[f"rho(erank_ratio, {column})"] = spearmanr(part["erank_ratio"], part[column])[0]
            rows.append(row)
    return pd.DataFrame(rows)


def condition_table(df: pd.DataFrame) -> pd.DataFrame:
    """Seed means per sweep, loss and dial value."""
    columns = [*SPREAD, *JOINED]
    return df.groupby(["sweep", "loss", "dial"], sort=False)[columns].mean().reset_index()


def write(df: pd.DataFrame, command: str) -> None:
    """Write the per-run CSV and the markdown summary under ``benchmarks/results/``."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    df.to_csv(RESULTS / "latent_spread.csv", index=False)
    lines = [
        "# Spread of teacher and student latents (benchmarks/latent_spread.py)",
        "",
        f"Command: `{command}`. {len(df)} runs. Every number is a descriptive ESTIMATE, on the",
        "test latents: radius = mean distance to the modality's own centroid; erank = effective",
        "rank (Roy & Vetterli 2007) of the centred latents; erank_ratio = student / teacher;",
        "centred TV = `tv_aligned_estimate` (map `center`).",
        "",
        "## Spearman rho over runs",
        "",
        rho_table(df).to_markdown(index=False, floatfmt=".3f"),
        "",
        "## Seed means per loss and dial value",
        "",
        condition_table(df).to_markdown(index=False, floatfmt=".3f"),
        "",
    ]
    (RESULTS / "latent_spread.md").write_text("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="+", help="NAME=DIR of a finished sweep's folder")
    args = parser.parse_args()
    tables = []
    for item in args.sweeps:
        name, sep, folder = item.partition("=")
        if not sep or not Path(folder, "results.csv").is_file():
            parser.error(f"sweep {item!r}: expected NAME=DIR with DIR/results.csv")
        tables.append(sweep_spread(name, Path(folder)))
    df = pd.concat(tables, ignore_index=True)
    write(df, "python benchmarks/latent_spread.py " + " ".join(args.sweeps))
    print(rho_table(df).round(3).to_string(index=False))
    print(condition_table(df).round(3).to_string(index=False))


if __name__ == "__main__":
    main()

"""How good is my target model, without its labels? Tightness, validity and teacher ranking.

Computes every label-free term of :mod:`bounds.target.target_terms` on finished run folders and
compares it with the measured fine-tuned target error:

- the digits occlusion sweep (``runs/gap_sweeps/digits``, from ``benchmarks/gap_sweeps.py``);
- the mfeat method table (``runs/mfeat_methods/test``, from ``benchmarks/mfeat_methods.py``);
- a teacher-choice sweep on mfeat (run here): for each of the 6 views as target, CMC from each
  of the 5 other views, ``--seeds`` seeds, 3 labels per class, 50 + 50 epochs;
- an LP-FT certificate sweep on mfeat ``fac -> zer`` (run here): cmc / cmd / l2, step 3 a
  linear probe (``finetune.epochs`` 0) or LP-FT (100 epochs), ``--seeds`` seeds.

Every term bounds or estimates the error of the run's own step-3 model (its predictions in
``predictions.csv``, its head in ``features.npz``); the script checks, run by run, that
``result.json``'s ``target_error`` is the error of those predictions.

Writes ``benchmarks/results/target_terms_<name>.csv`` (one row per run),
``target_tightness.{csv,md}`` (validity, slack, Spearman, MAE per term and sweep),
``rank_teachers.{csv,md}`` (Kendall tau per target view) and
``figures/target_bounds_<name>.png``. Every number is a descriptive statistic over runs;
which terms are certified is said per term (``bounds.target.target_terms.TARGET_TERMS``).

Usage::

    python benchmarks/target_bounds.py --workers 2 --threads 1      # all three
    python benchmarks/target_bounds.py --skip-teachers              # only existing runs
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from bounds.report.tightness import TERM_TARGETS, rank_teachers, tightness_table
from bounds.target.run_files import target_terms_table
from bounds.target.target_terms import TARGET_TERMS
from cmcd.plotting.plots import plot_bound_vs_error, save_figure
from cmcd.runs.sweep import RunTask, parse_sweep, run_sweep

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
VIEWS = ("fac", "fou", "kar", "mor", "pix", "zer")
#: Terms computed without target labels (every term of the registry).
LABEL_FREE = list(TARGET_TERMS)
PLOTTED = [
    "certified_target_bound", "best_certified_target_bound", "dis2_bound",
    "atc_estimate", "pair_disagreement", "paired_error_estimate",
]  # fmt: skip


def teacher_run(task: RunTask) -> dict[str, Any]:
    """Run one config (the sweep's per-run work); its terms are computed afterwards."""
    from cmcd.runs.pipeline import run

    start = time.perf_counter()
    try:
        result = run(task.config, task.run_dir, progress=False, cache_dir=task.cache_dir)
    except Exception as err:  # reported per run; the sweep goes on
        Path(task.run_dir).mkdir(parents=True, exist_ok=True)
        (Path(task.run_dir) / "error.txt").write_text(traceback.format_exc())
        return {"run_id": task.run_id, "error": f"{type(err).__name__}: {err}"}
    return {
        "run_id": task.run_id, **task.values,
        "target_accuracy": result["target_accuracy"],
        "seconds": round(time.perf_counter() - start, 3),
    }  # fmt: skip


def teachers_sweep(target: str, seeds: int) -> Any:
    return parse_sweep({
        "data": {"name": "mfeat", "target": target},
        "pretrain": {"epochs": 50}, "distill": {"epochs": 50, "loss": "cmc"},
        "finetune": {"labels_per_class": 3},
        "grid": {"data.source": [v for v in VIEWS if v != target], "seed": list(range(seeds))},
    })  # fmt: skip


def lpft_sweep(seeds: int) -> Any:
    """LP and LP-FT step 3 on one mfeat pair: the certificate must follow the model."""
    return parse_sweep({
        "data": {"name": "mfeat", "source": "fac", "target": "zer"},
        "pretrain": {"epochs": 50}, "distill": {"epochs": 50},
        "finetune": {"labels_per_class": 3, "lr": 1e-4},
        "grid": {"distill.loss": ["cmc", "cmd", "l2"], "finetune.epochs": [0, 100],
                 "seed": list(range(seeds))},
    })  # fmt: skip


def run_lpft(out: Path, seeds: int, workers: int) -> pd.DataFrame:
    """Run the LP-FT certificate sweep (resumable) and score every run's step-3 model."""
    run_sweep(lpft_sweep(seeds), out, workers=workers, run_fn=teacher_run)
    rows = [json.loads(p.read_text()) for p in sorted((out / "rows").glob("*.json"))]
    runs = pd.DataFrame(rows)
    dirs = {rid: out / "runs" / rid for rid in runs["run_id"]}
    return runs.merge(target_terms_table(dirs, random_state=0), left_on="run_id", right_on="run")


def run_teachers(out: Path, seeds: int, workers: int) -> pd.DataFrame:
    """Run the teacher-choice sweeps (resumable, a folder per target view); score every run."""
    rows = []
    for target in VIEWS:
        folder = out / target
        run_sweep(teachers_sweep(target, seeds), folder, workers=workers, run_fn=teacher_run)
        for path in sorted((folder / "rows").glob("*.json")):
            row = json.loads(path.read_text())
            rows.append({"run_id": row["run_id"], "data.source": row["source"],
                         "seed": row["seed"], "data.target": target,
                         "dir": folder / "runs" / row["run_id"]})  # fmt: skip
    runs = pd.DataFrame(rows)
    terms = target_terms_table(dict(zip(runs["run_id"], runs["dir"], strict=True)), random_state=0)
    return runs.drop(columns="dir").merge(terms, left_on="run_id", right_on="run")


def digits_runs(folder: Path) -> pd.DataFrame:
    results = pd.read_csv(folder / "results.csv")
    dirs = {rid: folder / "runs" / rid for rid in results["run_id"]}
    terms = target_terms_table(dirs, random_state=0).drop(columns="target_error")
    return results.merge(terms, left_on="run_id", right_on="run")


def mfeat_method_runs(folder: Path) -> pd.DataFrame:
    found = [p for p in sorted(folder.glob("*/seed*/*")) if (p / "features.npz").is_file()]
    dirs = {f"{p.parent.parent.name}/{p.parent.name}/{p.name}": p for p in found}
    frame = target_terms_table(dirs, random_state=0)
    parts = frame["run"].str.split("/", expand=True)
    return frame.assign(pair=parts[0], seed=parts[1], method=parts[2])


def markdown(frame: pd.DataFrame) -> str:
    return frame.to_markdown(index=False, floatfmt=".3f")


def write_tables(frames: dict[str, pd.DataFrame], teachers: pd.DataFrame | None) -> None:
    tables = []
    for name, frame in frames.items():
        frame.to_csv(RESULTS / f"target_terms_{name}.csv", index=False)
        tables.append(tightness_table(frame, TERM_TARGETS).assign(sweep=name))
        fig = plot_bound_vs_error(frame, errors=("target_error",), bounds=PLOTTED)
        save_figure(fig, f"target_bounds_{name}", ROOT / "figures")
    tight = pd.concat(tables, ignore_index=True)
    tight = tight[["sweep", *[c for c in tight.columns if c != "sweep"]]]
    tight.to_csv(RESULTS / "target_tightness.csv", index=False)
    (RESULTS / "target_tightness.md").write_text(markdown(tight) + "\n")
    print(markdown(tight))
    if teachers is not None:
        ranks = rank_teachers(teachers, LABEL_FREE)
        ranks.to_csv(RESULTS / "rank_teachers.csv", index=False)
        (RESULTS / "rank_teachers.md").write_text(markdown(ranks) + "\n")
        print(markdown(ranks[ranks["target"] == "mean"]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process")
    parser.add_argument("--seeds", type=int, default=2, help="seeds of the teacher sweep")
    parser.add_argument("--skip-teachers", action="store_true")
    parser.add_argument("--skip-lpft", action="store_true")
    parser.add_argument("--runs", type=Path, default=ROOT / "runs")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    frames = {}
    teachers = None
    if not args.skip_teachers:
        teachers = run_teachers(args.runs / "target_bounds" / "teachers", args.seeds, args.workers)
        frames["mfeat_teachers"] = teachers
    if not args.skip_lpft:
        frames["mfeat_lpft"] = run_lpft(
            args.runs / "target_bounds" / "lpft", args.seeds, args.workers
        )
    if (args.runs / "gap_sweeps" / "digits" / "results.csv").is_file():
        frames["digits"] = digits_runs(args.runs / "gap_sweeps" / "digits")
    if (args.runs / "mfeat_methods" / "test").is_dir():
        frames["mfeat_methods"] = mfeat_method_runs(args.runs / "mfeat_methods" / "test")
    for frame in frames.values():
        frame["threads"] = args.threads
    write_tables(frames, teachers)


if __name__ == "__main__":
    main()

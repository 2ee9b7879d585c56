"""Method comparison on mfeat view pairs: CMCD losses, baselines and classical references.

Every (pair, seed, method) is one ``cmcd.runs.pipeline.run``; teachers are shared through a step
cache, so each seed pre-trains each teacher once. Rows are appended to the CSV as runs finish
and a rerun skips finished rows. The classical references run on the same splits.

Usage::

    python benchmarks/mfeat_methods.py                      # test split, the full table
    python benchmarks/mfeat_methods.py --evaluate-on validation \
        --out benchmarks/results/mfeat_val.csv
    python benchmarks/mfeat_methods.py --quick               # 1 pair, 1 seed, few epochs

``--workers`` (default 2) runs (pair, seed) groups in parallel, each with ``--threads``
torch threads (default 1; recorded in the CSV's ``threads`` column).
"""

from __future__ import annotations

import argparse
import copy
import functools
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml
from tqdm.auto import tqdm

from cmcd.config import resolve_config, set_dotted
from cmcd.data import load_dataset
from cmcd.data.splits import make_splits
from cmcd.run_config import RunConfig
from cmcd.runs.pipeline import run, standardise
from cmcd.train.baselines import CLASSICAL_REFERENCES

ROOT = Path(__file__).resolve().parent
CONFIG = ROOT / "configs" / "mfeat_methods.yaml"


def _deep_update(base: dict, update: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_update(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def method_config(spec: dict, pair: tuple[str, str], seed: int, method: str, args) -> dict:
    cfg = _deep_update(spec["base"], spec["methods"][method])
    cfg = set_dotted(cfg, "data.source", pair[0])
    cfg = set_dotted(cfg, "data.target", pair[1])
    cfg = set_dotted(cfg, "seed", seed)
    cfg = set_dotted(cfg, "evaluate_on", args.evaluate_on)
    for key, value in args.override or []:
        cfg = set_dotted(cfg, key, value)
    return resolve_config(cfg)


def reference_rows(pair: tuple[str, str], seed: int, evaluate_on: str) -> list[dict]:
    cfg = resolve_config(
        {
            "data": {"name": "mfeat", "source": pair[0], "target": pair[1]},
            "seed": seed,
            "evaluate_on": evaluate_on,
        }
    )
    ds = load_dataset(seed=seed, **cfg["data"])
    splits = make_splits(ds, RunConfig.build(cfg).split)
    flat = lambda x: x.reshape(len(x), -1)  # noqa: E731
    xs = standardise(flat(ds.x_source), "vector", splits.train)
    xt = standardise(flat(ds.x_target), "vector", splits.train)
    rows = []
    for name, fn in CLASSICAL_REFERENCES.items():
        start = time.perf_counter()
        acc = fn(xs, xt, ds.y, splits.paired, splits.labeled, splits.evaluation, seed=seed)
        rows.append(
            {"method": name, "target_accuracy": acc, "seconds": time.perf_counter() - start}
        )
    return rows


def _done(out: Path) -> set[tuple]:
    if not out.is_file():
        return set()
    df = pd.read_csv(out)
    return set(zip(df["source"], df["target"], df["seed"], df["method"], strict=True))


def _append(out: Path, row: dict) -> None:
    pd.DataFrame([row]).to_csv(out, mode="a", header=not out.is_file(), index=False)


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean +- std target accuracy (in %) per pair and method, and the mean over pairs."""
    df = df.assign(pair=df["source"] + "->" + df["target"], acc=100 * df["target_accuracy"])
    stats = df.groupby(["method", "pair"])["acc"].agg(["mean", "std"])
    cell = stats.apply(lambda r: f"{r['mean']:.1f} ± {r['std']:.1f}", axis=1).unstack("pair")
    cell["mean over pairs"] = stats["mean"].groupby("method").mean().map("{:.1f}".format)
    return cell.sort_values("mean over pairs", ascending=False)


def _is_done(done: set[tuple], pair: tuple[str, str], seed: int, method: str) -> bool:
    name = "logreg(target)" if method == "references" else method
    return (*pair, seed, name) in done


def _set_threads(threads: int) -> None:
    torch.set_num_threads(threads)


def _run_group(job: tuple, spec: dict) -> list[dict]:
    """Run every pending method of one (pair, seed); return their rows (with threads used)."""
    pair, seed, methods, args = job
    base = {"source": pair[0], "target": pair[1], "seed": seed, "threads": torch.get_num_threads()}
    rows = []
    for method in methods:
        if method == "references":
            rows += [{**base, **row} for row in reference_rows(pair, seed, args.evaluate_on)]
            continue
        cfg = method_config(spec, pair, seed, method, args)
        run_dir = args.runs / args.evaluate_on / f"{pair[0]}-{pair[1]}" / f"seed{seed}" / method
        start = time.perf_counter()
        result = run(cfg, run_dir, progress=False, cache_dir=args.runs / args.evaluate_on / "cache")
        rows.append(
            {
                **base,
                "method": method,
                "target_accuracy": result["target_accuracy"],
                "source_accuracy": result["source_accuracy"],
                "seconds": time.perf_counter() - start,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluate-on", default="test", choices=["test", "validation"])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "mfeat_methods.csv")
    parser.add_argument("--runs", type=Path, default=Path("runs/mfeat_methods"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--methods", nargs="*")
    parser.add_argument("--workers", type=int, default=2, help="parallel (pair, seed) jobs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument(
        "--set",
        dest="override",
        action="append",
        type=lambda s: (s.split("=", 1)[0], yaml.safe_load(s.split("=", 1)[1])),
        help="KEY=VALUE for every run",
    )
    args = parser.parse_args()
    spec = yaml.safe_load(CONFIG.read_text())
    pairs = [tuple(p) for p in spec["pairs"]]
    seeds = spec["seeds"]
    methods = args.methods or list(spec["methods"])
    if args.quick:
        pairs, seeds = pairs[1:2], seeds[:1]
        args.override = (args.override or []) + [("pretrain.epochs", 5), ("distill.epochs", 5)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = _done(args.out)
    # one job per (pair, seed), pairs outermost: concurrent jobs train different teachers
    jobs = [(p, s, [m for m in methods + ["references"] if not _is_done(done, p, s, m)], args)
            for p in pairs for s in seeds]  # fmt: skip
    jobs = [job for job in jobs if job[2]]
    with ProcessPoolExecutor(
        args.workers, initializer=_set_threads, initargs=(args.threads,)
    ) as pool:
        for rows in tqdm(
            pool.map(functools.partial(_run_group, spec=spec), jobs), total=len(jobs), desc="mfeat"
        ):
            for row in rows:
                _append(args.out, row)
    table = summarise(pd.read_csv(args.out))
    print(table.to_string())
    args.out.with_suffix(".md").write_text(table.to_markdown() + "\n")


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()

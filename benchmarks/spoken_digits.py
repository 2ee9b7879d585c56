"""Method comparison on spoken digits: image -> audio and audio -> image at 3 labels per class.

Every (direction, seed, method) is one ``cmcd.runs.pipeline.run`` on ``data.name: spoken_digits``
(digit images paired by class with espeak-ng utterances); teachers are shared through a step
cache, so each seed pre-trains each teacher once. Rows are appended to the CSV as runs finish
and a rerun skips finished rows. The classical references run on the same splits, on the
flattened views.

Usage::

    python benchmarks/spoken_digits.py                          # 5 seeds, both directions
    python benchmarks/spoken_digits.py --seeds 0 --directions image-audio --methods cmc
    python benchmarks/spoken_digits.py --quick                  # 1 seed, few epochs

``--workers`` (default 2) runs (direction, seed) groups in parallel, each with ``--threads``
torch threads (default 1; recorded in the CSV's ``threads`` column). The features are cached
(``$CMCD_CACHE_DIR``), so only the first load of a seed synthesises audio (about 15-30 s).
"""

from __future__ import annotations

import argparse
import functools
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pandas as pd
import torch
import yaml
from mfeat_methods import _append, _deep_update, _set_threads
from tqdm.auto import tqdm

from cmcd.config import resolve_config, set_dotted
from cmcd.data import load_dataset
from cmcd.data.splits import make_splits
from cmcd.run_config import RunConfig
from cmcd.runs.pipeline import run, standardise
from cmcd.train.baselines import CLASSICAL_REFERENCES

ROOT = Path(__file__).resolve().parent
CONFIG = ROOT / "configs" / "spoken_digits.yaml"
COLUMNS = [
    "source",
    "target",
    "seed",
    "threads",
    "method",
    "target_accuracy",
    "source_accuracy",
    "seconds",
]
"""Columns of the CSV; a reference row has no ``source_accuracy`` (left empty)."""


def _append_row(out: Path, row: dict) -> None:
    """Append one row in :data:`COLUMNS` order (rows with fewer keys keep the columns aligned)."""
    _append(out, {column: row.get(column) for column in COLUMNS})


def method_config(spec: dict, direction: tuple[str, str], seed: int, method: str, args) -> dict:
    cfg = _deep_update(spec["base"], spec["methods"][method])
    for key, value in [
        ("data.source", direction[0]),
        ("data.target", direction[1]),
        ("seed", seed),
        ("evaluate_on", args.evaluate_on),
        *(args.override or []),
    ]:
        cfg = set_dotted(cfg, key, value)
    return resolve_config(cfg)


def reference_rows(spec: dict, direction: tuple[str, str], seed: int, args) -> list[dict]:
    cfg = method_config(spec, direction, seed, "none", args)
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


def _is_done(done: set[tuple], direction: tuple[str, str], seed: int, method: str) -> bool:
    name = "logreg(target)" if method == "references" else method
    return (*direction, seed, name) in done


def _run_group(job: tuple, spec: dict) -> list[dict]:
    """Run every pending method of one (direction, seed); return their rows."""
    direction, seed, methods, args = job
    base = {
        "source": direction[0],
        "target": direction[1],
        "seed": seed,
        "threads": torch.get_num_threads(),
    }
    rows = []
    for method in methods:
        if method == "references":
            rows += [{**base, **row} for row in reference_rows(spec, direction, seed, args)]
            continue
        cfg = method_config(spec, direction, seed, method, args)
        run_dir = args.runs / "-".join(direction) / f"seed{seed}" / method
        start = time.perf_counter()
        result = run(cfg, run_dir, progress=False, cache_dir=args.runs / "cache")
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


def summarise(df: pd.DataFrame) -> pd.DataFrame:
    """Mean +- std target accuracy (in %) per direction and method, with the seed count."""
    df = df.assign(direction=df["source"] + "->" + df["target"], acc=100 * df["target_accuracy"])
    stats = df.groupby(["method", "direction"])["acc"].agg(["mean", "std", "count"])
    cell = stats.apply(
        lambda r: (
            f"{r['mean']:.1f} ± {0 if pd.isna(r['std']) else r['std']:.1f} (n={r['count']:g})"
        ),
        axis=1,
    ).unstack("direction")
    order = stats["mean"].groupby("method").mean().sort_values(ascending=False).index
    return cell.loc[order]


def _parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluate-on", default="test", choices=["test", "validation"])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "spoken_digits.csv")
    parser.add_argument("--runs", type=Path, default=Path("runs/spoken_digits"))
    parser.add_argument("--seeds", type=int, nargs="*", help="default: the config's seeds")
    parser.add_argument("--directions", nargs="*", help="e.g. image-audio audio-image")
    parser.add_argument("--methods", nargs="*", help="default: all, plus the references")
    parser.add_argument("--no-references", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1 seed, 5 epochs per step")
    parser.add_argument("--workers", type=int, default=2, help="parallel (direction, seed) jobs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads per worker")
    parser.add_argument(
        "--set",
        dest="override",
        action="append",
        help="KEY=VALUE for every run",
        type=lambda s: (s.split("=", 1)[0], yaml.safe_load(s.split("=", 1)[1])),
    )
    return parser.parse_args()


def main() -> None:
    args = _parse_args()
    spec = yaml.safe_load(CONFIG.read_text())
    directions = [tuple(d.split("-")) for d in args.directions or []] or [
        tuple(d) for d in spec["directions"]
    ]
    seeds = args.seeds if args.seeds is not None else spec["seeds"]
    methods = (args.methods or list(spec["methods"])) + (
        [] if args.no_references else ["references"]
    )
    if args.quick:
        seeds = seeds[:1]
        args.override = (args.override or []) + [("pretrain.epochs", 5), ("distill.epochs", 5)]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = _done(args.out)
    jobs = [
        (d, s, [m for m in methods if not _is_done(done, d, s, m)], args)
        for d in directions
        for s in seeds
    ]
    jobs = [job for job in jobs if job[2]]
    with ProcessPoolExecutor(
        args.workers, initializer=_set_threads, initargs=(args.threads,)
    ) as pool:
        work = pool.map(functools.partial(_run_group, spec=spec), jobs)
        for rows in tqdm(work, total=len(jobs), desc="spoken_digits"):
            for row in rows:
                _append_row(args.out, row)
    table = summarise(pd.read_csv(args.out))
    print(table.to_string())
    args.out.with_suffix(".md").write_text(table.to_markdown() + "\n")


if __name__ == "__main__":
    main()

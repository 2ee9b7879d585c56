"""Which step-3 probe protocol? Evidence on validation splits, never on test rows.

Runs a fixed set of distillations with ``evaluate_on: validation`` (the evaluation rows are a
stratified part of the training rows; the test split is never read), saves their latents,
then refits every candidate probe protocol of :data:`CANDIDATES` on the same labelled rows and
scores it on the validation rows. The candidate list and the decision rule were written down
before any result was seen:

- rule: the adaptive protocol with the lowest mean validation error over all runs; a
  simpler one (earlier in :data:`CANDIDATES`) within 0.5 points of it wins instead.

Usage::

    python benchmarks/probe_protocol.py --workers 2 --threads 1
    python benchmarks/probe_protocol.py --quick          # 2 tiny runs (tests, CI)
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from bounds.target.probe import LinearProbe
from cmcd.seeding import seed_for

ROOT = Path(__file__).resolve().parent
RESULTS = ROOT / "results"

#: Runs behind the evidence: (name, config) on three datasets, three losses.
MFEAT = [
    {"data": {"name": "mfeat", "source": s, "target": t}, "finetune": {"labels_per_class": 3}}
    for s, t in [("fac", "zer"), ("pix", "fou"), ("fac", "mor")]
]
DIGITS = [
    {
        "data": {"name": "digits", "family": "occlusion", "gap": g},
        "pretrain": {"epochs": 40},
        "distill": {"epochs": 40},
        "finetune": {"labels_per_class": 5},
    }
    for g in (0.0, 0.4, 0.8)
]
FASHION = [
    {
        "data": {"name": "fashion", "family": "occlusion", "n_samples": 2000, "gap": g},
        "pretrain": {"epochs": 10},
        "distill": {"epochs": 6},
        "finetune": {"labels_per_class": 5},
    }
    for g in (0.0, 0.8)
]


def _configs(quick: bool) -> list[dict]:
    if quick:
        base = {"data": {"name": "synthetic", "n_samples": 300}, "pretrain": {"epochs": 2}}
        return [{**base, "distill": {"epochs": 2, "loss": loss}} for loss in ("cmc", "l2")]
    out = []
    for base, loss, seed in itertools.product(
        MFEAT + DIGITS + FASHION, ("cmc", "cmd", "l2"), (0, 1)
    ):
        if base["data"]["name"] != "mfeat" and seed > 0:
            continue  # our choice: image datasets at one seed keep this under ~20 min
        distill = {**base.get("distill", {}), "loss": loss}
        out.append({**base, "distill": distill, "seed": seed})
    return out


def _run_name(cfg: dict) -> str:
    data = cfg["data"]
    view = f"{data.get('source', '')}-{data.get('target', '')}" if "source" in data else ""
    gap = f"gap{data['gap']}" if "gap" in data else view
    return f"{data['name']}-{gap}-{cfg['distill']['loss']}-seed{cfg.get('seed', 0)}"


def _run_one(args: tuple[dict, Path, int]) -> Path:
    cfg, out, threads = args
    import torch

    from cmcd.runs.pipeline import run

    torch.set_num_threads(threads)
    cfg = {**cfg, "evaluate_on": "validation"}
    if not (out / "features.npz").is_file():
        run(cfg, out, progress=False, cache_dir=out.parent / "cache")
    return out


def run_all(configs: list[dict], runs: Path, workers: int, threads: int) -> list[Path]:
    """Run (or resume) every config on the validation split; return the run folders."""
    jobs = [(cfg, runs / _run_name(cfg), threads) for cfg in configs]
    with ProcessPoolExecutor(workers) as pool:
        return list(tqdm(pool.map(_run_one, jobs), total=len(jobs), desc="validation runs"))


#: Candidate protocols, simplest first; ``None`` marks the old fixed probe (a reference).
CANDIDATES: dict[str, dict | None] = {
    "cv, standardised, log-loss": {},
    "cv, raw latents, log-loss": {"standardise": False},
    "cv, standardised, accuracy": {"scoring": "accuracy"},
    "cv x5 repeats, standardised, log-loss": {"n_repeats": 5},
    "fixed C=1, raw latents (old)": None,
}


def _probe(options: dict | None, seed: int) -> LinearProbe:
    if options is None:
        return LinearProbe(C=1.0, standardise=False, random_state=seed)
    return LinearProbe(random_state=seed, **options)


def score_run(folder: Path) -> list[dict]:
    """Score every candidate on one run's saved latents: validation error and chosen ``C``."""
    with np.load(folder / "features.npz") as npz:
        z_tr, y_tr = npz["z_target_train"], npz["y_train"]
        z_va, y_va = npz["z_target_test"], npz["y_test"]
    seed = seed_for(
        int(json.loads((folder / "result.json").read_text())["config"]["seed"]), "finetune"
    )
    rows = []
    for name, options in CANDIDATES.items():
        probe = _probe(options, seed).fit(z_tr, y_tr)
        rows.append(
            {
                "run": folder.name,
                "dataset": folder.name.split("-")[0],
                "loss": folder.name.split("-")[-2],
                "protocol": name,
                "validation_error": 1.0 - probe.score(z_va, y_va),
                "C": probe.C_,
            }
        )
    return rows


def choose(table: pd.DataFrame) -> str:
    """Apply the decision rule of the module docstring to the adaptive candidates."""
    adaptive = [name for name, options in CANDIDATES.items() if options is not None]
    means = table.groupby("protocol")["validation_error"].mean()[adaptive]
    best = means.min()
    return next(name for name in adaptive if means[name] <= best + 0.005)


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean validation error per protocol, per dataset and loss, and overall."""
    by = table.pivot_table(
        index="protocol", columns=["dataset", "loss"], values="validation_error", aggfunc="mean"
    )
    by.columns = [f"{d} {loss}" for d, loss in by.columns]
    by["all runs"] = table.groupby("protocol")["validation_error"].mean()
    by["median C"] = table.groupby("protocol")["C"].median()
    return by.loc[list(CANDIDATES)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/probe_protocol"))
    parser.add_argument("--out", type=Path, default=RESULTS / "probe_protocol.csv")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--runs-only", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    folders = run_all(_configs(args.quick), args.runs, args.workers, args.threads)
    if args.runs_only:
        return
    table = pd.DataFrame([row for folder in folders for row in score_run(folder)])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    summary = summarise(table)
    chosen = choose(table)
    text = summary.round(3).to_markdown() + f"\n\nchosen by the rule: {chosen}\n"
    print(text)
    args.out.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    main()

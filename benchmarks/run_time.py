"""Time and peak memory of one full run (three steps, one seed): mfeat, or spoken digits.

Targets: an mfeat run under 60 s on 2 CPU cores (issue 3); an image -> audio spoken-digits run
under 90 s on 2 cores with the feature cache warm (issue 13; the data are loaded once, untimed,
before the timed run). Prints a table of per-step seconds and the peak resident memory of the
process, and writes ``benchmarks/results/run_time.csv`` and ``.md`` (mfeat) or
``run_time_spoken_digits.csv`` and ``.md`` (``..._epochs40`` with ``--epochs 40``).

Usage::

    python benchmarks/run_time.py [--source fac] [--target zer] [--loss cmc] [--threads N]
    python benchmarks/run_time.py --dataset spoken_digits --source image --target audio
    python benchmarks/run_time.py --dataset spoken_digits --epochs 40   # the benchmark's epochs
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from cmcd.data import load_dataset
from cmcd.runs.pipeline import run

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["mfeat", "spoken_digits"], default="mfeat")
    parser.add_argument("--source", default=None, help="default: fac (mfeat), image (spoken)")
    parser.add_argument("--target", default=None, help="default: zer (mfeat), audio (spoken)")
    parser.add_argument("--loss", default="cmc")
    parser.add_argument("--epochs", type=int, default=None, help="pretrain and distill epochs")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = run_config(args)
    load_dataset(**cfg["data"])  # warms the feature cache (spoken digits: the synthesised audio)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        result = run(cfg, out, progress=False)
    total = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = [{"step": k, "seconds": v} for k, v in result["timings"].items()]
    rows.append({"step": "total (incl. imports of data, writing files)", "seconds": total})
    table = pd.DataFrame(rows)
    table["peak_rss_mib"] = round(peak_mib, 1)
    table["threads"] = torch.get_num_threads()
    table["target_accuracy"] = result["target_accuracy"]
    table["epochs"] = args.epochs or "default"
    print(table.to_string(index=False))
    RESULTS.mkdir(exist_ok=True)
    stem = "run_time" if args.dataset == "mfeat" else f"run_time_{args.dataset}"
    stem += "" if args.epochs is None else f"_epochs{args.epochs}"
    table.to_csv(RESULTS / f"{stem}.csv", index=False)
    (RESULTS / f"{stem}.md").write_text(table.to_markdown(index=False) + "\n")


def run_config(args: argparse.Namespace) -> dict:
    """Build the timed run's config from the command line (defaults per dataset)."""
    views = {"mfeat": ("fac", "zer"), "spoken_digits": ("image", "audio")}[args.dataset]
    cfg = {
        "data": {
            "name": args.dataset,
            "source": args.source or views[0],
            "target": args.target or views[1],
        },
        "distill": {"loss": args.loss},
        "finetune": {"labels_per_class": 3},
        "seed": 0,
    }
    if args.epochs is not None:
        cfg["pretrain"] = {"epochs": args.epochs}
        cfg["distill"]["epochs"] = args.epochs
    return cfg


if __name__ == "__main__":
    main()

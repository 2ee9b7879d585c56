"""Time and peak memory of one full mfeat run (three steps, one seed, default settings).

Target (issue 3): under 60 s on 2 CPU cores. Prints a table of per-step seconds and the peak
resident memory of the process, and writes ``benchmarks/results/run_time.csv`` and ``.md``.

Usage::

    python benchmarks/run_time.py [--source fac] [--target zer] [--loss cmc] [--threads N]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from cmcd.pipeline import run

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default="fac")
    parser.add_argument("--target", default="zer")
    parser.add_argument("--loss", default="cmc")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = {
        "data": {"name": "mfeat", "source": args.source, "target": args.target},
        "distill": {"loss": args.loss},
        "finetune": {"labels_per_class": 3},
        "seed": 0,
    }
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
    print(table.to_string(index=False))
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "run_time.csv", index=False)
    (RESULTS / "run_time.md").write_text(table.to_markdown(index=False) + "\n")


if __name__ == "__main__":
    main()

"""Peak memory of ``cmcd run`` on paired files streamed from disk, as the dataset grows.

Fashion-MNIST (``load_dataset("fashion", family="occlusion", gap=0.5, n_samples=N)``) is
exported once per size to 8-bit PNG files and a ``manifest.csv``
(:func:`cmcd.data.export_paired_files`) under ``runs/bench_rss/`` (gitignored); then, per
size, a fresh measuring process runs ``cmcd run`` in a child with a tiny config (one epoch
of each step) on ``data: {name: paired_files, manifest: ...}`` and reads the child's peak
resident memory (``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss``; a fresh measuring
process per size, so no size sees another's peak) and its wall time.

Goal (issue 22 section 1): peak RSS within 10% from 10k to 70k rows. With
``--modes in_memory`` the same runs on the in-memory ``fashion`` dataset are measured, for
comparison; each invocation adds its rows to the stored table. Threads: every child runs
with ``OMP_NUM_THREADS=1`` (torch uses one thread; ``result.json`` records
``torch_threads``). Writes ``benchmarks/results/streaming_rss.csv`` and ``.md``.

Usage::

    python benchmarks/streaming_rss.py                       # 10k and 20k rows
    python benchmarks/streaming_rss.py --sizes 70000                   # adds a size
    python benchmarks/streaming_rss.py --sizes 10000 20000 --modes in_memory
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
WORK = ROOT / "runs" / "bench_rss"
FASHION = {"name": "fashion", "family": "occlusion", "gap": 0.5}


def tiny_config(data: dict, args: argparse.Namespace) -> dict:
    """One epoch of each step, small batches (the benchmark measures memory, not accuracy)."""
    return {
        "data": data,
        "model": {"latent_dim": args.latent_dim, "hidden": [64]},
        "pretrain": {"epochs": 1, "batch_size": args.batch_size},
        "distill": {"loss": "cmc", "epochs": 1, "batch_size": args.batch_size},
        "finetune": {"labels_per_class": 3},
        "seed": 0,
        "device": "cpu",
    }


def _env() -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def export(n: int) -> Path:
    """Export ``n`` Fashion-MNIST pairs as PNGs (once; reused when the manifest exists)."""
    folder = WORK / f"fashion-{n}"
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return manifest
    code = (
        "import sys; from cmcd.data import load_dataset, export_paired_files; "
        f"ds = load_dataset(n_samples={n}, **{FASHION!r}); "
        f"print(export_paired_files(ds, {str(folder)!r}))"
    )
    done = subprocess.run([sys.executable, "-c", code], env=_env(), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"export of {n} rows failed: {done.stderr[-2000:]}")
    return manifest


def measure(name: str, data: dict, args: argparse.Namespace) -> dict:
    """Run ``cmcd run`` once in a child; return its peak RSS (MiB), wall time and result."""
    out = WORK / f"out-{name}"
    shutil.rmtree(out, ignore_errors=True)  # no checkpoints: every step trains
    config = WORK / f"config-{name}.yaml"
    config.write_text(yaml.safe_dump(tiny_config(data, args)))
    cmd = [sys.executable, "-m", "cmcd", "run", str(config), "--out", str(out), "--no-progress"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, env=_env(), stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
    result = json.loads((out / "result.json").read_text())
    return {
        "peak_rss_mib": round(peak, 1),
        "wall_s": round(wall, 1),
        **{f"t_{k}": v for k, v in result["timings"].items()},
        "target_error": result["target_error"],
        "torch_threads": result["torch_threads"],
        "device": result["device"],
    }


def _measure_in_fresh_process(name: str, data: dict, args: argparse.Namespace) -> dict:
    """Measure in a new process, so that RUSAGE_CHILDREN holds this run's child only."""
    cmd = [sys.executable, __file__, "--measure", name, json.dumps(data),
           "--batch-size", str(args.batch_size), "--latent-dim", str(args.latent_dim)]  # fmt: skip
    done = subprocess.run(cmd, check=True, env=_env(), capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10000, 20000])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--latent-dim", type=int, default=32)
    parser.add_argument(
        "--modes", nargs="+", choices=["streamed", "in_memory"], default=["streamed"],
        help="streamed: paired_files manifests; in_memory: the fashion dataset, for comparison",
    )  # fmt: skip
    parser.add_argument("--measure", nargs=2, metavar=("NAME", "DATA"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        name, data = args.measure
        print(json.dumps(measure(name, json.loads(data), args)))
        return
    WORK.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        specs = {"in_memory": {**FASHION, "n_samples": n}}
        if "streamed" in args.modes:
            specs["streamed"] = {"name": "paired_files", "manifest": str(export(n))}
        for mode in args.modes:
            spec = specs[mode]
            row = {"mode": mode, "rows": n, **_measure_in_fresh_process(f"{mode}-{n}", spec, args)}
            rows.append(row)
            print(json.dumps(row), flush=True)
    table = pd.DataFrame(rows)
    table["omp_num_threads"] = 1
    table["batch_size"] = args.batch_size
    table["latent_dim"] = args.latent_dim
    table["cpu"] = platform.processor() or platform.machine()
    write(_merge(table))


def _merge(table: pd.DataFrame) -> pd.DataFrame:
    """Add this invocation's rows to the stored table (a rerun of a mode and size replaces it)."""
    path = RESULTS / "streaming_rss.csv"
    if not path.is_file():
        return table
    old = pd.read_csv(path)
    keep = ~old.set_index(["mode", "rows"]).index.isin(table.set_index(["mode", "rows"]).index)
    return pd.concat([old[keep], table], ignore_index=True).sort_values(["mode", "rows"])


def write(table: pd.DataFrame) -> None:
    """Print the table and write CSV + markdown with the growth of the peak per mode."""
    print(table.to_string(index=False))
    RESULTS.mkdir(exist_ok=True)
    table.to_csv(RESULTS / "streaming_rss.csv", index=False)
    lines = ["# Peak RSS of `cmcd run` on streamed paired files", "", __doc__.split("\n\n")[1], ""]
    for mode, part in table.groupby("mode", sort=False):
        part = part.sort_values("rows")
        first, last = part.iloc[0], part.iloc[-1]
        growth = 100 * (last["peak_rss_mib"] / first["peak_rss_mib"] - 1)
        lines.append(
            f"- {mode}: {first['peak_rss_mib']:.0f} MiB at {first['rows']} rows -> "
            f"{last['peak_rss_mib']:.0f} MiB at {last['rows']} rows ({growth:+.1f}%)"
        )
    lines += ["", table.to_markdown(index=False), ""]
    (RESULTS / "streaming_rss.md").write_text("\n".join(lines))


if __name__ == "__main__":
    main()

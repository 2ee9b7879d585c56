"""Step-2 throughput under torchrun: distillation samples per second with 1 and 2 processes.

Each configuration trains the default vector student (MLP 512-256, latent 128, as in
:data:`cmcd.config.DEFAULTS`) on ``--rows`` random pairs (input width 216, as mfeat ``fac``)
with :func:`cmcd.train.training.distill`, the global batch fixed at ``--batch-size``:

* ``python``: one process without torchrun (no process group; the code path of a normal run),
  with 1 and with 2 torch threads;
* ``torchrun N``: ``torchrun --standalone --nproc_per_node=N`` running this file as a worker;
  each rank encodes ``batch / N`` rows, embeddings are gathered for the loss and
  DistributedDataParallel averages gradients over gloo.

Throughput = rows seen per epoch x epochs / wall seconds of the ``distill`` call (between two
barriers, after a warm-up epoch), best of ``--reps`` passes and of ``--rounds`` interleaved
rounds; the CPU cost is the process time summed over ranks per sample (best likewise).
``threads`` is torch's intra-op threads per process; ``speedup_vs_best_single`` divides by the
faster ``python`` row. The machine has 2 cores shared with other jobs, which bounds any gain
from a second process; the load average at the start is written beside the table.

Run ``python benchmarks/distributed_speed.py`` (a few minutes); it prints the table and writes
``benchmarks/results/distributed_speed.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from cmcd.train import distributed  # noqa: E402
from cmcd.train.losses import make_distill_loss  # noqa: E402
from cmcd.train.models import MLPEncoder  # noqa: E402
from cmcd.train.training import distill  # noqa: E402

IN_DIM, LATENT, HIDDEN = 216, 128, (512, 256)
CONFIGS = [("python", 1, 1), ("python", 1, 2), ("torchrun", 1, 1), ("torchrun", 2, 1)]


def _one_pass(student: torch.nn.Module, data: tuple, args: argparse.Namespace, rep: int) -> None:
    loss_fn = make_distill_loss(args.loss, n_data=args.rows, dim=LATENT)
    epochs = 1 if rep == 0 else args.epochs
    distill(
        student,
        *data,
        loss_fn,
        epochs=epochs,
        batch_size=args.batch_size,
        lr=1e-3,
        weight_decay=1e-4,
        seed=rep,
        progress=False,
    )


def _time_distill(args: argparse.Namespace) -> dict[str, float]:
    """Best-of-reps wall throughput (rank-0 clock) and CPU cost summed over ranks."""
    g = torch.Generator().manual_seed(0)
    data = (
        torch.randn(args.rows, LATENT, generator=g),
        torch.randn(args.rows, IN_DIM, generator=g),
    )
    student = MLPEncoder(IN_DIM, LATENT, hidden=HIDDEN, seed=0)
    rate, cpu = 0.0, float("inf")
    for rep in range(args.reps + 1):  # the first pass is a warm-up
        _barrier()
        wall, used = time.perf_counter(), time.process_time()
        _one_pass(student, data, args, rep)
        used = torch.tensor([time.process_time() - used], dtype=torch.float64)
        _barrier()
        wall = time.perf_counter() - wall
        if distributed.is_distributed():
            torch.distributed.all_reduce(used)
        if rep:
            samples = args.rows * args.epochs
            rate, cpu = max(rate, samples / wall), min(cpu, 1e6 * float(used) / samples)
    return {"samples_per_s": rate, "cpu_us_per_sample": cpu}


def _barrier() -> None:
    if distributed.is_distributed():
        torch.distributed.barrier()


def worker(args: argparse.Namespace) -> None:
    torch.set_num_threads(args.threads)
    with distributed.process_group(torch.device("cpu")):
        measured = _time_distill(args)
        if distributed.is_main_process():
            Path(args.worker).write_text(json.dumps(measured))


def _launch(launcher: str, nproc: int, threads: int, args: argparse.Namespace) -> dict[str, float]:
    out = ROOT / "benchmarks" / "results" / f".distributed_speed_{os.getpid()}.json"
    flags = [f"--{k.replace('_', '-')}={getattr(args, k)}" for k in _SHARED]
    script = [str(Path(__file__).resolve()), "--worker", str(out), f"--threads={threads}", *flags]
    torchrun = [str(Path(sys.executable).with_name("torchrun")), "--standalone"]
    prefix = {"python": [sys.executable], "torchrun": [*torchrun, f"--nproc_per_node={nproc}"]}
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([*prefix[launcher], *script], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{launcher} {nproc} failed:\n{done.stderr[-3000:]}")
    measured = json.loads(out.read_text())
    out.unlink()
    return measured


_SHARED = ("rows", "batch_size", "epochs", "reps", "loss")


def run(args: argparse.Namespace) -> pd.DataFrame:
    """Every configuration once per round (rounds interleave, so load drifts hit all alike)."""
    rows = []
    for round_id in range(args.rounds):
        for loss in args.losses:
            args.loss = loss
            for launcher, nproc, threads in CONFIGS:
                measured = _launch(launcher, nproc, threads, args)
                rows.append(
                    {
                        "loss": loss,
                        "launcher": launcher,
                        "processes": nproc,
                        "threads_per_process": threads,
                        "round": round_id,
                        **measured,
                    }
                )
                print(
                    f"round {round_id} {loss:>4} {launcher:>8} x{nproc} ({threads} thr): "
                    f"{measured['samples_per_s']:8.0f} samples/s",
                    flush=True,
                )
    keys = ["loss", "launcher", "processes", "threads_per_process"]
    df = pd.DataFrame(rows).groupby(keys, sort=False, as_index=False)
    df = df.agg(
        samples_per_s=("samples_per_s", "max"), cpu_us_per_sample=("cpu_us_per_sample", "min")
    )
    best_single = df[df["launcher"] == "python"].groupby("loss")["samples_per_s"].max()
    return df.assign(speedup_vs_best_single=df["samples_per_s"] / df["loss"].map(best_single))


def _summary(df: pd.DataFrame) -> list[str]:
    """One line per loss: 2 processes against the best single process, wall and CPU."""
    lines = []
    for loss, part in df.groupby("loss", sort=False):
        single = part[part["launcher"] == "python"]
        two = part[part["processes"] == 2].iloc[0]
        best = single.loc[single["samples_per_s"].idxmax()]
        lines.append(
            f"- {loss}: 2 processes run at {two['speedup_vs_best_single']:.2f}x the samples/s of "
            f"the best single process ({best['threads_per_process']} thread) and use "
            f"{two['cpu_us_per_sample'] / single['cpu_us_per_sample'].min():.2f}x its CPU time "
            "per sample."
        )
    return lines


def _markdown(df: pd.DataFrame, args: argparse.Namespace, load: str, elapsed: float) -> str:
    command = (
        f"`.venv/bin/python benchmarks/distributed_speed.py --rows {args.rows} --batch-size "
        f"{args.batch_size} --epochs {args.epochs} --reps {args.reps} --rounds {args.rounds} "
        f"--losses {' '.join(args.losses)}`"
    )
    return "\n".join(
        [
            "# Step-2 throughput under torchrun (gloo, CPU)",
            "",
            f"Distillation of the default vector student (MLP {HIDDEN}, latent {LATENT}, input "
            f"{IN_DIM}) on {args.rows} random pairs, global batch {args.batch_size}, "
            f"{args.epochs} epoch(s) per pass, best of {args.reps} passes after a warm-up epoch, "
            f"best over {args.rounds} interleaved rounds. `python`: one process, no process group; "
            "`torchrun N`: N gloo processes, embeddings gathered for the loss, "
            "DistributedDataParallel gradients. `samples_per_s`: wall clock of rank 0; "
            "`cpu_us_per_sample`: CPU time summed over all processes per sample (the cost, "
            "insensitive to how much of the shared cores other jobs take).",
            "",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores shared with other jobs "
            f"(load average at start: {load}), torch {torch.__version__}; total {elapsed:.0f} s.",
            f"Command: {command}",
            "",
            df.to_markdown(index=False, floatfmt=".3g"),
            "",
            *_summary(df),
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--losses", nargs="+", default=["cmc", "crd"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--loss", default="cmc", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    start = time.perf_counter()
    df = run(args)
    results = ROOT / "benchmarks" / "results"
    df.to_csv(results / "distributed_speed.csv", index=False)
    text = _markdown(df, args, load, time.perf_counter() - start)
    (results / "distributed_speed.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Loss throughput: vectorised torch losses vs the naive-loop references of the tests.

For each loss at each batch size (dimension 128 by default) this times

* the vectorised module (float32, CPU, one torch thread, as the pipeline calls it):
  forward + backward, best of 15-30 repetitions;
* the naive float64 Python-loop reference from ``tests/cmcd/naive_losses.py``: forward only
  (it has no backward), best of 2-3 repetitions;

and reports ``speed-up = naive forward / vectorised forward+backward``. Leaving out the
naive backward makes the speed-up a conservative (low) figure. Best-of timings (as
``timeit`` advises) because the machine is shared and other jobs only add time. Each row
also checks the vectorised value (float64) against the naive one.

Run ``python benchmarks/loss_speed.py`` (a few minutes on 2 cores); it prints the table and
writes ``benchmarks/results/loss_speed.csv`` and ``.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "cmcd"))

from naive_losses import (  # noqa: E402
    naive_cmc,
    naive_cmd,
    naive_cmd_cmc,
    naive_cosine,
    naive_crd,
    naive_info_nce,
    naive_l2,
)

from cmcd.train.losses import CRDLoss, InfoNCELoss, make_distill_loss  # noqa: E402

TARGET_SPEEDUP = 50.0
TARGET_BATCH = 1024
N_DATA = 8192  # size of the CRD memory bank


@dataclass(frozen=True)
class Case:
    """A loss: how to build its module and how to evaluate its naive reference."""

    name: str
    build: Callable[[int], nn.Module]  # dim -> module
    naive: Callable[[nn.Module, np.ndarray, np.ndarray, np.ndarray], float]


def _distill(name: str) -> Callable[[int], nn.Module]:
    return lambda dim: make_distill_loss(name, n_data=N_DATA, dim=dim)


def _crd_naive(module: nn.Module, t: np.ndarray, s: np.ndarray, index: np.ndarray) -> float:
    """Naive CRD on the negatives the module draws at its current step."""
    assert isinstance(module, CRDLoss)
    seed = module.seed * 1_000_003 + int(module.step)
    drawn = torch.randint(
        module.n_data, (module.n_negatives,), generator=torch.Generator().manual_seed(seed)
    )
    mask = drawn.numpy()[None, :] == index[:, None]
    negatives = module.memory[drawn].double().numpy()
    return naive_crd(t, s, negatives, module.temperature, mask)


CASES = [
    Case(
        "info_nce",
        lambda dim: InfoNCELoss(),
        lambda m, t, s, i: naive_info_nce(t, s, m.temperature),
    ),
    Case(
        "cmd",
        _distill("cmd"),
        lambda m, t, s, i: naive_cmd(t, s, None, m.teacher_temperature, m.student_temperature),
    ),
    Case("cmc", _distill("cmc"), lambda m, t, s, i: naive_cmc(t, s, m.temperature, m.symmetric)),
    Case(
        "cmd+cmc",
        _distill("cmd+cmc"),
        lambda m, t, s, i: naive_cmd_cmc(
            t,
            s,
            None,
            m.cmd.teacher_temperature,
            m.cmd.student_temperature,
            m.cmc.temperature,
            m.cmc.symmetric,
            m.cmc_weight,
        ),
    ),
    Case("l2", _distill("l2"), lambda m, t, s, i: naive_l2(t, s)),
    Case("cosine", _distill("cosine"), lambda m, t, s, i: naive_cosine(t, s)),
    Case("crd", _distill("crd"), _crd_naive),
]


def _call(module: nn.Module, t: Tensor, s: Tensor, index: Tensor) -> Tensor:
    if isinstance(module, InfoNCELoss):
        return module(t, s)
    return module(t, s, index)


def _inputs(batch: int, dim: int, seed: int) -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    t = torch.randn(batch, dim, generator=g)
    s = 0.6 * t + torch.randn(batch, dim, generator=g)
    return t, s, torch.arange(batch)


def _best_ms(run: Callable[[], object], reps: int, warmup: int) -> float:
    for _ in range(warmup):
        run()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return 1e3 * min(times)


def time_vectorised(
    module: nn.Module, t: Tensor, s: Tensor, index: Tensor, reps: int
) -> tuple[float, float]:
    """Best-of-``reps`` milliseconds of forward+backward and of forward alone (float32)."""
    student = s.clone().requires_grad_(True)

    def forward_backward() -> None:
        _call(module, t, student, index).backward()
        student.grad = None

    def forward() -> None:
        with torch.no_grad():
            _call(module, t, student, index)

    return _best_ms(forward_backward, reps, 3), _best_ms(forward, reps, 3)


def time_naive(
    case: Case, batch: int, dim: int, seed: int, reps: int
) -> tuple[float, float, float]:
    """Best naive milliseconds (forward) and the naive and vectorised float64 values."""
    module = case.build(dim).double().eval()  # eval: memory banks and queues stay put
    t, s, index = (x.double() if x.is_floating_point() else x for x in _inputs(batch, dim, seed))
    t_np, s_np, i_np = t.numpy(), s.numpy(), index.numpy()
    values: list[float] = []
    ms = _best_ms(lambda: values.append(case.naive(module, t_np, s_np, i_np)), reps, 0)
    vectorised = float(_call(module, t, s, index))
    return ms, values[-1], vectorised


def run(
    batches: list[int], dim: int, seed: int, naive_reps: dict[int, int], reps: dict[int, int]
) -> pd.DataFrame:
    rows = []
    for batch in batches:
        for case in CASES:
            t, s, index = _inputs(batch, dim, seed)
            module = case.build(dim)
            vec_fb, vec_f = time_vectorised(module, t, s, index, reps[batch])
            naive_ms, naive_value, vec_value = time_naive(case, batch, dim, seed, naive_reps[batch])
            row = {
                "loss": case.name,
                "batch": batch,
                "dim": dim,
                "vectorised_fwd_bwd_ms": vec_fb,
                "vectorised_fwd_ms": vec_f,
                "naive_fwd_ms": naive_ms,
                "speedup": naive_ms / vec_fb,
                "rel_diff_vs_naive": abs(vec_value - naive_value) / max(abs(naive_value), 1e-300),
            }
            rows.append(row)
            print(
                f"{case.name:>8} batch {batch:>5}: vectorised {vec_fb:9.3f} ms, "
                f"naive {naive_ms:10.1f} ms, speed-up {row['speedup']:10.0f}x",
                flush=True,
            )
    return pd.DataFrame(rows)


def _markdown(df: pd.DataFrame, dim: int, elapsed: float) -> str:
    shown = df.assign(
        meets_target=np.where(df["batch"] == TARGET_BATCH, df["speedup"] >= TARGET_SPEEDUP, None)
    )
    table = (
        shown.to_markdown(index=False, floatfmt=".4g")
        if _has_tabulate()
        else shown.to_string(index=False)
    )
    return "\n".join(
        [
            "# Loss throughput: vectorised vs naive loops",
            "",
            f"Dimension {dim}; vectorised = `cmcd.train.losses` module, float32, CPU, forward + "
            "backward, best of 15-30 repetitions; naive = float64 Python loops of "
            "`tests/cmcd/naive_losses.py`, forward only, best of 2-3 (no backward: the speed-up is "
            "conservative). Naive loops: (i, j) pairs "
            "with `np.dot` for d-dimensional inner products in the pairwise losses (info_nce, cmd, "
            "cmc, cmd+cmc, crd with its default 512 memory-bank negatives); (sample, coordinate) "
            "for l2 and cosine. `rel_diff_vs_naive`: float64 vectorised value vs naive value.",
            "",
            f"Target: speed-up >= {TARGET_SPEEDUP:.0f}x at batch {TARGET_BATCH}.",
            "",
            f"Machine: {platform.processor() or platform.machine()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch thread(s) (the naive loops use one); "
            f"total benchmark time {elapsed:.0f} s.",
            "Command: `.venv/bin/python benchmarks/loss_speed.py`",
            "",
            table,
            "",
        ]
    )


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument(
        "--threads", type=int, default=1, help="torch threads (1: same as the naive loops)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    naive_reps = {b: 3 if b <= 256 else 2 for b in args.batches}
    reps = {b: 30 if b <= 256 else 15 for b in args.batches}
    start = time.perf_counter()
    df = run(args.batches, args.dim, args.seed, naive_reps, reps)
    elapsed = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / "loss_speed.csv", index=False, float_format="%.6g")
    markdown = _markdown(df, args.dim, elapsed)
    (args.out / "loss_speed.md").write_text(markdown)
    print()
    print(markdown)
    return df


if __name__ == "__main__":
    main()

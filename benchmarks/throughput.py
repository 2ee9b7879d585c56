"""Training-loop throughput: our loops against a plain PyTorch loop doing the same work.

For each case (an encoder from :mod:`cmcd.train.models` on its view) and each step (SimCLR
pre-training, distillation with a real loss) this times

* ours: :func:`cmcd.train.training.pretrain_ssl` / :func:`cmcd.train.training.distill`
  (``loop=None``: fp32, as the pipeline ran so far; on CUDA also ``LoopOptions()``, i.e.
  bf16 autocast and channels-last, marked ``ours_options = auto``);
* plain: the loop a user would write by hand, inside this file: the same model (a copy of
  the same initial weights), batch size, AdamW, permutation and drop rule of the last batch,
  the same augmentation (SSL) and the same loss, with the loss summed on the device and
  read once per epoch;

and reports samples per second (rows trained per epoch x epochs / wall seconds), median over
``repeats`` interleaved calls after one warm-up call of each (excluded), and
``ratio = ours / plain`` (goal >= 0.9). ``ratio_cpu`` is the same ratio of process CPU time
(less sensitive to other jobs on a shared machine). ``max_history_diff`` compares the two
loops' per-epoch losses on the timed calls: 0 when they do exactly the same float work.
On CUDA the timed region is bracketed by ``torch.cuda.synchronize()``.

Run ``OMP_NUM_THREADS=1 python benchmarks/throughput.py --threads 1`` (about 3 minutes on
one CPU thread; ``--quick`` is smaller). It prints the table and writes
``benchmarks/results/throughput.csv`` and ``.md`` (``throughput_quick.*`` with ``--quick``).
The resnet18 case runs only where torchvision imports.
"""

from __future__ import annotations

import argparse
import copy
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from cmcd.runs.streaming_steps import LazyRows
from cmcd.train.augment import augment_image, augment_vector
from cmcd.train.losses import info_nce, make_distill_loss
from cmcd.train.models import ConvEncoder, MLPEncoder, ProjectionHead, build_encoder
from cmcd.train.training import LoopOptions, distill, pretrain_ssl

ROOT = Path(__file__).resolve().parents[1]
GOAL_RATIO = 0.9
DESCRIPTION = (
    "ours = `cmcd.train.training.pretrain_ssl` / `distill` (`ours_options` none: `loop=None`, "
    "fp32; auto: `LoopOptions()`, bf16 autocast and channels-last on CUDA); plain = a "
    "hand-written loop in `benchmarks/throughput.py` with the same model (copied from the same "
    "initial weights), batch size, AdamW, permutation, drop rule, augmentation and loss, the "
    "loss summed on the device and read once per epoch. samples/s = rows trained per epoch x "
    "epochs / wall seconds, median of `repeats` interleaved calls after one warm-up call of "
    "each (excluded); `ratio` = ours / plain (goal >= 0.9); `ratio_cpu` = the same ratio of "
    "process CPU time (less sensitive to other jobs on a shared machine); `max_history_diff` = "
    "largest difference of the two loops' per-epoch losses (0: the same float work). "
    "`mlp-small` (input 32, hidden 64, batch 32) exposes the per-batch overhead of the loop."
)
LR, WEIGHT_DECAY, TEMPERATURE, LATENT, NOISE, MASK = 1e-3, 1e-4, 0.5, 128, 0.1, 0.5


@dataclass(frozen=True)
class Case:
    """An encoder on its view: how to build it and its inputs, and the sizes to time."""

    model: str
    build: Callable[[], nn.Module]
    inputs: Callable[[int, torch.Generator], Tensor]  # (n, generator) -> x
    augment: Callable[[Tensor, float, float, torch.Generator], Tensor]
    n_rows: int
    batch_size: int
    epochs: int
    losses: tuple[str, ...]


def _resnet_available() -> bool:
    try:
        import torchvision  # noqa: F401
    except Exception:  # a torchvision built for another torch fails with RuntimeError
        return False
    return True


#: A ``paired_files`` manifest of Fashion-MNIST PNGs (``benchmarks/streaming_rss.py`` writes it);
#: when present, the ``mlp-streamed`` case times both loops on rows decoded from it per batch.
STREAM_MANIFEST = ROOT / "runs" / "bench_rss" / "fashion-10000" / "manifest.csv"


def _streamed_rows(n: int, generator: torch.Generator) -> LazyRows:
    """Return the first ``n`` target rows of :data:`STREAM_MANIFEST`, read per batch."""
    from cmcd.data import load_dataset

    ds = load_dataset("paired_files", manifest=str(STREAM_MANIFEST))
    return LazyRows(ds, "target", np.arange(n), torch.device("cpu"))


def cases(device: torch.device, quick: bool) -> list[Case]:
    """Return the cases timed on ``device`` (smaller with ``quick``; ResNet with torchvision)."""
    cpu = device.type == "cpu"
    scale = 4 if quick else 1
    vectors = Case(
        "mlp",
        lambda: MLPEncoder(216, LATENT, hidden=(512, 256), seed=0),
        lambda n, g: torch.randn(n, 216, generator=g),
        augment_vector,
        (2048 if cpu else 16384) // scale,
        256,
        3 if cpu else 4,
        ("cmc", "cmd", "l2"),
    )
    images = Case(
        "cnn",
        lambda: ConvEncoder((28, 28), LATENT, seed=0),
        lambda n, g: torch.rand(n, 28, 28, generator=g),
        augment_image,
        (512 if cpu else 16384) // (2 if quick else 1),
        256,
        (1 if quick else 2) if cpu else 4,
        ("cmc",),
    )
    small = Case(
        "mlp-small",
        lambda: MLPEncoder(32, LATENT, hidden=(64,), seed=0),
        lambda n, g: torch.randn(n, 32, generator=g),
        augment_vector,
        2048 // scale,
        32,
        2,
        ("cmc",),
    )
    out = [vectors, small, images]
    if STREAM_MANIFEST.is_file():
        out.append(
            Case(
                "mlp-streamed",
                lambda: build_encoder("mlp", (28, 28), LATENT, seed=0),
                _streamed_rows,
                augment_image,
                2048 // scale,
                256,
                1,
                ("cmc",),
            )
        )
    if _resnet_available():
        out.append(
            Case(
                "resnet18",
                lambda: build_encoder("resnet18", (28, 28), LATENT, seed=0),
                lambda n, g: torch.rand(n, 28, 28, generator=g),
                augment_image,
                (128 if cpu else 8192) // (2 if quick else 1),
                64 if cpu else 256,
                1 if cpu else 2,
                ("cmc",),
            )
        )
    return out


# --------------------------------------------------------------------------- plain loops
def _plain_batches(n: int, batch_size: int, generator: torch.Generator, device) -> list[Tensor]:
    """Cut a permutation into batches; drop a last one under max(2, batch_size // 4)."""
    cuts = list(torch.randperm(n, generator=generator).split(batch_size))
    if len(cuts) > 1 and len(cuts[-1]) < max(2, batch_size // 4):
        cuts = cuts[:-1]
    return [c.to(device) for c in cuts]


def plain_ssl(encoder: nn.Module, head: nn.Module, x: Tensor, augment, epochs: int, bs: int):
    """Hand-written SimCLR loop: the same work as :func:`pretrain_ssl` with no loop machinery."""
    generator = torch.Generator().manual_seed(0)
    params = [*encoder.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(params, lr=LR, weight_decay=WEIGHT_DECAY)
    encoder.train()
    head.train()
    history = []
    for _ in range(epochs):
        total, count = torch.zeros((), dtype=torch.float64, device=x.device), 0
        for idx in _plain_batches(len(x), bs, generator, x.device):
            xb = x[idx]
            v1, v2 = augment(xb, generator), augment(xb, generator)
            loss = info_nce(head(encoder(v1)), head(encoder(v2)), temperature=TEMPERATURE)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + loss.detach().double() * len(idx), count + len(idx)
        history.append(total.item() / count)
    return history


def plain_distill(student: nn.Module, z_teacher: Tensor, x: Tensor, loss_fn, epochs: int, bs: int):
    """Hand-written distillation loop: the same work as :func:`distill`."""
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.AdamW(student.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    loss_fn.to(x.device)
    student.train()
    history = []
    for _ in range(epochs):
        total, count = torch.zeros((), dtype=torch.float64, device=x.device), 0
        for idx in _plain_batches(len(x), bs, generator, x.device):
            loss = loss_fn(z_teacher[idx], student(x[idx]), idx)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + loss.detach().double() * len(idx), count + len(idx)
        history.append(total.item() / count)
    return history


# --------------------------------------------------------------------------- timing
def _rows_per_epoch(n: int, batch_size: int) -> int:
    last = n % batch_size
    return n - last if 0 < last < max(2, batch_size // 4) and n > batch_size else n


def _timed(fn: Callable[[], list[float]], device: torch.device) -> tuple[float, float, list]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    wall, cpu = time.perf_counter(), time.process_time()
    history = fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - wall, time.process_time() - cpu, history


def _runners(case: Case, step: str, device: torch.device, loop: LoopOptions | None):
    """Return ``make(epochs) -> (ours, plain)`` closures on fresh copies of the same models."""
    g = torch.Generator().manual_seed(1)
    x = case.inputs(case.n_rows, g)
    x = LazyRows(x.ds, x.side, x.rows, device) if isinstance(x, LazyRows) else x.to(device)
    encoder = case.build().to(device)
    head = ProjectionHead(LATENT, 64, seed=2).to(device)
    z_teacher = torch.randn(case.n_rows, LATENT, generator=g).to(device)

    def augment(b: Tensor, gen: torch.Generator) -> Tensor:
        return case.augment(b, NOISE, MASK, gen)

    def make(epochs: int) -> tuple[Callable[[], list], Callable[[], list]]:
        if step == "pretrain":
            e1, h1, e2, h2 = (copy.deepcopy(m) for m in (encoder, head, encoder, head))
            kw = dict(epochs=epochs, batch_size=case.batch_size, lr=LR)
            kw |= dict(weight_decay=WEIGHT_DECAY, temperature=TEMPERATURE, seed=0)

            def ours() -> list:
                return pretrain_ssl(e1, h1, x, augment, **kw, progress=False, loop=loop)

            return ours, lambda: plain_ssl(e2, h2, x, augment, epochs, case.batch_size)
        loss = step.removeprefix("distill-")
        s1, s2 = copy.deepcopy(encoder), copy.deepcopy(encoder)
        l1, l2 = (make_distill_loss(loss, n_data=case.n_rows, dim=LATENT) for _ in range(2))
        kw = dict(epochs=epochs, batch_size=case.batch_size, lr=LR, weight_decay=WEIGHT_DECAY)

        def ours_d() -> list:
            return distill(s1, z_teacher, x, l1, **kw, seed=0, progress=False, loop=loop)

        return ours_d, lambda: plain_distill(s2, z_teacher, x, l2, epochs, case.batch_size)

    return make


def measure(case: Case, step: str, device: torch.device, repeats: int, loop_name: str) -> dict:
    """Median samples/s of ours and plain over ``repeats`` interleaved calls (warm-up first)."""
    loop = None if loop_name == "none" else LoopOptions()
    make = _runners(case, step, device, loop)
    for fn in make(1):  # warm-up call of each, excluded (allocator, kernels, compilation)
        _timed(fn, device)
    ours_w, plain_w, ours_c, plain_c, diffs = [], [], [], [], []
    for _ in range(repeats):
        ours, plain = make(case.epochs)
        wo, co, ho = _timed(ours, device)
        wp, cp, hp = _timed(plain, device)
        ours_w, plain_w = ours_w + [wo], plain_w + [wp]
        ours_c, plain_c = ours_c + [co], plain_c + [cp]
        diffs.append(max(abs(a - b) for a, b in zip(ho, hp, strict=True)))
    samples = case.epochs * _rows_per_epoch(case.n_rows, case.batch_size)
    ours_rate = samples / statistics.median(ours_w)
    plain_rate = samples / statistics.median(plain_w)
    return {
        "model": case.model,
        "step": step,
        "ours_options": loop_name,
        "batch_size": case.batch_size,
        "n_rows": case.n_rows,
        "epochs": case.epochs,
        "ours_samples_per_s": ours_rate,
        "plain_samples_per_s": plain_rate,
        "ratio": ours_rate / plain_rate,
        "ratio_cpu": statistics.median(plain_c) / statistics.median(ours_c),
        "max_history_diff": max(diffs),
        "repeats": repeats,
    }


def device_name(device: torch.device) -> str:
    """Return a readable name of ``device``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()})"


def run(devices: list[torch.device], repeats: int, quick: bool) -> pd.DataFrame:
    """Time every case and step on every device; one row per (device, case, step, options)."""
    jobs = []
    for device in devices:
        options = ["none", "auto"] if device.type == "cuda" else ["none"]
        for case in cases(device, quick):
            steps = ["pretrain", *(f"distill-{loss}" for loss in case.losses)]
            jobs += [(device, case, step, opt) for step in steps for opt in options]
    rows = []
    for device, case, step, opt in tqdm(jobs, desc="throughput"):
        row = measure(case, step, device, repeats, opt)
        rows.append({"device": device_name(device), "threads": torch.get_num_threads(), **row})
        tqdm.write(
            f"{row['model']:>8} {step:>13} {opt:>4} on {device.type}: ours "
            f"{row['ours_samples_per_s']:9.0f}/s plain {row['plain_samples_per_s']:9.0f}/s "
            f"ratio {row['ratio']:.3f} (cpu {row['ratio_cpu']:.3f})"
        )
    return pd.DataFrame(rows)


def _markdown(df: pd.DataFrame, command: str, elapsed: float) -> str:
    table = df.to_markdown(index=False, floatfmt=".4g")
    fp32 = df[df["ours_options"] == "none"]
    low = fp32[fp32["ratio"] < GOAL_RATIO]
    verdict = (
        f"Goal ratio >= {GOAL_RATIO} (fp32 rows): met in {len(fp32) - len(low)} of {len(fp32)}"
        + ("." if low.empty else f"; missed: {', '.join(low['model'] + ' ' + low['step'])}.")
    )
    return "\n".join(
        [
            "# Training-loop throughput: ours vs a plain PyTorch loop",
            "",
            DESCRIPTION,
            "",
            f"Machine: {platform.machine()}, torch {torch.__version__}, "
            f"{torch.get_num_threads()} torch thread(s); total {elapsed:.0f} s.",
            f"Command: `{command}`",
            "",
            verdict,
            "",
            table,
            "",
        ]
    )


def main(argv: list[str] | None = None) -> pd.DataFrame:
    """Parse the arguments, run, print the table and write CSV and markdown."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--repeats", type=int, default=None, help="timed calls (default 5/3)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes and 3 repeats")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu (+ cuda)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.devices or ["cpu", *(["cuda"] if torch.cuda.is_available() else [])]
    repeats = args.repeats or (3 if args.quick else 5)
    start = time.perf_counter()
    df = run([torch.device(d) for d in names], repeats, args.quick)
    elapsed = time.perf_counter() - start
    command = "python benchmarks/throughput.py " + " ".join(argv or sys.argv[1:])
    stem = "throughput_quick" if args.quick else "throughput"
    args.out.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out / f"{stem}.csv", index=False, float_format="%.6g")
    markdown = _markdown(df, command.strip(), elapsed)
    (args.out / f"{stem}.md").write_text(markdown)
    print()
    print(markdown)
    return df


if __name__ == "__main__":
    main()

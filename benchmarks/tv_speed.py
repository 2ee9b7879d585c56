"""Wall-clock time of the TV estimators as n and d grow.

Cases (data: pairs of ``bounds.truth.groundtruth`` with true TV 0.5, the ``mean_shift`` one unless
said otherwise):

- the default estimator at n = 10,000 per side, d = 128 (target < 60 s on 2 cores) on every
  family (the chosen classifier, hence the time, depends on the data), and its growth with n
  (d = 32) and with d (n = 2,500);
- the partition TV up to n = 100,000 per side (d = 8 and d = 128);
- the other registered estimators (``robust_ot`` is exact OT, cubic in n) at small n.

Each row is appended to ``benchmarks/results/tv_speed.csv`` when it finishes and a rerun
skips rows already there. The load average is recorded beside each time: the machine may be
shared, so timings are noisy.

Usage::

    python benchmarks/tv_speed.py            # all cases
    python benchmarks/tv_speed.py --quick    # small cases into a temporary folder
"""

from __future__ import annotations

import argparse
import csv
import inspect
import math
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from bounds.truth.groundtruth import FAMILIES, make_pair

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_N, TARGET_D, TARGET_SECONDS = 10_000, 128, 60.0
FIELDS = (
    *("method", "family", "n", "d", "seconds", "estimate", "lower", "truth"),
    *("load_before", "load_after", "cpus", "failure"),
)


def default_method() -> str:
    """Return the name of the default method of ``bounds.tv.api.estimate_tv``."""
    from bounds.tv.api import estimate_tv

    return str(inspect.signature(estimate_tv).parameters["method"].default)


def cases(default: str, methods: Sequence[str], quick: bool) -> list[tuple[str, str, int, int]]:
    """Return the (method, family, n per side, d) cases, cheapest first within each method."""
    ms = "mean_shift"
    if quick:
        return [(m, ms, n, 8) for m in methods for n in (250, 500)]
    out = [(default, ms, n, 32) for n in (1_000, 2_500, 5_000, 10_000)]
    out += [(default, ms, 2_500, d) for d in (8, 128)]
    out += [(default, fam, TARGET_N, TARGET_D) for fam in FAMILIES]
    if "partition" in methods:
        out += [("partition", ms, n, 8) for n in (1_000, 10_000, 100_000)]
        out += [("partition", ms, n, 128) for n in (10_000, 100_000)]
    others = [m for m in methods if m not in (default, "partition", "paired")]
    out += [(m, ms, n, 8) for m in others for n in (250, 1_000, 2_000)]
    return out


def load_done(path: Path) -> set[tuple[str, str, int, int]]:
    """Keys (method, family, n, d) already in the CSV."""
    if not path.exists() or path.stat().st_size == 0:
        return set()
    df = pd.read_csv(path)
    cols = (df["method"], df["family"], df["n"], df["d"])
    return {(str(m), str(f), int(n), int(d)) for m, f, n, d in zip(*cols, strict=True)}


def time_one(method: str, family: str, n: int, d: int, seed: int = 0) -> dict[str, Any]:
    """Draw n rows a side and time one ``estimate_tv`` call (failures recorded)."""
    from bounds.tv.api import estimate_tv

    pair = make_pair(family, d, 0.5)
    xs, xt = pair.sample(n, random_state=seed)
    row: dict[str, Any] = {"method": method, "family": family, "n": n, "d": d}
    row["truth"] = pair.true_tv
    row.update(load_before=os.getloadavg()[0], cpus=os.cpu_count(), failure="")
    start = time.perf_counter()
    try:
        res = estimate_tv(xs, xt, method=method, random_state=seed)
        row.update(estimate=res.estimate, lower=res.lower)
    except Exception as err:  # noqa: BLE001 - record and move on
        row.update(estimate=math.nan, lower=math.nan)
        row["failure"] = f"{type(err).__name__}: {err}".splitlines()[0][:300]
    row["seconds"] = time.perf_counter() - start
    row["load_after"] = os.getloadavg()[0]
    return row


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one row (header first if the file is new)."""
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def _to_markdown(df: pd.DataFrame, floatfmt: str = ".2f") -> str:
    df = df.reset_index()

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * df.shape[1]]
    lines += ["| " + " | ".join(fmt(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


def growth_exponent(df: pd.DataFrame, by: str) -> float:
    """Least-squares slope of log(seconds) on log(``by``): time ~ ``by`` ** slope."""
    if df[by].nunique() < 2:
        return math.nan
    return float(np.polyfit(np.log(df[by]), np.log(df["seconds"]), 1)[0])


def summarise(df: pd.DataFrame, default: str) -> str:
    """Markdown report: headline times, time vs n and vs d, growth exponents."""
    ok = df[df["failure"].isna() | (df["failure"].astype(str) == "")]
    head = ok[(ok["method"] == default) & (ok["n"] == TARGET_N) & (ok["d"] == TARGET_D)]
    sec = float(head["seconds"].max()) if len(head) else math.nan
    worst = str(head.loc[head["seconds"].idxmax(), "family"]) if len(head) else "none"
    status = "no data" if math.isnan(sec) else ("PASS" if sec < TARGET_SECONDS else "FAIL")
    part = ok[(ok["method"] == "partition") & (ok["n"] == ok["n"].max())]
    loads = f"{df['load_before'].min():.1f} to {df['load_after'].max():.1f}"
    lines = [
        "# TV estimator speed",
        "",
        "Generated by `python benchmarks/tv_speed.py`; data: pairs with true TV 0.5; "
        f"seconds of one `estimate_tv` call on {int(df['cpus'].max())} CPUs. The machine was "
        f"shared with other jobs (1-minute load average {loads}), so the times are noisy and "
        "pessimistic.",
        "",
        f"- default `{default}` at n = {TARGET_N:,} per side, d = {TARGET_D}: {sec:.1f} s "
        f"at worst over {len(head)} families (slowest: {worst}; target < "
        f"{TARGET_SECONDS:.0f} s: {status})",
    ]
    for row in part.itertuples():
        lines.append(f"- partition at n = {row.n:,} per side, d = {row.d}: {row.seconds:.1f} s")
    lines.append("- growth exponents below use the mean-shift rows only")
    lines.append(
        "- the classifier selects its model on at most `select_size` (default 2000) training "
        "rows per fold and only refits the winner on the rest, so its time is nearly flat in n"
    )
    in_n = [
        {"method": m, "d": int(d), "points": len(g), "a (time ~ n^a)": growth_exponent(g, "n")}
        for (m, d), g in ok[ok["family"] == "mean_shift"].groupby(["method", "d"])
        if g["n"].nunique() > 1
    ]
    in_d = [
        {"method": m, "n": int(n), "points": len(g), "b (time ~ d^b)": growth_exponent(g, "d")}
        for (m, n), g in ok[ok["family"] == "mean_shift"].groupby(["method", "n"])
        if g["d"].nunique() > 1
    ]
    lines += [
        "",
        "## Seconds by method, family, d (rows) and n per side (columns)",
        "",
        _to_markdown(ok.pivot_table("seconds", ["method", "family", "d"], "n", "min")),
        "",
        "## Growth with n (fixed d) and with d (fixed n): least squares on log-log",
        "",
        _to_markdown(pd.DataFrame(in_n).set_index("method")) if in_n else "(too few points)",
        "",
        _to_markdown(pd.DataFrame(in_d).set_index("method")) if in_d else "(too few points)",
    ]
    failed = df[~df.index.isin(ok.index)]
    if len(failed):
        lines += ["", "## Failures", "", _to_markdown(failed[["method", "n", "d", "failure"]])]
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small cases into a temporary folder")
    p.add_argument("--methods", nargs="+", default=None, help="subset of method names")
    p.add_argument("--out-dir", type=Path, default=None, help="default benchmarks/results")
    p.add_argument("--summary-only", action="store_true", help="rewrite the md from the CSV")
    args = p.parse_args(argv)
    if args.quick:
        args.out_dir = args.out_dir or Path(tempfile.gettempdir()) / "cmcd_tv_speed_quick"
    args.out_dir = args.out_dir or RESULTS
    return args


def main(argv: Sequence[str] | None = None) -> str:
    """Time every missing case, then write and print the markdown summary."""
    from bounds.tv.api import METHODS

    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = args.out_dir / "tv_speed.csv"
    default = default_method()
    methods = [m for m in METHODS if not args.methods or m in args.methods]
    if not args.summary_only:
        done = load_done(csv_path)
        todo = [c for c in cases(default, methods, args.quick) if c not in done]
        for method, family, n, d in tqdm(todo, desc="tv_speed", file=sys.stdout):
            append_row(csv_path, time_one(method, family, n, d))
    report = summarise(pd.read_csv(csv_path), default)
    (args.out_dir / "tv_speed.md").write_text(report)
    print(report)
    return report


if __name__ == "__main__":
    main()

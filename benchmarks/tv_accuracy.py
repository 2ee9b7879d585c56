"""Accuracy of the TV estimators and of the usual references against exact ground truth.

Every method of ``bounds.tv.api.METHODS`` (except ``paired``, which needs paired rows), the
references of ``bounds.truth.references`` and the density-knowing oracle run on samples from the
``bounds.truth.groundtruth`` catalogue (mean shift, scale change, mixture vs Gaussian, Student t vs
Gaussian; true TV 0.1 to 0.9) over ``d`` in {2, 8, 32} and ``n`` in {250, 1000, 4000} per
side. One CSV row per method x family x level x d x n x rep is appended as soon as it is
computed; rerunning skips the rows already there, so a killed run loses nothing.

``--catalogue latent`` runs the same methods (plus held-out gradient boosting) on the pairs
of :mod:`bounds.truth.latent_catalogue`: where contrastive latents live (d in {64, 128}, on or near
the sphere, class clusters, a constant offset, identical laws), at n in {300, 1000} per side,
plus one timing cell of the default at n = 10,000, d = 128. Its targets are those of issue 10:
MAE <= 0.02 at n = 1000 and <= 0.04 at n = 300, lower-bound coverage >= 0.95, under 60 s at
n = 10,000.

Usage::

    python benchmarks/tv_accuracy.py            # full grid (hours on 2 cores), resumable
    python benchmarks/tv_accuracy.py --catalogue latent   # latent-like pairs (about 1 h)
    python benchmarks/tv_accuracy.py --quick    # smoke run into a temporary folder
    python benchmarks/tv_accuracy.py --n 1000 --d 2 8 --reps 1 --methods classifier
    python benchmarks/tv_accuracy.py --rerun classifier   # after the classifier changed

Outputs ``benchmarks/results/tv_accuracy.csv`` and ``tv_accuracy.md`` (printed too);
``latent_tv_accuracy.{csv,md}`` for the latent catalogue.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import inspect
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tqdm import tqdm

from bounds.truth.groundtruth import DEFAULT_LEVELS, FAMILIES, DistributionPair, make_pair
from bounds.truth.latent_catalogue import CASES, latent_case
from bounds.truth.references import REFERENCES, oracle_tv

RESULTS = Path(__file__).resolve().parent / "results"
DIMS = (2, 8, 32)
SIZES = (250, 1000, 4000)
REPS = {250: 3, 1000: 4, 4000: 2}  # fewer repetitions where a fit is slow (our choice)
HEADLINE_N = 1000
TARGET_MAE, TARGET_COVERAGE = 0.05, 0.95
SKIP_METHODS = ("paired",)
EXTRA_POINTS = ("null_corrected",)  # point rules of the classifier run beside its default
#: Candidate sets of the classifier as the sweeps configure it (the Fashion protocol among them).
SWEEP_CANDIDATES: tuple[tuple[str, ...], ...] = (("logistic", "spline", "knn"),)
KEY = ("method", "family", "d", "n", "level", "rep")
FIELDS = (
    *KEY,
    *("kind", "truth", "estimate", "lower", "upper", "error", "abs_error", "covered"),
    *("seconds", "failure", "code"),
)

Runner = Callable[[np.ndarray, np.ndarray, int, DistributionPair], tuple[float, float, float]]


@dataclass(frozen=True)
class Catalogue:
    """A family of ground-truth pairs with its grid, file stem and accuracy targets."""

    name: str
    stem: str  # file stem of the CSV and MD tables
    title: str
    families: tuple[str, ...]
    dims: tuple[int, ...]
    sizes: tuple[int, ...]
    reps: dict[int, int]
    levels: Callable[[str], tuple[float, ...]]  # the TV levels of one family
    make: Callable[[str, int, float], DistributionPair]
    mae_targets: dict[int, float]  # n per side -> target MAE of the default
    speed_cell: tuple[str, int, int, float] | None = None  # (family, d, n, level), default only
    identical: tuple[str, ...] = ()  # families whose two laws are the same (TV = 0)


CATALOGUES: dict[str, Catalogue] = {
    "textbook": Catalogue(
        "textbook",
        "tv_accuracy",
        "TV estimator accuracy against exact ground truth",
        tuple(FAMILIES),
        DIMS,
        SIZES,
        REPS,
        lambda family: tuple(DEFAULT_LEVELS),
        make_pair,
        {HEADLINE_N: TARGET_MAE},
    ),
    "latent": Catalogue(
        "latent",
        "latent_tv_accuracy",
        "TV estimator accuracy where contrastive latents live (bounds.truth.latent_catalogue)",
        tuple(CASES),
        (64, 128),
        (300, 1000),
        {300: 3, 1000: 3},
        lambda family: CASES[family].levels,
        latent_case,
        {1000: 0.02, 300: 0.04},
        speed_cell=("vmf_clusters_gap", 128, 10_000, 0.7),
        identical=tuple(name for name, case in CASES.items() if case.identical),
    ),
}
"""Registry of ground-truth catalogues: ``--catalogue`` name -> :class:`Catalogue`."""
SPEED_TARGET_S = 60.0
THREADS_NOTE = "torch and BLAS threads as set by the caller (OMP_NUM_THREADS)"


@dataclass(frozen=True)
class Method:
    """A named way to get (estimate, lower, upper) from two samples."""

    name: str
    kind: str  # "estimator", "reference" or "oracle"
    run: Runner


def default_method() -> str:
    """Return the name of the default method of ``bounds.tv.api.estimate_tv``."""
    from bounds.tv.api import estimate_tv

    return str(inspect.signature(estimate_tv).parameters["method"].default)


def _estimator(name: str) -> Runner:
    def run(xs: np.ndarray, xt: np.ndarray, seed: int, pair: DistributionPair):
        from bounds.tv.api import estimate_tv

        res = estimate_tv(xs, xt, method=name, random_state=seed)
        return res.estimate, res.lower, math.nan if res.upper is None else res.upper

    return run


def _classifier_point(point: str) -> Runner:
    """Build the default classifier with another point rule (same seed: same fits and ``lower``)."""

    def run(xs: np.ndarray, xt: np.ndarray, seed: int, pair: DistributionPair):
        from bounds.tv.api import estimate_tv

        res = estimate_tv(xs, xt, method="classifier", point=point, random_state=seed)
        return res.estimate, res.lower, math.nan

    return run


def _classifier_candidates(candidates: tuple[str, ...]) -> Runner:
    """Run the classifier TV restricted to ``candidates`` (as the gap sweeps configure it)."""

    def run(xs: np.ndarray, xt: np.ndarray, seed: int, pair: DistributionPair):
        from bounds.tv.api import estimate_tv

        res = estimate_tv(xs, xt, method="classifier", candidates=candidates, random_state=seed)
        return res.estimate, res.lower, math.nan

    return run


def _reference(fn: Callable[..., float]) -> Runner:
    def run(xs: np.ndarray, xt: np.ndarray, seed: int, pair: DistributionPair):
        return fn(xs, xt, random_state=seed), math.nan, math.nan

    return run


def _oracle(xs: np.ndarray, xt: np.ndarray, seed: int, pair: DistributionPair):
    return oracle_tv(xs, xt, pair.logpdf_source, pair.logpdf_target), math.nan, math.nan


def all_methods() -> dict[str, Method]:
    """Estimators of ``bounds.tv.api.METHODS`` (if importable), references, and the oracle."""
    methods: dict[str, Method] = {}
    try:
        from bounds.tv.api import METHODS
    except ImportError as err:  # the estimators may not have landed yet
        print(f"warning: bounds.tv.api not importable ({err}); references only", file=sys.stderr)
        METHODS = {}
    for name in METHODS:
        if name not in SKIP_METHODS:
            methods[name] = Method(name, "estimator", _estimator(name))
    for point in EXTRA_POINTS:
        name = f"classifier[{point}]"
        methods[name] = Method(name, "estimator", _classifier_point(point))
    for candidates in SWEEP_CANDIDATES:
        name = f"classifier[{'+'.join(candidates)}]"
        methods[name] = Method(name, "estimator", _classifier_candidates(candidates))
    for name, fn in REFERENCES.items():
        methods[name] = Method(name, "reference", _reference(fn))
    methods["oracle"] = Method("oracle", "oracle", _oracle)
    return methods


def code_version() -> str:
    """Short hash of the ``bounds`` sources, stored in each row to spot stale results."""
    root = Path(__file__).resolve().parents[1] / "bounds"
    digest = hashlib.sha1()
    for path in sorted(p for p in root.rglob("*.py") if p.name != "demo.py"):
        digest.update(str(path.relative_to(root)).encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def _seed(family: str, d: int, n: int, level: float, rep: int, families: Sequence[str]) -> int:
    """Deterministic sample seed of one grid cell (``families``: the catalogue's, in order)."""
    fam = list(families).index(family)
    return int(np.random.SeedSequence([fam, d, n, round(level * 1000), rep]).generate_state(1)[0])


def _key(row: dict[str, Any]) -> tuple:
    return (
        str(row["method"]),
        str(row["family"]),
        int(row["d"]),
        int(row["n"]),
        round(float(row["level"]), 6),
        int(row["rep"]),
    )


def load_done(path: Path) -> set[tuple]:
    """Keys of the rows already in the CSV (empty if there is none)."""
    if not path.exists() or path.stat().st_size == 0:
        return set()
    return {_key(r) for r in pd.read_csv(path).to_dict("records")}


def drop_methods(path: Path, methods: Sequence[str]) -> int:
    """Remove the rows of ``methods`` from the CSV (to recompute them); return how many."""
    if not methods or not path.exists() or path.stat().st_size == 0:
        return 0
    df = pd.read_csv(path)
    keep = ~df["method"].isin(list(methods))
    df[keep].to_csv(path, index=False)
    return int((~keep).sum())


def append_row(path: Path, row: dict[str, Any]) -> None:
    """Append one row (header first if the file is new) and flush it to disk."""
    new = not path.exists() or path.stat().st_size == 0
    with path.open("a", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        writer.writerow(row)


def run_one(method: Method, xs: np.ndarray, xt: np.ndarray, seed: int, pair: DistributionPair):
    """Run one method on one draw; a failure is recorded in the row, not raised."""
    start = time.perf_counter()
    est = low = up = math.nan
    failure = ""
    try:
        est, low, up = (float(v) for v in method.run(xs, xt, seed, pair))
    except Exception as err:  # noqa: BLE001 - record and move on
        failure = f"{type(err).__name__}: {err}".splitlines()[0][:300]
    truth = pair.true_tv
    return {
        "kind": method.kind,
        "truth": truth,
        "estimate": est,
        "lower": low,
        "upper": up,
        "error": est - truth,
        "abs_error": abs(est - truth),
        "covered": "" if math.isnan(low) else bool(low <= truth),
        "seconds": time.perf_counter() - start,
        "failure": failure,
    }


def grid(args: argparse.Namespace) -> list[tuple[str, int, int, float, int]]:
    """All (family, d, n, level, rep) cells, cheapest ``n`` first."""
    cat = CATALOGUES[args.catalogue]
    cells = []
    for n in sorted(args.n):
        reps = args.reps if args.reps is not None else cat.reps.get(n, 1)
        for d in args.d:
            for rep in range(reps):
                for fam in args.families:
                    levels = args.levels if args.levels is not None else cat.levels(fam)
                    cells += [(fam, d, n, lv, rep) for lv in levels]
    return cells


def _method_cells(args: argparse.Namespace, methods: dict[str, Method]) -> list[tuple]:
    """(cell, methods) of the grid, plus the default-only timing cell of the catalogue."""
    cells = [(cell, list(methods.values())) for cell in grid(args)]
    speed = CATALOGUES[args.catalogue].speed_cell
    default = default_method()
    if speed is not None and args.speed_cell and default in methods:
        cells.append(((*speed, 0), [methods[default]]))
    return cells


def run_grid(args: argparse.Namespace, csv_path: Path) -> None:
    """Compute every missing row of the grid, appending each to ``csv_path`` at once."""
    methods = {k: v for k, v in all_methods().items() if not args.methods or k in args.methods}
    cat = CATALOGUES[args.catalogue]
    done = load_done(csv_path)
    cells = _method_cells(args, methods)
    todo = [
        (cell, [m for m in ms if _key(dict(zip(KEY, (m.name, *cell), strict=True))) not in done])
        for cell, ms in cells
    ]
    todo = [(cell, ms) for cell, ms in todo if ms]
    code = code_version()
    print(f"{len(cells)} cells, {len(todo)} with missing rows, methods: {list(methods)}")
    for (fam, d, n, level, rep), ms in tqdm(todo, desc=cat.stem, file=sys.stdout):
        pair = cat.make(fam, d, level)
        xs, xt = pair.sample(n, random_state=_seed(fam, d, n, level, rep, cat.families))
        for m in ms:
            row = dict(zip(KEY, (m.name, fam, d, n, level, rep), strict=True))
            append_row(csv_path, {**row, **run_one(m, xs, xt, rep, pair), "code": code})


def to_markdown(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    """Render a small table as GitHub markdown (no optional dependency)."""
    df = df.reset_index()
    cols = [str(c) for c in df.columns]

    def fmt(v: Any) -> str:
        if isinstance(v, float | np.floating):
            return "" if np.isnan(v) else format(float(v), floatfmt)
        return str(v)

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _ok(df: pd.DataFrame) -> pd.DataFrame:
    """Rows whose method ran, with ``covered`` as 0/1 (NaN where there is no lower bound)."""
    ok = df[df["failure"].isna() | (df["failure"].astype(str) == "")].copy()
    cov = ok["covered"].map({True: 1.0, False: 0.0, "True": 1.0, "False": 0.0})
    ok["covered"] = cov.astype(float)
    return ok


def headline(df: pd.DataFrame, default: str, n: int = HEADLINE_N) -> pd.DataFrame:
    """MAE and coverage at ``n`` per side, averaged over the (family, d) cells."""
    at_n = _ok(df)[lambda x: x["n"] == n]
    cells = at_n.groupby(["method", "family", "d"])[["abs_error", "covered"]].mean()
    out = cells.groupby("method").mean()
    out["rows"] = at_n.groupby("method").size()
    out["code"] = at_n.groupby("method")["code"].agg(lambda v: ",".join(sorted(set(map(str, v)))))
    out = out.rename(columns={"abs_error": "MAE", "covered": "coverage"})
    order = [default] + [m for m in out.index if m != default]
    return out.loc[[m for m in order if m in out.index]]


def _status(value: float, target: float, higher_is_better: bool) -> str:
    if np.isnan(value):
        return "no data"
    return "PASS" if (value >= target if higher_is_better else value <= target) else "FAIL"


def _values(df: pd.DataFrame, col: str) -> list:
    return sorted(v.item() if hasattr(v, "item") else v for v in df[col].unique())


def _reps(df: pd.DataFrame) -> dict[int, int]:
    return {int(n): int(g["rep"].nunique()) for n, g in df.groupby("n")}


def _headline_n(df: pd.DataFrame) -> int:
    """``HEADLINE_N`` if the CSV has it, else the size closest to it."""
    sizes = _values(df, "n")
    return HEADLINE_N if HEADLINE_N in sizes else min(sizes, key=lambda v: abs(v - HEADLINE_N))


def _headline_lines(df: pd.DataFrame, default: str, cat: Catalogue) -> list[str]:
    """One line per MAE target of the catalogue (estimates), and the lower-bound coverage."""
    lines = []
    for n, target in sorted(cat.mae_targets.items(), reverse=True):
        if n not in _values(df, "n"):
            lines.append(f"- n = {n}: not run (target MAE <= {target})")
            continue
        head = headline(df, default, n)
        mae = head["MAE"].get(default, np.nan)
        cov = head["coverage"].get(default, np.nan)
        lines.append(
            f"- n = {n}: default estimator `{default}`: MAE {mae:.4f} (an estimate; target "
            f"<= {target}: {_status(mae, target, False)}), lower-bound coverage {cov:.3f} "
            f"(target >= {TARGET_COVERAGE}: {_status(cov, TARGET_COVERAGE, True)})"
        )
    return lines


def _speed_lines(df: pd.DataFrame, default: str, cat: Catalogue) -> list[str]:
    """Report the timing cell of the catalogue against :data:`SPEED_TARGET_S`."""
    if cat.speed_cell is None:
        return []
    fam, d, n, _ = cat.speed_cell
    rows = _ok(df).query("method == @default and family == @fam and d == @d and n == @n")
    if rows.empty:
        return [f"- timing cell ({fam}, d = {d}, n = {n}): not run"]
    sec = float(rows["seconds"].max())
    return [
        f"- timing: one `{default}` fit at n = {n} per side, d = {d} ({fam}): {sec:.1f} s "
        f"(target < {SPEED_TARGET_S:.0f} s: {_status(-sec, -SPEED_TARGET_S, True)}; "
        f"threads: {THREADS_NOTE})"
    ]


def _sections(ok: pd.DataFrame, n_head: int, cat: Catalogue) -> dict[str, pd.DataFrame]:
    at = ok[ok["n"] == n_head]
    sections = {
        "MAE by method and n": ok.pivot_table("abs_error", "method", "n", "mean"),
        "Coverage of lower <= truth by method and n": ok.dropna(subset=["covered"]).pivot_table(
            "covered", "method", "n", "mean"
        ),
        f"MAE by method and family (n = {n_head})": at.pivot_table(
            "abs_error", "method", "family", "mean"
        ),
        f"MAE by method and d (n = {n_head})": at.pivot_table("abs_error", "method", "d", "mean"),
        f"Mean signed error (estimate - truth) by method and TV level (n = {n_head})": (
            at.pivot_table("error", "method", "level", "mean")
        ),
        "Mean seconds per fit by method and n": ok.pivot_table("seconds", "method", "n", "mean"),
    }
    if cat.identical:
        same = ok[ok["family"].isin(cat.identical)]
        title = "Upward bias on identical laws (mean estimate, truth 0) by method and n"
        sections[title] = same.pivot_table("estimate", "method", "n", "mean")
    return sections


def summarise(df: pd.DataFrame, default: str, catalogue: str = "textbook") -> str:
    """Markdown report: headline, MAE and coverage by method and n, breakdowns, failures."""
    cat = CATALOGUES[catalogue]
    ok = _ok(df)
    run_targets = [n for n in cat.mae_targets if n in _values(df, "n")]
    n_head = max(run_targets) if run_targets else _headline_n(df)
    command = "python benchmarks/tv_accuracy.py" + (
        "" if catalogue == "textbook" else f" --catalogue {catalogue}"
    )
    lines = [
        f"# {cat.title}",
        "",
        f"Generated by `{command}` from `{cat.stem}.csv` "
        f"({len(df)} rows; d in {_values(df, 'd')}, n in {_values(df, 'n')}, "
        f"families {_values(df, 'family')}, TV levels {_values(df, 'level')}, "
        f"reps per n {_reps(df)}; `bounds` code versions {_values(df, 'code')}).",
        "MAE = mean |estimate - true TV| (every estimate is an ESTIMATE; `lower` is a 95% "
        "lower confidence bound); coverage = share of draws with lower <= true TV.",
        "",
        f"## Headline: averaged over families and d (table: n = {n_head} per side)",
        "",
        *_headline_lines(df, default, cat),
        *_speed_lines(df, default, cat),
        "",
        to_markdown(headline(df, default, n_head), ".4f"),
    ]
    for title, table in _sections(ok, n_head, cat).items():
        lines += ["", f"## {title}", "", to_markdown(table) if len(table) else "(no rows)"]
    failed = df[~df.index.isin(ok.index)]
    lines += ["", "## Failures", ""]
    if len(failed):
        first = failed.groupby("method")["failure"].agg(["size", "first"])
        lines.append(to_markdown(first.rename(columns={"size": "rows", "first": "first error"})))
    else:
        lines.append("none")
    return "\n".join(lines) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--catalogue", default="textbook", choices=list(CATALOGUES))
    p.add_argument("--quick", action="store_true", help="tiny grid into a temporary folder")
    p.add_argument("--n", type=int, nargs="+", default=None, help="sizes per side")
    p.add_argument("--d", type=int, nargs="+", default=None, help="dimensions")
    p.add_argument("--reps", type=int, default=None, help="repetitions per cell (all n)")
    p.add_argument("--levels", type=float, nargs="+", default=None, help="default: catalogue's")
    p.add_argument("--families", nargs="+", default=None, help="default: the catalogue's")
    p.add_argument("--methods", nargs="+", default=None, help="subset of method names")
    p.add_argument("--out-dir", type=Path, default=None, help="default benchmarks/results")
    p.add_argument("--summary-only", action="store_true", help="rewrite the md from the CSV")
    p.add_argument("--no-speed-cell", dest="speed_cell", action="store_false",
                   help="skip the catalogue's n = 10,000 timing cell")  # fmt: skip
    p.add_argument(
        "--rerun", nargs="+", default=[], help="drop these methods' rows first (code changed)"
    )
    args = p.parse_args(argv)
    cat = CATALOGUES[args.catalogue]
    args.n = args.n or list(cat.sizes)
    args.d = args.d or list(cat.dims)
    args.families = args.families or list(cat.families)
    unknown = sorted(set(args.families) - set(cat.families))
    if unknown:
        p.error(f"--families: {unknown} are not in the {cat.name} catalogue {list(cat.families)}")
    if args.quick:
        args.n, args.d, args.reps, args.speed_cell = [min(cat.sizes)], [min(cat.dims)], 1, False
        if args.catalogue == "textbook":
            args.levels = [0.3, 0.8]
        args.out_dir = args.out_dir or Path(tempfile.gettempdir()) / f"cmcd_{cat.stem}_quick"
    args.out_dir = args.out_dir or RESULTS
    return args


def main(argv: Sequence[str] | None = None) -> str:
    """Run (or resume) the grid, then write and print the markdown summary."""
    args = parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stem = CATALOGUES[args.catalogue].stem
    csv_path = args.out_dir / f"{stem}.csv"
    if not args.summary_only:
        if args.rerun:
            print(f"dropped {drop_methods(csv_path, args.rerun)} rows of {args.rerun}")
        run_grid(args, csv_path)
    try:
        default = default_method()
    except ImportError:
        default = "classifier"
    report = summarise(pd.read_csv(csv_path), default, args.catalogue)
    (args.out_dir / f"{stem}.md").write_text(report)
    print(report)
    return report


if __name__ == "__main__":
    main()

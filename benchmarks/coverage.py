"""Coverage of every certified term of ``compute_bound`` against a population truth.

Two synthetic populations with known truths (:class:`bounds.truth.coverage.PairedGaussianScenario`),
fixed before any draw was run and never tuned to make a term pass:

- ``joint_tv_issue`` (d = 2, K = 2, prior 1/2): class 0 is N(-4 e1, I) on the teacher side
  and N(+4 e1, I) on the student side, class 1 is N(0, I) on both; joint TV 0.49997
  (the case of the issue "Certificates that certify what they say", where the joint-TV lower
  bound used to miss in 6 of 40 draws at 12000 pairs). Pairs independent given the label
  (rho = 0, our choice), no modality gap.
- ``latent3`` (d = 6, K = 3, prior 0.5 / 0.3 / 0.2): teacher means 2 e_y; student means
  2 e_y + delta_y + g with a modality gap g = 1.5 e_6 and class shifts delta_1 = 0.8 e_4,
  delta_2 = -0.8 e_3 (so per-class TVs 0.55 / 0.60 / 0.60, joint 0.58), correlated pairs
  (rho = 0.8); target errors about 0.16-0.19.

Each draw (:func:`bounds.truth.coverage.coverage_draw`): 200 labelled training pairs (h on their
teacher side, h_B = a cross-validated ``LinearProbe`` on their student side), 1000 unlabeled
alignment pairs (the ``center`` map, the target terms' map M, DIS2's critics; our choice of
size), ``n_test`` held-out pairs with i.i.d. labels; ``compute_bound(..., tv_kwargs={
"candidates": ["logistic"]}, split_pairs=True, target_model=h_B)`` (one logistic candidate for
speed) and ``compute_bound(..., tv_method="paired", split_pairs=False)`` for
``robust_tv_upper``; alpha = 0.05. Sizes 1000 and 12000, 200 draws each.

Raw rows go to ``runs/coverage/<scenario>_n<size>.csv`` as draws finish (a rerun skips the
finished draws); then ``benchmarks/results/coverage.csv`` (miss rate per term, scenario and
size, with its two-sided 95% Clopper-Pearson interval), ``coverage_draws.csv`` (every draw)
and ``coverage.md``.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/coverage.py --workers 2          # full, resumable
    python benchmarks/coverage.py --time-only                             # one draw per cell
    python benchmarks/coverage.py --quick                                 # smoke run, no files
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before numpy, torch or sklearn load BLAS

import argparse  # noqa: E402
import hashlib  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from bounds.truth.coverage import (  # noqa: E402
    COVERAGE_TERMS,
    HOLD_SLACK,
    MC_ROWS,
    STUDY_TV_KWARGS,
    PairedGaussianScenario,
    coverage_draw,
    coverage_study,
    draw_seed,
    population_truths,
    summarise,
)

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ALPHA = 0.05
N_TRAIN, N_ALIGN = 200, 1000
SIZES = (1000, 12000)
DRAWS = 200
RANDOM_STATE = 0

E1 = np.eye(2)[0]
SCENARIOS: dict[str, PairedGaussianScenario] = {
    "joint_tv_issue": PairedGaussianScenario(
        means=[-4 * E1, 0 * E1], shifts=[8 * E1, 0 * E1], gap=[0.0, 0.0], prior=[0.5, 0.5],
        rho=0.0, name="joint_tv_issue",
    ),
    "latent3": PairedGaussianScenario(
        means=2.0 * np.eye(3, 6),
        shifts=[[0, 0, 0, 0, 0, 0], [0, 0, 0, 0.8, 0, 0], [0, 0, -0.8, 0, 0, 0]],
        gap=[0, 0, 0, 0, 0, 1.5], prior=[0.5, 0.3, 0.2], rho=0.8, name="latent3",
    ),
}  # fmt: skip


def code_version() -> str:
    """Short hash of the ``bounds`` sources, stored in each raw row to spot stale draws."""
    digest = hashlib.sha1()
    for path in sorted((ROOT / "bounds").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:10]


def load_rows(folder: Path, name: str = "*", size: str | int = "*") -> pd.DataFrame:
    """Finished rows of the cells matching ``name``/``size`` in every raw file of ``folder``.

    Rows of interrupted writes are skipped; each (scenario, size, draw, term) is kept once
    (every file of a cell computes the same value for it: a term's value does not depend on
    which other terms a draw computed).
    """
    pattern = f"{name}_n{size}*.csv".replace("**", "*")  # pathlib refuses "**" inside a name
    paths = sorted(folder.glob(pattern))
    frames = [pd.read_csv(p, on_bad_lines="skip") for p in paths if p.stat().st_size]
    if not frames:
        return pd.DataFrame(columns=["scenario", "n_test", "draw", "term"])
    rows = pd.concat(frames, ignore_index=True).dropna(subset=["seconds"])
    return rows.drop_duplicates(["scenario", "n_test", "draw", "term"], keep="first")


def raw_path(folder: Path, name: str, size: int, terms: list[str]) -> Path:
    """Raw file of one cell: one per set of terms (the full set has no suffix)."""
    suffix = "" if set(terms) == set(COVERAGE_TERMS) else "_" + "+".join(terms)
    return folder / f"{name}_n{size}{suffix}.csv"


def run_cell(name: str, size: int, draws: int, workers: int, folder: Path, **kw) -> None:
    """Run the draws of one (scenario, size) cell that lack a term, appending each as it ends."""
    terms = list(kw.pop("terms") or COVERAGE_TERMS)
    done = load_rows(folder, name, size)
    done = done[done["term"].isin(terms)]
    counts = done.groupby("draw")["term"].nunique()
    finished = set(counts[counts == len(terms)].index.tolist())
    todo = [d for d in range(draws) if d not in finished]
    print(f"{name} n={size}: {len(finished)} draws done, {len(todo)} to run", flush=True)
    path, code = raw_path(folder, name, size, terms), code_version()

    def append(frame: pd.DataFrame) -> None:
        frame = frame.assign(code=code, n_terms=len(frame))
        frame.to_csv(path, mode="a", header=not path.is_file(), index=False)

    if todo:
        folder.mkdir(parents=True, exist_ok=True)
        coverage_study(
            SCENARIOS[name], size, draws, random_state=RANDOM_STATE, draws=todo,
            workers=workers, on_draw=append, population=population(name), terms=terms, **kw,
        )  # fmt: skip


def summaries(rows: pd.DataFrame, first: int) -> pd.DataFrame:
    """Summary of the first ``first`` draws of every term, and of all draws where more exist."""
    head = summarise(rows[rows["draw"] < first], alpha=ALPHA).assign(draws_used=f"first {first}")
    counts = rows.groupby(["scenario", "n_test", "term"])["draw"].transform("nunique")
    more = rows[counts > first]
    if more.empty:
        return head
    extra = summarise(more, alpha=ALPHA).assign(draws_used="all")
    return pd.concat([head, extra], ignore_index=True)


_POPULATION: dict[str, dict] = {}


def population(name: str) -> dict:
    """Scenario-level truths, computed once per process (seeded)."""
    if name not in _POPULATION:
        _POPULATION[name] = population_truths(SCENARIOS[name], random_state=RANDOM_STATE)
    return _POPULATION[name]


def time_one_draw(sizes: list[int], names: list[str], **kw) -> pd.DataFrame:
    """Seconds of one draw per cell (the first draw's seed), to size the pool."""
    rows = []
    for name in names:
        for size in sizes:
            seed = draw_seed(RANDOM_STATE, size, 0)
            start = time.perf_counter()
            coverage_draw(SCENARIOS[name], size, seed, population=population(name), **kw)
            rows.append({"scenario": name, "n_test": size, "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


def _cell(row: pd.Series) -> str:
    mark = "holds" if row["holds"] else "FAILS"
    if not row["required"]:
        mark = f"{mark}, not required"
    return f"{row['misses']}/{row['n_draws']} [{row['ci_low']:.3f}, {row['ci_high']:.3f}] {mark}"


def markdown(summary: pd.DataFrame, settings: dict, timing: pd.DataFrame | None) -> str:
    """Return the report: settings, truths, one table per scenario, and the verdicts."""
    first = summary[summary["draws_used"] == f"first {DRAWS}"]
    extended = summary[summary["draws_used"] == "all"]
    lines = [
        "# Coverage of the certified terms against a population truth",
        "",
        "Generated by `OMP_NUM_THREADS=1 python benchmarks/coverage.py --workers "
        f"{settings['workers']}` (scenarios, sizes and rules in the script's docstring), which "
        "writes `coverage.csv` (this summary) and `coverage_draws.csv` (every draw).",
        "",
        "A draw *misses* when an upper term is below its truth or a lower term above it. "
        "Cells: misses/draws [two-sided 95% Clopper-Pearson interval of the miss rate]; a term "
        f"holds when the interval's upper end is <= alpha + {HOLD_SLACK} = "
        f"{ALPHA + HOLD_SLACK:.2f}. With 200 draws that allows at most 6 misses (3.0%): a term "
        "whose miss rate were exactly alpha could not pass (about 460 draws would be needed). "
        "Terms certified under an assumption (DIS2) are reported, not required to hold.",
        "",
        "Settings: " + ", ".join(f"{k} = {v}" for k, v in settings.items()) + ".",
        "",
    ]
    for name, scenario in SCENARIOS.items():
        rows = first[first["scenario"] == name]
        if not rows.empty:
            lines += _scenario_section(name, scenario, rows)
    lines += _more_draws(extended)
    lines += ["## Verdict", "", f"First {DRAWS} draws of every term:", "", *_verdicts(first)]
    if not extended.empty:
        lines += ["", "Terms with more draws (all of them):", "", *_verdicts(extended)]
    if timing is not None:
        lines += ["", "## Time of one draw (s, 1 thread)", "", timing.to_markdown(index=False)]
    return "\n".join(lines) + "\n"


#: How terms were chosen for more draws (fixed after the 200-draw run, before any extra draw).
EXTENSION_RULE = (
    "Rule, fixed after the 200-draw run and before any further draw: a required term that "
    "fails at 200 draws in a cell while its misses are not significantly above alpha "
    "(one-sided exact binomial test, p > 0.05) is run to 1000 draws in that cell (the first "
    "200 included: a term's value in a draw does not depend on the other terms computed, "
    "tested). Both verdicts are shown."
)


def _more_draws(extra: pd.DataFrame) -> list[str]:
    if extra.empty:
        return []
    table = extra.assign(result=extra.apply(_cell, axis=1))
    columns = ["scenario", "n_test", "term", "status", "result"]
    return ["## More draws", "", EXTENSION_RULE, "", table[columns].to_markdown(index=False), ""]


def _scenario_section(name: str, scenario: PairedGaussianScenario, rows: pd.DataFrame) -> list:
    truths = population(name)
    wide = rows.assign(cell=rows.apply(_cell, axis=1)).pivot(
        index="term", columns="n_test", values="cell"
    )
    wide = wide.reindex([t for t in COVERAGE_TERMS if t in wide.index])
    info = rows.drop_duplicates("term").set_index("term")
    wide.insert(0, "status", info["status"])
    wide.insert(1, "truth", [COVERAGE_TERMS[t].meaning for t in wide.index])
    wide.columns = [c if isinstance(c, str) else f"n = {c}" for c in wide.columns]
    mean_truth = rows.pivot(index="term", columns="n_test", values="mean_truth")
    return [
        f"## {name}",
        "",
        f"Per-class TV {np.round(truths['class_tv'], 4).tolist()}, joint TV "
        f"{truths['joint_tv']:.5f} (exact), marginal TV {truths['marginal_tv']:.4f} "
        f"(Monte Carlo, se {truths['marginal_tv_se']:.4f}); rho = {scenario.rho}.",
        "",
        wide.to_markdown(),
        "",
        "Mean truth per size (errors of the draw's own heads; aligned TVs of the draw's map):",
        "",
        mean_truth.reindex(wide.index).to_markdown(floatfmt=".4f"),
        "",
    ]


def _verdicts(summary: pd.DataFrame) -> list[str]:
    failed = summary[~summary["holds"]]
    required = failed[failed["required"]]
    lines = []
    if required.empty:
        lines.append("- Every certified term holds in every scenario and size.")
    for _, row in required.iterrows():
        lines.append(f"- FAILS: `{row['term']}` ({row['scenario']}, n = {row['n_test']}): "
                     f"{_cell(row)}.")  # fmt: skip
    for _, row in failed[~failed["required"]].iterrows():
        lines.append(f"- `{row['term']}` ({row['scenario']}, n = {row['n_test']}; "
                     f"{row['status']}): {_cell(row)}.")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=DRAWS)
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=SCENARIOS)
    parser.add_argument("--workers", type=int, default=2, help="processes, 1 thread each")
    parser.add_argument("--quick", action="store_true", help="4 draws at 400 pairs, no files")
    parser.add_argument("--time-only", action="store_true", help="time one draw per cell")
    parser.add_argument(
        "--terms",
        nargs="+",
        choices=COVERAGE_TERMS,
        default=None,
        help="run only these terms (to extend some terms to more draws)",
    )
    parser.add_argument("--runs", type=Path, default=ROOT / "runs" / "coverage")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    kw = {"n_train": N_TRAIN, "n_align": N_ALIGN, "alpha": ALPHA, "n_mc": MC_ROWS,
          "terms": args.terms}  # fmt: skip
    if args.quick:
        args.draws, args.sizes, args.runs = 4, [400], ROOT / "runs" / "coverage_quick"
        kw["n_mc"] = 20_000
    if args.time_only:
        print(time_one_draw(args.sizes, args.scenarios, **kw).to_string(index=False))
        return
    start = time.perf_counter()
    for name in args.scenarios:
        for size in args.sizes:
            run_cell(name, size, args.draws, args.workers, args.runs, **kw)
    rows = load_rows(args.runs)
    summary = summaries(rows, DRAWS)
    print(summary.drop(columns=["mean_value", "max_truth_se"]).to_string(index=False))
    print(f"wall time {time.perf_counter() - start:.0f} s (this invocation)")
    if args.quick:
        return
    write_results(rows, summary, args)


def write_results(rows: pd.DataFrame, summary: pd.DataFrame, args: argparse.Namespace) -> None:
    """Write coverage.csv (summary), coverage_draws.csv (every draw) and coverage.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    summary.to_csv(RESULTS / "coverage.csv", index=False, float_format="%.5g")
    keep = ["scenario", "n_test", "draw", "seed", "term", "value", "truth", "truth_se", "missed"]
    rows[keep].sort_values(["scenario", "n_test", "draw"], kind="stable").to_csv(
        RESULTS / "coverage_draws.csv", index=False, float_format="%.5g"
    )
    full = rows["n_terms"].fillna(len(COVERAGE_TERMS)) == len(COVERAGE_TERMS)
    seconds = rows[full].drop_duplicates(["scenario", "n_test", "draw"])
    timing = seconds.groupby(["scenario", "n_test"])["seconds"].median().round(2).reset_index()
    timing = timing.rename(columns={"seconds": "median seconds per draw"})
    settings = {
        "alpha": ALPHA, "draws": args.draws, "sizes": list(args.sizes),
        "n_train": N_TRAIN, "n_align": N_ALIGN, "n_mc (per-draw truths)": MC_ROWS,
        "tv_kwargs": dict(STUDY_TV_KWARGS), "workers": args.workers,
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        "torch threads": torch.get_num_threads(), "random_state": RANDOM_STATE,
        "bounds code": ", ".join(sorted(set(rows["code"].astype(str)))),
    }  # fmt: skip
    (RESULTS / "coverage.md").write_text(markdown(summary, settings, timing))


if __name__ == "__main__":
    main()

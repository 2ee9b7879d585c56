# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Methods on mfeat view pairs, with the latent TV of each pair
#
# **Figures.** `figures/mfeat_methods.png`: target accuracy of every method (CMD, CMC,
# CMD+CMC, L2 and CRD distillation, FT(target), SSL(target)->FT(target) and the classical
# cross-view references) on each mfeat view pair, mean ± std over seeds, with the estimated
# teacher/student latent TV of each pair drawn under the bars. From the runs that give the
# TV: `figures/gap_sweep_mfeat_error_vs_tv.png`, `..._bound_vs_error.png` and
# `..._pairs_error_vs_tv.png` (seed-averaged pairs: does TV order their target errors?);
# named `mfeat_methods_*.png` instead when the TV comes from the method benchmark's runs.
#
# **Question.** Which methods win on which view pairs, and are the pairs with the larger
# latent TV the ones where the target error is higher?
#
# **Data.** Full mode reads `benchmarks/results/mfeat_methods.csv`, written by
# `python benchmarks/mfeat_methods.py` (6 pairs x 5 seeds x 7 methods + references; hours),
# and the TV per pair from `benchmarks/results/gap_sweep_mfeat.csv`, written by
# `python benchmarks/gap_sweeps.py --only mfeat` (`configs/sweep_mfeat_pairs.yaml`); until
# that sweep has run, from the saved latents of the benchmark's own CMC and CMD runs
# (`runs/mfeat_methods/test/`, on the machine that ran it). Fast mode
# (`CMCD_FAST=1`) runs 3 methods on 2 pairs with tiny models here (no classical references:
# they take minutes) and estimates the TV of those runs.
#
# **Regenerate.** `make figures` or `python -m cmcd.plotting.notebooks --full 03_mfeat_methods`;
# `make notebooks` runs the fast mode.

# %%
from types import SimpleNamespace

import pandas as pd
import yaml
from IPython.display import Image, display

from bounds.target.generalization import bound_from_run
from cmcd.plotting.method_plots import method_summary, pair_tv, plot_method_comparison
from cmcd.plotting.notebook_context import import_benchmark, notebook_context
from cmcd.plotting.plots import plot_bound_vs_error
from cmcd.runs.pipeline import run
from cmcd.runs.report import correlation_table, pair_means, report_figures
from cmcd.runs.sweep import METRIC_COLUMNS

ctx = notebook_context("03_mfeat_methods")
bench = import_benchmark("mfeat_methods")
print(f"mode: {ctx.mode}; figures go to {ctx.figures_dir}")

# %% [markdown]
# ## The runs
#
# Fast mode runs the benchmark's own configs (`benchmarks/configs/mfeat_methods.yaml`
# through its `method_config`), shrunk to tiny encoders and 3 epochs. Each distilled run's
# latents give the bound terms, TV included (`bounds.target.generalization.bound_from_run` with a
# logistic domain classifier, for speed). Full mode takes the TV per pair from the view-pair
# sweep; while that sweep has not been run, it falls back to the same bound terms computed
# from the saved latents of the benchmark's own CMC and CMD runs (`runs/mfeat_methods/`,
# present only where the benchmark ran).

# %%
FAST = {
    "pairs": [("fac", "zer"), ("fac", "mor")],
    "seeds": [0],
    "methods": ["cmc", "l2", "FT(target)"],
    "override": [
        ("model.hidden", [64]),
        ("model.latent_dim", 16),
        ("model.projection_dim", 16),
        ("pretrain.epochs", 3),
        ("distill.epochs", 3),
    ],
}


def bound_row(run_dir, source, target, seed, loss):
    """Return the sweep-style row of one distilled run: its bound terms, TV included."""
    report = bound_from_run(run_dir, random_state=seed, tv_kwargs={"candidates": ["logistic"]})
    terms = {k: v for k, v in report.to_dict().items() if k in METRIC_COLUMNS}
    return {"source": source, "target": target, "seed": seed, "loss": loss, **terms}


def fast_runs(work):
    """Accuracy rows (the benchmark's CSV schema) and bound rows (a sweep's schema)."""
    spec = yaml.safe_load((ctx.root / "benchmarks/configs/mfeat_methods.yaml").read_text())
    args = SimpleNamespace(evaluate_on="test", override=FAST["override"])
    acc, tv = [], []
    for (source, target), seed, method in (
        (p, s, m) for p in FAST["pairs"] for s in FAST["seeds"] for m in FAST["methods"]
    ):
        cfg = bench.method_config(spec, (source, target), seed, method, args)
        run_dir = work / f"{source}-{target}" / f"seed{seed}" / method
        result = run(cfg, run_dir, progress=False, cache_dir=work / "cache")
        keys = {"source": source, "target": target, "seed": seed}
        acc.append({**keys, "method": method, "target_accuracy": result["target_accuracy"]})
        if cfg["distill"]["loss"] != "none":
            tv.append(bound_row(run_dir, source, target, seed, method))
    return pd.DataFrame(acc), pd.DataFrame(tv)


def benchmark_run_rows(runs_root, losses=("cmc", "cmd")):
    """Bound rows of the benchmark's saved runs (``PAIR/seedK/METHOD/features.npz``)."""
    rows = []
    for feats in sorted(runs_root.glob("*-*/seed*/*/features.npz")):
        run_dir = feats.parent
        if run_dir.name in losses:
            source, target = run_dir.parent.parent.name.split("-")
            seed = int(run_dir.parent.name.removeprefix("seed"))
            rows.append(bound_row(run_dir, source, target, seed, run_dir.name))
    return pd.DataFrame(rows) if rows else None


tv_source, prefix = "fast runs", "mfeat_methods"  # prefix of the pair figures' names
if ctx.fast:
    accuracy, pair_runs = fast_runs(ctx.work_dir / "runs")
else:
    results = ctx.root / "benchmarks" / "results"
    accuracy = pd.read_csv(results / "mfeat_methods.csv")
    sweep_csv = results / "gap_sweep_mfeat.csv"
    if sweep_csv.is_file():
        pair_runs, tv_source = pd.read_csv(sweep_csv), str(sweep_csv.relative_to(ctx.root))
        prefix = "gap_sweep_mfeat"
    else:
        runs_root = ctx.root / "runs" / "mfeat_methods" / "test"
        pair_runs, tv_source = benchmark_run_rows(runs_root), f"latents under {runs_root}"
ctx.record(accuracy, "mfeat_methods")
if pair_runs is not None:
    ctx.record(pair_runs, "pair_runs")
n_tv = 0 if pair_runs is None else len(pair_runs)
print(f"{len(accuracy)} accuracy rows; {n_tv} TV rows from {tv_source}")

# %% [markdown]
# ## The paper-style table
#
# Mean ± std target accuracy (%) over seeds per view pair (the benchmark's `summarise`), then
# the estimated latent TV per pair and loss.

# %%
bench.summarise(accuracy)

# %%
tv = None if pair_runs is None else pair_tv(pair_runs)
tv if tv is None else tv.round(3)

# %% [markdown]
# ## Method comparison, with the TV of each pair

# %%
summary = method_summary(accuracy)
ctx.record(summary, "mfeat_methods_summary")
path = ctx.save(plot_method_comparison(summary, tv), "mfeat_methods")
Image(filename=str(path))

# %% [markdown]
# ## Does the TV of a pair order its target error?
#
# Per run (colour = loss), and per pair with seeds averaged (colour = pair); then the
# bounds against the measured errors. Spearman correlations over runs and over pairs below.

# %%
if pair_runs is not None:
    runs = pair_runs.assign(pair=pair_runs["source"] + "->" + pair_runs["target"])
    pairs = pair_means(pair_runs)
    for kind, fig in report_figures(pair_runs).items():  # the figures of `cmcd report`
        display(Image(filename=str(ctx.save(fig, f"{prefix}_{kind}"))))
    display(correlation_table(runs, pairs=[("tv_estimate", "target_error")]).round(3))
    display(correlation_table(pairs, pairs=[("tv_estimate", "target_error")]).round(3))

# %% [markdown]
# ## How good is the target model, without its labels?
#
# Every label-free term on the fine-tuned target error (`bounds.target.target_terms`): validity,
# slack, Spearman and MAE over runs (`bounds.report.tightness`), then each term against the measured
# error. Every term bounds or estimates the error of each run's own step-3 model (its
# `predictions.csv`), never a refitted head. Full mode reads
# `benchmarks/results/target_terms_*.csv` (from `benchmarks/target_bounds.py`: the teacher
# sweep and the LP / LP-FT certificate sweep) and shows the teacher ranking; fast mode scores
# the fast runs above.

# %%
from bounds.report.tightness import rank_teachers, tightness_table  # noqa: E402
from bounds.target.run_files import target_terms_table  # noqa: E402
from cmcd.runs.report import TARGET_FIGURE_TERMS  # noqa: E402

if ctx.fast:
    found = sorted((ctx.work_dir / "runs").glob("*-*/seed*/*/features.npz"))
    dirs = {f"{p.parent.parent.parent.name}/{p.parent.parent.name}/{p.parent.name}": p.parent
            for p in found}  # fmt: skip
    target_frames = {"mfeat_methods": target_terms_table(dirs, progress=False, random_state=0)}
else:
    target_frames = {name: pd.read_csv(results / f"target_terms_{name}.csv")
                     for name in ("mfeat_teachers", "mfeat_lpft")}  # fmt: skip
tight = pd.concat([tightness_table(f).assign(sweep=n) for n, f in target_frames.items()])
ctx.record(tight, "target_tightness")
for name, frame in target_frames.items():
    terms = [t for t in TARGET_FIGURE_TERMS if frame[t].notna().any()]
    fig = plot_bound_vs_error(frame, errors=("target_error",), bounds=terms)
    display(Image(filename=str(ctx.save(fig, f"target_bounds_{name}"))))
display(tight.round(3))
if "mfeat_teachers" in target_frames:
    ranks = rank_teachers(target_frames["mfeat_teachers"], list(TARGET_FIGURE_TERMS))
    display(ranks[ranks["target"] == "mean"].round(3))

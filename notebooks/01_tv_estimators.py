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
# # 01 · TV estimators against exact ground truth
#
# **Figures.** `figures/tv_estimators_vs_truth.png`: each method's estimates (and lower
# confidence bounds) against the true TV at the headline `n`.
# `figures/tv_estimators_mae.png`: mean absolute error against `n` and against `d` with 95%
# confidence intervals, and how often the lower bound sits below the truth. Every `bounds`
# estimator is drawn beside the references researchers use today (held-out logistic
# regression `2*acc-1`, the proxy A-distance of the DANN reference script, a k-means
# histogram) and the oracle that knows both densities.
#
# **Question.** How close to the exact TV is each estimator as the sample size and the
# dimension grow, and does its lower confidence bound hold?
#
# **Data.** Full mode reads `benchmarks/results/tv_accuracy.csv`, written by
# `python benchmarks/tv_accuracy.py` (hours on 2 cores, resumable). Fast mode
# (`CMCD_FAST=1`) runs a small grid of the same benchmark code here (about a minute).
#
# **Regenerate.** `make figures` (every notebook, full mode) or
# `python -m cmcd.plotting.notebooks --full 01_tv_estimators`; `make notebooks` runs the fast mode.

# %%
import pandas as pd
from IPython.display import Image

from bounds.report.plots import accuracy_table, headline_size, plot_accuracy, plot_estimate_vs_truth
from cmcd.plotting.notebook_context import import_benchmark, notebook_context

ctx = notebook_context("01_tv_estimators")
bench = import_benchmark("tv_accuracy")
print(f"mode: {ctx.mode}; figures go to {ctx.figures_dir}")

# %% [markdown]
# ## The results table
#
# One row per method x family x d x n x TV level x repetition: the estimate, the lower
# confidence bound (estimators only) and the exact TV of the pair
# (`bounds.truth.groundtruth.make_pair`). The fast grid keeps two families, two TV levels, two
# sizes and two dimensions, one draw each.

# %%
FAST_GRID = ["--n", "200", "400", "--d", "2", "8", "--reps", "1", "--levels", "0.3", "0.7"]
FAST_GRID += ["--families", "mean_shift", "scale"]

if ctx.fast:
    csv = ctx.work_dir / "tv_accuracy.csv"
    csv.unlink(missing_ok=True)  # a fresh grid each time: fast mode checks the code
    bench.run_grid(bench.parse_args([*FAST_GRID, "--out-dir", str(ctx.work_dir)]), csv)
else:
    csv = ctx.root / "benchmarks" / "results" / "tv_accuracy.csv"
results = pd.read_csv(csv)
ctx.record(results, "tv_accuracy")
default = bench.default_method()
n0 = headline_size(results["n"])
print(f"{len(results)} rows from {csv.name}; default estimator {default!r}; headline n = {n0}")

# %% [markdown]
# ## Headline: MAE and coverage at the headline `n`, averaged over families and `d`

# %%
bench.headline(results, default, n0)

# %% [markdown]
# ## Estimates against the truth
#
# Points on the dashed diagonal are exact. Grey triangles are the lower confidence bounds
# (level 95%): they should sit under the diagonal in at least 95% of draws. The references
# carry no interval.

# %%
path = ctx.save(plot_estimate_vs_truth(results, n=n0), "tv_estimators_vs_truth")
Image(filename=str(path))

# %% [markdown]
# ## Accuracy against `n` and `d`, and coverage of the lower bound
#
# MAE with a 95% t interval over the draws of each cell (our choice); the red lines are the
# benchmark's targets (MAE 0.05 at n = 1000, coverage 0.95).

# %%
path = ctx.save(plot_accuracy(results, n=n0), "tv_estimators_mae")
Image(filename=str(path))

# %%
accuracy_table(results, "n").round(4)

# %%
accuracy_table(results, "d", n=n0).round(4)

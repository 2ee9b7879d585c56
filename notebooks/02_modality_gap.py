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
# # 02 · Controlled modality gap: does latent TV track the target error, do the bounds hold?
#
# **Figures.** `figures/modality_gap_examples.png`: one Fashion-MNIST image under every
# target-modality family at growing gap. Then, for each controlled-gap sweep NAME (`digits`,
# `fashion`, ...): `figures/gap_sweep_NAME_tv_vs_gap.png` (estimated teacher/student latent TV
# against the gap, per distillation loss), `..._tv_vs_gap_by_alignment.png` (the same TV after
# each alignment map of `bounds.target.alignment`, one line per map, one panel per loss),
# `..._error_vs_gap.png` (measured target error against the gap), `..._error_vs_tv.png` and
# `..._error_vs_aligned_tv.png` (measured target error against the raw and the aligned TV),
# `..._bound_vs_error.png` (the estimated, certified and aligned bounds against the measured
# errors: the theory-vs-practice plot) and `..._target_terms_vs_error.png` (the label-free
# terms on the fine-tuned target error, where the sweep has them). The spoken-digits sweep
# (`spoken`) turns the correspondence gap `data.pair_noise` instead of `data.gap`; its figures
# are named after that dial (`..._error_vs_pair_noise.png`, ...).
#
# **Question.** As the target modality moves away from the source, does the estimated TV
# between teacher and student latents rise, does it track the target error, and do the
# bounds sit above the errors they bound?
#
# **Data.** Full mode reads every `benchmarks/results/gap_sweep_NAME.csv` with a gap dial
# column (`gap` or `pair_noise`, `cmcd.runs.report.DIALS`), written by `python benchmarks/gap_sweeps.py` (the sweeps of
# `configs/sweep_*_gap.yaml` and `configs/sweep_spoken_pair_noise.yaml`, e.g.
# `--only digits fashion`; hours on 2 cores, resumable);
# while a sweep is still running, it reads that sweep's results so far
# (`runs/gap_sweeps/NAME/results.csv`).
# Fast mode (`CMCD_FAST=1`) runs a 6-run sweep on the `synthetic` dataset here instead.
#
# **Regenerate.** `make figures` or `python -m cmcd.plotting.notebooks --full 02_modality_gap`;
# `make notebooks` runs the fast mode.

# %%
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image, display

from cmcd.data import FASHION_ROOT, load_fashion_mnist, plot_modality_gap_examples
from cmcd.plotting.notebook_context import notebook_context
from cmcd.runs.report import (
    condition_means,
    correlation_table,
    coverage_table,
    dial_column,
    report_figures,
)
from cmcd.runs.sweep import parse_sweep, read_results, run_sweep

ctx = notebook_context("02_modality_gap")
print(f"mode: {ctx.mode}; figures go to {ctx.figures_dir}")

# %% [markdown]
# ## What the gap does to an image
#
# Each row is a family of target modalities (`cmcd.data.GAP_FAMILIES`), each column a gap;
# gap 0 is the source image itself. Fast mode uses a scikit-learn digit.

# %%
if ctx.fast or not Path(FASHION_ROOT).is_dir():
    from sklearn.datasets import load_digits

    image = load_digits().images[0] / 16.0
else:
    image = load_fashion_mnist()[0][0].astype(float) / 255.0
fig = plot_modality_gap_examples(np.asarray(image), seed=0)
display(Image(filename=str(ctx.save(fig, "modality_gap_examples"))))
plt.close(fig)  # a pyplot figure: close it once saved

# %% [markdown]
# ## The sweep results
#
# One row per run (gap x loss x seed): `tv_estimate` is the classifier estimate of the
# marginal TV between teacher and student test latents; `bound` = source error + label-aware
# TV estimate (an estimate, not a guarantee); `certified_bound` holds for `transfer_error`
# with probability 95% (see `bounds.target.generalization`).

# %%
FAST_SWEEP = {
    "data": {"name": "synthetic", "n_samples": 600},
    "model": {"hidden": [32], "latent_dim": 8, "projection_dim": 8},
    "pretrain": {"epochs": 3, "batch_size": 128},
    "distill": {"epochs": 3, "batch_size": 128},
    "finetune": {"labels_per_class": 5},
    "grid": {"data.gap": [0.0, 0.5, 1.0], "distill.loss": ["cmc", "l2"], "seed": [0]},
    "bound": {
        "tv_kwargs": {"candidates": ["logistic"]},
        "compare_alignments": ["whiten", "linear"],
    },
}

if ctx.fast:
    sweep = parse_sweep(FAST_SWEEP)
    outcome = run_sweep(sweep, ctx.work_dir / "sweeps" / sweep.sweep_id, progress=False)
    if outcome.failed:
        raise RuntimeError(f"sweep runs failed: {outcome.failed}")
    sweeps = {"synthetic": outcome.results}
else:
    # every gap sweep of the benchmark (mfeat view pairs have no gap: notebook 03); a sweep
    # still running, not yet copied to benchmarks/results/, is read from its own folder
    running = (ctx.root / "runs" / "gap_sweeps").glob("*/results.csv")
    found = {p.parent.name: p for p in running}
    done = (ctx.root / "benchmarks" / "results").glob("gap_sweep_*.csv")
    found.update({p.stem.removeprefix("gap_sweep_"): p for p in done})
    sweeps = {name: read_results(path) for name, path in sorted(found.items())}
    sweeps = {name: df for name, df in sweeps.items() if dial_column(df) and len(df)}
    if not sweeps:
        raise FileNotFoundError("no gap sweep results yet: see the first cell")
for name, df in sweeps.items():
    ctx.record(df, f"gap_sweep_{name}")
    dial = dial_column(df)
    gaps, losses = sorted(df[dial].unique().tolist()), df["loss"].unique().tolist()
    where = "this fast run" if ctx.fast else found[name].relative_to(ctx.root)
    print(f"{name}: {len(df)} runs from {where}, {dial} {gaps}, losses {losses}")

# %% [markdown]
# ## Correlations and bound failures
#
# Spearman correlations over runs, per loss and pooled; then the number of runs whose bound
# sits below the measured error (a bound below its error has failed there).

# %%
for name, df in sweeps.items():
    print(f"### {name}")
    display(correlation_table(df).round(3))
    display(coverage_table(df))

# %% [markdown]
# ## Figures
#
# TV against the gap (mean and standard deviation over seeds), raw and after each alignment
# map; target error against the raw and the aligned TV; the bounds against the measured
# errors (a point under the dashed diagonal is a bound that fell below its error). These are
# the figures of `cmcd report` (`cmcd.runs.report.report_figures`).

# %%
for name, df in sweeps.items():
    for kind, fig in report_figures(df).items():
        display(Image(filename=str(ctx.save(fig, f"gap_sweep_{name}_{kind}"))))

# %% [markdown]
# ## Seed-averaged conditions

# %%
COLS = ["loss", "runs", "tv_estimate", "tv_aligned_estimate", "target_error", "bound"]
for name, df in sweeps.items():
    print(f"### {name}")
    display(condition_means(df)[[dial_column(df), *COLS, "certified_bound"]].round(3))

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
# # 04 · Is the bound tight on your own paired data?
#
# **Figures.** `figures/your_data_bound_vs_error.png`: the estimated bound and the certified
# bound against the measured errors, one point per run of a small sweep over distillation
# losses; `figures/your_data_error_vs_tv.png`: target error against the estimated latent TV.
#
# **Question.** On a paired dataset of yours, how far above the measured error does each
# bound sit, and does the latent TV differ between losses?
#
# **Data.** Your own `.npz` file: set `CMCD_USER_DATA=/path/to/pairs.npz` (arrays `source`
# (n, d_s), `target` (n, d_t), row i of both the same object, and optional `labels` (n,)).
# Without it, this walkthrough writes such a file from two views of UCI Multiple Features
# (`fac` -> `zer`) and uses that. Full mode: 4 losses, one seed, 50 epochs (several
# minutes on 2 cores; add seeds to the grid for spread); fast mode (`CMCD_FAST=1`): 2
# losses, tiny encoders, 3 epochs.
#
# **Regenerate.** `make figures` or `python -m cmcd.plotting.notebooks --full 04_your_data`;
# `make notebooks` runs the fast mode.

# %%
import os
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import Image, display

from bounds import estimate_tv
from cmcd.data import load_dataset, read_mfeat_view
from cmcd.plotting.notebook_context import notebook_context
from cmcd.plotting.plots import plot_bound_vs_error, plot_error_vs_tv
from cmcd.runs.report import coverage_table
from cmcd.runs.sweep import RUNS_DIR, parse_sweep, run_sweep

ctx = notebook_context("04_your_data")
print(f"mode: {ctx.mode}; figures go to {ctx.figures_dir}")

# %% [markdown]
# ## 1. Your paired arrays
#
# One `.npz` with `source`, `target` and (optionally) `labels`. Files are read with
# `allow_pickle=False`: plain numeric arrays only. `source_shape` / `target_shape` options
# make a view an (H, W) image (see `cmcd.data.dataset_options("npz")`).

# %%
data_path = os.environ.get("CMCD_USER_DATA")
if data_path is None:
    x_source, labels = read_mfeat_view("fac")
    x_target, _ = read_mfeat_view("zer")
    data_path = ctx.work_dir / "example_pairs.npz"
    np.savez(data_path, source=x_source, target=x_target, labels=labels)
data_path = Path(data_path)
print(f"paired data: {data_path}")

# %% [markdown]
# ## 2. Load and check
#
# `load_dataset` validates the file (numeric, finite, paired lengths, label count) and fixes
# a train/test split by seed.

# %%
ds = load_dataset("npz", path=str(data_path), seed=0)
print(f"source {ds.x_source.shape}, target {ds.x_target.shape}, classes {ds.n_classes}")

# %% [markdown]
# ## 3. A sweep over a few distillation losses
#
# `none` is the FT(target) baseline (no distillation). Each run pre-trains the source
# teacher (shared between runs with the same seed), distills the target encoder on the
# unlabeled pairs, linear-probes it with 3 labels per class, and computes the bound terms on
# held-out pairs (`bounds.target.generalization`). A rerun skips finished runs.

# %%
SPEC = {
    "data": {"name": "npz", "path": str(data_path)},
    "pretrain": {"epochs": 50},
    "distill": {"epochs": 50},
    "finetune": {"labels_per_class": 3},
    "grid": {"distill.loss": ["cmc", "cmd", "l2", "none"], "seed": [0]},
    "bound": {"tv_method": "classifier", "alpha": 0.05},
}
if ctx.fast:
    SPEC.update(
        model={"hidden": [64], "latent_dim": 16, "projection_dim": 16},
        pretrain={"epochs": 3},
        distill={"epochs": 3},
        grid={"distill.loss": ["cmc", "l2"], "seed": [0]},
        bound={"tv_kwargs": {"candidates": ["logistic"]}},
    )
sweep = parse_sweep(SPEC)
out_dir = ctx.work_dir / "sweeps" / sweep.sweep_id
outcome = run_sweep(sweep, out_dir, progress=False)
if outcome.failed:
    raise RuntimeError(f"sweep runs failed: {outcome.failed}")
results = outcome.results
ctx.record(results, "your_data_results")
cols = ["loss", "seed", "target_error", "transfer_error", "source_error", "tv_estimate"]
results[[*cols, "bound", "certified_bound"]].round(3)

# %% [markdown]
# ## 4. Estimate the TV yourself
#
# The same estimate from one run's saved latents with the `bounds` API: teacher latents
# against student latents of the held-out pairs. `lower` is a 95% lower confidence bound;
# `paired` uses the pairing to give an upper bound on the eps-robust TV (a cheap check).

# %%
features = np.load(out_dir / RUNS_DIR / results["run_id"].iloc[0] / "features.npz")
z_teacher, z_student = features["z_source_test"], features["z_target_test"]
half = len(z_teacher) // 2  # independent halves for the two-sample estimate
kw = {"candidates": ["logistic"]} if ctx.fast else {}
estimates = [
    estimate_tv(z_teacher[:half], z_student[half:], random_state=0, **kw),
    estimate_tv(z_teacher, z_student, method="paired", random_state=0),
]
tv_table = pd.concat([e.to_frame() for e in estimates], ignore_index=True)
ctx.record(tv_table, "your_data_tv")
tv_table.round(3)

# %% [markdown]
# ## 5. The bound figure
#
# A point under the dashed diagonal is a run whose bound sits below the measured error.
# `certified_bound` is guaranteed (at 95%) for `transfer_error`, the error of the head
# trained on teacher latents and applied to student latents; `bound` is an estimate.

# %%
display(Image(filename=str(ctx.save(plot_bound_vs_error(results), "your_data_bound_vs_error"))))
display(Image(filename=str(ctx.save(plot_error_vs_tv(results), "your_data_error_vs_tv"))))
coverage_table(results)

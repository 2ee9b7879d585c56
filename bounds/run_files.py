"""The label-free target terms of a finished run folder, without the (slow) TV terms.

:func:`bounds.generalization.bound_from_run` computes every term, TV included; a sweep's
tightness report needs only the target terms, which take seconds per run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from bounds.generalization import _load_features, _load_target_error
from bounds.target_terms import TARGET_TERMS, compute_target_terms

__all__ = ["target_terms_from_run", "target_terms_table"]


def target_terms_from_run(run_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    r"""Compute :data:`bounds.target_terms.TARGET_TERMS` from ``run_dir/features.npz``.

    .. math:: \mathrm{err}_B(h_B) \le \mathrm{err}_A(h_A) + P(h_A(z_A) \ne h_B(z_B))

    The run must hold ``z_target_train`` (runs of cmcd >= this release do); the alignment
    rows ``z_*_paired`` are used when present. ``target_error`` (the pipeline's measured
    value from ``result.json``) is added to the returned dict. Other keyword arguments go to
    :func:`bounds.target_terms.compute_target_terms`.

    Raises
    ------
    FileNotFoundError
        When the folder or one of its files is missing.
    ValueError
        When ``features.npz`` lacks ``z_target_train`` or another key (the message names it).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    feats = _load_features(run_dir / "features.npz")
    if "z_target_train" not in feats:
        raise ValueError(f"{run_dir / 'features.npz'} lacks key 'z_target_train' (needed for h_B)")
    kwargs.setdefault("z_align_source", feats.get("z_source_paired"))
    kwargs.setdefault("z_align_target", feats.get("z_target_paired"))
    out = compute_target_terms(
        feats["z_source_train"], feats["y_train"], feats["z_target_train"],
        feats["z_source_test"], feats["z_target_test"], feats["y_test"], **kwargs,
    )  # fmt: skip
    out["target_error"] = _load_target_error(run_dir / "result.json")
    return out


def target_terms_table(
    run_dirs: dict[str, Path], progress: bool = True, **kwargs: Any
) -> pd.DataFrame:
    """One row per run (index: the given keys) with every target term and ``target_error``."""
    from tqdm.auto import tqdm

    rows = []
    for key, path in tqdm(run_dirs.items(), desc="target terms", disable=not progress):
        terms = target_terms_from_run(path, **kwargs)
        terms.pop("details")
        rows.append({"run": key, **terms})
    columns = ["run", *TARGET_TERMS, "target_error"]
    return pd.DataFrame(rows, columns=columns)

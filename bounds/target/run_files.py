"""What a finished run folder holds for the bounds: latents, the step-3 models and their rows.

A run (:func:`cmcd.runs.pipeline.run`) writes ``features.npz`` (latents, labels, the step-3 heads),
``predictions.csv`` (the step-3 predictions on the held-out rows and the certificate
``split``) and ``result.json``. :func:`run_model_inputs` turns them into the keyword
arguments that make :func:`bounds.target.generalization.compute_bound` and
:func:`bounds.target.target_terms.compute_target_terms` certify the step-3 model itself, on the rows
the run fixed. :func:`target_terms_from_run` computes only the (fast) target terms.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bounds.target.heads import LinearHead
from bounds.target.target_terms import HALF_NAMES, TARGET_TERMS, compute_target_terms

__all__ = [
    "FEATURE_KEYS",
    "PREDICTIONS_FILE",
    "load_features",
    "load_predictions",
    "load_target_error",
    "run_model_inputs",
    "target_terms_from_run",
    "target_terms_table",
]

#: Arrays every run's ``features.npz`` holds when it has labels.
FEATURE_KEYS: tuple[str, ...] = (
    "z_source_train",
    "y_train",
    "z_source_test",
    "z_target_test",
    "y_test",
)
PREDICTIONS_FILE = "predictions.csv"
_PREDICTION_COLUMNS = ("row", "y_true", "y_pred", "split")


def load_features(path: Path) -> dict[str, np.ndarray]:
    """Read the arrays of ``features.npz``; errors name the file and the missing key."""
    if not path.is_file():
        raise FileNotFoundError(f"features file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
        raise ValueError(f"{path} is not a readable .npz features file: {err}") from None
    missing = [k for k in FEATURE_KEYS if k not in arrays]
    if missing:
        raise ValueError(f"{path} lacks key(s) {missing}; it has {sorted(arrays)}")
    return arrays


def load_target_error(path: Path) -> float:
    """``target_error`` from ``result.json`` (or ``1 - target_accuracy``)."""
    if not path.is_file():
        raise FileNotFoundError(f"result file not found: {path}")
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not readable JSON: {err}") from None
    if not isinstance(result, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(result).__name__}")
    if "target_error" in result:
        value = result["target_error"]
    elif "target_accuracy" in result:
        value = 1.0 - float(result["target_accuracy"])
    else:
        raise ValueError(f"{path} lacks key 'target_error' (and 'target_accuracy')")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{path}: target_error must be a number, got {value!r}") from None


def _read_result(path: Path) -> dict[str, Any]:
    try:
        result = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path} is not readable JSON: {err}") from None
    return result if isinstance(result, dict) else {}


def load_predictions(path: Path, y_test: np.ndarray) -> pd.DataFrame:
    """Read ``predictions.csv``, checked against the run's held-out labels row by row."""
    try:
        table = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ValueError(f"{path} is not a readable predictions table: {err}") from None
    missing = [c for c in _PREDICTION_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; it has {list(table.columns)}")
    if len(table) != len(y_test) or not np.array_equal(table["y_true"].to_numpy(), y_test):
        raise ValueError(
            f"{path} does not match features.npz: its y_true column is not y_test "
            f"({len(table)} rows against {len(y_test)}); the files come from different runs"
        )
    return table


def _head(feats: dict[str, np.ndarray], side: str) -> LinearHead | None:
    weight, bias = feats.get(f"{side}_head_weight"), feats.get(f"{side}_head_bias")
    if weight is None or bias is None:
        return None
    return LinearHead(np.asarray(weight, float), np.asarray(bias, float), np.arange(len(bias)))


def run_model_inputs(run_dir: str | Path, feats: dict[str, np.ndarray]) -> dict[str, Any]:
    """Return the keyword arguments that make the bounds certify the run's step-3 model.

    From ``predictions.csv``: ``target_pred`` (``y_pred``) and ``target_halves`` (the
    ``split`` column); from ``features.npz``: ``target_model`` and ``source_model`` (the
    saved heads), the alignment rows ``z_align_*`` (the paired training rows, disjoint from
    the held-out rows by the run's splits: ``z_align_disjoint=True``) and ``z_target_train``;
    from ``result.json``: ``target_error`` and ``rows_independent``. A run written before
    predictions were saved gives no ``target_pred``: its target terms are then ``None``
    (never a refitted head). The saved head must reproduce ``y_pred`` exactly.
    """
    run_dir = Path(run_dir)
    result = _read_result(run_dir / "result.json") if (run_dir / "result.json").is_file() else {}
    out: dict[str, Any] = {"target_error": load_target_error(run_dir / "result.json")}
    out["rows_independent"] = bool(result.get("rows_independent", True))
    if "z_target_train" in feats:
        out["z_target_train"] = feats["z_target_train"]
    if "z_source_paired" in feats and "z_target_paired" in feats:
        out.update(z_align_source=feats["z_source_paired"], z_align_target=feats["z_target_paired"])
        out["z_align_disjoint"] = True
    if not (run_dir / PREDICTIONS_FILE).is_file():
        return out
    table = load_predictions(run_dir / PREDICTIONS_FILE, feats["y_test"])
    out["target_pred"] = table["y_pred"].to_numpy()
    out.update(_models_checked(feats, out["target_pred"], run_dir))
    split = table["split"].to_numpy()
    if set(HALF_NAMES) <= set(split):
        out["target_halves"] = tuple(np.flatnonzero(split == name) for name in HALF_NAMES)
    return out


def _models_checked(feats: dict, target_pred: np.ndarray, run_dir: Path) -> dict[str, Any]:
    """Return the saved heads, after checking that the target head reproduces ``y_pred``."""
    target, source = _head(feats, "target"), _head(feats, "source")
    if target is not None and not np.array_equal(
        target.predict(feats["z_target_test"]), target_pred
    ):
        raise ValueError(
            f"{run_dir / 'features.npz'}: target_head_* does not reproduce y_pred of "
            f"{run_dir / PREDICTIONS_FILE}; the files come from different runs"
        )
    return {"target_model": target, "source_model": source}


def target_terms_from_run(run_dir: str | Path, **kwargs: Any) -> dict[str, Any]:
    r"""Compute :data:`bounds.target.target_terms.TARGET_TERMS` of a run's step-3 model.

    .. math:: \mathrm{err}_B(h_B) \le \mathrm{err}_A(h_A) + P(h_A(z_A) \ne h_B(z_B))

    The model, its predictions and the certificate rows come from the run folder
    (:func:`run_model_inputs`); the run must hold ``predictions.csv`` (runs of cmcd >= 0.2
    do). ``target_error`` (the run's measured error, the error of ``y_pred``) is returned
    with the terms. Other keyword arguments go to
    :func:`bounds.target.target_terms.compute_target_terms`.

    Raises
    ------
    FileNotFoundError
        When the folder or one of its files is missing.
    ValueError
        When ``predictions.csv`` is missing or does not match ``features.npz``.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    feats = load_features(run_dir / "features.npz")
    inputs = run_model_inputs(run_dir, feats)
    if "target_pred" not in inputs:
        raise ValueError(
            f"{run_dir} has no {PREDICTIONS_FILE} (a run of an older cmcd): its target model "
            "cannot be certified without refitting it; rerun it"
        )
    stored_error = inputs.pop("target_error")
    inputs.pop("rows_independent")
    if "target_halves" in inputs:
        inputs["halves"] = inputs.pop("target_halves")
    for key, value in inputs.items():
        kwargs.setdefault(key, value)
    out = compute_target_terms(
        feats["z_source_train"], feats["y_train"], kwargs.pop("z_target_train", None),
        feats["z_source_test"], feats["z_target_test"], feats["y_test"], **kwargs,
    )  # fmt: skip
    if abs(out["target_error"] - stored_error) > 1e-9:
        raise ValueError(f"{run_dir}: result.json's target_error is not the error of y_pred")
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

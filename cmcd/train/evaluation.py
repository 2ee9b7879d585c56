"""Step 3's outputs: the models, their predictions on the held-out rows, and what they certify.

A run's target error, its ``predictions.csv`` and every target certificate describe ONE
model, the step-3 target model (a linear probe on the student latents, or LP-FT): its head
is saved in ``features.npz`` (``target_head_weight``, ``target_head_bias``; the source probe
as ``source_head_*``), its predictions are computed from the saved latents by that head
(:class:`bounds.target.heads.LinearHead`, float64), and ``target_error`` is the error of those
predictions. :func:`bounds.target.run_files.run_model_inputs` reads them back, so
``cmcd bound`` and a sweep's bound certify the same model the run measured.

``predictions.csv`` has one row per held-out row: ``row`` (the dataset row), ``y_true``,
``y_pred`` (the target model), ``source_pred`` (the source probe) and ``split``: which part
of the target certificates the row belongs to (:data:`bounds.target.target_terms.HALF_NAMES`,
drawn from the run's stream ``"certificate-halves"``; ``"unsplit"`` when the held-out set
is too small for two halves).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from torch import Tensor

from bounds.target.heads import LinearHead
from bounds.target.target_terms import HALF_NAMES, MIN_HALF_ROWS, certificate_halves
from cmcd._io import write_text_atomic
from cmcd.data.splits import RunSplits
from cmcd.seeding import seed_for
from cmcd.train.finetune import ProbedEncoder, finetune

if TYPE_CHECKING:  # annotations only: cmcd.run_config imports the training registries
    from cmcd.run_config import FinetuneConfig

__all__ = [
    "HEAD_KEYS",
    "PREDICTIONS_FILE",
    "fit_step3",
    "head_arrays",
    "predictions_table",
    "record_predictions",
]

PREDICTIONS_FILE = "predictions.csv"
#: Arrays of ``features.npz`` that hold the step-3 heads (scores = W z + b on unit latents).
HEAD_KEYS: tuple[str, ...] = (
    "source_head_weight",
    "source_head_bias",
    "target_head_weight",
    "target_head_bias",
)


def fit_step3(
    ft: FinetuneConfig,
    seed: int,
    n_classes: int,
    encoders: Mapping[str, Any],
    inputs: Mapping[str, Any],
    y: Tensor,
    splits: RunSplits,
) -> dict[str, ProbedEncoder]:
    """Fit step 3 on the labelled rows: the source probe (frozen teacher) and the target model.

    The target side is LP-FT with ``ft.epochs`` epochs (0: the linear probe); the
    student encoder is fine-tuned in place. ``encoders`` and ``inputs`` (tensors, or row
    readers that a tensor of row indices selects from) are keyed by ``"source"`` and
    ``"target"``; ``seed`` is the run seed.
    """
    lab = splits.labeled_t
    epochs = {"source": 0, "target": ft.epochs}
    return {
        side: finetune(
            encoders[side],
            inputs[side][lab],
            y[lab],
            n_classes,
            epochs=epochs[side],
            lr=ft.lr,
            C=ft.C,
            seed=seed_for(seed, "finetune"),
        )
        for side in ("source", "target")
    }


def head_arrays(models: dict[str, ProbedEncoder]) -> dict[str, np.ndarray]:
    """Return the step-3 heads as float64 arrays (the ``HEAD_KEYS`` of ``features.npz``)."""
    out = {}
    for side, model in models.items():
        out[f"{side}_head_weight"] = model.head.weight.detach().cpu().double().numpy()
        out[f"{side}_head_bias"] = model.head.bias.detach().cpu().double().numpy()
    return out


def _head(arrays: dict[str, np.ndarray], side: str) -> LinearHead:
    weight = arrays[f"{side}_head_weight"]
    return LinearHead(weight, arrays[f"{side}_head_bias"], np.arange(weight.shape[0]))


def predictions_table(arrays: dict[str, np.ndarray], rows: np.ndarray, seed: int) -> pd.DataFrame:
    """One row per held-out row: ``row``, ``y_true``, ``y_pred``, ``source_pred``, ``split``.

    Predictions are the saved heads applied to the saved test latents, so they are exactly
    what :func:`bounds.target.run_files.run_model_inputs` recomputes from ``features.npz``.
    """
    n = len(rows)
    split = np.full(n, "unsplit", dtype=object)
    if n >= 2 * MIN_HALF_ROWS:
        lab, pair = certificate_halves(n, seed_for(seed, "certificate-halves"))
        split[lab], split[pair] = HALF_NAMES
    return pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "y_true": arrays["y_test"].astype(np.int64),
            "y_pred": _head(arrays, "target").predict(arrays["z_target_test"]),
            "source_pred": _head(arrays, "source").predict(arrays["z_source_test"]),
            "split": split,
        }
    )


def _certificate_record(table: pd.DataFrame, teacher_file: bool, info: dict) -> dict:
    """Return what ``result.json`` says of every certificate's rows and assumptions."""
    counts = table["split"].value_counts().to_dict()
    assumptions = [
        "held-out pairs are i.i.d. draws of the population and independent of everything "
        "fitted (encoders, heads, maps)",
    ]
    if teacher_file:
        assumptions.append(
            "the teacher file model.teacher_weights was not trained on the held-out rows "
            "(not checkable here)"
        )
    return {
        "predictions_file": PREDICTIONS_FILE,
        "rows_independent": bool(info.get("rows_independent", True)),
        "certificate_rows": {
            "target_certificates": {
                "model": "the step-3 target model (y_pred of predictions.csv)",
                "source_error_term": f"split == '{HALF_NAMES[0]}'",
                "disagreement_term": f"split == '{HALF_NAMES[1]}'",
                "counts": {str(k): int(v) for k, v in counts.items()},
                "alignment_rows": "the paired training rows (features.npz z_*_paired)",
            },
            "target_error": f"all {len(table)} rows of predictions.csv",
        },
        "certificate_assumptions": assumptions,
    }


def record_predictions(
    arrays: dict[str, np.ndarray],
    splits: RunSplits,
    seed: int,
    teacher_file: bool,
    info: dict[str, Any],
    out: Path,
) -> dict[str, Any]:
    """Write ``predictions.csv``; return the accuracies, errors and certificate record.

    ``seed`` is the run seed (it draws the certificate halves); ``teacher_file`` says whether
    the teacher was loaded from ``model.teacher_weights`` (an extra stated assumption).
    """
    table = predictions_table(arrays, splits.evaluation, seed)
    write_text_atomic(out / PREDICTIONS_FILE, table.to_csv(index=False))
    target_error = float(np.mean(table["y_pred"] != table["y_true"]))
    source_error = float(np.mean(table["source_pred"] != table["y_true"]))
    return {
        "target_error": target_error,
        "target_accuracy": 1.0 - target_error,
        "source_error": source_error,
        "source_accuracy": 1.0 - source_error,
        **_certificate_record(table, teacher_file, info),
    }

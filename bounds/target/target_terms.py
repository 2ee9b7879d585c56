r"""Every label-free term on the step-3 target model's error, computed for one run.

The question a researcher asks on a new dataset: how bad can my distilled target model
:math:`h_B` be, given source labels and unlabeled pairs, but no target label? This module
answers it for **the model itself**: :math:`h_B` is never refitted here. It enters as its
own predictions on the held-out target rows (``target_pred``, the ``y_pred`` column of a
run's ``predictions.csv``) and, for the terms that need scores, as the step-3 model's own
head on the student latents (``target_model``, a :class:`bounds.target.heads.LinearHead` such as
the one a run saves in ``features.npz``). The terms, each labelled by :data:`TARGET_TERMS`:

- certified (at level ``1 - alpha``): :func:`bounds.target.target_bounds.certified_target_bound`,
  its best-of-candidates form and the optimal-transport margin bound;
- certified under an assumption: DIS² with a linear critic (the critic class must contain
  the worst disagreement shift, :func:`bounds.target.label_free.dis2_bound`);
- estimates: ATC, the disagreement of two independently fitted probes, the pair
  disagreement and our independent-errors estimate, W1 and the pairing cost.

Rows. The held-out pairs are split into two disjoint parts (``halves``, drawn from
``random_state`` unless given; a run fixes them in the ``split`` column of
``predictions.csv``): the *labelled source rows* (teacher latents and labels only) and the
*unlabeled pairs* (no label read). The source head h_A is ``source_model`` (a run's step-3
source probe) or, when none is given, a probe fitted on the labelled training rows. The map
M of teacher latents into the student space, the DIS² critic and the "mimic" are fitted on
the unlabeled paired training rows (``z_align_*``), which must be disjoint from the scored
rows (checked: an exact repeat of a scored pair among them is refused unless the caller
vouches that the rows are disjoint by index, ``z_align_disjoint=True``). The
best-of-candidates bound minimises over three source classifiers fixed before any scored row
is seen (our choice): h_A; h_B o M; and the mimic, a probe fitted on the teacher latents of
the paired training rows to h_B's predictions on their student side. Target labels are read
only to report ``target_error``, the measured error of ``target_pred``.

Assumptions of every certified term (none can be checked from the arrays alone):

1. the held-out pairs are i.i.d. draws from the population the error is claimed for;
2. they are independent of everything fitted: the encoders (including a teacher loaded
   from an external ``teacher_weights`` file, which must not have been trained on them),
   h_A, h_B, M, the critic and the mimic;
3. a pair's two sides share the object's label (pairing by instance or by class).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from bounds._validation import as_2d_float_array, check_alpha
from bounds.target.heads import LinearHead, fit_source_to_target
from bounds.target.label_free import (
    atc_estimate,
    dis2_bound,
    disagreement_estimate,
    fit_disagreement_critic,
    paired_error_estimate,
)
from bounds.target.probe import LinearProbe
from bounds.target.target_bounds import (
    best_certified_target_bound,
    certified_target_bound,
    check_gammas,
    margin_transport_bound,
    transport_costs,
)

__all__ = [
    "ASSUMED",
    "HALF_NAMES",
    "MIN_HALF_ROWS",
    "TARGET_TERMS",
    "certificate_halves",
    "check_disjoint_rows",
    "compute_target_terms",
]

#: The third status, beside "certified" and "estimate".
ASSUMED = "certified under an assumption"

#: Term registry: name -> (status, meaning). Each bounds or estimates err_B(h_B) of the
#: step-3 model (given as ``target_pred`` / ``target_model``, never refitted).
TARGET_TERMS: dict[str, tuple[str, str]] = {
    "certified_target_bound": ("certified", "CP(err_A(h_A)) + CP(P(h_A(z_A) != h_B(z_B)))"),
    "best_certified_target_bound": (
        "certified",
        "triangle bound, min over g in {h_A, h_B o M, mimic} (Bonferroni over the 3)",
    ),
    "margin_transport_bound": ("certified", "OT margin bound of h_B over the pairing"),
    "dis2_bound": (ASSUMED, "DIS2, linear critic on features (assumes it finds the worst shift)"),
    "dis2_logits_bound": (ASSUMED, "DIS2, linear critic on h_B's logits (same assumption)"),
    "dis2_estimate": ("estimate", "DIS2 (feature critic) without its concentration term"),
    "atc_estimate": ("estimate", "ATC-MC threshold fitted on the labelled source rows"),
    "disagreement_estimate": (
        "estimate",
        "P(h' != h'') on pairs, two probes fitted on disjoint halves of the labelled rows",
    ),
    "pair_disagreement": ("estimate", "P(h_A(z_A) != h_B(z_B)) on the unlabeled pairs"),
    "paired_error_estimate": ("estimate", "err_B from err_A and pair disagreement (indep.)"),
    "w1_aligned": ("estimate", "W1(M z_A, z_B) on the unlabeled pairs (ot.emd2)"),
    "paired_cost": ("estimate", "mean ||M z_A - z_B|| of the pairs (>= w1_aligned)"),
}

#: Names of the two parts of the held-out pairs (the ``split`` column of ``predictions.csv``).
HALF_NAMES: tuple[str, str] = ("labelled_source", "unlabeled_pairs")

#: Fewest rows each held-out half needs (our choice: below it a Clopper-Pearson term is
#: near-vacuous and DIS²'s Hoeffding term exceeds 0.3).
MIN_HALF_ROWS = 10

#: Terms that need the map M (the alignment rows), and those that need h_B's scores.
_NEED_MAP = (
    "best_certified_target_bound", "margin_transport_bound", "dis2_bound", "dis2_logits_bound",
    "dis2_estimate", "atc_estimate", "w1_aligned", "paired_cost",
)  # fmt: skip
_NEED_SCORES = (
    "margin_transport_bound", "dis2_bound", "dis2_logits_bound", "dis2_estimate", "atc_estimate",
)  # fmt: skip

#: Fixed inverse L2 strength of the mimic probe (our choice: it is fitted on the >= hundreds of
#: unlabeled paired training rows, where cross-validating C would cost more than every other
#: term together; any g fitted without the scored rows keeps the bound valid).
MIMIC_C = 1.0

Predictor = Callable[[np.ndarray], np.ndarray]


def certificate_halves(n: int, random_state: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Draw the disjoint labelled-source rows and unlabeled pairs among ``n`` held-out pairs.

    A seeded random half each (the first ``n // 2`` of a permutation are labelled source
    rows); the rule a run uses to write the ``split`` column of ``predictions.csv``.

    Examples
    --------
    >>> lab, pair = certificate_halves(25, 0)
    >>> sorted(np.concatenate([lab, pair]).tolist()) == list(range(25)), lab.size, pair.size
    (True, 12, 13)
    """
    if n < 2 * MIN_HALF_ROWS:
        raise ValueError(
            f"z_source_test has {n} held-out pairs; the target terms need at least "
            f"{2 * MIN_HALF_ROWS} (two halves of {MIN_HALF_ROWS})"
        )
    perm = np.random.default_rng(random_state).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


def _check_halves(halves: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Validate given halves: disjoint integer row indices in [0, n), each >= MIN_HALF_ROWS."""
    try:
        lab, pair = (np.asarray(h).astype(np.int64, casting="same_kind").ravel() for h in halves)
    except (TypeError, ValueError):
        raise ValueError("halves must be two sequences of integer row indices") from None
    for name, idx in zip(HALF_NAMES, (lab, pair), strict=True):
        if idx.size < MIN_HALF_ROWS or idx.min() < 0 or idx.max() >= n:
            raise ValueError(
                f"halves: the {name} rows must be >= {MIN_HALF_ROWS} indices in [0, {n}), "
                f"got {idx.size} rows"
            )
    repeated = np.unique(lab).size < lab.size or np.unique(pair).size < pair.size
    if repeated or np.intersect1d(lab, pair).size:
        raise ValueError(
            "halves: the labelled source rows and the unlabeled pairs must be disjoint, "
            "each row at most once"
        )
    return np.sort(lab), np.sort(pair)


def check_disjoint_rows(
    z_align_source: np.ndarray,
    z_align_target: np.ndarray,
    z_source_test: np.ndarray,
    z_target_test: np.ndarray,
) -> None:
    """Refuse alignment rows that repeat a scored pair.

    A certified term needs the rows M, the critic and the mimic are fitted on to be
    independent of the scored rows. The arrays alone cannot show where rows came from; an
    exact repeat of a scored pair (both sides equal) among the alignment pairs is the
    symptom of passing scored rows as alignment rows, and is refused.

    Raises
    ------
    ValueError
        Naming ``z_align_source``/``z_align_target`` and how many scored pairs they repeat.
    """
    align = set(_pair_keys(z_align_source, z_align_target))
    scored = _pair_keys(z_source_test, z_target_test)
    repeats = sum(key in align for key in scored)
    if repeats:
        raise ValueError(
            f"z_align_source/z_align_target repeat {repeats} of the {len(scored)} scored pairs "
            "(z_source_test/z_target_test) exactly; the alignment rows must be disjoint from "
            "the scored rows for the terms to be certified. Pass other rows, or "
            "z_align_disjoint=True if the rows are disjoint by index and merely equal in value"
        )


def _pair_keys(z_source: np.ndarray, z_target: np.ndarray) -> list[bytes]:
    """One bytes key per pair: both sides' float64 values."""
    both = np.hstack([np.asarray(z_source, np.float64), np.asarray(z_target, np.float64)])
    return [row.tobytes() for row in np.ascontiguousarray(both)]


def _as_predictor(model: Any, name: str) -> Predictor | None:
    """Return ``model.predict`` (or ``model`` when callable); ``None`` stays ``None``."""
    if model is None:
        return None
    predict = getattr(model, "predict", model)
    if not callable(predict):
        raise ValueError(f"{name} must be a LinearHead, an object with predict, or a callable")
    return lambda z: np.asarray(predict(z))


def _fit_linear_head(z: np.ndarray, y: np.ndarray, seed: int, C: float | None = None) -> LinearHead:
    with warnings.catch_warnings():  # one labelled row in a class: the probe's fixed-C fallback
        warnings.filterwarnings("ignore", message=".*too few to cross-validate C.*")
        return LinearHead.from_probe(LinearProbe(C=C, random_state=seed).fit(z, y))


def _stratified_halves(y: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Disjoint halves of the labelled rows, each class split between them; None if impossible."""
    rng = np.random.default_rng(seed)
    first, second = [], []
    for c in np.unique(y):
        rows = rng.permutation(np.flatnonzero(y == c))
        if rows.size < 2:
            return None
        first.append(rows[: rows.size // 2])
        second.append(rows[rows.size // 2 :])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))


def _independent_copies(
    z_target_train: np.ndarray | None, y_train: np.ndarray, z_pair: np.ndarray, seed: int
) -> tuple[float | None, str]:
    """Jiang et al.'s disagreement of two independently fitted copies, on the unlabeled pairs.

    The copies are probes (the step-3 protocol of a linear probe) fitted on disjoint,
    class-stratified halves of the labelled rows, so they are independent given the data
    law (our choice: a convex probe has no seed randomness to vary). The value estimates
    the error of that procedure at half the labels, not of h_B itself.
    """
    if z_target_train is None:
        return None, "needs z_target_train (student latents of the labelled rows)"
    halves = _stratified_halves(y_train, seed)
    if halves is None:
        return None, "needs >= 2 labelled rows per class to fit two disjoint copies"
    first, second = (_fit_linear_head(z_target_train[h], y_train[h], seed) for h in halves)
    return disagreement_estimate(first, second, z_pair), "two probes on disjoint label halves"


def _pairing_terms(pred: dict[str, np.ndarray], y_lab: np.ndarray, n_classes: int, alpha: float):
    """Terms that need no map: the triangle bound, the pair disagreement and our estimate."""
    triangle = certified_target_bound(pred["a_lab"], y_lab, pred["a_pair"], pred["b_pair"], alpha)
    err_a = float(np.mean(pred["a_lab"] != y_lab))
    dis = float(np.mean(pred["a_pair"] != pred["b_pair"]))
    return {
        "certified_target_bound": triangle["value"],
        "pair_disagreement": dis,
        "paired_error_estimate": paired_error_estimate(err_a, dis, n_classes),
        "details": {"certified_target_bound": triangle, "source_head_error": err_a},
    }


def _candidates(h_a: Predictor, h_b: Predictor, mimic: LinearHead, rows: dict, to_target):
    """Predictions of the 3 fixed source classifiers on both source parts."""
    m_lab, m_pair = to_target(rows["zs_lab"]), to_target(rows["zs_pair"])
    return [
        (h_a(rows["zs_lab"]), h_a(rows["zs_pair"])),
        (h_b(m_lab), h_b(m_pair)),
        (mimic.predict(rows["zs_lab"]), mimic.predict(rows["zs_pair"])),
    ]


def _scored_terms(head: LinearHead, rows: dict, to_target, align: tuple, cfg: dict) -> dict:
    """Terms that need h_B's scores: the margin bound, both DIS² variants and ATC."""
    m_lab, zt_pair, y_lab = to_target(rows["zs_lab"]), rows["zt_pair"], rows["y_lab"]
    alpha = cfg["alpha"]
    margin = margin_transport_bound(
        head, m_lab, y_lab, to_target(rows["zs_pair"]), zt_pair, gammas=cfg["gammas"], alpha=alpha
    )
    mapped_align = to_target(align[0])
    dis2 = {}
    for variant in ("features", "logits"):
        critic = fit_disagreement_critic(
            head, mapped_align, align[1], variant=variant, random_state=cfg["seed"]
        )
        dis2[variant] = dis2_bound(head, critic, m_lab, y_lab, zt_pair, alpha)
    atc = atc_estimate(head, m_lab, y_lab, zt_pair)
    return {
        "margin_transport_bound": margin["value"],
        "dis2_bound": dis2["features"]["value"],
        "dis2_logits_bound": dis2["logits"]["value"],
        "dis2_estimate": dis2["features"]["estimate"],
        "atc_estimate": atc["value"],
        "details": {"margin": margin, "dis2": dis2["features"], "dis2_logits": dis2["logits"],
                    "atc": atc},
    }  # fmt: skip


def _mapped_section(h_a: Predictor, h_b: Predictor, head: LinearHead | None, rows: dict, cfg: dict):
    """Terms that carry teacher latents into the student space with the map M."""
    align = cfg["align"]
    to_target = fit_source_to_target(cfg["alignment"], *align)
    mimic = _fit_linear_head(align[0], h_b(align[1]), cfg["seed"], C=MIMIC_C)
    best = best_certified_target_bound(
        _candidates(h_a, h_b, mimic, rows, to_target), rows["y_lab"], rows["b_pair"], cfg["alpha"]
    )
    costs = transport_costs(to_target(rows["zs_pair"]), rows["zt_pair"])
    out = {
        "best_certified_target_bound": best["value"],
        "w1_aligned": costs["w1"],
        "paired_cost": costs["paired_cost"],
        "details": {"best": best},
    }
    if head is None:
        out["details"]["scored"] = f"terms {list(_NEED_SCORES)} need target_model as a LinearHead"
        return out
    scored = _scored_terms(head, rows, to_target, align, cfg)
    out["details"].update(scored.pop("details"))
    return {**out, **scored}


def compute_target_terms(
    z_source_train: Any,
    y_train: Any,
    z_target_train: Any,
    z_source_test: Any,
    z_target_test: Any,
    y_test: Any,
    *,
    target_pred: Any = None,
    target_model: Any = None,
    source_model: Any = None,
    z_align_source: Any = None,
    z_align_target: Any = None,
    z_align_disjoint: bool = False,
    halves: Any = None,
    alignment: str = "center",
    alpha: float = 0.05,
    gammas: Any = None,
    random_state: int | None = None,
) -> dict[str, Any]:
    r"""Compute every term of :data:`TARGET_TERMS` on the step-3 model h_B (rows: module docs).

    .. math:: \mathrm{err}_B(h_B) \le \mathrm{err}_A(h_A) + P(h_A(z_A) \ne h_B(z_B))

    Parameters
    ----------
    z_source_train, y_train : array-like
        Teacher latents and labels of the labelled training rows (h_A is fitted on them
        when no ``source_model`` is given).
    z_target_train : array-like or None
        Student latents of the labelled rows: only the two independent copies of
        ``disagreement_estimate`` are fitted on them (never h_B); ``None`` leaves it ``None``.
    z_source_test, z_target_test, y_test : array-like
        Held-out pairs; ``y_test`` is read only for the labelled-source rows and to report
        ``target_error``.
    target_pred : array-like of shape (n_test,) or None
        The step-3 model's predictions on ``z_target_test`` (``predictions.csv``'s
        ``y_pred``). ``None``: ``target_model.predict(z_target_test)``.
    target_model : LinearHead, object with ``predict``, callable or None
        The step-3 model as a function of the student latents. The map terms need it; the
        margin, DIS² and ATC terms need its scores (a :class:`bounds.target.heads.LinearHead`).
    source_model : LinearHead, object with ``predict``, callable or None
        The source head h_A (``None``: a probe fitted on ``z_source_train``).
    z_align_source, z_align_target : array-like or None
        Unlabeled paired training rows (M, the critic and the mimic are fitted on them),
        disjoint from the held-out rows. Without them the terms that need M are ``None``.
    z_align_disjoint : bool
        The caller vouches that the alignment rows are disjoint from the scored rows by
        index (a run's splits do); otherwise an exact repeat of a scored pair is refused
        (:func:`check_disjoint_rows`).
    halves : (array-like, array-like) or None
        Row indices of the labelled source rows and of the unlabeled pairs (disjoint);
        ``None`` draws them with :func:`certificate_halves` from ``random_state``.
    alignment : str
        Map M, a key of :data:`bounds.target.heads.SOURCE_TO_TARGET`.
    alpha : float
        Miscoverage level of each certified term.
    gammas : array-like or None
        Margin grid of the transport bound (``None``: its default).
    random_state : int or None
        Seed of the halves, h_A's folds, the copies and the critics.

    Returns
    -------
    dict
        One value (or ``None``) per term of :data:`TARGET_TERMS`, ``target_error`` (the
        measured error of ``target_pred``, reading target labels) and ``details`` (with
        ``details["rows"]``: the row indices each part of the certificates used).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 300)
    >>> z_a = rng.normal(size=(300, 2)) + 3.0 * y[:, None]
    >>> z_b = z_a + 0.3 * rng.normal(size=(300, 2))
    >>> pred = (z_b.sum(axis=1) > 3.0).astype(int)   # any fixed model of the target side
    >>> out = compute_target_terms(z_a[:100], y[:100], None, z_a[100:], z_b[100:], y[100:],
    ...                            target_pred=pred[100:], random_state=0)
    >>> out["certified_target_bound"] >= out["target_error"]
    True
    """
    alpha, gammas = check_alpha(alpha), check_gammas(gammas)  # before any fit
    zs_tr, y_tr, zt_tr, zs_te, zt_te, y_te = _check_target_inputs(
        z_source_train, y_train, z_target_train, z_source_test, z_target_test, y_test
    )
    models = _check_models(target_model, source_model)
    b_pred = _target_predictions(target_pred, models["b"], zt_te)
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(random_state).spawn(4)]
    n = zs_te.shape[0]
    lab, pair = certificate_halves(n, seeds[1]) if halves is None else _check_halves(halves, n)
    h_a = models["a"] or _fit_linear_head(zs_tr, y_tr, seeds[0]).predict
    rows = {"zs_lab": zs_te[lab], "y_lab": y_te[lab], "zs_pair": zs_te[pair],
            "zt_pair": zt_te[pair], "b_pair": b_pred[pair]}  # fmt: skip
    preds = {"a_lab": h_a(rows["zs_lab"]), "a_pair": h_a(rows["zs_pair"]), "b_pair": b_pred[pair]}
    out: dict[str, Any] = dict.fromkeys(TARGET_TERMS)
    out.update(_pairing_terms(preds, rows["y_lab"], np.unique(y_tr).size, alpha))
    details = out.pop("details")
    out["disagreement_estimate"], details["disagreement_estimate"] = _independent_copies(
        zt_tr, y_tr, rows["zt_pair"], seeds[2]
    )
    details["rows"] = {HALF_NAMES[0]: lab.tolist(), HALF_NAMES[1]: pair.tolist()}
    out["target_error"] = float(np.mean(b_pred != y_te))
    reason = _mapped_unavailable(models["b"], z_align_source, z_align_target)
    if reason:
        details["mapped"] = reason
        return {**out, "details": details}
    align = _alignment_rows(z_align_source, z_align_target, zs_te, zt_te, z_align_disjoint)
    cfg = {"alpha": alpha, "gammas": gammas, "seed": seeds[3], "align": align,
           "alignment": alignment}  # fmt: skip
    mapped = _mapped_section(h_a, models["b"], models["head"], rows, cfg)
    details.update(mapped.pop("details"))
    return {**out, **mapped, "details": details}


def _check_models(target_model: Any, source_model: Any) -> dict[str, Any]:
    """Predictors of h_A and h_B (``None`` when not given) and h_B's LinearHead if it is one."""
    return {
        "a": _as_predictor(source_model, "source_model"),
        "b": _as_predictor(target_model, "target_model"),
        "head": target_model if isinstance(target_model, LinearHead) else None,
    }


def _target_predictions(target_pred: Any, predict: Predictor | None, zt_te: np.ndarray):
    """h_B's predictions on the held-out target rows: given, or from ``target_model``."""
    if target_pred is None:
        if predict is None:
            raise ValueError(
                "target_pred and target_model are both None: the target terms bound the "
                "step-3 model and never refit it; pass its predictions on z_target_test "
                "(predictions.csv's y_pred) or the model itself"
            )
        return np.asarray(predict(zt_te))
    pred = np.asarray(target_pred)
    if pred.ndim != 1 or pred.shape[0] != zt_te.shape[0]:
        raise ValueError(
            f"target_pred must be 1-D with one prediction per row of z_target_test "
            f"({zt_te.shape[0]}), got shape {pred.shape}"
        )
    return pred


def _mapped_unavailable(predict: Predictor | None, z_align_source: Any, z_align_target: Any):
    """Why the terms that need M cannot be computed (empty string when they can)."""
    if z_align_source is None or z_align_target is None:
        return f"terms {list(_NEED_MAP)} need the alignment rows z_align_*; none given"
    if predict is None:
        return f"terms {list(_NEED_MAP)} need target_model (h_B as a function of z_B)"
    return ""


def _alignment_rows(
    z_align_source: Any, z_align_target: Any, zs_te: np.ndarray, zt_te: np.ndarray, vouched: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Validate the alignment rows and, unless vouched for, their disjointness from the test."""
    zs = as_2d_float_array(z_align_source, "z_align_source")
    zt = as_2d_float_array(z_align_target, "z_align_target")
    if not vouched:
        check_disjoint_rows(zs, zt, zs_te, zt_te)
    return zs, zt


def _check_target_inputs(
    z_source_train: Any,
    y_train: Any,
    z_target_train: Any,
    z_source_test: Any,
    z_target_test: Any,
    y_test: Any,
) -> tuple[Any, ...]:
    """Return the six row blocks of :func:`compute_target_terms` as arrays, checked."""
    zs_tr = as_2d_float_array(z_source_train, "z_source_train")
    zs_te = as_2d_float_array(z_source_test, "z_source_test")
    zt_te = as_2d_float_array(z_target_test, "z_target_test")
    y_tr, y_te = np.asarray(y_train), np.asarray(y_test)
    if y_tr.shape[0] != zs_tr.shape[0]:
        raise ValueError(
            f"y_train has {y_tr.shape[0]} labels but z_source_train has {zs_tr.shape[0]} rows"
        )
    if zt_te.shape[0] != zs_te.shape[0] or y_te.shape[0] != zs_te.shape[0]:
        raise ValueError(
            f"z_target_test ({zt_te.shape[0]} rows) and y_test ({y_te.shape[0]}) must pair "
            f"row by row with z_source_test ({zs_te.shape[0]} rows)"
        )
    zt_tr = None if z_target_train is None else _check_rows(z_target_train, y_tr, zt_te)
    return zs_tr, y_tr, zt_tr, zs_te, zt_te, y_te


def _check_rows(z_target_train: Any, y_train: np.ndarray, z_target_test: np.ndarray) -> np.ndarray:
    zt_tr = as_2d_float_array(z_target_train, "z_target_train")
    if zt_tr.shape[0] != y_train.shape[0]:
        raise ValueError(
            f"z_target_train has {zt_tr.shape[0]} rows but y_train has {y_train.shape[0]} labels"
        )
    if zt_tr.shape[1] != z_target_test.shape[1]:
        raise ValueError(
            f"z_target_train has {zt_tr.shape[1]} features, z_target_test {z_target_test.shape[1]}"
        )
    return zt_tr

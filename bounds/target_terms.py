r"""Every label-free term on the fine-tuned target model's error, computed for one run.

The question a researcher asks on a new dataset: how bad can my distilled target model
:math:`h_B` be, given source labels and unlabeled pairs, but no target label? This module
answers it with three kinds of term, each labelled by :data:`TARGET_TERMS`:

- certified (at level ``1 - alpha``): :func:`bounds.target_bounds.certified_target_bound`,
  its best-of-candidates form and the optimal-transport margin bound;
- certified under an assumption: DIS² with a linear critic;
- estimates: ATC, the disagreement of two probes, the pair disagreement and our
  independent-errors estimate, W1 and the pairing cost.

Rows (``compute_target_terms``). The heads are fitted on the labelled training rows
(``z_source_train``/``z_target_train`` with ``y_train``): h_A on teacher latents, h_B on
student latents, both with :class:`bounds.probe.LinearProbe` as the pipeline's step 3 does.
The map M of teacher latents into the student space and the DIS² critic are fitted on the
unlabeled paired training rows (``z_align_*``). The held-out pairs are split at random into
two disjoint halves: the *labelled source rows* (teacher latents and labels only) and the
*unlabeled pairs* (no label read). The best-of-candidates bound minimises over three source
classifiers fixed before any scored row is seen (our choice): h_A; h_B o M; and a "mimic", a
probe fitted on the teacher latents of the paired training rows to h_B's predictions on their
student side (it learns, through the pairing, to err where h_B errs). Target labels are read
only to report
``target_head_error``, the measured error the terms are compared with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bounds._validation import as_2d_float_array, check_alpha
from bounds.heads import LinearHead, fit_source_to_target
from bounds.label_free import (
    atc_estimate,
    dis2_bound,
    disagreement_estimate,
    fit_disagreement_critic,
    paired_error_estimate,
)
from bounds.probe import LinearProbe
from bounds.target_bounds import (
    best_certified_target_bound,
    certified_target_bound,
    check_gammas,
    margin_transport_bound,
    transport_costs,
)

__all__ = ["ASSUMED", "MIN_HALF_ROWS", "TARGET_TERMS", "compute_target_terms"]

#: The third status, beside "certified" and "estimate".
ASSUMED = "certified under an assumption"

#: Term registry: name -> (status, meaning). Each bounds or estimates err_B(h_B).
TARGET_TERMS: dict[str, tuple[str, str]] = {
    "certified_target_bound": ("certified", "CP(err_A(h_A)) + CP(P(h_A(z_A) != h_B(z_B)))"),
    "best_certified_target_bound": (
        "certified",
        "triangle bound, min over g in {h_A, h_B o M, mimic}",
    ),
    "margin_transport_bound": ("certified", "OT margin bound of h_B over the pairing"),
    "dis2_bound": (ASSUMED, "DIS2, linear critic (assumes it finds the worst shift)"),
    "dis2_estimate": ("estimate", "DIS2 without its concentration term"),
    "atc_estimate": ("estimate", "ATC-MC threshold fitted on the labelled source rows"),
    "disagreement_estimate": ("estimate", "P(h_B != h_B') on pairs, h_B' on a bootstrap"),
    "pair_disagreement": ("estimate", "P(h_A(z_A) != h_B(z_B)) on the unlabeled pairs"),
    "paired_error_estimate": ("estimate", "err_B from err_A and pair disagreement (indep.)"),
    "w1_aligned": ("estimate", "W1(M z_A, z_B) on the unlabeled pairs (ot.emd2)"),
    "paired_cost": ("estimate", "mean ||M z_A - z_B|| of the pairs (>= w1_aligned)"),
    "target_head_error": ("estimate", "measured err_B(h_B) on all held-out rows (labels)"),
}

#: Fewest rows each held-out half needs (our choice: below it a Clopper-Pearson term is
#: near-vacuous and DIS²'s Hoeffding term exceeds 0.3).
MIN_HALF_ROWS = 10

#: Terms that need the map M (the alignment rows).
_NEED_MAP = (
    "best_certified_target_bound", "margin_transport_bound", "dis2_bound", "dis2_estimate",
    "atc_estimate", "w1_aligned", "paired_cost",
)  # fmt: skip


#: Fixed inverse L2 strength of the mimic probe (our choice: it is fitted on the >= hundreds of
#: unlabeled paired training rows, where cross-validating C would cost more than every other
#: term together; any g fitted without the scored rows keeps the bound valid).
MIMIC_C = 1.0


def _fit_linear_head(z: np.ndarray, y: np.ndarray, seed: int, C: float | None = None) -> LinearHead:
    return LinearHead.from_probe(LinearProbe(C=C, random_state=seed).fit(z, y))


def _stratified_bootstrap(y: np.ndarray, seed: int) -> np.ndarray:
    """Row indices resampled with replacement within each class (every class kept)."""
    rng = np.random.default_rng(seed)
    parts = [rng.choice(np.flatnonzero(y == c), size=int(np.sum(y == c))) for c in np.unique(y)]
    return np.sort(np.concatenate(parts))


def _halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint random halves of the held-out rows: labelled source rows, unlabeled pairs."""
    if n < 2 * MIN_HALF_ROWS:
        raise ValueError(
            f"z_source_test has {n} held-out pairs; the target terms need at least "
            f"{2 * MIN_HALF_ROWS} (two halves of {MIN_HALF_ROWS})"
        )
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[: n // 2]), np.sort(perm[n // 2 :])


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


def _pairing_terms(h_a: LinearHead, h_b: LinearHead, rows: dict, alpha: float) -> dict:
    """Terms that need no map: the triangle bound, the pair disagreement and our estimate."""
    lab_pred = h_a.predict(rows["zs_lab"])
    pair_a, pair_b = h_a.predict(rows["zs_pair"]), h_b.predict(rows["zt_pair"])
    triangle = certified_target_bound(lab_pred, rows["y_lab"], pair_a, pair_b, alpha)
    err_a = float(np.mean(lab_pred != rows["y_lab"]))
    dis = float(np.mean(pair_a != pair_b))
    return {
        "certified_target_bound": triangle["value"],
        "pair_disagreement": dis,
        "paired_error_estimate": paired_error_estimate(err_a, dis, h_a.classes.size),
        "details": {"certified_target_bound": triangle, "source_head_error": err_a},
    }


def _mapped_terms(
    h_a: LinearHead, h_b: LinearHead, rows: dict, to_target: Callable, critic: LinearHead, cfg: dict
) -> dict:
    """Terms that carry teacher latents into the student space with the map M."""
    m_lab, m_pair = to_target(rows["zs_lab"]), to_target(rows["zs_pair"])
    zt_pair, y_lab, alpha = rows["zt_pair"], rows["y_lab"], cfg["alpha"]
    mimic = cfg["mimic"]
    candidates = [
        (h_a.predict(rows["zs_lab"]), h_a.predict(rows["zs_pair"])),
        (h_b.predict(m_lab), h_b.predict(m_pair)),
        (mimic.predict(rows["zs_lab"]), mimic.predict(rows["zs_pair"])),
    ]
    best = best_certified_target_bound(candidates, y_lab, h_b.predict(zt_pair), alpha)
    margin = margin_transport_bound(
        h_b, m_lab, y_lab, m_pair, zt_pair, gammas=cfg["gammas"], alpha=alpha
    )
    dis2 = dis2_bound(h_b, critic, m_lab, y_lab, zt_pair, alpha)
    atc = atc_estimate(h_b, m_lab, y_lab, zt_pair)
    costs = transport_costs(m_pair, zt_pair)
    return {
        "best_certified_target_bound": best["value"],
        "margin_transport_bound": margin["value"],
        "dis2_bound": dis2["value"],
        "dis2_estimate": dis2["estimate"],
        "atc_estimate": atc["value"],
        "w1_aligned": costs["w1"],
        "paired_cost": costs["paired_cost"],
        "details": {"best": best, "margin": margin, "dis2": dis2, "atc": atc},
    }


def compute_target_terms(
    z_source_train: Any,
    y_train: Any,
    z_target_train: Any,
    z_source_test: Any,
    z_target_test: Any,
    y_test: Any,
    *,
    z_align_source: Any = None,
    z_align_target: Any = None,
    alignment: str = "center",
    alpha: float = 0.05,
    gammas: Any = None,
    random_state: int | None = None,
) -> dict[str, Any]:
    r"""Compute every term of :data:`TARGET_TERMS` for one run (rows: see the module docstring).

    .. math:: \mathrm{err}_B(h_B) \le \mathrm{err}_A(h_A) + P(h_A(z_A) \ne h_B(z_B))

    Parameters
    ----------
    z_source_train, y_train, z_target_train : array-like
        Labelled training rows of both modalities (the heads h_A and h_B are fitted on them).
    z_source_test, z_target_test, y_test : array-like
        Held-out pairs; ``y_test`` is read only for the labelled-source half and for
        ``target_head_error``.
    z_align_source, z_align_target : array-like or None
        Unlabeled paired training rows (the map M and the DIS² critic are fitted on them).
        Without them the terms that need M are ``None``, the reason in ``details``.
    alignment : str
        Map M, a key of :data:`bounds.heads.SOURCE_TO_TARGET`.
    alpha : float
        Miscoverage level of each certified term.
    gammas : array-like or None
        Margin grid of the transport bound (``None``: its default); a non-empty sequence of
        finite positive numbers.
    random_state : int or None
        Seed of the heads' folds, the halves, the bootstrap and the critic.

    Returns
    -------
    dict
        One value (or ``None``) per term of :data:`TARGET_TERMS`, and ``details``.
    """
    alpha = check_alpha(alpha)
    gammas = check_gammas(gammas)  # before any fit, even when no map uses it
    zs_tr, y_tr, zt_tr, zs_te, zt_te, y_te = _check_target_inputs(
        z_source_train, y_train, z_target_train, z_source_test, z_target_test, y_test
    )
    seeds = [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(random_state).spawn(4)]
    lab, pair = _halves(zs_te.shape[0], seeds[1])
    rows = {
        "zs_lab": zs_te[lab],
        "y_lab": y_te[lab],
        "zs_pair": zs_te[pair],
        "zt_pair": zt_te[pair],
    }
    h_a, h_b = _fit_linear_head(zs_tr, y_tr, seeds[0]), _fit_linear_head(zt_tr, y_tr, seeds[0])
    boot = _stratified_bootstrap(y_tr, seeds[2])
    out: dict[str, Any] = dict.fromkeys(TARGET_TERMS)
    out.update(_pairing_terms(h_a, h_b, rows, alpha))
    out["disagreement_estimate"] = disagreement_estimate(
        h_b, _fit_linear_head(zt_tr[boot], y_tr[boot], seeds[0]), rows["zt_pair"]
    )
    out["target_head_error"] = float(np.mean(h_b.predict(zt_te) != y_te))
    details = out.pop("details")
    if z_align_source is None or z_align_target is None:
        details["mapped"] = f"terms {list(_NEED_MAP)} need the alignment rows z_align_*; none given"
        return {**out, "details": details}
    align = (alignment, np.asarray(z_align_source, float), z_align_target)
    mapped = _mapped_section(h_a, h_b, rows, align, {"alpha": alpha, "gammas": gammas}, seeds)
    details.update(mapped.pop("details"))
    return {**out, **mapped, "details": details}


def _check_target_inputs(
    z_source_train: Any,
    y_train: Any,
    z_target_train: Any,
    z_source_test: Any,
    z_target_test: Any,
    y_test: Any,
) -> tuple[np.ndarray, ...]:
    """Return the six row blocks of :func:`compute_target_terms` as arrays, checked."""
    zs_tr = as_2d_float_array(z_source_train, "z_source_train")
    zs_te = as_2d_float_array(z_source_test, "z_source_test")
    zt_te = as_2d_float_array(z_target_test, "z_target_test")
    y_tr, y_te = np.asarray(y_train), np.asarray(y_test)
    zt_tr = _check_rows(z_target_train, y_tr, zt_te)
    return zs_tr, y_tr, zt_tr, zs_te, zt_te, y_te


def _mapped_section(
    h_a: Any,
    h_b: Any,
    rows: dict[str, np.ndarray],
    align: tuple[str, np.ndarray, Any],
    cfg: dict[str, Any],
    seeds: list[int],
) -> dict[str, Any]:
    """Terms that need the source-to-target map M, fitted on the paired training rows."""
    alignment, z_align_source, z_align_target = align
    to_target = fit_source_to_target(alignment, z_align_source, z_align_target)
    critic = fit_disagreement_critic(
        h_b, to_target(z_align_source), z_align_target, random_state=seeds[3]
    )
    mimic = _fit_linear_head(z_align_source, h_b.predict(z_align_target), seeds[0], C=MIMIC_C)
    return _mapped_terms(h_a, h_b, rows, to_target, critic, {**cfg, "mimic": mimic})

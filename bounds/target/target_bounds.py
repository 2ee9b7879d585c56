r"""Certified upper bounds on the error of the fine-tuned target model, from the pairing.

Cross-modality distillation has, by construction, unlabeled pairs :math:`(z_A, z_B)` of one
object seen by both modalities, so that both share the object's label. Every bound here is a
pointwise inequality on such pairs, made certified by exact Clopper-Pearson terms:

- :func:`certified_target_bound`, the triangle inequality
  :math:`\mathrm{err}_B(h_B) \le \mathrm{err}_A(g) + P(g(z_A) \ne h_B(z_B))`;
- :func:`best_certified_target_bound`, its minimum over a fixed set of source classifiers
  ``g`` with a union bound;
- :func:`margin_transport_bound`, the optimal-transport form that trades the source margin
  against the distance of paired latents.

Rows. Two disjoint held-out samples, both disjoint from every row used to fit the heads and
the maps: *labelled source rows* (teacher latents with labels; they give the err_A terms) and
*unlabeled pairs* (they give the disagreement or distance terms). No target label is used.

References
----------
.. [1] C. J. Clopper, E. S. Pearson, "The use of confidence or fiducial limits illustrated
   in the case of the binomial", Biometrika 26, 1934.
.. [2] H. Lin et al., arXiv:2405.03355, 2024 (the setting).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, cast

import numpy as np
import ot

from bounds._confidence import clopper_pearson_upper
from bounds._validation import check_alpha
from bounds.target.heads import LinearHead

__all__ = [
    "DEFAULT_RADII",
    "best_certified_target_bound",
    "certified_target_bound",
    "check_gammas",
    "margin_transport_bound",
    "transport_costs",
]

#: Distance thresholds r = gamma / K of :func:`margin_transport_bound` when no gamma grid is
#: given: 24 values, geometric from 0.01 to 2 (the diameter of the unit sphere); our choice,
#: fixed before any run was scored.
DEFAULT_RADII: np.ndarray = np.geomspace(0.01, 2.0, 24)


def _count(mask: np.ndarray, name: str, need: int = 1) -> tuple[int, int]:
    mask = np.asarray(mask, dtype=bool).ravel()
    if mask.size < need:
        raise ValueError(f"{name} needs at least {need} rows, got {mask.size}")
    return int(mask.sum()), int(mask.size)


def certified_target_bound(
    source_pred: Any,
    source_y: Any,
    pair_source_pred: Any,
    pair_target_pred: Any,
    alpha: float = 0.05,
) -> dict[str, float]:
    r"""Certified upper bound on the target model's error from the pointwise triangle inequality.

    .. math::

        \mathrm{err}_B(h_B) \le \mathrm{err}_A(h_A) + P\big(h_A(z_A) \ne h_B(z_B)\big)
        \le \mathrm{CP}_{\alpha/2}(k_A, n_A) + \mathrm{CP}_{\alpha/2}(k_D, n_D)

    Proof: on a pair with label y, :math:`1\{h_B(z_B) \ne y\} \le 1\{h_A(z_A) \ne y\} +
    1\{h_A(z_A) \ne h_B(z_B)\}` (if h_A is right and both agree, h_B is right); take
    expectations. Each Clopper-Pearson term fails with probability at most alpha / 2 (the
    equal split is our choice), so the sum holds with probability at least ``1 - alpha``.

    Parameters
    ----------
    source_pred, source_y : array-like of shape (n_A,)
        h_A's predictions on the labelled source rows, and their labels.
    pair_source_pred, pair_target_pred : array-like of shape (n_D,)
        h_A's predictions on the teacher side and h_B's on the student side of unlabeled pairs
        (a sample disjoint from the labelled rows).
    alpha : float
        Miscoverage level in (0, 1).

    Returns
    -------
    dict
        ``value`` (clipped to 1), ``source_error_upper``, ``disagreement_upper``, ``n_labelled``,
        ``n_pairs``.

    Examples
    --------
    >>> r = certified_target_bound([0, 1, 1, 0] * 25, [0, 1, 1, 1] * 25, [0, 1] * 50, [0, 1] * 50)
    >>> round(r["source_error_upper"], 3), r["disagreement_upper"] < 0.04
    (0.347, True)
    """
    alpha = check_alpha(alpha)
    wrong = np.asarray(source_pred) != np.asarray(source_y)
    differ = np.asarray(pair_source_pred) != np.asarray(pair_target_pred)
    k_a, n_a = _count(wrong, "certified_target_bound: the labelled source rows")
    k_d, n_d = _count(differ, "certified_target_bound: the unlabeled pairs")
    source_upper = clopper_pearson_upper(k_a, n_a, alpha / 2)
    dis_upper = clopper_pearson_upper(k_d, n_d, alpha / 2)
    return {
        "value": min(1.0, source_upper + dis_upper),
        "source_error_upper": source_upper,
        "disagreement_upper": dis_upper,
        "n_labelled": n_a,
        "n_pairs": n_d,
    }


def best_certified_target_bound(
    candidates: Sequence[tuple[Any, Any]],
    source_y: Any,
    pair_target_pred: Any,
    alpha: float = 0.05,
) -> dict[str, Any]:
    r"""Minimise the triangle bound over a fixed set of source classifiers (union bound).

    .. math::

        \mathrm{err}_B(h_B) \le \min_{j \le m} \Big[\mathrm{CP}_{\alpha/2m}(\mathrm{err}_A(g_j))
        + \mathrm{CP}_{\alpha/2m}\big(P(g_j(z_A) \ne h_B(z_B))\big)\Big]

    Proof: the triangle inequality of :func:`certified_target_bound` holds for *any* source
    classifier g fitted without the scored rows, not only for the teacher's head. With m
    candidates fixed before the scored rows are seen, all 2m Clopper-Pearson terms hold
    together with probability at least ``1 - alpha`` (Bonferroni), so the minimum is certified.
    A candidate such as :math:`h_B \circ M` (the target head on teacher latents carried into
    the student space) can disagree with h_B far less than h_A does.

    Parameters
    ----------
    candidates : sequence of (source_pred, pair_source_pred)
        For each g_j: its predictions on the labelled source rows and on the teacher side of
        the unlabeled pairs.
    source_y : array-like of shape (n_A,)
        Labels of the labelled source rows.
    pair_target_pred : array-like of shape (n_D,)
        h_B's predictions on the student side of the unlabeled pairs.

    Returns
    -------
    dict
        ``value``, ``best`` (index of the minimising candidate), ``per_candidate`` values.
    """
    if len(candidates) == 0:
        raise ValueError("candidates must hold at least one (source_pred, pair_source_pred)")
    level = check_alpha(alpha) / len(candidates)
    values = [
        certified_target_bound(pred, source_y, pair_pred, pair_target_pred, level)["value"]
        for pred, pair_pred in candidates
    ]
    best = int(np.argmin(values))
    return {"value": values[best], "best": best, "per_candidate": values}


def check_gammas(gammas: Any, name: str = "gammas") -> np.ndarray | None:
    """Return a margin grid as a flat float array (None stays None), else raise ``ValueError``.

    Parameters
    ----------
    gammas : array-like or None
        Margin thresholds of :func:`margin_transport_bound`; None means its default grid.
    name : str
        How the caller names the argument, used in the message.

    Returns
    -------
    numpy.ndarray or None

    Raises
    ------
    ValueError
        Unless ``gammas`` is None or a non-empty sequence of finite positive numbers.

    Examples
    --------
    >>> check_gammas([0.5, 1])
    array([0.5, 1. ])
    >>> check_gammas([])
    Traceback (most recent call last):
        ...
    ValueError: gammas must be a non-empty sequence of finite positive numbers, got []
    """
    if gammas is None:
        return None
    try:
        raw = np.asarray(gammas)
    except (TypeError, ValueError):  # e.g. a ragged nested list
        raw = np.asarray([], dtype=object)
    arr = raw.astype(float).ravel() if raw.dtype.kind in "iuf" else np.empty(0)
    if arr.size == 0 or not np.all(np.isfinite(arr)) or np.any(arr <= 0):
        raise ValueError(
            f"{name} must be a non-empty sequence of finite positive numbers, got {gammas!r}"
        )
    return arr


def margin_transport_bound(
    head: LinearHead,
    source_z: Any,
    source_y: Any,
    pair_source_z: Any,
    pair_target_z: Any,
    *,
    gammas: Any = None,
    alpha: float = 0.05,
) -> dict[str, Any]:
    r"""Certified optimal-transport bound on a linear head's target error, over the pairing.

    .. math::

        \mathrm{err}_B(h) \le \min_{\gamma \in \Gamma} \Big[\mathrm{CP}_{\alpha/2|\Gamma|}
        \big(P_A(m(z_A, y) \le \gamma)\big) + \mathrm{CP}_{\alpha/2|\Gamma|}
        \big(P(\|z_A - z_B\| \ge \gamma / K)\big)\Big]

    with :math:`m(z, y) = s_y(z) - \max_{k \ne y} s_k(z)` and
    :math:`K = \max_{j \ne k} \|w_j - w_k\|`.

    Derivation: for a pair :math:`(z_A, z_B)` with label y and any class :math:`k \ne y`,
    :math:`(s_y - s_k)(z_B) \ge (s_y - s_k)(z_A) - \|w_y - w_k\| \|z_A - z_B\|
    > \gamma - K \cdot \gamma / K = 0` whenever :math:`m(z_A, y) > \gamma` and
    :math:`\|z_A - z_B\| < \gamma / K`; then :math:`h(z_B) = y`. Hence, pointwise,
    :math:`1\{h(z_B) \ne y\} \le 1\{m(z_A, y) \le \gamma\} + 1\{\|z_A - z_B\| \ge \gamma/K\}`,
    for every gamma. The pairs are a coupling of the two latent laws, so the second term is a
    transport cost of that coupling; the optimal coupling would give a smaller one, but it is
    not observed on paired data, which is why the bound uses the pairs. Each gamma of the fixed
    grid gets two Clopper-Pearson terms at ``alpha / (2 |grid|)`` (Bonferroni), so the minimum
    over the grid is certified at level ``1 - alpha``.

    Parameters
    ----------
    head : LinearHead
        The head h applied on both sides (for the target model: h_B, with the teacher latents
        carried into the student space by a map fitted on other rows).
    source_z, source_y : array-like of shape (n_A, d), (n_A,)
        Labelled source rows (margin term).
    pair_source_z, pair_target_z : array-like of shape (n_D, d)
        Unlabeled pairs, a sample disjoint from the labelled rows (distance term).
    gammas : array-like or None
        Margin thresholds; ``None`` uses ``K * DEFAULT_RADII``. Must be non-empty and positive.
    alpha : float
        Miscoverage level in (0, 1).

    Returns
    -------
    dict
        ``value``, ``gamma`` (the minimiser), ``lipschitz`` (K), ``margin_upper``,
        ``distance_upper`` at the minimiser.
    """
    alpha = check_alpha(alpha)
    lip = head.lipschitz()
    grid = cast(np.ndarray, check_gammas(lip * DEFAULT_RADII if gammas is None else gammas))
    margins = head.margin(source_z, source_y)
    dist = np.linalg.norm(
        np.asarray(pair_source_z, float) - np.asarray(pair_target_z, float), axis=1
    )
    _count(margins, "margin_transport_bound: the labelled source rows")
    _count(dist, "margin_transport_bound: the unlabeled pairs")
    level = alpha / (2 * grid.size)
    radius = grid / lip if lip > 0 else np.full(grid.size, np.inf)
    margin_up = [
        clopper_pearson_upper(int(np.sum(margins <= g)), margins.size, level) for g in grid
    ]
    dist_up = [clopper_pearson_upper(int(np.sum(dist >= r)), dist.size, level) for r in radius]
    totals = np.minimum(1.0, np.add(margin_up, dist_up))
    best = int(np.argmin(totals))
    return {
        "value": float(totals[best]),
        "gamma": float(grid[best]),
        "lipschitz": lip,
        "margin_upper": float(margin_up[best]),
        "distance_upper": float(dist_up[best]),
    }


def transport_costs(
    z_source: Any, z_target: Any, cost: Callable[..., np.ndarray] | None = None
) -> dict[str, float]:
    r"""Empirical :math:`W_1` between two paired samples and the cost of their pairing.

    .. math::

        W_1(\hat P_A, \hat P_B) = \min_{\pi} \sum_{ij} \pi_{ij} \|z_A^i - z_B^j\|
        \le \frac1n \sum_i \|z_A^i - z_B^i\|

    The pairing is one coupling of the two empirical measures, so its mean cost
    (``paired_cost``) is never below the optimum (``w1``, computed exactly by ``ot.emd2``).
    Both are estimates of their population values.

    Examples
    --------
    >>> z = np.array([[0.0, 0.0], [1.0, 0.0]])
    >>> transport_costs(z, z[::-1])
    {'w1': 0.0, 'paired_cost': 1.0}
    """
    zs, zt = np.asarray(z_source, float), np.asarray(z_target, float)
    if zs.shape != zt.shape or zs.ndim != 2 or zs.shape[0] < 1:
        raise ValueError(
            f"z_source and z_target must be paired 2-D arrays, got {zs.shape}, {zt.shape}"
        )
    matrix = ot.dist(zs, zt, metric="euclidean") if cost is None else cost(zs, zt)
    weights = np.full(zs.shape[0], 1.0 / zs.shape[0])
    w1 = float(ot.emd2(weights, weights, matrix, numItermax=10_000_000))
    return {"w1": w1, "paired_cost": float(np.mean(np.diag(matrix)))}

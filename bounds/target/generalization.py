r"""The generalization bound of a head on the shared latent space, every term named.

A classifier head ``h`` is trained on the frozen teacher's latents ``z_A = phi_A(x_A)`` of the
labeled split and then applied, unchanged, to the distilled student's latents
``z_B = phi_B(x_B)`` (both live in the same space). For the 0-1 loss and a labelling shared by
both modalities, two inequalities bound the student-side error of ``h``:

.. math::

    \mathrm{err}_B(h) \le \mathrm{err}_A(h) + \mathrm{TV}(P_{AY}, P_{BY}),
    \qquad
    \mathrm{err}_B(h) \le \mathrm{err}_A(h) + P\big(h(z_A) \ne h(z_B)\big).

The first is the population inequality the theory speaks of; its TV can only be estimated
(a classifier TV is a lower bound), so ``bound`` built on it is an ESTIMATE. The second holds
pointwise on paired rows, so confidence bounds on its two terms give ``certified_bound``, a
guarantee at level ``1 - alpha``.

References
----------
.. [1] H. Lin, C. Liu, C. Xu, Z. Gao, Y. Fu, Y. Yao, "A Generalization Theory of
   Cross-Modality Distillation with Contrastive Learning", arXiv:2405.03355, 2024.
.. [2] S. Ben-David, J. Blitzer, K. Crammer, A. Kulesza, F. Pereira, J. W. Vaughan,
   "A theory of learning from different domains", Machine Learning 79, 2010.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bounds._confidence import clopper_pearson_lower, clopper_pearson_upper
from bounds._result import TVEstimate
from bounds._validation import as_2d_float_array, check_alpha
from bounds.target.alignment import gap_terms, make_alignment, spread_terms
from bounds.target.probe import LinearProbe
from bounds.target.run_files import FEATURE_KEYS, load_features, run_model_inputs
from bounds.target.target_bounds import check_gammas
from bounds.target.target_terms import TARGET_TERMS, check_disjoint_rows, compute_target_terms

__all__ = [
    "STATUSES",
    "TERMS",
    "BoundReport",
    "FEATURE_KEYS",
    "PAIRED_METHODS",
    "bound_from_run",
    "compute_bound",
    "fit_head",
    "prior_lower_bounds",
    "term_status",
]

EstimateTV = Callable[..., TVEstimate]


# Term registry: name -> (status, meaning). Status "certified" means a guarantee at level
# 1 - alpha; "estimate" means a measured or estimated value with no guarantee.
_TERMS: dict[str, tuple[str, str]] = {
    "source_error": ("estimate", "held-out err_A(h): head on teacher latents"),
    "transfer_error": ("estimate", "held-out err_B(h): same head on student latents"),
    "target_error": ("estimate", "fine-tuned target model's measured error (result.json)"),
    "tv_estimate": ("estimate", "marginal TV(teacher latents, student latents)"),
    "tv_lower": ("certified", "lower confidence bound on the marginal TV"),
    "robust_tv_upper": (
        "certified",
        "upper confidence bound on the eps-robust TV (method 'paired' only), NOT on TV",
    ),
    "tv_joint_estimate": ("estimate", "class-conditional TV averaged by the class prior"),
    "tv_joint_lower": ("certified", "lower confidence bound on the joint TV (Bonferroni)"),
    "bound": ("estimate", "source_error + tv_joint_estimate: NOT a guarantee"),
    "disagreement": ("estimate", "held-out P(h(z_A) != h(z_B)) on paired rows"),
    "certified_bound": ("certified", "CP upper(err_A) + CP upper(disagreement) >= err_B(h)"),
    "gap_norm": ("estimate", "centroid gap ||mean z_A - mean z_B|| on the test pairs"),
    "pair_distance": ("estimate", "mean matched-pair cosine dissimilarity on the test pairs"),
    "relative_gap": ("estimate", "relative modality gap (Schrodi et al. 2025) on the test pairs"),
    "erank_ratio": ("estimate", "student / teacher effective rank of the test latents"),
    "radius_ratio": ("estimate", "student / teacher mean distance to own centroid (test)"),
    "aligned_source_error": ("estimate", "err_A(h o T_A): head on aligned teacher latents"),
    "aligned_transfer_error": ("estimate", "err_B(h o T_B): the same head on aligned students"),
    "tv_aligned_estimate": ("estimate", "marginal TV(T_A z_A, T_B z_B) after alignment"),
    "tv_aligned_lower": ("certified", "lower confidence bound on the aligned marginal TV"),
    "tv_aligned_joint_estimate": ("estimate", "label-aware TV after alignment"),
    "tv_aligned_joint_lower": ("certified", "lower confidence bound on the aligned joint TV"),
    "aligned_bound": ("estimate", "aligned_source_error + tv_aligned_joint_estimate"),
    "aligned_certified_bound": ("certified", "CP(err_A(h o T_A)) + CP(disagreement) >= err_B"),
    **TARGET_TERMS,
}
_TV_LOWER_TERMS = ("tv_lower", "robust_tv_upper", "tv_joint_lower", "tv_aligned_lower",
                   "tv_aligned_joint_lower")  # fmt: skip
#: Terms that need alignment rows; ``None`` when none were given (reason in ``details``).
ALIGNED_TERMS: tuple[str, ...] = tuple(
    k for k in _TERMS if "aligned" in k and k not in TARGET_TERMS
)
#: TV methods that need row-paired samples: ``split_pairs=None`` keeps their pairs.
PAIRED_METHODS: frozenset[str] = frozenset({"paired"})

#: Public view of the term registry: name -> (status, meaning).
TERMS: Mapping[str, tuple[str, str]] = _TERMS

#: Every status a term can have, strongest first.
STATUSES: tuple[str, ...] = ("certified", "certified under an assumption", "estimate")


def term_status(
    name: str,
    *,
    split_pairs: bool = True,
    tv_method: str = "classifier",
    rows_independent: bool = True,
) -> str:
    """Return the status of term ``name`` under the conditions of one computation.

    The registry gives each term's status when its assumptions hold. Two conditions demote
    a certified term to ``"estimate"`` (our choice, each a failed assumption):

    - a TV confidence bound whose samples do not suit the method: TV estimated on the kept
      pairs (``split_pairs=False``) with a method outside :data:`PAIRED_METHODS`;
    - ``rows_independent=False``: the held-out rows are not i.i.d. and independent of what
      was fitted, so no binomial or TV confidence bound holds; this applies to every term
      whose status is not already ``"estimate"``.

    Examples
    --------
    >>> term_status("certified_bound"), term_status("bound")
    ('certified', 'estimate')
    >>> term_status("tv_lower", split_pairs=False)
    'estimate'
    """
    if name not in _TERMS:
        raise ValueError(f"name must be one of {sorted(_TERMS)}, got {name!r}")
    status = _TERMS[name][0]
    suits = split_pairs or tv_method in PAIRED_METHODS
    if name in _TV_LOWER_TERMS and not suits:
        return "estimate"
    if not rows_independent and status != "estimate":
        return "estimate"
    return status


@dataclass(frozen=True)
class BoundReport:
    r"""Every term of the generalization bound for one run, each named and labelled.

    .. math::

        \text{bound} = \widehat{\mathrm{err}}_A(h) + \widehat{\mathrm{TV}}_{joint},\quad
        \text{certified\_bound} = \mathrm{UCB}_{\alpha/2}(\mathrm{err}_A(h))
        + \mathrm{UCB}_{\alpha/2}(P(h(z_A) \ne h(z_B)))

    Attributes
    ----------
    source_error : float
        Held-out error of the head on teacher latents, an estimate of err_A(h).
    transfer_error : float
        Held-out error of the same head on the paired student latents, an estimate of
        err_B(h): the quantity both inequalities bound.
    target_error : float or None
        Measured error of the fine-tuned target model (``result.json``), the quantity the
        paper's theorem speaks of; ``None`` when not given.
    tv_estimate, tv_lower : float
        Marginal TV between teacher and student test latents: point estimate and lower
        confidence bound (certified as the TV method states it).
    robust_tv_upper : float or None
        Upper confidence bound on the eps-robust TV
        :math:`\min_\pi P_\pi(\|z_A - z_B\| > \varepsilon) \le \mathrm{TV}`, which only
        the ``"paired"`` method gives (``None`` otherwise). It is NOT an upper bound on TV:
        no assumption-free upper bound on TV exists (example: TV 1 with the robust bound 0.42
        when every pair is within eps but the laws share no atom).
    tv_joint_estimate, tv_joint_lower : float
        Label-aware TV, :math:`\sum_y \pi_y \mathrm{TV}(P_y, Q_y)`, which equals the joint
        latent-label TV because paired rows share their label. When no class has enough
        rows the estimate is ``nan`` and the lower bound 0 (TV >= 0 always).
    bound : float
        ``source_error + tv_joint_estimate``: an ESTIMATE, not a guarantee. Not clipped to 1
        (our choice, so that sweeps keep its ordering).
    disagreement : float
        Held-out :math:`P(h(z_A) \ne h(z_B))` on paired rows.
    certified_bound : float
        Upper confidence bound on err_B(h) at level ``1 - alpha``.
    alpha : float
        Miscoverage level of every certified term (each separately).
    n_train, n_test : int
        Rows of the labeled split (head) and of the paired held-out split.
    tv_method : str
        TV estimator used.
    source_error_upper, disagreement_upper : float
        The two Clopper-Pearson bounds (level ``alpha / 2`` each) summed in ``certified_bound``.
    n_tv_classes : int
        Classes with enough rows to enter ``tv_joint_*``.
    tv_class_mass : float
        Prior mass of those classes (1.0 when none was skipped).
    split_pairs : bool
        Whether TV was estimated on disjoint halves of the pairs (independent samples, which
        the TV confidence bounds need to be certified, except for :data:`PAIRED_METHODS`).
    rows_independent : bool
        Whether the held-out pairs are i.i.d. draws independent of every fitted object, the
        assumption of every certified term. ``False`` (e.g. a dataset whose test rows reuse
        samples of other rows) turns every certified term into an estimate.
    alignment : str
        The alignment map of the ``*aligned*`` terms (:mod:`bounds.target.alignment`).
    gap_norm, pair_distance, relative_gap : float or None
        Modality-gap metrics of the raw test pairs (:func:`bounds.target.alignment.gap_terms`).
    erank_ratio, radius_ratio : float or None
        How the student's test latents spread compared with the teacher's
        (:func:`bounds.target.alignment.spread_terms`): a difference that centring cannot remove.
    aligned_source_error, aligned_transfer_error : float or None
        Held-out errors of the head fitted on aligned teacher latents, on aligned teacher
        and aligned student latents: err_A(h o T_A) and err_B(h o T_B).
    tv_aligned_estimate, tv_aligned_lower : float or None
        Marginal TV between the aligned teacher and student test latents, and its lower
        confidence bound.
    tv_aligned_joint_estimate, tv_aligned_joint_lower : float or None
        Label-aware TV after alignment, and its lower confidence bound.
    aligned_bound : float or None
        ``aligned_source_error + tv_aligned_joint_estimate``: an ESTIMATE of the aligned
        instance of the theorem, bounding err_B(h o T_B).
    aligned_certified_bound : float or None
        Clopper-Pearson bound on err_B(h o T_B) from the aligned disagreement; certified.
    certified_target_bound, best_certified_target_bound, margin_transport_bound : float or None
        CERTIFIED upper bounds on the step-3 target model's error err_B(h_B), the model whose
        measured error is ``target_error`` (:mod:`bounds.target.target_bounds`; rows in
        :mod:`bounds.target.target_terms`). ``None`` unless ``target_pred`` or ``target_model`` is
        given: h_B is never refitted.
    dis2_bound, dis2_logits_bound : float or None
        DIS² bounds on err_B(h_B) with a linear critic on the latents and on h_B's logits,
        certified under DIS²'s assumption (the critic class contains the worst shift).
    dis2_estimate, atc_estimate, disagreement_estimate : float or None
        ESTIMATES of err_B(h_B) (:mod:`bounds.target.label_free`).
    pair_disagreement, paired_error_estimate : float or None
        ESTIMATES of err_B(h_B) from the pairing (:mod:`bounds.target.label_free`).
    w1_aligned, paired_cost : float or None
        W1 between the mapped teacher and the student latents of the unlabeled pairs, and
        the mean cost of the pairing (never below it); estimates.
    tv_by_alignment : dict
        Marginal TV estimate after each alignment of ``compare_alignments`` (flattened to
        ``tv_aligned_estimate_<name>`` columns by ``to_dict``).
    details : dict
        Per-class TV estimates and the marginal ``TVEstimate``; left out of ``to_dict``.
        ``details["aligned"]`` says why the aligned terms are ``None`` when they are;
        ``details["transfer_head"]`` is the head h the transfer terms certify (and
        ``aligned_head`` with ``alignment_map`` the aligned one); ``details["rows"]`` which
        held-out rows each certified term used; ``details["target_terms"]`` the target
        terms' own details.
    """

    source_error: float
    transfer_error: float
    target_error: float | None
    tv_estimate: float
    tv_lower: float
    robust_tv_upper: float | None
    tv_joint_estimate: float
    tv_joint_lower: float
    bound: float
    disagreement: float
    certified_bound: float
    alpha: float
    n_train: int
    n_test: int
    tv_method: str
    source_error_upper: float
    disagreement_upper: float
    n_tv_classes: int
    tv_class_mass: float
    split_pairs: bool = True
    rows_independent: bool = True
    alignment: str = "none"
    gap_norm: float | None = None
    pair_distance: float | None = None
    relative_gap: float | None = None
    erank_ratio: float | None = None
    radius_ratio: float | None = None
    aligned_source_error: float | None = None
    aligned_transfer_error: float | None = None
    tv_aligned_estimate: float | None = None
    tv_aligned_lower: float | None = None
    tv_aligned_joint_estimate: float | None = None
    tv_aligned_joint_lower: float | None = None
    aligned_bound: float | None = None
    aligned_certified_bound: float | None = None
    certified_target_bound: float | None = None
    best_certified_target_bound: float | None = None
    margin_transport_bound: float | None = None
    dis2_bound: float | None = None
    dis2_logits_bound: float | None = None
    dis2_estimate: float | None = None
    atc_estimate: float | None = None
    disagreement_estimate: float | None = None
    pair_disagreement: float | None = None
    paired_error_estimate: float | None = None
    w1_aligned: float | None = None
    paired_cost: float | None = None
    tv_by_alignment: dict[str, float] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def status(self, name: str) -> str:
        """Return ``"certified"``, ``"estimate"`` or ``"certified under an assumption"``.

        :func:`term_status` of ``name`` under this report's ``split_pairs``, ``tv_method``
        and ``rows_independent``.
        """
        return term_status(
            name,
            split_pairs=self.split_pairs,
            tv_method=self.tv_method,
            rows_independent=self.rows_independent,
        )

    def certified_terms(self) -> list[str]:
        """Names of the terms that are guarantees at level ``1 - alpha``."""
        return [name for name in _TERMS if self.status(name) == "certified"]

    def to_dict(self) -> dict[str, Any]:
        """Return the scalar fields as a flat dict (``details`` left out)."""
        out = asdict(self)
        out.pop("details")
        for name, value in out.pop("tv_by_alignment").items():
            out[f"tv_aligned_estimate_{name}"] = value
        return out

    def to_frame(self) -> pd.DataFrame:
        """Return a tidy one-row table; column ``certified`` lists the certified terms."""
        row = self.to_dict()
        row["certified"] = ",".join(self.certified_terms())
        return pd.DataFrame([row])

    def summary(self) -> str:
        """Return a text table: each term, its value, and "certified" or "estimate"."""
        head = (
            f"Generalization bound (tv_method={self.tv_method}, alpha={self.alpha:g}, "
            f"n_train={self.n_train}, n_test={self.n_test}, split_pairs={self.split_pairs})"
        )
        lines = [head]
        if not self.rows_independent:
            lines.append(
                "  held-out rows are not independent (rows_independent=False): every "
                "certified term reads as an estimate"
            )
        for name, (_, meaning) in _TERMS.items():
            value = getattr(self, name)
            shown = "n/a" if value is None else f"{value:.4f}"
            lines.append(f"  {name:<18} {shown:>7}  {self.status(name):<9}  {meaning}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def fit_head(
    z: Any, y: Any, random_state: int | None = None, *, C: float | None = None
) -> LinearProbe:
    r"""Fit the classifier head h on latents: the package's linear probe.

    .. math::

        h(z) = \arg\max_k \; w_k^\top \frac{z - \mu}{\sigma} + b_k

    The paper does not fix the head. Our choice: the same protocol as the measured target
    model (:class:`bounds.target.probe.LinearProbe`: standardised latents, L2 logistic regression,
    ``C`` cross-validated on these rows only unless given), so that the heads of the bound
    and the fine-tuned model are built alike.

    Parameters
    ----------
    z : array-like of shape (n, d)
        Latents (teacher latents of the labeled split).
    y : array-like of shape (n,)
        Labels, at least two distinct values.
    random_state : int or None
        Seed of the folds and the solver.
    C : float or None
        A fixed inverse L2 strength, or ``None`` to cross-validate it.

    Returns
    -------
    bounds.target.probe.LinearProbe
        The fitted head (``predict`` gives h).

    Examples
    --------
    >>> z = np.array([[-2.0, 0.0], [-1.0, 0.5], [1.0, 0.0], [2.0, -0.5]])
    >>> fit_head(z, [0, 0, 1, 1], random_state=0).predict([[-3.0, 0.0], [3.0, 0.0]])
    array([0, 1])
    """
    z = as_2d_float_array(z, "z")
    y = _check_labels(y, z.shape[0], "y", "z")
    if np.unique(y).size < 2:
        raise ValueError("y must hold at least two classes to fit a head")
    if C is not None and not C > 0:
        raise ValueError(f"C must be positive or None, got {C!r}")
    return LinearProbe(C=C, random_state=random_state).fit(z, y)


def _check_labels(y: Any, n: int, name: str, rows_of: str) -> np.ndarray:
    """Return ``y`` as a 1-D array of ``n`` finite labels, else a ``ValueError``."""
    try:
        arr = np.asarray(y)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} could not be read as an array: {err}") from None
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D of shape (n_samples,), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise ValueError(f"{name} has {arr.shape[0]} labels but {rows_of} has {n} rows")
    if arr.dtype == object:
        raise ValueError(f"{name} must hold numbers or strings, got dtype object")
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf labels")
    return arr


def _check_inputs(
    z_source_train: Any,
    y_train: Any,
    z_source_test: Any,
    z_target_test: Any,
    y_test: Any,
) -> tuple[np.ndarray, ...]:
    """Validate the five arrays of ``compute_bound``; errors name the argument."""
    zs_tr = as_2d_float_array(z_source_train, "z_source_train")
    y_tr = _check_labels(y_train, zs_tr.shape[0], "y_train", "z_source_train")
    if np.unique(y_tr).size < 2:
        raise ValueError("y_train must hold at least two classes to fit the head h")
    zs_te = as_2d_float_array(z_source_test, "z_source_test")
    zt_te = as_2d_float_array(z_target_test, "z_target_test")
    if zt_te.shape != zs_te.shape:
        raise ValueError(
            f"z_target_test must pair row by row with z_source_test: got shape "
            f"{zt_te.shape}, expected {zs_te.shape}"
        )
    if zs_te.shape[1] != zs_tr.shape[1]:
        raise ValueError(
            f"z_source_test has {zs_te.shape[1]} features but z_source_train has {zs_tr.shape[1]}"
        )
    y_te = _check_labels(y_test, zs_te.shape[0], "y_test", "z_source_test")
    return zs_tr, y_tr, zs_te, zt_te, y_te


def _resolve_estimator(estimate_tv: EstimateTV | None) -> EstimateTV:
    """Return ``estimate_tv`` or, when ``None``, ``bounds.tv.api.estimate_tv``."""
    if estimate_tv is not None:
        if not callable(estimate_tv):
            raise ValueError(f"estimate_tv must be callable or None, got {estimate_tv!r}")
        return estimate_tv
    try:
        from bounds.tv.api import estimate_tv as default_estimate_tv
    except ImportError as err:  # pragma: no cover - bounds.tv.api is part of the package
        raise ValueError(f"estimate_tv=None needs bounds.tv.api.estimate_tv: {err}") from None
    return default_estimate_tv


def _child_seeds(random_state: int | None, n: int) -> list[int]:
    """Derive ``n`` independent integer seeds from ``random_state`` (int or None)."""
    if random_state is not None and not isinstance(random_state, int | np.integer):
        raise ValueError(f"random_state must be an int or None, got {random_state!r}")
    seq = np.random.SeedSequence(None if random_state is None else int(random_state))
    return [int(s.generate_state(1)[0]) for s in seq.spawn(n)]


def _pair_halves(n: int, split_pairs: bool, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices for the source and target TV samples.

    With ``split_pairs`` the pairs are shuffled and halved, so the two samples are
    independent (our choice: the classifier lower bound assumes independent samples).
    """
    if not split_pairs:
        idx = np.arange(n)
        return idx, idx
    perm = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return np.sort(perm[:half]), np.sort(perm[half:])


@dataclass(frozen=True)
class _TVCall:
    """What every call to the TV estimator shares."""

    estimate_tv: EstimateTV
    method: str
    kwargs: Mapping[str, Any]

    def __call__(self, source: np.ndarray, target: np.ndarray, alpha: float, seed: int):
        return self.estimate_tv(
            source, target, method=self.method, alpha=alpha, random_state=seed, **self.kwargs
        )


def prior_lower_bounds(y: Any, alpha: float) -> dict[Any, float]:
    r"""Simultaneous lower confidence bounds on the class prior from i.i.d. labels.

    .. math:: \underline{\pi}_c = \mathrm{CP}^{\mathrm{lower}}_{\alpha / K}(n_c, n)

    one-sided Clopper-Pearson bounds at level ``alpha / K`` for each of the ``K`` observed
    classes, so that :math:`\underline{\pi}_c \le \pi_c` for every class at once with
    probability at least ``1 - alpha`` (Bonferroni).

    Examples
    --------
    >>> low = prior_lower_bounds([0] * 500 + [1] * 500, 0.05)
    >>> 0.45 < low[0] < 0.5 and low[0] == low[1]
    True
    """
    classes, counts = np.unique(np.asarray(y), return_counts=True)
    n, k = int(counts.sum()), len(classes)
    return {
        c: clopper_pearson_lower(int(m), n, alpha / k)
        for c, m in zip(classes.tolist(), counts, strict=True)
    }


def _class_conditional_tv(
    tv: _TVCall,
    source: np.ndarray,
    target: np.ndarray,
    y_source: np.ndarray,
    y_target: np.ndarray,
    y_all: np.ndarray,
    *,
    alpha: float,
    min_class_samples: int,
    seed: int,
) -> dict[str, Any]:
    r"""Joint latent-label TV, :math:`\sum_y \pi_y \mathrm{TV}(P_y, Q_y)`, with its lower bound.

    .. math::

        \underline{\mathrm{TV}}_{joint} = \sum_{c \in \mathcal K} \underline{\pi}_c
        \, L_c, \qquad
        L_c = \text{TV lower bound of class } c \text{ at level } \alpha / (2|\mathcal K|),
        \quad \underline{\pi}_c = \mathrm{CP}^{\mathrm{lower}}_{\alpha / (2K)}(n_c, n)

    Theorem. Let the ``n`` held-out pairs be i.i.d., with labels shared by both sides (so
    the label marginals agree and :math:`\mathrm{TV}(P_{AY}, P_{BY}) = \sum_y \pi_y
    \mathrm{TV}(P_y, Q_y)`). Then :math:`P(\underline{\mathrm{TV}}_{joint} \le
    \mathrm{TV}(P_{AY}, P_{BY})) \ge 1 - \alpha`.

    Proof sketch. Given the labels, the rows of class c are i.i.d. draws of :math:`P_c` and
    :math:`Q_c`, so each :math:`L_c \le \mathrm{TV}(P_c, Q_c)` fails with probability at
    most :math:`\alpha / (2|\mathcal K|)`, whatever the labels; each prior bound
    :math:`\underline{\pi}_c \le \pi_c` fails with probability at most
    :math:`\alpha / (2K)` (:func:`prior_lower_bounds`). On the intersection of all these
    events (probability :math:`\ge 1 - \alpha`, union bound), as :math:`L_c \ge 0` and every
    TV is :math:`\ge 0`, :math:`\sum_y \pi_y \mathrm{TV}_y \ge \sum_{c \in \mathcal K}
    \pi_c L_c \ge \sum_{c \in \mathcal K} \underline{\pi}_c L_c`.

    Plugging the empirical prior :math:`\hat\pi` in place of :math:`\underline{\pi}` (as
    earlier versions did) is NOT valid with i.i.d. labels: when the per-class bounds are
    tight, :math:`\sum_c \hat\pi_c L_c` exceeds the truth whenever the sample over-represents
    a high-TV class. Classes with fewer than ``min_class_samples`` rows on either side are
    left out (:math:`\mathcal K` is the kept set; our choice); the estimate renormalises
    :math:`\hat\pi` over them. The alpha split in halves is our choice.
    """
    kept = [
        c
        for c in np.unique(y_all).tolist()
        if min(np.sum(y_source == c), np.sum(y_target == c)) >= min_class_samples
    ]
    if not kept:
        return {"estimate": float("nan"), "lower": 0.0, "per_class": {}, "mass": 0.0}
    classes, counts = np.unique(y_all, return_counts=True)
    prior = {c: m / y_all.shape[0] for c, m in zip(classes.tolist(), counts, strict=True)}
    prior_low = prior_lower_bounds(y_all, alpha / 2)
    seeds = _child_seeds(seed, len(kept))
    per_class = {
        c: tv(source[y_source == c], target[y_target == c], alpha / (2 * len(kept)), s)
        for c, s in zip(kept, seeds, strict=True)
    }
    mass = float(sum(prior[c] for c in kept))
    estimate = sum(prior[c] * per_class[c].estimate for c in kept) / mass
    lower = sum(prior_low[c] * per_class[c].lower for c in kept)
    return {
        "estimate": float(estimate),
        "lower": float(lower),
        "per_class": per_class,
        "mass": mass,
        "prior_lower": {c: prior_low[c] for c in kept},
    }


def compute_bound(
    z_source_train: Any,
    y_train: Any,
    z_source_test: Any,
    z_target_test: Any,
    y_test: Any,
    *,
    target_error: float | None = None,
    tv_method: str = "classifier",
    alpha: float = 0.05,
    random_state: int | None = None,
    tv_kwargs: Mapping[str, Any] | None = None,
    estimate_tv: EstimateTV | None = None,
    split_pairs: bool | None = None,
    min_class_samples: int = 10,
    alignment: str = "center",
    z_align_source: Any = None,
    z_align_target: Any = None,
    compare_alignments: Sequence[str] = (),
    z_target_train: Any = None,
    gammas: Any = None,
    target_pred: Any = None,
    target_model: Any = None,
    source_model: Any = None,
    target_halves: Any = None,
    z_align_disjoint: bool = False,
    rows_independent: bool = True,
) -> BoundReport:
    r"""Compute every term of the generalization bound from paired latents.

    .. math::

        \mathrm{err}_B(h) \le \mathrm{err}_A(h) + \sum_y \pi_y \mathrm{TV}(P_y, Q_y)
        \quad\text{and}\quad
        \mathrm{err}_B(h) \le \mathrm{err}_A(h) + P(h(z_A) \ne h(z_B))

    Terms: ``h`` = :func:`fit_head` on ``(z_source_train, y_train)``; ``source_error`` =
    error of ``h`` on ``z_source_test`` (err_A); ``transfer_error`` = error of ``h`` on
    ``z_target_test`` (err_B, the bounded quantity); marginal TV between the teacher and
    student test latents; joint TV = class-conditional TV averaged by the test-split class
    prior :math:`\pi_y` (paired rows share labels, so this is the joint latent-label TV);
    ``bound = source_error + tv_joint_estimate``; ``disagreement``; ``certified_bound``.

    Certified versus estimated: ``bound`` is an ESTIMATE (a classifier TV is a lower bound
    on TV, and no finite-sample term is added: our choice, as the TV term carries no
    guarantee; ``source_error_upper`` is reported for users who want one). The first
    inequality needs the population TV, which cannot be certified from above.
    ``certified_bound`` is CERTIFIED at level ``1 - alpha`` for the population err_B(h):
    :math:`1\{h(z_B) \ne y\} \le 1\{h(z_A) \ne y\} + 1\{h(z_A) \ne h(z_B)\}` holds on
    every pair, and each term gets a one-sided Clopper-Pearson bound at level ``alpha / 2``
    (the equal split is our choice). It is never below the measured ``transfer_error``.
    ``tv_lower`` and ``tv_joint_lower`` are lower confidence bounds at ``1 - alpha`` each
    (the joint one with a simultaneous bound on the class prior: :func:`_class_conditional_tv`).

    Every certified term assumes i.i.d. held-out pairs, independent of everything fitted
    (encoders, heads, maps; including an external teacher file), and alignment rows disjoint
    from them (an exact repeat of a scored pair is refused unless ``z_align_disjoint``).
    ``rows_independent=False`` declares the first assumption broken: every certified term is
    then reported as an estimate (:func:`term_status`).

    Parameters
    ----------
    z_source_train, y_train : array-like of shape (n_train, d), (n_train,)
        Teacher latents and labels of the labeled split (fits the head).
    z_source_test, z_target_test, y_test : array-like of shape (n_test, d), ..., (n_test,)
        Paired held-out teacher and student latents (row i: the same object) and labels.
    target_error : float or None
        The fine-tuned target model's measured error, reported as given.
    tv_method, tv_kwargs : str, mapping or None
        Method name and extra keyword arguments for ``estimate_tv``.
    alpha : float
        Miscoverage level of each certified term, in (0, 1).
    random_state : int or None
        Seed for the head, the pair split and the TV estimators.
    estimate_tv : callable or None
        ``estimate_tv(source, target, method=, alpha=, random_state=, **tv_kwargs) ->
        TVEstimate``; ``None`` uses ``bounds.tv.api.estimate_tv``.
    split_pairs : bool or None
        Estimate TV on disjoint halves of the pairs (teacher rows of one half, student rows
        of the other), so the two samples are independent. ``None`` (our choice): ``True``
        unless ``tv_method`` is in :data:`PAIRED_METHODS`, which need the pairs kept.
    min_class_samples : int
        Classes with fewer rows on either TV side are left out of the joint TV (our choice).
    alignment : str
        Map of the ``*aligned*`` terms, a name of :data:`bounds.target.alignment.ALIGNMENTS`.
        Default ``"center"``, fixed before any sweep was rerun by the rule "the simplest map
        that removes a constant per-modality offset, the documented cause of the saturated
        TV" (Liang et al. 2022; Zhang et al. 2024); our choice.
    z_align_source, z_align_target : array-like of shape (m, d) or None
        Paired training latents the alignment is fitted on, disjoint from the test rows
        (``features.npz``: ``z_*_paired``). Without them the aligned terms are ``None``.
    compare_alignments : sequence of str
        Further alignments whose marginal aligned TV is reported in ``tv_by_alignment``
        (same pair halves and seed as ``tv_aligned_estimate``).
    z_target_train : array-like of shape (n_train, d) or None
        Student latents of the labelled rows; only the independent copies of
        ``disagreement_estimate`` are fitted on them (h_B is never refitted).
    gammas : array-like or None
        Margin grid of ``margin_transport_bound`` (``None``: its default grid); a non-empty
        sequence of finite positive numbers, checked even when no term uses it.
    target_pred, target_model : array-like, LinearHead, callable or None
        The step-3 target model h_B: its predictions on ``z_target_test`` and/or the model
        as a function of the student latents
        (:func:`bounds.target.target_terms.compute_target_terms`).
        With neither, the target terms are ``None``. With ``target_pred``, ``target_error``
        must equal its error (or is set to it): the certificate and the measured error then
        describe the same model.
    source_model : LinearHead, callable or None
        The source head h_A of the target terms (``None``: a probe on ``z_source_train``).
    target_halves : (array-like, array-like) or None
        Held-out row indices of the target terms' labelled source rows and unlabeled pairs
        (a run's ``predictions.csv`` ``split``); ``None`` draws them from ``random_state``.
    z_align_disjoint : bool
        The caller vouches that the alignment rows are disjoint by index from the held-out
        rows (duplicate values are then allowed).
    rows_independent : bool
        Whether the held-out pairs are i.i.d. and independent of everything fitted.

    Returns
    -------
    BoundReport

    References
    ----------
    .. [1] Lin et al., arXiv:2405.03355, 2024. .. [2] Ben-David et al., 2010.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 200)
    >>> z_a = rng.normal(size=(400, 2)) + 2.0 * y[:, None]
    >>> r = compute_bound(z_a[::2], y[::2], z_a[1::2], z_a[1::2] + 0.5, y[1::2],
    ...                   random_state=0, tv_kwargs={"candidates": ["logistic"]})
    >>> r.certified_bound >= r.transfer_error, r.status("bound")
    (True, 'estimate')
    """
    zs_tr, y_tr, zs_te, zt_te, y_te = _check_inputs(
        z_source_train, y_train, z_source_test, z_target_test, y_test
    )
    alpha = check_alpha(alpha)
    gammas = check_gammas(gammas)
    if target_error is not None and not 0.0 <= float(target_error) <= 1.0:
        raise ValueError(f"target_error must be in [0, 1] or None, got {target_error!r}")
    if int(min_class_samples) < 1:
        raise ValueError(f"min_class_samples must be >= 1, got {min_class_samples!r}")
    for name in (alignment, *compare_alignments):
        make_alignment(name)  # unknown names fail before any fit
    tv = _TVCall(_resolve_estimator(estimate_tv), str(tv_method), dict(tv_kwargs or {}))
    seeds = _child_seeds(random_state, 4)
    head = fit_head(zs_tr, y_tr, random_state=seeds[0])
    pred_a, pred_b = head.predict(zs_te), head.predict(zt_te)
    errors: dict[str, Any] = _error_terms(pred_a, pred_b, y_te, alpha)
    if split_pairs is None:
        split_pairs = str(tv_method) not in PAIRED_METHODS
    tv_terms = _tv_terms(tv, zs_te, zt_te, y_te, alpha, split_pairs, min_class_samples, seeds)
    rows = _AlignedRows(
        zs_tr, y_tr, zs_te, zt_te, y_te, alpha, split_pairs, min_class_samples, z_align_disjoint
    )
    aligned = _aligned_section(
        tv, rows, alignment, (z_align_source, z_align_target), compare_alignments, seeds
    )
    tv_terms["details"].update(aligned.pop("details"))
    tv_terms["details"]["transfer_head"] = head
    target = _target_section(
        (zs_tr, y_tr, z_target_train, zs_te, zt_te, y_te),
        target_pred=target_pred, target_model=target_model, source_model=source_model,
        halves=target_halves, z_align_disjoint=z_align_disjoint,
        z_align_source=z_align_source, z_align_target=z_align_target, alignment=alignment,
        alpha=alpha, gammas=gammas, random_state=seeds[0],
    )  # fmt: skip
    tv_terms["details"]["target_terms"] = target.pop("details")
    target_error = _same_model_error(target_error, target.pop("target_error"))
    tv_terms["details"]["rows"] = _rows_record(tv_terms["details"], y_te.shape[0])
    return BoundReport(
        **target,
        **errors,
        **tv_terms,
        **aligned,
        **gap_terms(zs_te, zt_te),  # type: ignore[arg-type]
        **_spread_ratios(zs_te, zt_te),  # type: ignore[arg-type]
        target_error=None if target_error is None else float(target_error),
        bound=errors["source_error"] + tv_terms["tv_joint_estimate"],
        alpha=alpha,
        n_train=int(zs_tr.shape[0]),
        n_test=int(zs_te.shape[0]),
        tv_method=str(tv_method),
        split_pairs=bool(split_pairs),
        rows_independent=bool(rows_independent),
    )


def _same_model_error(given: float | None, measured: float | None) -> float | None:
    """Return the error of ``target_pred`` when known (``given`` must match it), else ``given``."""
    if measured is None:
        return given
    if given is not None and abs(float(given) - measured) > 1e-9:
        raise ValueError(
            f"target_error={given!r} differs from the error of target_pred ({measured!r}): "
            "the certificate and the measured error must describe the same model; pass the "
            "step-3 model's own predictions (predictions.csv's y_pred)"
        )
    return measured


def _rows_record(details: dict[str, Any], n_test: int) -> dict[str, Any]:
    """Which held-out rows (indices into the test arrays) each certified term used."""
    target_rows = details.get("target_terms") or {}
    target_rows = target_rows.get("rows") if isinstance(target_rows, dict) else None
    tv_rows = details.get("tv_rows", {})
    return {
        "certified_bound": f"all held-out rows ({n_test})",
        "aligned_certified_bound": f"all held-out rows ({n_test})",
        "tv_lower, tv_joint_lower, tv_aligned_*_lower": tv_rows,
        "certified_target_bound, best_certified_target_bound, margin_transport_bound, "
        "dis2_bound, dis2_logits_bound": target_rows,
    }


def _error_terms(
    pred_a: np.ndarray, pred_b: np.ndarray, y: np.ndarray, alpha: float
) -> dict[str, float]:
    """Held-out errors, disagreement and the certified bound (CP at ``alpha / 2`` each)."""
    n = y.shape[0]
    k_a = int(np.sum(pred_a != y))
    k_d = int(np.sum(pred_a != pred_b))
    source_upper = clopper_pearson_upper(k_a, n, alpha / 2)
    dis_upper = clopper_pearson_upper(k_d, n, alpha / 2)
    return {
        "source_error": k_a / n,
        "transfer_error": float(np.mean(pred_b != y)),
        "disagreement": k_d / n,
        "source_error_upper": source_upper,
        "disagreement_upper": dis_upper,
        "certified_bound": min(1.0, source_upper + dis_upper),
    }


def _tv_terms(
    tv: _TVCall,
    zs: np.ndarray,
    zt: np.ndarray,
    y: np.ndarray,
    alpha: float,
    split_pairs: bool,
    min_class_samples: int,
    seeds: list[int],
) -> dict[str, Any]:
    """Marginal and label-aware TV between teacher and student test latents."""
    idx_s, idx_t = _pair_halves(y.shape[0], split_pairs, seeds[1])
    marginal = tv(zs[idx_s], zt[idx_t], alpha, seeds[2])
    joint = _class_conditional_tv(
        tv, zs[idx_s], zt[idx_t], y[idx_s], y[idx_t], y,
        alpha=alpha, min_class_samples=int(min_class_samples), seed=seeds[3],
    )  # fmt: skip
    return {
        "tv_estimate": float(marginal.estimate),
        "tv_lower": float(marginal.lower),
        "robust_tv_upper": None if marginal.upper is None else float(marginal.upper),
        "tv_joint_estimate": joint["estimate"],
        "tv_joint_lower": joint["lower"],
        "n_tv_classes": len(joint["per_class"]),
        "tv_class_mass": joint["mass"],
        "details": {
            "tv_marginal": marginal,
            "tv_per_class": joint["per_class"],
            "tv_prior_lower": joint.get("prior_lower", {}),
            "tv_rows": {"teacher_side": idx_s.tolist(), "student_side": idx_t.tolist()},
        },
    }


@dataclass(frozen=True)
class _AlignedRows:
    """The validated rows and options every aligned term is computed from."""

    zs_tr: np.ndarray
    y_tr: np.ndarray
    zs_te: np.ndarray
    zt_te: np.ndarray
    y_te: np.ndarray
    alpha: float
    split_pairs: bool
    min_class_samples: int
    align_disjoint: bool = False


def _alignment_rows(fit_rows: tuple[Any, Any], rows: _AlignedRows) -> tuple[np.ndarray, ...]:
    """Validate the alignment's fitting rows against the test latents."""
    zs = as_2d_float_array(fit_rows[0], "z_align_source")
    zt = as_2d_float_array(fit_rows[1], "z_align_target")
    for name, z, ref in (("z_align_source", zs, rows.zs_te), ("z_align_target", zt, rows.zt_te)):
        if z.shape[1] != ref.shape[1]:
            raise ValueError(f"{name} has {z.shape[1]} features, the test latents {ref.shape[1]}")
    if not rows.align_disjoint:
        check_disjoint_rows(zs, zt, rows.zs_te, rows.zt_te)
    return zs, zt


def _aligned_terms(tv: _TVCall, rows: _AlignedRows, align: Any, seeds: list[int]) -> dict:
    """Every aligned term for one fitted alignment (same seeds and halves as the raw terms)."""
    a_tr = align.transform(rows.zs_tr, "source")
    a_te, b_te = align.transform(rows.zs_te, "source"), align.transform(rows.zt_te, "target")
    head = fit_head(a_tr, rows.y_tr, random_state=seeds[0])
    errors = _error_terms(head.predict(a_te), head.predict(b_te), rows.y_te, rows.alpha)
    tvs = _tv_terms(
        tv, a_te, b_te, rows.y_te, rows.alpha, rows.split_pairs, rows.min_class_samples, seeds
    )
    return {
        "aligned_source_error": errors["source_error"],
        "aligned_transfer_error": errors["transfer_error"],
        "aligned_certified_bound": errors["certified_bound"],
        "tv_aligned_estimate": tvs["tv_estimate"],
        "tv_aligned_lower": tvs["tv_lower"],
        "tv_aligned_joint_estimate": tvs["tv_joint_estimate"],
        "tv_aligned_joint_lower": tvs["tv_joint_lower"],
        "aligned_bound": errors["source_error"] + tvs["tv_joint_estimate"],
        "details": {"aligned_tv": tvs["details"], "aligned_head": head, "alignment_map": align},
    }


def _aligned_section(
    tv: _TVCall,
    rows: _AlignedRows,
    alignment: str,
    fit_rows: tuple[Any, Any],
    compare: Sequence[str],
    seeds: list[int],
) -> dict[str, Any]:
    """Compute the aligned terms of :func:`compute_bound`, or give the reason they are None."""
    out: dict[str, Any] = {"alignment": str(alignment)}
    if fit_rows[0] is None or fit_rows[1] is None:
        out["details"] = {"aligned": "no alignment rows (z_align_source, z_align_target) given"}
        return out
    zs_fit, zt_fit = _alignment_rows(fit_rows, rows)
    out.update(_aligned_terms(tv, rows, make_alignment(alignment).fit(zs_fit, zt_fit), seeds))
    idx_s, idx_t = _pair_halves(rows.y_te.shape[0], rows.split_pairs, seeds[1])
    out["tv_by_alignment"] = {}
    for name in compare:
        align = make_alignment(name).fit(zs_fit, zt_fit)
        a_te = align.transform(rows.zs_te[idx_s], "source")
        b_te = align.transform(rows.zt_te[idx_t], "target")
        out["tv_by_alignment"][name] = float(tv(a_te, b_te, rows.alpha, seeds[2]).estimate)
    return out


def _spread_ratios(z_source: np.ndarray, z_target: np.ndarray) -> dict[str, float]:
    """Return the two ratios of :func:`bounds.target.alignment.spread_terms` that a report shows."""
    terms = spread_terms(z_source, z_target)
    return {"erank_ratio": terms["erank_ratio"], "radius_ratio": terms["radius_ratio"]}


def _target_section(rows: tuple, **kwargs: Any) -> dict[str, Any]:
    """Compute the label-free target terms, or give ``None`` for each and the reason."""
    if kwargs["target_pred"] is None and kwargs["target_model"] is None:
        reason = (
            "no target_pred or target_model: the target terms bound the step-3 model itself "
            "and never refit it (a run's predictions.csv and features.npz heads give it)"
        )
        return {**dict.fromkeys(TARGET_TERMS), "target_error": None, "details": reason}
    return compute_target_terms(*rows, **kwargs)


def bound_from_run(run_dir: str | Path, **kwargs: Any) -> BoundReport:
    r"""Compute the bound of a finished run from ``run_dir/features.npz`` and ``result.json``.

    .. math::

        \text{certified\_bound} \ge \mathrm{err}_B(h) \text{ w.p. } 1 - \alpha

    ``features.npz`` must hold :data:`FEATURE_KEYS` (read with ``allow_pickle=False``);
    ``target_error`` comes from ``result.json`` unless passed in ``kwargs``. Other keyword
    arguments go to :func:`compute_bound`.

    Raises
    ------
    FileNotFoundError
        When ``run_dir``, ``features.npz`` or ``result.json`` does not exist.
    ValueError
        When a file is unreadable or lacks a key (the message names both).

    Examples
    --------
    >>> bound_from_run("no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: run directory not found: no/such/run
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run directory not found: {run_dir}")
    feats = load_features(run_dir / "features.npz")
    for key, value in run_model_inputs(run_dir, feats).items():
        kwargs.setdefault(key, value)
    return compute_bound(
        feats["z_source_train"],
        feats["y_train"],
        feats["z_source_test"],
        feats["z_target_test"],
        feats["y_test"],
        **kwargs,
    )

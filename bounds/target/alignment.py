r"""Per-modality alignment maps, and the gap between two modalities' latents.

Contrastive cross-modal training leaves teacher and student latents in two separate cones,
offset by an almost constant "modality gap" vector (Liang et al. 2022; Zhang et al. 2024;
Schrodi et al. 2025). A domain classifier reads that offset, so the marginal
:math:`\mathrm{TV}(\phi_A \# P_A, \phi_B \# P_B)` is about 1 whatever the target error. An
alignment is a pair of maps :math:`T_A, T_B`, one per modality, fitted on paired training
latents, that removes such nuisance differences before TV is estimated.

Why an aligned TV is still the paper's bound
--------------------------------------------
Let :math:`T_A, T_B` be fitted on rows disjoint from the rows being scored. Then
:math:`T_A \circ \phi_A` and :math:`T_B \circ \phi_B` are a valid teacher/student encoder
pair, and the theorem applies to them as to any pair: for a head :math:`h` trained on
:math:`T_A(z_A)`, the 0-1 loss and pairs that share their label,

.. math::

    \mathrm{err}_B(h \circ T_B) \le \mathrm{err}_A(h \circ T_A)
    + \mathrm{TV}\big((T_A \# P_A)_{Y}, (T_B \# P_B)_{Y}\big),

with the TV of the JOINT latent-label laws (the label-aware, class-conditional TV averaged by
the class prior: ``tv_aligned_joint_*``). So an aligned TV is an instance of the same
theorem, not a different theory. The same inequality with the MARGINAL TV
:math:`\mathrm{TV}(T_A \# P_A, T_B \# P_B)` is false unless :math:`P(y \mid z)` is the same on
both sides: a student whose latent law equals the teacher's but whose classes sit where
another class sits on the teacher side has marginal TV near 0 and target error near 1
(counterexample: err_A 0.024, err_B 0.976 at marginal TV 0.06). The marginal aligned TV
(``tv_aligned_estimate``) is therefore a descriptive gap measure, not a term of a bound. Its
limits:

- the aligned bound bounds the transfer error of the head :math:`h \circ T_B`, a head fitted
  on aligned teacher latents and applied to aligned student latents;
- the error of the fine-tuned target model (step 3 of a run) is a separate quantity, which
  :mod:`bounds.target.target_terms` certifies from the pairing.

Maps (registry :data:`ALIGNMENTS`)
----------------------------------
- ``none``: :math:`T(z) = z`.
- ``center``: :math:`T_m(z) = (z - \mu_m) / \|z - \mu_m\|` (subtract the modality mean, back
  to the sphere; Liang et al. 2022, Zhang et al. 2024).
- ``whiten``: :math:`T_m(z) = (z - \mu_m) / \sigma_m` per coordinate (per-modality
  standardisation; our choice: no renormalisation).
- ``linear``: centre both, then rotate the student onto the teacher with orthogonal
  Procrustes, :math:`R = \arg\min_{R^\top R = I} \|(Z_B - \mu_B) R - (Z_A - \mu_A)\|_F`,
  and renormalise; :math:`T_A(z) = \mathrm{n}(z - \mu_A)`, :math:`T_B(z) = \mathrm{n}((z -
  \mu_B) R)`. Our choice of an orthogonal map over least squares: it cannot shrink the
  student onto a point (a least-squares map can lower TV by collapsing scale), and it
  preserves the geometry the probe sees.

References
----------
.. [1] W. Liang, Y. Zhang, Y. Kwon, S. Yeung, J. Zou, "Mind the Gap: Understanding the
   Modality Gap in Multi-modal Contrastive Representation Learning", NeurIPS 2022.
.. [2] Y. Zhang, E. Sui, S. Yeung-Levy, "Connect, Collapse, Corrupt: Learning Cross-Modal
   Tasks with Uni-Modal Data", ICLR 2024.
.. [3] S. Schrodi, D. T. Hoffmann, M. Argus, V. Fischer, T. Brox, "Two Effects, One Trigger:
   On the Modality Gap, Object Bias, and Information Imbalance in Contrastive
   Vision-Language Models", ICLR 2025.
.. [4] P. H. Schönemann, "A generalized solution of the orthogonal Procrustes problem",
   Psychometrika 31, 1966.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.linalg import orthogonal_procrustes
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from bounds._validation import as_2d_float_array

__all__ = [
    "ALIGNMENTS",
    "Alignment",
    "CenterAlignment",
    "LinearAlignment",
    "NoAlignment",
    "WhitenAlignment",
    "effective_rank",
    "gap_terms",
    "make_alignment",
    "spread_terms",
]

MODALITIES = ("source", "target")


def _unit(z: np.ndarray) -> np.ndarray:
    """Rows scaled to unit norm (zero rows stay zero)."""
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return z / np.where(norm > 0, norm, 1.0)


class Alignment(BaseEstimator):
    """Base of the per-modality maps: ``fit(z_source, z_target)``, ``transform(z, modality)``.

    Subclasses set :attr:`min_rows` (as a function of the dimension) and implement
    ``_fit`` and ``_map``. Inputs must be finite; errors name the argument.
    """

    name = "base"
    #: Whether teacher and student latents must have the same dimension.
    needs_equal_dim = False

    def min_rows(self, d: int) -> int:
        """Fitting rows needed per modality in dimension ``d``."""
        return 2

    def fit(self, z_source: Any, z_target: Any) -> Alignment:
        """Fit the maps on paired training latents (rows disjoint from the scored rows)."""
        zs = as_2d_float_array(z_source, "z_source")
        zt = as_2d_float_array(z_target, "z_target")
        if self.needs_equal_dim and zs.shape[1] != zt.shape[1]:
            raise ValueError(
                f"alignment {self.name!r} needs z_source and z_target of equal dimension, got "
                f"{zs.shape[1]} and {zt.shape[1]}"
            )
        if self.needs_equal_dim and zs.shape[0] != zt.shape[0]:
            raise ValueError(
                f"alignment {self.name!r} needs paired rows: z_source has {zs.shape[0]}, "
                f"z_target {zt.shape[0]}"
            )
        for name, z in (("z_source", zs), ("z_target", zt)):
            need = self.min_rows(z.shape[1])
            if z.shape[0] < need:
                raise ValueError(
                    f"alignment {self.name!r} needs at least {need} fitting rows in {name}, "
                    f"got {z.shape[0]}"
                )
        self._fit(zs, zt)
        self.dims_ = (zs.shape[1], zt.shape[1])
        return self

    def transform(self, z: Any, modality: str) -> np.ndarray:
        """Map latents of ``modality`` (``"source"`` or ``"target"``)."""
        check_is_fitted(self, "dims_")
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        arr = as_2d_float_array(z, "z")
        d = self.dims_[MODALITIES.index(modality)]
        if arr.shape[1] != d:
            raise ValueError(f"z has {arr.shape[1]} features but the {modality} map expects {d}")
        return self._map(arr, modality)

    def _fit(self, zs: np.ndarray, zt: np.ndarray) -> None:
        raise NotImplementedError

    def _map(self, z: np.ndarray, modality: str) -> np.ndarray:
        raise NotImplementedError


class NoAlignment(Alignment):
    """The identity map, :math:`T(z) = z` (the raw latents)."""

    name = "none"

    def min_rows(self, d: int) -> int:
        """No fitting rows are needed."""
        return 0

    def _fit(self, zs: np.ndarray, zt: np.ndarray) -> None:
        pass

    def _map(self, z: np.ndarray, modality: str) -> np.ndarray:
        return z.copy()


class CenterAlignment(Alignment):
    r"""Subtract each modality's mean, then renormalise: :math:`(z - \mu_m)/\|z - \mu_m\|`."""

    name = "center"

    def _fit(self, zs: np.ndarray, zt: np.ndarray) -> None:
        self.means_ = {"source": zs.mean(axis=0), "target": zt.mean(axis=0)}

    def _map(self, z: np.ndarray, modality: str) -> np.ndarray:
        return _unit(z - self.means_[modality])


class WhitenAlignment(Alignment):
    r"""Per-modality standardisation, :math:`(z - \mu_m) / \sigma_m` per coordinate.

    Our choice: coordinates with :math:`\sigma < 10^{-8}` keep unit scale.
    """

    name = "whiten"

    def _fit(self, zs: np.ndarray, zt: np.ndarray) -> None:
        self.means_ = {"source": zs.mean(axis=0), "target": zt.mean(axis=0)}
        std = {"source": zs.std(axis=0), "target": zt.std(axis=0)}
        self.scales_ = {m: np.where(s > 1e-8, s, 1.0) for m, s in std.items()}

    def _map(self, z: np.ndarray, modality: str) -> np.ndarray:
        return (z - self.means_[modality]) / self.scales_[modality]


class LinearAlignment(CenterAlignment):
    r"""Centre, rotate the student onto the teacher (orthogonal Procrustes), renormalise.

    .. math:: R = \arg\min_{R^\top R = I} \|(Z_B - \mu_B) R - (Z_A - \mu_A)\|_F

    Needs paired rows of equal dimension, at least ``d`` of them (fewer leave :math:`R`
    undetermined on the complement of their span; our choice).
    """

    name = "linear"
    needs_equal_dim = True

    def min_rows(self, d: int) -> int:
        """At least ``d`` paired rows (a rotation of R^d is identified by ``d`` directions)."""
        return max(2, d)

    def _fit(self, zs: np.ndarray, zt: np.ndarray) -> None:
        super()._fit(zs, zt)
        self.rotation_, _ = orthogonal_procrustes(
            zt - self.means_["target"], zs - self.means_["source"]
        )

    def _map(self, z: np.ndarray, modality: str) -> np.ndarray:
        centred = z - self.means_[modality]
        return _unit(centred @ self.rotation_ if modality == "target" else centred)


#: Registry: alignment name -> class.
ALIGNMENTS: dict[str, type[Alignment]] = {
    cls.name: cls for cls in (NoAlignment, CenterAlignment, WhitenAlignment, LinearAlignment)
}


def make_alignment(name: str) -> Alignment:
    """Return an unfitted alignment by registry name.

    Examples
    --------
    >>> a = make_alignment("center").fit(np.eye(3), np.eye(3) + 1)  # a constant gap of 1
    >>> np.allclose(a.transform([[2.0, 1, 1]], "target"), a.transform([[1.0, 0, 0]], "source"))
    True
    """
    if name not in ALIGNMENTS:
        raise ValueError(f"alignment must be one of {sorted(ALIGNMENTS)}, got {name!r}")
    return ALIGNMENTS[name]()


def _cosine_dissimilarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    r"""Pairwise :math:`(1 - \cos)/2` in [0, 1] between the rows of ``a`` and ``b``."""
    return (1.0 - _unit(a) @ _unit(b).T) / 2.0


def gap_terms(z_source: Any, z_target: Any) -> dict[str, float]:
    r"""Modality-gap metrics of paired latents (row ``i`` of both: the same object).

    .. math::

        \text{gap\_norm} = \|\bar z_A - \bar z_B\|, \qquad
        \text{pair\_distance} = \tfrac1n \textstyle\sum_i d(z_A^i, z_B^i), \qquad
        \text{relative\_gap} = \frac{\text{pair\_distance}}
        {\text{pair\_distance} + \tfrac12 (\bar d_{AA} + \bar d_{BB})}

    with :math:`d = (1 - \cos)/2` and :math:`\bar d_{AA}, \bar d_{BB}` the mean within-modality
    dissimilarities over distinct pairs. ``gap_norm`` is the centroid gap of Liang et al.
    (2022); ``relative_gap`` follows the relative modality gap of Schrodi et al. (2025), in
    our reading of it (matched-pair distance relative to the within-modality spread, in
    [0, 1]; 1/2 when matched pairs are no closer than random rows of one modality). All
    three are descriptive estimates.

    Examples
    --------
    >>> z = np.eye(4)
    >>> terms = gap_terms(z, z)
    >>> terms["gap_norm"], terms["relative_gap"]
    (0.0, 0.0)
    """
    zs = as_2d_float_array(z_source, "z_source")
    zt = as_2d_float_array(z_target, "z_target")
    if zs.shape != zt.shape or zs.shape[0] < 2:
        raise ValueError(
            f"z_source and z_target must be paired arrays of equal shape with >= 2 rows, got "
            f"{zs.shape} and {zt.shape}"
        )
    n = zs.shape[0]
    pair = float(np.mean(np.diag(_cosine_dissimilarity(zs, zt))))
    within = [_cosine_dissimilarity(z, z) for z in (zs, zt)]
    spread = [float((d.sum() - np.trace(d)) / (n * (n - 1))) for d in within]
    denominator = pair + 0.5 * sum(spread)
    return {
        "gap_norm": float(np.linalg.norm(zs.mean(axis=0) - zt.mean(axis=0))),
        "pair_distance": pair,
        "relative_gap": pair / denominator if denominator > 0 else 0.0,
    }


def effective_rank(z: Any, name: str = "z") -> float:
    r"""Effective rank of the centred rows of ``z`` (Roy & Vetterli 2007).

    .. math::

        \operatorname{erank}(Z) = \exp\Big(-\sum_k p_k \log p_k\Big), \qquad
        p_k = \frac{\sigma_k^2}{\sum_j \sigma_j^2},

    with :math:`\sigma_k` the singular values of :math:`Z - \bar Z`. It lies in
    :math:`[1, \min(n, d)]`: 1 when the rows vary along one direction only, ``d`` for an
    isotropic cloud. A descriptive estimate; 0.0 when all rows coincide (our convention).

    References
    ----------
    O. Roy and M. Vetterli, "The effective rank: a measure of effective dimensionality",
    EUSIPCO 2007.

    Examples
    --------
    >>> round(effective_rank(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])), 6)
    1.0
    """
    rows = as_2d_float_array(z, name)
    power = np.linalg.svd(rows - rows.mean(axis=0), compute_uv=False) ** 2
    if power.sum() <= 0:
        return 0.0
    p = power[power > 0] / power.sum()
    return float(np.exp(-np.sum(p * np.log(p))))


def spread_terms(z_source: Any, z_target: Any) -> dict[str, float]:
    r"""How widely each modality's latents spread around their own centroid.

    .. math::

        \text{radius}_M = \tfrac1n \textstyle\sum_i \|z_M^i - \bar z_M\|, \qquad
        \text{erank}_M = \operatorname{erank}(Z_M) \quad (M \in \{A, B\}),

    ``erank_ratio`` = erank_B / erank_A and ``radius_ratio`` = radius_B / radius_A. A
    constant modality gap (what ``center`` removes) leaves both unchanged; a student that
    regresses towards the teacher's mean (small radius, low effective rank) differs from the
    teacher in law even after centring, so its centred TV stays high whatever its error.
    Descriptive estimates (our diagnostic; the paper has none); the two samples need not be
    paired.

    Examples
    --------
    >>> z = np.eye(4)
    >>> terms = spread_terms(z, 0.5 * z)
    >>> round(terms["erank_ratio"], 6), round(terms["radius_target"] / terms["radius_source"], 6)
    (1.0, 0.5)
    """
    zs = as_2d_float_array(z_source, "z_source")
    zt = as_2d_float_array(z_target, "z_target")
    if min(zs.shape[0], zt.shape[0]) < 2:
        raise ValueError(
            f"z_source and z_target need >= 2 rows each, got {zs.shape[0]} and {zt.shape[0]}"
        )
    erank = {"source": effective_rank(zs, "z_source"), "target": effective_rank(zt, "z_target")}
    radius = {
        modality: float(np.linalg.norm(z - z.mean(axis=0), axis=1).mean())
        for modality, z in (("source", zs), ("target", zt))
    }
    return {
        "radius_source": radius["source"],
        "radius_target": radius["target"],
        "erank_source": erank["source"],
        "erank_target": erank["target"],
        "erank_ratio": _ratio(erank["target"], erank["source"]),
        "radius_ratio": _ratio(radius["target"], radius["source"]),
    }


def _ratio(target: float, source: float) -> float:
    """``target / source``, NaN when the source spread is 0 (every source row the same)."""
    return target / source if source > 0 else float("nan")

r"""Linear heads as plain affine maps, and the map of teacher latents into the student space.

The label-free terms of :mod:`bounds.target.target_terms` need a head's scores, margins and
Lipschitz constant, not just its predictions, so a fitted :class:`bounds.target.probe.LinearProbe`
is turned into one affine map of the raw latents,

.. math:: s(z) = W z + b, \qquad h(z) = \arg\max_k s_k(z).

Some terms apply the fine-tuned target head :math:`h_B` to teacher latents. Teacher and
student latents sit apart (the modality gap), so the teacher latents are first carried into
the student's space by a map :math:`M` fitted on the paired *training* rows, disjoint from
every scored row (:func:`fit_source_to_target`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.linalg import orthogonal_procrustes
from scipy.special import softmax

from bounds._validation import as_2d_float_array
from bounds.target.alignment import _unit
from bounds.target.probe import LinearProbe

__all__ = ["SOURCE_TO_TARGET", "LinearHead", "fit_source_to_target"]


@dataclass(frozen=True)
class LinearHead:
    r"""A linear classifier :math:`h(z) = \arg\max_k (W z + b)_k` over ``classes``.

    Attributes
    ----------
    weight : ndarray of shape (n_classes, d)
    bias : ndarray of shape (n_classes,)
    classes : ndarray of shape (n_classes,)
        The label of each score row.
    """

    weight: np.ndarray
    bias: np.ndarray
    classes: np.ndarray

    @classmethod
    def from_probe(cls, probe: LinearProbe) -> LinearHead:
        """Fold the fitted probe's standardisation and logistic layer into one map."""
        weight, bias = probe.affine()
        return cls(np.asarray(weight, float), np.asarray(bias, float), np.asarray(probe.classes_))

    def scores(self, z: Any) -> np.ndarray:
        """Class scores of shape (n, n_classes)."""
        return as_2d_float_array(z, "z") @ self.weight.T + self.bias

    def predict(self, z: Any) -> np.ndarray:
        """Predicted labels."""
        return self.classes[np.argmax(self.scores(z), axis=1)]

    def confidence(self, z: Any) -> np.ndarray:
        """Maximum softmax probability of each row (the score of ATC-MC)."""
        return softmax(self.scores(z), axis=1).max(axis=1)

    def margin(self, z: Any, y: Any) -> np.ndarray:
        r"""Score margin :math:`m(z, y) = s_y(z) - \max_{k \ne y} s_k(z)`.

        A label the head has no row for gets margin :math:`-\infty` (it is never predicted).
        """
        s = self.scores(z)
        y = np.asarray(y)
        index = {c: i for i, c in enumerate(self.classes.tolist())}
        rows = np.array([index.get(v, -1) for v in y.tolist()])
        known = rows >= 0
        out = np.full(s.shape[0], -np.inf)
        own = s[known, rows[known]]
        others = s[known].copy()
        others[np.arange(others.shape[0]), rows[known]] = -np.inf
        out[known] = own - others.max(axis=1)
        return out

    def lipschitz(self) -> float:
        r"""Return :math:`K = \max_{j \ne k} \|w_j - w_k\|`.

        Every pairwise score difference :math:`s_j - s_k` is K-Lipschitz in z (Euclidean).
        """
        w = self.weight
        diffs = np.linalg.norm(w[:, None, :] - w[None, :, :], axis=2)
        return float(diffs.max())


def _identity(zs: np.ndarray, zt: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    return lambda z: z.copy()


def _translate(zs: np.ndarray, zt: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    shift = zt.mean(axis=0) - zs.mean(axis=0)
    return lambda z: _unit(z + shift)


def _rescale(zs: np.ndarray, zt: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    mu_s, mu_t = zs.mean(axis=0), zt.mean(axis=0)
    sd_s = np.where(zs.std(axis=0) > 1e-8, zs.std(axis=0), 1.0)
    sd_t = np.where(zt.std(axis=0) > 1e-8, zt.std(axis=0), 1.0)
    return lambda z: (z - mu_s) / sd_s * sd_t + mu_t


def _rotate(zs: np.ndarray, zt: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    mu_s, mu_t = zs.mean(axis=0), zt.mean(axis=0)
    rotation, _ = orthogonal_procrustes(zs - mu_s, zt - mu_t)
    return lambda z: _unit((z - mu_s) @ rotation + mu_t)


#: Registry: alignment name -> builder of the teacher-to-student map M (same names as
#: :data:`bounds.target.alignment.ALIGNMENTS`). ``center`` translates by the mean gap and
#: renormalises, ``whiten`` matches per-coordinate means and scales, ``linear`` adds an
#: orthogonal Procrustes rotation; our choice, each the map :math:`T_B^{-1} \circ T_A` of its
#: alignment up to the renormalisation onto the unit sphere where the student latents live.
SOURCE_TO_TARGET: dict[str, Callable[..., Callable[[np.ndarray], np.ndarray]]] = {
    "none": _identity,
    "center": _translate,
    "whiten": _rescale,
    "linear": _rotate,
}


def fit_source_to_target(
    name: str, z_source: Any, z_target: Any
) -> Callable[[np.ndarray], np.ndarray]:
    """Fit the map M of teacher latents into the student space on paired training rows.

    Examples
    --------
    >>> z = np.eye(3)
    >>> m = fit_source_to_target("center", z, z + 1.0)
    >>> np.round(m(np.array([[0.0, 0.0, 0.0]])), 3)
    array([[0.577, 0.577, 0.577]])
    """
    if name not in SOURCE_TO_TARGET:
        raise ValueError(f"alignment must be one of {sorted(SOURCE_TO_TARGET)}, got {name!r}")
    zs = as_2d_float_array(z_source, "z_align_source")
    zt = as_2d_float_array(z_target, "z_align_target")
    if zs.shape != zt.shape or zs.shape[0] < 2:
        raise ValueError(
            f"z_align_source and z_align_target must be paired rows of equal shape (>= 2 rows), "
            f"got {zs.shape} and {zt.shape}"
        )
    return SOURCE_TO_TARGET[name](zs, zt)

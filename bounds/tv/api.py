"""Functional entry point: ``estimate_tv`` and the registry of TV estimators."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from bounds._result import TVEstimate
from bounds.tv.classifier import ClassifierTV
from bounds.tv.partition import PartitionTV
from bounds.tv.robust_ot import PairedTV, RobustOTTV

__all__ = ["estimate_tv", "method_params", "METHODS"]

METHODS: dict[str, type[BaseEstimator]] = {
    "classifier": ClassifierTV,
    "partition": PartitionTV,
    "robust_ot": RobustOTTV,
    "paired": PairedTV,
}
"""Registry of TV estimators: method name -> sklearn-style estimator class."""

_SHARED = ("alpha", "random_state")


def method_params(method: str) -> list[str]:
    """Return the method-specific parameters accepted by ``estimate_tv`` for ``method``.

    Examples
    --------
    >>> method_params("paired")
    ['eps', 'eps_quantile', 'n_eps_samples']
    """
    _check_method(method)
    return sorted(set(METHODS[method]().get_params()) - set(_SHARED))


def _check_method(method: Any) -> None:
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}")


def estimate_tv(
    source: Any,
    target: Any,
    method: str = "classifier",
    *,
    alpha: float = 0.05,
    random_state: int | np.random.RandomState | np.random.Generator | None = None,
    **kw: Any,
) -> TVEstimate:
    r"""Estimate the total variation distance between two samples.

    .. math:: \mathrm{TV}(P, Q) = \sup_A |P(A) - Q(A)| = \tfrac12 \int |p - q|

    Parameters
    ----------
    source, target : array-like of shape (n_source, d) and (n_target, d)
        Samples from P and Q, as numpy arrays, torch tensors or pandas DataFrames.
    method : str, default="classifier"
        A key of :data:`METHODS`: ``"classifier"`` (the most accurate, the default),
        ``"partition"``, ``"robust_ot"`` or ``"paired"`` (rows paired; needs equal sizes).
    alpha : float, default=0.05
        Miscoverage level of the confidence bound(s), in (0, 1).
    random_state : int, RandomState, Generator or None, default=None
        Seed of every random choice (splits, subsamples, models).
    **kw
        Parameters of the method's estimator class (see :func:`method_params`).

    Returns
    -------
    TVEstimate
        ``estimate``, ``lower`` (one-sided lower confidence bound at level
        ``1 - alpha``), ``upper`` (``None`` except for ``"paired"``) and ``details``.

    Raises
    ------
    ValueError
        On an unknown method or parameter, or bad input (see each estimator).

    References
    ----------
    Lin, H., Liu, C., Xu, C., Gao, Z., Fu, Y., Yao, Y. (2024). A Generalization Theory of
    Cross-Modality Distillation with Contrastive Learning. arXiv:2405.03355.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> s, t = rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) + [2.0, 0.0]
    >>> res = estimate_tv(s, t, candidates=("logistic",), random_state=0)
    >>> bool(res.lower <= 0.683 <= res.lower + 0.3), res.method
    (True, 'classifier')
    """
    _check_method(method)
    valid = method_params(method)
    unknown = sorted(set(kw) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown} for method {method!r}; valid parameters: {valid}"
        )
    estimator = METHODS[method](alpha=alpha, random_state=random_state, **kw)
    return estimator.fit(source, target).result_

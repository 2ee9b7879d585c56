r"""Rank correlations over runs, with percentile-bootstrap intervals that decide what is a finding.

A Spearman :math:`\rho` or Kendall :math:`\tau` over a few dozen runs moves a lot from one
set of seeds to the next. Every correlation the package reports therefore carries a 95%
percentile-bootstrap interval over runs (:func:`correlation_interval`), and is called a
*finding* only when that interval excludes 0. These are descriptive statistics of
estimates, never certified.

Our choices: rows (runs) are resampled with replacement, ``n_boot = 2000`` resamples, a
``random_state`` seeds them; a resample whose statistic is undefined (fewer than 3 distinct
pairs, or a constant column, e.g. every row drawn is the same run) is dropped, and the
interval is ``nan`` when fewer than half the resamples are defined. Spearman is the Pearson
correlation of average ranks; Kendall is tau-b (ties in either column handled), both
vectorised over resamples.

References
----------
.. [1] B. Efron, R. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall, 1993
   (percentile intervals, ch. 13).

Examples
--------
>>> x = np.arange(30.0)
>>> r = correlation_interval(x, x ** 2, random_state=0)
>>> r["value"], r["low"] > 0.9, r["finding"]
(1.0, True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.stats import rankdata

__all__ = ["CORRELATIONS", "N_BOOT", "correlation_interval"]

#: Bootstrap resamples of every interval (our choice).
N_BOOT = 2000


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson correlation of each row pair of two (B, n) arrays; nan for a constant row."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    denom = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (a * b).sum(axis=1) / np.where(denom > 0, denom, 1.0), np.nan)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Spearman :math:`\rho` of each row pair: the Pearson correlation of average ranks."""
    return _pearson_rows(rankdata(x, axis=1), rankdata(y, axis=1))


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    r"""Kendall tau-b of each row pair of two (B, n) arrays.

    .. math:: \tau_b = \frac{\sum_{i<j} s^x_{ij} s^y_{ij}}{\sqrt{\sum_{i<j} (s^x_{ij})^2
              \sum_{i<j} (s^y_{ij})^2}}, \qquad s_{ij} = \mathrm{sign}(v_i - v_j)
    """
    sx = np.sign(x[:, :, None] - x[:, None, :])
    sy = np.sign(y[:, :, None] - y[:, None, :])
    num = (sx * sy).sum(axis=(1, 2))
    denom = np.sqrt((sx * sx).sum(axis=(1, 2)) * (sy * sy).sum(axis=(1, 2)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, num / np.where(denom > 0, denom, 1.0), np.nan)


#: Registry: name -> statistic of each row pair of two (B, n) arrays.
CORRELATIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "spearman": spearman_rows,
    "kendall": kendall_rows,
}


def _finite_pairs(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    xa, ya = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y must have the same length, got {xa.size} and {ya.size}")
    keep = np.isfinite(xa) & np.isfinite(ya)
    return xa[keep], ya[keep]


def correlation_interval(
    x: Any,
    y: Any,
    *,
    method: str = "spearman",
    n_boot: int = N_BOOT,
    level: float = 0.95,
    random_state: int | None = 0,
) -> dict[str, Any]:
    r"""Return a rank correlation over rows with its percentile-bootstrap interval.

    .. math::

        [\hat c_{(\alpha/2)}, \hat c_{(1-\alpha/2)}], \quad \hat c^{*}_b = c(x_{I_b}, y_{I_b}),
        \ I_b \sim \mathrm{Uniform}\{1..n\}^n

    Parameters
    ----------
    x, y : array-like of shape (n,)
        Paired values (rows with a non-finite value in either are dropped).
    method : {"spearman", "kendall"}
        The statistic (:data:`CORRELATIONS`).
    n_boot : int
        Bootstrap resamples.
    level : float
        Coverage of the interval, in (0, 1).
    random_state : int or None
        Seed of the resamples.

    Returns
    -------
    dict
        ``value`` (on all rows; ``nan`` when undefined), ``low``, ``high``, ``n`` and
        ``finding`` (True only when the interval excludes 0).
    """
    if method not in CORRELATIONS:
        raise ValueError(f"method must be one of {sorted(CORRELATIONS)}, got {method!r}")
    if not 0.0 < float(level) < 1.0 or int(n_boot) < 1:
        raise ValueError(f"level must be in (0, 1) and n_boot >= 1, got {level!r}, {n_boot!r}")
    xa, ya = _finite_pairs(x, y)
    stat = CORRELATIONS[method]
    out = {"value": float("nan"), "low": float("nan"), "high": float("nan"), "n": int(xa.size)}
    if xa.size < 3:
        return {**out, "finding": False}
    out["value"] = round(float(stat(xa[None], ya[None])[0]), 12)
    idx = np.random.default_rng(random_state).integers(0, xa.size, size=(int(n_boot), xa.size))
    boot = stat(xa[idx], ya[idx])
    boot = boot[np.isfinite(boot)]
    if boot.size >= int(n_boot) / 2:
        tail = (1.0 - float(level)) / 2
        out["low"], out["high"] = (float(v) for v in np.quantile(boot, [tail, 1.0 - tail]))
    finding = bool(np.isfinite(out["low"]) and (out["low"] > 0 or out["high"] < 0))
    return {**out, "finding": finding}

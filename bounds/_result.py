"""The result type shared by every total-variation estimator."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["TVEstimate"]


@dataclass(frozen=True)
class TVEstimate:
    """An estimate of the total variation distance between two samples.

    Attributes
    ----------
    estimate : float
        Point estimate of TV(P, Q) in [0, 1].
    lower : float
        One-sided lower confidence bound at level ``1 - alpha``: with probability at least
        ``1 - alpha`` over the draw of the samples, ``lower <= TV(P, Q)`` (for the
        classifier method this holds for any fixed classifier family; see each method).
    upper : float or None
        An upper confidence bound on the quantity ``details["upper_bounds"]`` names, where
        the method has one, else ``None``. It is NOT an upper bound on TV: no
        assumption-free upper bound on TV exists. The only method with one, ``"paired"``,
        bounds the eps-robust TV, min over couplings of P(||X - Y|| > eps), which is at most
        TV (``robust_tv_upper`` in :class:`bounds.target.generalization.BoundReport`).
    method : str
        Registry name of the method that produced the estimate.
    n_source, n_target : int
        Sample sizes.
    alpha : float
        Miscoverage level of ``lower`` (and ``upper``).
    details : dict
        Method-specific diagnostics (chosen model, plug-in estimate, bias correction, ...).
    """

    estimate: float
    lower: float
    upper: float | None
    method: str
    n_source: int
    n_target: int
    alpha: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the scalar fields as a flat dict (``details`` left out)."""
        return {
            "method": self.method,
            "estimate": self.estimate,
            "lower": self.lower,
            "upper": self.upper,
            "n_source": self.n_source,
            "n_target": self.n_target,
            "alpha": self.alpha,
        }

    def to_frame(self) -> pd.DataFrame:
        """Return a one-row tidy table of the scalar fields."""
        return pd.DataFrame([self.to_dict()])

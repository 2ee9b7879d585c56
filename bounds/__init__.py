"""Estimators of the total variation distance between source and target feature samples.

Public API (each name lives in the module named beside it):

- ``TVEstimate`` (``bounds._result``): the result type.
- ``estimate_tv``, ``METHODS`` and ``method_params`` (``bounds.api``): functional entry
  point and registry.
- ``ClassifierTV`` (``bounds.classifier``), ``PartitionTV`` (``bounds.partition``),
  ``RobustOTTV`` and ``PairedTV`` (``bounds.robust_ot``): sklearn-style estimators.
- ``bounds.groundtruth``: closed-form and Monte Carlo ground truth, test-pair samplers.
"""

from bounds._result import TVEstimate
from bounds.api import METHODS, estimate_tv, method_params
from bounds.classifier import ClassifierTV
from bounds.partition import PartitionTV
from bounds.robust_ot import PairedTV, RobustOTTV

__all__ = [
    "METHODS",
    "ClassifierTV",
    "PairedTV",
    "PartitionTV",
    "RobustOTTV",
    "TVEstimate",
    "estimate_tv",
    "method_params",
]

"""Estimators of the total variation distance between source and target feature samples.

Public API (each name lives in the module named beside it):

- ``TVEstimate`` (``bounds._result``): the result type.
- ``estimate_tv`` and ``METHODS`` (``bounds.api``): functional entry point and registry.
- ``ClassifierTV``, ``PartitionTV``, ``RobustOTTV``, ``PairedTV``: sklearn-style estimators.
- ``bounds.groundtruth``: closed-form and Monte Carlo ground truth, test-pair samplers.
"""

from bounds._result import TVEstimate

__all__ = ["TVEstimate"]

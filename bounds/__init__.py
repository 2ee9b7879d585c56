"""Estimators of the total variation distance between source and target feature samples.

Public API (each name lives in the module named beside it):

- ``TVEstimate`` (``bounds._result``): the result type.
- ``estimate_tv``, ``METHODS`` and ``method_params`` (``bounds.api``): functional entry
  point and registry.
- ``ClassifierTV`` (``bounds.classifier``), ``PartitionTV`` (``bounds.partition``),
  ``RobustOTTV`` and ``PairedTV`` (``bounds.robust_ot``): sklearn-style estimators.
- ``bounds.groundtruth``: closed-form and Monte Carlo ground truth, test-pair samplers.
- ``bounds.latent_catalogue``: ground-truth pairs where contrastive latents live (d = 64-128,
  on or near the sphere: von Mises-Fisher pairs, anisotropic spectra, offset class clusters,
  identical laws).
- ``compute_bound``, ``bound_from_run``, ``BoundReport`` (``bounds.generalization``): every
  term of the paper's bound for one run, certified or estimated.
- ``ALIGNMENTS``, ``make_alignment``, ``gap_terms``, ``spread_terms`` (``bounds.alignment``):
  per-modality alignment maps, modality-gap metrics and each modality's spread.
- ``LinearProbe`` (``bounds.probe``): the linear probe every head and target model uses.
"""

from bounds._result import TVEstimate
from bounds.alignment import ALIGNMENTS, gap_terms, make_alignment, spread_terms
from bounds.api import METHODS, estimate_tv, method_params
from bounds.classifier import ClassifierTV
from bounds.generalization import BoundReport, bound_from_run, compute_bound
from bounds.partition import PartitionTV
from bounds.probe import LinearProbe
from bounds.robust_ot import PairedTV, RobustOTTV

__all__ = [
    "ALIGNMENTS",
    "BoundReport",
    "LinearProbe",
    "METHODS",
    "ClassifierTV",
    "PairedTV",
    "PartitionTV",
    "RobustOTTV",
    "TVEstimate",
    "bound_from_run",
    "compute_bound",
    "estimate_tv",
    "gap_terms",
    "spread_terms",
    "make_alignment",
    "method_params",
]

"""Estimators of the total variation distance between source and target feature samples.

Public API (each name lives in the module named beside it):

- ``TVEstimate`` (``bounds._result``): the result type.
- ``estimate_tv``, ``METHODS`` and ``method_params`` (``bounds.tv.api``): functional entry
  point and registry.
- ``ClassifierTV`` (``bounds.tv.classifier``), ``PartitionTV`` (``bounds.tv.partition``),
  ``RobustOTTV`` and ``PairedTV`` (``bounds.tv.robust_ot``): sklearn-style estimators.
- ``bounds.truth.groundtruth``: closed-form and Monte Carlo ground truth, test-pair samplers.
- ``bounds.truth.latent_catalogue``: ground-truth pairs where contrastive latents live (d = 64-128,
  on or near the sphere: von Mises-Fisher pairs, anisotropic spectra, offset class clusters,
  identical laws).
- ``compute_bound``, ``bound_from_run``, ``BoundReport``, ``term_status``
  (``bounds.target.generalization``): every term of the paper's bound for one run, certified or
  estimated, and the status of each under the run's settings.
- ``compute_target_terms`` (``bounds.target.target_terms``), ``LinearHead``
  (``bounds.target.heads``): the certificates and estimates of the step-3 target model's own
  error, from its predictions.
- ``ALIGNMENTS``, ``make_alignment``, ``gap_terms``, ``spread_terms`` (``bounds.target.alignment``):
  per-modality alignment maps, modality-gap metrics and each modality's spread.
- ``LinearProbe`` (``bounds.target.probe``): the linear probe every head and target model uses.
- ``PairedGaussianScenario``, ``COVERAGE_TERMS``, ``coverage_study`` (``bounds.truth.coverage``):
  coverage of every certified term against a population truth.
"""

from bounds._result import TVEstimate
from bounds.target.alignment import ALIGNMENTS, gap_terms, make_alignment, spread_terms
from bounds.target.generalization import BoundReport, bound_from_run, compute_bound, term_status
from bounds.target.heads import LinearHead
from bounds.target.probe import LinearProbe
from bounds.target.target_terms import compute_target_terms
from bounds.truth.coverage import COVERAGE_TERMS, PairedGaussianScenario, coverage_study
from bounds.tv.api import METHODS, estimate_tv, method_params
from bounds.tv.classifier import ClassifierTV
from bounds.tv.partition import PartitionTV
from bounds.tv.robust_ot import PairedTV, RobustOTTV

__all__ = [
    "ALIGNMENTS",
    "BoundReport",
    "COVERAGE_TERMS",
    "LinearHead",
    "LinearProbe",
    "METHODS",
    "ClassifierTV",
    "PairedGaussianScenario",
    "PairedTV",
    "PartitionTV",
    "RobustOTTV",
    "TVEstimate",
    "bound_from_run",
    "compute_bound",
    "compute_target_terms",
    "coverage_study",
    "estimate_tv",
    "gap_terms",
    "spread_terms",
    "make_alignment",
    "method_params",
    "term_status",
]

"""Cross-modality contrastive distillation (CMCD): pre-train, distill, fine-tune.

Public API (each name lives in the module named beside it):

- ``run`` (``cmcd.pipeline``): the three steps of one run, checkpointed and resumable.
- ``resolve_config``, ``load_config``, ``DEFAULTS`` (``cmcd.config``): run configurations.
- ``load_dataset``, ``DATASETS`` (``cmcd.data``): paired datasets.
- ``DISTILL_LOSSES``, ``make_distill_loss`` (``cmcd.losses``): distillation losses.
- ``run_sweep``, ``load_sweep`` (``cmcd.sweep``) and ``sweep_report`` (``cmcd.report``).
"""

from cmcd.config import DEFAULTS, load_config, resolve_config
from cmcd.data import DATASETS, load_dataset
from cmcd.losses import DISTILL_LOSSES, make_distill_loss
from cmcd.pipeline import run
from cmcd.report import sweep_report
from cmcd.sweep import load_sweep, run_sweep

__version__ = "0.1.0"

__all__ = [
    "DATASETS",
    "DEFAULTS",
    "DISTILL_LOSSES",
    "load_config",
    "load_dataset",
    "load_sweep",
    "make_distill_loss",
    "resolve_config",
    "run",
    "run_sweep",
    "sweep_report",
]

"""Cross-modality contrastive distillation (CMCD): pre-train, distill, fine-tune.

Public API (each name lives in the module named beside it):

- ``run`` (``cmcd.runs.pipeline``): the three steps of one run, checkpointed and resumable.
- ``resolve_config``, ``load_config``, ``DEFAULTS`` (``cmcd.config``): run configurations.
- ``load_dataset``, ``DATASETS`` (``cmcd.data``): paired datasets.
- ``DISTILL_LOSSES``, ``make_distill_loss`` (``cmcd.train.losses``): distillation losses.
- ``run_sweep``, ``load_sweep`` (``cmcd.runs.sweep``) and ``sweep_report`` (``cmcd.runs.report``).
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _distribution_version

from cmcd.config import DEFAULTS, load_config, resolve_config
from cmcd.data import DATASETS, load_dataset
from cmcd.runs.pipeline import run
from cmcd.runs.report import sweep_report
from cmcd.runs.sweep import load_sweep, run_sweep
from cmcd.train.losses import DISTILL_LOSSES, make_distill_loss

try:  # pyproject.toml is the one place the version is written
    __version__ = _distribution_version("cmcd")
except PackageNotFoundError:  # a source tree that was never installed (our choice of marker)
    __version__ = "0+unknown"

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

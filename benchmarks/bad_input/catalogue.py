"""The audit's catalogue: every case in order, and the near-duplicates left out by default."""

from __future__ import annotations

from .api_cases import api_cases
from .cli_cases import cli_cases
from .config_cases import config_cases
from .csv_dataset_cases import csv_dataset_cases
from .harness import Case
from .round2_cases import round2_cases
from .run_cases import run_cases
from .sweep_cases import sweep_cases
from .table_cases import table_cases
from .tv_cases import tv_cases

#: Cases left out of the default run (near-duplicates of a core case), to keep it short;
#: ``--all`` runs them too.
EXTENDED = frozenset(
    "C13 C19 C22 C28 C31 C36 C38 C39 C40 C41 C43 C44 C45 C46 C48 C49 C52 C53 C56 C57 C58 "
    "C33 C37 C47 C12 "
    "A04 A05 A08 A09 A12 A16 A18 A20 A22 A25 A27 A28 A29 A19 A24 A26 "
    "S05 S08 S11 S12 R07 R11 "
    "T13 T16 T17 T19 T20 T22 T26 T27 T09 T18 T10 T25 "
    "B03 B05 B09 B13 B15 B20 B22 B23 B14 B11 B07 B10".split()
)


def catalogue(extended: bool = False) -> list[Case]:
    """Return every core case in order (with ``extended``: also those of :data:`EXTENDED`)."""
    cases = [
        *config_cases(),
        *csv_dataset_cases(),
        *cli_cases(),
        *sweep_cases(),
        *run_cases(),
        *tv_cases(),
        *api_cases(),
        *table_cases(),
        *round2_cases(),
    ]
    return [c for c in cases if extended or c.id not in EXTENDED]

"""Which columns of a sweep's ``results.csv`` are certified, and under which settings.

Every sweep writes ``columns.json`` beside ``results.csv`` (:func:`write_column_status`):
for each column its ``status`` and ``meaning``, and the settings the statuses depend on
(``alpha``, ``split_pairs``, ``tv_method``, ``rows_independent``). A bound term's status is
:func:`bounds.target.generalization.term_status` under each row's settings; when rows differ, the
weakest status over the rows (our choice: a column is only as certified as its least
certified row). Errors and accuracies read off held-out labels are ``"measured"``
(:data:`MEASURED`: what the bounds are compared with, sample values of the held-out rows);
the per-alignment TVs are ``"estimate"``; everything else is ``"setting"`` (run id, grid
values, run settings, timings).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from bounds.target.generalization import STATUSES, TERMS, term_status
from cmcd._io import write_text_atomic
from cmcd.runs.sweep import SETTING_COLUMNS

__all__ = ["COLUMNS_FILE", "MEASURED", "SETTING_COLUMNS", "column_status", "read_column_status",
           "write_column_status"]  # fmt: skip

COLUMNS_FILE = "columns.json"
#: Status of a column that is neither a term nor a measured value.
SETTING = "setting"
#: Registry: columns measured against held-out labels -> what they measure (status
#: ``"measured"``, our word: neither a bound nor an estimate of one).
MEASURED: dict[str, str] = {
    "target_error": "error of the step-3 target model on the held-out target rows",
    "target_accuracy": "1 - target_error (held-out target rows)",
    "source_error": "err_A(h): the head on the held-out teacher latents",
    "transfer_error": "err_B(h): the same head on the held-out student latents",
    "aligned_source_error": "err_A(h o T_A) on the held-out aligned teacher latents",
    "aligned_transfer_error": "err_B(h o T_B) on the held-out aligned student latents",
    "n_eval": "number of held-out pairs the row's errors and TV terms are computed on",
}


def _setting(row: dict[str, Any], name: str, default: Any) -> Any:
    """Return a row's setting; ``default`` (``term_status``'s) when absent or empty."""
    value = row.get(name)
    if value is None or (isinstance(value, float) and value != value):
        return default
    if isinstance(value, str) and value in ("True", "False"):
        return value == "True"
    return value


def _row_status(name: str, row: dict[str, Any]) -> str:
    return term_status(
        name,
        split_pairs=bool(_setting(row, "split_pairs", True)),
        tv_method=str(_setting(row, "tv_method", "classifier")),
        rows_independent=bool(_setting(row, "rows_independent", True)),
    )


def _weakest(statuses: list[str]) -> str:
    return max(statuses, key=STATUSES.index) if statuses else "estimate"


def _status_of(column: str, rows: list[dict[str, Any]]) -> tuple[str, str]:
    if column in MEASURED:
        return "measured", MEASURED[column]
    if column in TERMS:
        return _weakest([_row_status(column, r) for r in rows]), TERMS[column][1]
    if column.startswith("tv_aligned_estimate_"):
        return "estimate", "marginal TV after the named alignment (an estimate)"
    return SETTING, "run id, grid value, run setting or timing"


def column_status(frame: pd.DataFrame) -> dict[str, Any]:
    """Return ``{"columns": {name: {"status", "meaning"}}, <settings>}`` for a results table.

    Examples
    --------
    >>> frame = pd.DataFrame({"tv_lower": [0.1], "bound": [0.3], "split_pairs": [False]})
    >>> status = column_status(frame)["columns"]
    >>> status["tv_lower"]["status"], status["bound"]["status"]
    ('estimate', 'estimate')
    """
    rows = frame.to_dict("records")
    columns = {}
    for column in frame.columns:
        status, meaning = _status_of(str(column), rows)
        columns[str(column)] = {"status": status, "meaning": meaning}
    settings = {name: _values(rows, name) for name in SETTING_COLUMNS}
    return {"columns": columns, **settings}


def _values(rows: list[dict[str, Any]], name: str) -> list[Any]:
    """Return the distinct values of a setting over the rows, as plain Python scalars."""
    found = {getattr(r[name], "item", lambda v=r[name]: v)() for r in rows
             if name in r and pd.notna(r[name])}  # fmt: skip
    return sorted(found, key=str)


def write_column_status(frame: pd.DataFrame, folder: str | Path) -> Path:
    """Write ``columns.json`` for ``frame`` into ``folder`` (atomically); return its path."""
    path = Path(folder) / COLUMNS_FILE
    write_text_atomic(path, json.dumps(column_status(frame), indent=2, sort_keys=True))
    return path


def read_column_status(path: str | Path) -> dict[str, Any]:
    """Read ``columns.json`` of a sweep folder (or beside a ``results.csv``).

    A sweep written before ``columns.json`` existed gets the statuses its table implies
    (:func:`column_status` of the table itself).
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    if (folder / COLUMNS_FILE).is_file():
        return json.loads((folder / COLUMNS_FILE).read_text())
    from cmcd.runs.sweep import read_results

    return column_status(read_results(folder))

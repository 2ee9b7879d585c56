"""Sweeps: a base run config plus a ``grid:`` of dotted keys, one results row per combination.

A sweep file is a run config (:mod:`cmcd.config`) with two more sections::

    data: {name: digits}
    distill: {loss: cmc}
    grid:                         # dotted key -> list of values (the cartesian product runs)
      data.gap: [0.0, 0.5, 1.0]
      distill.loss: [cmc, cmd, l2, none]
      seed: [0, 1, 2]
    bound: {tv_method: classifier, alpha: 0.05,    # optional: bounds.compute_bound options
            alignment: center, compare_alignments: [whiten, linear]}

:func:`run_sweep` runs every combination (``cmcd.runs.pipeline.run`` then
``bounds.target.generalization.bound_from_run``) and writes, under the sweep folder ``DIR``:

- ``sweep.yaml``: the resolved sweep spec; a different sweep in the same folder is refused;
- ``rows/RUN_ID.json``: one row per finished run, written atomically (temporary file then
  rename) as the run finishes: the record of what is done;
- ``columns.json``: each column's status (certified / certified under an assumption /
  estimate / measured / setting) and the settings it depends on (:mod:`cmcd.runs.columns`),
  rewritten atomically with ``results.csv``;
- ``results.csv``: every finished row, rebuilt atomically after each run (our choice: one
  small file per run plus a rebuilt table, so a kill at any moment loses no finished row and
  never leaves a half-written one);
- ``runs/RUN_ID/``: each run's ``result.json`` and ``features.npz``; ``cache/``: step
  checkpoints shared by the runs (one pre-trained teacher per data/model/seed setting).

Rerunning the same sweep skips finished runs. Runs that may share a teacher are scheduled so
the teacher is trained once: one "leader" run per seed (and model, pre-training settings and
dataset) first, the others after (our choice).

Examples
--------
>>> sweep = parse_sweep({"data": {"name": "synthetic"},
...                      "grid": {"distill.loss": ["cmc", "l2"], "seed": [0, 1]}})
>>> [(r.values["loss"], r.values["seed"]) for r in sweep.runs()]
[('cmc', 0), ('cmc', 1), ('l2', 0), ('l2', 1)]
>>> parse_sweep({"grid": {"distill.los": ["cmc"]}})
Traceback (most recent call last):
...
ValueError: unknown grid key 'distill.los'; valid keys: ...
"""

from __future__ import annotations

import copy
import inspect
import itertools
import json
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from bounds.target.alignment import ALIGNMENTS
from bounds.target.target_terms import TARGET_TERMS
from cmcd._checks import check_choice
from cmcd._io import folder_lock, write_text_atomic
from cmcd.config import (
    DOCS,
    Check,
    _choice,
    _count,
    _flag,
    _number,
    _optional,
    config_hash,
    load_config,
    resolve_config,
    set_dotted,
)
from cmcd.runs.executors import Executor, check_workers, make_executor

__all__ = [
    "METRIC_COLUMNS",
    "SETTING_COLUMNS",
    "RunTask",
    "Sweep",
    "SweepOutcome",
    "SweepRun",
    "bound_checks",
    "load_sweep",
    "parse_sweep",
    "read_results",
    "run_one",
    "run_sweep",
    "short_names",
    "valid_grid_keys",
]

GRID_SECTION = "grid"
BOUND_SECTION = "bound"
SPEC_FILE = "sweep.yaml"
RESULTS_FILE = "results.csv"
ROWS_DIR = "rows"
RUNS_DIR = "runs"
CACHE_DIR = "cache"

#: Columns every row has after ``run_id`` and the grid columns.
METRIC_COLUMNS: tuple[str, ...] = (
    "target_accuracy",
    "target_error",
    "transfer_error",
    "source_error",
    "tv_estimate",
    "tv_lower",
    "robust_tv_upper",
    "tv_joint_estimate",
    "tv_joint_lower",
    "bound",
    "disagreement",
    "certified_bound",
    "gap_norm",
    "pair_distance",
    "relative_gap",
    "erank_ratio",
    "radius_ratio",
    "aligned_source_error",
    "aligned_transfer_error",
    "tv_aligned_estimate",
    "tv_aligned_lower",
    "tv_aligned_joint_estimate",
    "tv_aligned_joint_lower",
    "aligned_bound",
    "aligned_certified_bound",
    *(f"tv_aligned_estimate_{name}" for name in ALIGNMENTS),
    *TARGET_TERMS,
    "n_eval",  # held-out pairs every error and TV of the row is computed on
    "seconds",
)
#: Per-row settings the statuses of the bound columns depend on (:mod:`cmcd.runs.columns`).
SETTING_COLUMNS: tuple[str, ...] = ("alpha", "split_pairs", "tv_method", "rows_independent")
_RESERVED = frozenset({"run_id", "alignment", *METRIC_COLUMNS, *SETTING_COLUMNS})
#: ``compute_bound`` arguments a sweep's ``bound:`` section may not set (they come from the run).
_BOUND_FIXED = frozenset(
    {
        *("z_source_train", "y_train", "z_source_test", "z_target_test", "y_test"),
        *("target_error", "z_align_source", "z_align_target", "z_target_train"),
        *("target_pred", "target_model", "source_model", "target_halves"),
        *("z_align_disjoint", "rows_independent"),
    }
)
#: Sections of a run config that do not change the pre-trained teacher (our grouping).
_AFTER_TEACHER = ("distill", "finetune")


@dataclass(frozen=True)
class SweepRun:
    """One combination of a sweep.

    Attributes
    ----------
    index : int
        Position in the grid order (first grid key varies slowest).
    run_id : str
        ``config_hash`` of the resolved run config (the id ``cmcd run`` reports).
    config : dict
        The resolved run config.
    values : dict
        Grid column name (short) -> value of this run.
    """

    index: int
    run_id: str
    config: dict[str, Any]
    values: dict[str, Any]


@dataclass(frozen=True)
class Sweep:
    """A resolved base config, a grid and the options of the bound.

    Build with :func:`parse_sweep` or :func:`load_sweep`, which validate everything.
    """

    base: dict[str, Any]
    grid: dict[str, list[Any]]
    bound: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def columns(self) -> dict[str, str]:
        """Dotted grid key -> its column name in ``results.csv``."""
        return short_names(list(self.grid))

    @cached_property
    def sweep_id(self) -> str:
        """Hash of the spec: two sweeps with equal ids run the same runs."""
        return config_hash(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        """Return the spec as written to ``DIR/sweep.yaml``."""
        return {"base": self.base, "grid": self.grid, "bound": self.bound}

    def runs(self) -> list[SweepRun]:
        """Every combination, in grid order (cartesian product, last key fastest)."""
        keys = list(self.grid)
        out = []
        for index, combo in enumerate(itertools.product(*self.grid.values())):
            cfg = self.base
            for key, value in zip(keys, combo, strict=True):
                cfg = set_dotted(cfg, key, value)
            cfg = _resolve_run(cfg)
            values = {self.columns[k]: v for k, v in zip(keys, combo, strict=True)}
            out.append(SweepRun(index, config_hash(cfg), cfg, values))
        return out


def _resolve_run(cfg: dict[str, Any]) -> dict[str, Any]:
    """Resolve one run config and check its dataset options without loading any data."""
    from cmcd.data import dataset_options

    cfg = resolve_config(cfg)
    name = cfg["data"]["name"]
    valid = dataset_options(name)
    unknown = sorted(set(cfg["data"]) - {"name"} - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {['data.' + k for k in unknown]} for dataset {name!r}; "
            f"valid options: {sorted(valid)}"
        )
    return cfg


def short_names(keys: list[str]) -> dict[str, str]:
    """Column name of each dotted key: its last part, lengthened until unique (our choice).

    A name is lengthened (``pretrain_epochs``) when two keys share a last part or when it
    would clash with ``run_id`` or a metric column.

    Examples
    --------
    >>> short_names(["data.gap", "pretrain.epochs", "distill.epochs", "seed"])
    {'data.gap': 'gap', 'pretrain.epochs': 'pretrain_epochs', 'distill.epochs': 'distill_epochs', 'seed': 'seed'}
    """  # noqa: E501
    depth = dict.fromkeys(keys, 1)
    while True:
        names = {k: "_".join(k.split(".")[-depth[k] :]) for k in keys}
        taken: dict[str, list[str]] = {}
        for key, name in names.items():
            taken.setdefault(name, []).append(key)
        clashes = [
            k
            for k, n in names.items()
            if (len(taken[n]) > 1 or n in _RESERVED) and depth[k] < len(k.split("."))
        ]
        if not clashes:
            return names
        for key in clashes:
            depth[key] += 1


def valid_grid_keys(base: dict[str, Any], dataset_names: list[str] | None = None) -> list[str]:
    """Dotted keys a grid may vary, for the datasets ``base`` and ``dataset_names`` name.

    Every documented config key (:data:`cmcd.config.DOCS`), ``data.OPTION`` for each option
    of those datasets, and any ``distill.params.NAME`` (loss hyper-parameters).

    Examples
    --------
    >>> "data.gap" in valid_grid_keys({"data": {"name": "digits"}})
    True
    """
    from cmcd.data import dataset_options

    names = {base.get("data", {}).get("name", "mfeat"), *(dataset_names or [])}
    keys = {k for k in DOCS if not k.startswith("data.") and k != "distill.params"}
    keys.add("data.name")
    for name in names:
        keys.update(f"data.{opt}" for opt in dataset_options(name))
    return sorted(keys) + ["distill.params.NAME"]


def _check_grid(grid: Any, base: dict[str, Any]) -> dict[str, list[Any]]:
    """Validate the ``grid:`` section: a non-empty mapping of known keys to non-empty lists."""
    if not isinstance(grid, dict) or not grid:
        raise ValueError(
            f"a sweep needs a non-empty 'grid:' mapping of dotted keys to lists, got {grid!r}"
        )
    names = grid.get("data.name", [])
    valid = valid_grid_keys(base, names if isinstance(names, list) else [])
    for key, values in grid.items():
        if not isinstance(key, str) or not (
            key in valid or (key.startswith("distill.params.") and key.count(".") == 2)
        ):
            raise ValueError(f"unknown grid key {key!r}; valid keys: {', '.join(valid)}")
        if not isinstance(values, list):
            raise ValueError(f"grid key {key!r} must map to a list of values, got {values!r}")
        if not values:
            raise ValueError(f"grid key {key!r} has an empty list of values")
        texts = [json.dumps(v, sort_keys=True, default=str) for v in values]
        if len(set(texts)) != len(texts):
            raise ValueError(f"grid key {key!r} repeats a value: {values!r}")
    return {k: list(v) for k, v in grid.items()}


def _mapping(value: Any, key: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a mapping, got {value!r}")
    return value


def _alignment_names(value: Any, key: str) -> list[str]:
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key} must be a list of names of {sorted(ALIGNMENTS)}, got {value!r}")
    return [check_choice(v, f"{key} entry", tuple(ALIGNMENTS)) for v in value]


def _gammas(value: Any, key: str) -> Any:
    from bounds.target.target_bounds import check_gammas

    check_gammas(value, key)
    return value


def bound_checks() -> dict[str, Check]:
    """Return the check of each option of a sweep's ``bound:`` section (its ranges).

    The options are ``compute_bound``'s keyword arguments less those a run fills in; each check
    is one of :mod:`cmcd.config`'s, so a bad value fails in :func:`parse_sweep`, before any run.

    Examples
    --------
    >>> bound_checks()["alpha"](2, "sweep key 'bound.alpha'")
    Traceback (most recent call last):
        ...
    ValueError: sweep key 'bound.alpha' must be a finite number in (0, 1), got 2
    """
    from bounds.tv.api import METHODS

    return {
        "tv_method": _choice(tuple(sorted(METHODS))),
        "alpha": _number(low=0, high=1, low_open=True, high_open=True),
        "random_state": _optional(_count(0)),
        "tv_kwargs": _optional(_mapping),
        "split_pairs": _optional(_flag),
        "min_class_samples": _count(1),
        "alignment": _choice(tuple(ALIGNMENTS)),
        "compare_alignments": _alignment_names,
        "gammas": _optional(_gammas),
    }


def _check_bound_options(bound: Any) -> dict[str, Any]:
    """Validate the ``bound:`` section: names against ``compute_bound``, values by range."""
    from bounds.target.generalization import compute_bound
    from bounds.tv.api import method_params

    if bound is None:
        return {}
    if not isinstance(bound, dict):
        raise ValueError(f"sweep section 'bound' must be a mapping, got {bound!r}")
    params = inspect.signature(compute_bound).parameters
    valid = sorted(set(params) - _BOUND_FIXED - {"estimate_tv"})
    unknown = sorted(set(bound) - set(valid))
    if unknown:
        raise ValueError(f"unknown key(s) {unknown} in sweep section 'bound'; valid: {valid}")
    checks = bound_checks()
    for name, value in bound.items():
        checks[name](value, f"sweep key 'bound.{name}'")
    method = bound.get("tv_method", params["tv_method"].default)
    extra = sorted(set(bound.get("tv_kwargs") or {}) - set(method_params(method)))
    if extra:
        raise ValueError(
            f"unknown key(s) {extra} in sweep key 'bound.tv_kwargs' for tv_method {method!r}; "
            f"valid: {method_params(method)}"
        )
    return dict(bound)


def parse_sweep(spec: dict[str, Any]) -> Sweep:
    """Build a :class:`Sweep` from a mapping (a sweep file's content) and validate it.

    Raises
    ------
    ValueError
        No or empty grid, an unknown grid key (the valid keys are listed), a grid value
        that is not a non-empty list, or any combination that is not a valid run config.
    """
    if not isinstance(spec, dict):
        raise ValueError(f"a sweep spec must be a mapping, got {type(spec).__name__}")
    spec = copy.deepcopy(spec)
    grid = spec.pop(GRID_SECTION, None)
    bound = _check_bound_options(spec.pop(BOUND_SECTION, None))
    base = resolve_config(spec)
    sweep = Sweep(base, _check_grid(grid, base), bound)
    runs = sweep.runs()  # validates every combination before anything runs
    if len({r.run_id for r in runs}) != len(runs):
        raise ValueError("two grid combinations resolve to the same run config")
    return sweep


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep YAML file (see :func:`parse_sweep`)."""
    return parse_sweep(load_config(path))


# ----------------------------------------------------------------------------- per-run work
@dataclass(frozen=True)
class RunTask:
    """Everything one worker needs for one run (picklable)."""

    run_id: str
    config: dict[str, Any]
    values: dict[str, Any]
    run_dir: str
    cache_dir: str
    bound: dict[str, Any]


def run_one(task: RunTask) -> dict[str, Any]:
    """Run one sweep combination and compute its bound; return its results row.

    Errors are caught and returned as ``{"run_id": ..., "error": message}`` (the traceback
    goes to ``run_dir/error.txt``) so that one failing run does not stop the sweep.
    """
    from bounds.target.generalization import bound_from_run
    from cmcd.runs.pipeline import run

    start = time.perf_counter()
    try:
        result = run(task.config, task.run_dir, progress=False, cache_dir=task.cache_dir)
        kwargs = {"random_state": int(task.config["seed"]), **task.bound}
        report = bound_from_run(task.run_dir, **kwargs).to_dict()
    except Exception as err:  # reported per run; the sweep goes on
        Path(task.run_dir).mkdir(parents=True, exist_ok=True)
        (Path(task.run_dir) / "error.txt").write_text(traceback.format_exc())
        return {"run_id": task.run_id, "error": f"{type(err).__name__}: {err}"}
    row = {"run_id": task.run_id, **{k: _cell(v) for k, v in task.values.items()}}
    row.update({k: report.get(k) for k in (*METRIC_COLUMNS, *SETTING_COLUMNS) if k in report})
    row["alignment"] = report["alignment"]
    row["target_accuracy"] = result["target_accuracy"]
    row["target_error"] = result["target_error"]
    row["n_eval"] = result.get("n_eval")
    row["seconds"] = round(time.perf_counter() - start, 3)
    return row


def _cell(value: Any) -> Any:
    """Return a grid value as a CSV cell: scalars as they are, lists and mappings as JSON."""
    if isinstance(value, (list, dict)):
        return json.dumps(value, sort_keys=True)
    return value


# ----------------------------------------------------------------------------- the folder
def _flatten(obj: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(obj, dict):
        return {prefix[:-1]: obj}
    out: dict[str, Any] = {}
    for key, value in obj.items():
        out.update(_flatten(value, f"{prefix}{key}."))
    return out


def _check_same_sweep(sweep: Sweep, out: Path) -> None:
    """Refuse a folder that holds another sweep (or results without a spec)."""
    spec_path = out / SPEC_FILE
    if not spec_path.is_file():
        if (out / RESULTS_FILE).exists() or any((out / ROWS_DIR).glob("*.json")):
            raise ValueError(
                f"{out} holds a results file from a different sweep (no {SPEC_FILE}); "
                "refusing to mix: use another --out folder"
            )
        return
    try:
        stored = yaml.safe_load(spec_path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ValueError(f"{spec_path} is not readable: {err}") from None
    if not isinstance(stored, dict) or stored.get("sweep_id") != sweep.sweep_id:
        old = _flatten(stored if isinstance(stored, dict) else {})
        new = _flatten({**sweep.to_dict(), "sweep_id": sweep.sweep_id})
        diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        raise ValueError(
            f"{out} holds results from a different sweep ({SPEC_FILE} differs in: "
            f"{', '.join(diff[:8])}); refusing to mix: use another --out folder"
        )


def _read_rows(out: Path) -> dict[str, dict[str, Any]]:
    """Finished rows by run id (skipping temporary files of an interrupted write).

    A row file that cannot be used (0 bytes, truncated, not JSON, no ``run_id``, an error
    row) is reported by a warning naming it and counts as not finished: that run is rerun
    and its row file replaced (our choice, as for an unreadable checkpoint).
    """
    rows = {}
    for path in sorted((out / ROWS_DIR).glob("*.json")):
        row, problem = _read_row(path)
        if problem is None:
            rows[row["run_id"]] = row
        else:
            warnings.warn(
                f"sweep row file {path} {problem}; its run counts as not finished and is "
                "rerun (the file is replaced)",
                RuntimeWarning,
                stacklevel=2,
            )
    return rows


def _read_row(path: Path) -> tuple[dict[str, Any], str | None]:
    """Read one row file; return (row, None), or ({}, what is wrong with it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return {}, "is not text (binary junk)"
    except OSError as err:
        return {}, f"cannot be read ({err.strerror or err})"
    if not text.strip():
        return {}, "is empty"
    try:
        row = json.loads(text)
    except ValueError:
        return {}, "is not valid JSON (truncated?)"
    if not isinstance(row, dict) or row.get("run_id") in (None, ""):
        return {}, "holds no 'run_id' (not a row of a sweep)"
    row["run_id"] = str(row["run_id"])
    if row["run_id"] != path.stem:
        return {}, f"holds the row of run {row['run_id']!r}, not of {path.stem!r}"
    if "error" in row:
        return {}, "holds a failed run's error"
    return row, None


def _rebuild_results(sweep: Sweep, runs: list[SweepRun], out: Path) -> pd.DataFrame:
    """Rewrite ``results.csv`` atomically from the row files, in grid order."""
    rows = _read_rows(out)
    stray = sorted(set(rows) - {r.run_id for r in runs})
    if stray:
        raise ValueError(
            f"{out / ROWS_DIR} holds rows {stray[:3]} that are not runs of this sweep; "
            "refusing to mix: use another --out folder"
        )
    from cmcd.runs.columns import write_column_status

    columns = ["run_id", *sweep.columns.values(), *METRIC_COLUMNS, *SETTING_COLUMNS]
    frame = pd.DataFrame([rows[r.run_id] for r in runs if r.run_id in rows], columns=columns)
    write_text_atomic(out / RESULTS_FILE, frame.to_csv(index=False))
    write_column_status(frame, out)
    return frame


def _teacher_group(cfg: dict[str, Any]) -> str:
    """Key of the runs that may share a pre-trained teacher (our choice).

    Everything but the distillation and fine-tuning sections and the dataset options other
    than its name: the pipeline keys a teacher by its training inputs, so e.g. the runs of a
    gap sweep that differ only in the target view's gap share one.
    """
    part = {k: v for k, v in cfg.items() if k not in _AFTER_TEACHER}
    part["data"] = {"name": cfg["data"]["name"]}
    return config_hash(part)


def _schedule(runs: list[SweepRun]) -> list[list[SweepRun]]:
    """Two waves: one run per teacher group, then the rest (teachers trained once)."""
    leaders: dict[str, SweepRun] = {}
    for run in runs:
        leaders.setdefault(_teacher_group(run.config), run)
    first = list(leaders.values())
    chosen = {r.run_id for r in first}
    return [wave for wave in (first, [r for r in runs if r.run_id not in chosen]) if wave]


@dataclass
class SweepOutcome:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    results : pandas.DataFrame
        ``results.csv`` after the sweep: every finished row, in grid order.
    ran, skipped : int
        Runs finished now, and runs found finished before.
    failed : dict
        Run id -> error message of the runs that failed (rerun the sweep to retry them).
    """

    results: pd.DataFrame
    ran: int
    skipped: int
    failed: dict[str, str]


def _prepare(sweep: Sweep, runs: list[SweepRun], out: Path) -> None:
    """Create the folder layout and record the spec (first time) after checking it."""
    _check_same_sweep(sweep, out)
    for sub in (ROWS_DIR, RUNS_DIR, CACHE_DIR):
        (out / sub).mkdir(parents=True, exist_ok=True)
    _adopt_table_rows(runs, out)
    if not (out / SPEC_FILE).is_file():
        spec = {"sweep_id": sweep.sweep_id, **sweep.to_dict()}
        write_text_atomic(out / SPEC_FILE, yaml.safe_dump(spec, sort_keys=False))


def _adopt_table_rows(runs: list[SweepRun], out: Path) -> None:
    """Give every row of ``results.csv`` that lacks a row file one (e.g. a copied folder)."""
    if not (out / RESULTS_FILE).is_file():
        return
    table = read_results(out / RESULTS_FILE)
    stray = sorted(set(table["run_id"]) - {r.run_id for r in runs})
    if stray:
        raise ValueError(
            f"{out / RESULTS_FILE} holds rows {stray[:3]} that are not runs of this sweep; "
            "refusing to mix: use another --out folder"
        )
    for row in table.to_dict("records"):
        path = out / ROWS_DIR / f"{row['run_id']}.json"
        if not path.exists():
            write_text_atomic(path, json.dumps(row))


def _task(run: SweepRun, sweep: Sweep, out: Path) -> RunTask:
    return RunTask(
        run.run_id,
        run.config,
        run.values,
        str(out / RUNS_DIR / run.run_id),
        str(out / CACHE_DIR),
        sweep.bound,
    )


def run_sweep(
    sweep: Sweep,
    out_dir: str | Path,
    *,
    executor: str = "local",
    workers: int = 1,
    progress: bool = True,
    run_fn: Callable[[RunTask], dict[str, Any]] = run_one,
    **executor_options: Any,
) -> SweepOutcome:
    """Run every unfinished combination of ``sweep`` and collect the rows in ``results.csv``.

    Parameters
    ----------
    sweep : Sweep
        From :func:`load_sweep` or :func:`parse_sweep`.
    out_dir : str or Path
        The sweep folder (layout in the module docstring); created if needed.
    executor : str
        A name in :data:`cmcd.runs.executors.EXECUTORS` (``local`` or ``ray``).
    workers : int
        Runs at once.
    progress : bool
        Show a progress bar over runs.
    run_fn : callable
        The per-run work, ``run_fn(RunTask) -> row`` (default :func:`run_one`); a module-level
        function, so that worker processes can import it. A row holding ``"error"`` marks a
        failed run.
    **executor_options
        Passed to the executor (``threads``; ``address`` for Ray).

    Returns
    -------
    SweepOutcome

    Raises
    ------
    ValueError
        When ``executor`` is unknown or ``workers`` / ``threads`` is not an integer >= 1
        (all checked before anything is written), ``out_dir``
        holds a different sweep, or another sweep process holds it.
    """
    from tqdm.auto import tqdm

    _check_executor_options(executor, workers, executor_options)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    runs = sweep.runs()
    failed: dict[str, str] = {}
    with folder_lock(out, "sweep"):
        _prepare(sweep, runs, out)
        done = set(_rebuild_results(sweep, runs, out)["run_id"])
        todo = [r for r in runs if r.run_id not in done]
        if todo:
            pool = make_executor(executor, workers, **executor_options)
            bar = tqdm(
                total=len(runs), initial=len(done), desc="sweep", unit="run", disable=not progress
            )
            with pool, bar:
                for row in _execute(pool, run_fn, sweep, runs, todo, out):
                    if "error" in row:
                        failed[row["run_id"]] = row["error"]
                    bar.update(1)
        results = _rebuild_results(sweep, runs, out)
    return SweepOutcome(results, len(todo) - len(failed), len(done), failed)


def _check_executor_options(executor: str, workers: int, options: dict[str, Any]) -> None:
    """Check the executor's name, ``workers`` and ``threads`` before any folder is made."""
    from cmcd._checks import check_count
    from cmcd.runs.executors import EXECUTORS

    check_choice(executor, "executor", tuple(sorted(EXECUTORS)))
    check_workers(workers)
    if options.get("threads") is not None:
        check_count(options["threads"], "threads")


def _execute(
    pool: Executor,
    run_fn: Callable[[RunTask], dict[str, Any]],
    sweep: Sweep,
    runs: list[SweepRun],
    todo: list[SweepRun],
    out: Path,
) -> Iterator[dict[str, Any]]:
    """Run ``todo`` wave by wave; record each finished row at once; yield every row."""
    for wave in _schedule(todo):
        tasks = [_task(r, sweep, out) for r in wave]
        for _, row in pool.map_unordered(run_fn, tasks):
            if "error" not in row:
                write_text_atomic(out / ROWS_DIR / f"{row['run_id']}.json", json.dumps(row))
                _rebuild_results(sweep, runs, out)
            yield row


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a sweep's ``results.csv`` (``path`` is the file or the sweep folder).

    Raises
    ------
    FileNotFoundError
        When there is no results file.
    ValueError
        When the file is not a sweep results table (no ``run_id`` column).
    """
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"sweep results file not found: {path}")
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path} is not a readable CSV file: {err}") from None
    if "run_id" not in frame.columns:
        raise ValueError(f"{path} is not a sweep results table: it has no 'run_id' column")
    return frame

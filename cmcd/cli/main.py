"""Command-line interface: ``cmcd <command> ...`` (also ``python -m cmcd``).

Each command is a pair (``add_arguments``, ``handler``) in :data:`COMMANDS`; ``main`` builds the
parser from that registry. Run ``cmcd <command> --help`` for examples.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from bounds.target.generalization import BoundReport

from cmcd._checks import DataError
from cmcd.runs.executors import EXECUTORS, MissingExtraError

__all__ = [
    "BOUND_EXAMPLES",
    "ERROR_CODES",
    "build_parser",
    "COMMANDS",
    "HEADER_CHOICES",
    "load_array",
    "main",
    "RANK_EXAMPLES",
    "REPORT_EXAMPLES",
    "RUN_EXAMPLES",
    "SWEEP_EXAMPLES",
    "TV_EXAMPLES",
]

RUN_EXAMPLES = """examples:
  cmcd run configs/mfeat_cmc.yaml --out runs/mfeat_cmc
  cmcd run configs/mfeat_cmc.yaml --set distill.loss=cmd --set seed=1 --out runs/cmd_s1
  cmcd defaults            # every config key with its default and meaning
"""

TV_EXAMPLES = """examples:
  cmcd tv teacher.npy student.npy
  cmcd tv features.npz:z_source_test features.npz:z_target_test --method partition --json
"""


def _add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="YAML run config")
    p.add_argument("--out", required=True, help="output folder (result.json, features.npz)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key (dotted), value parsed as YAML; repeatable",
    )
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a run of another config in --out (without it such a folder is refused; "
        "a run of the same config always resumes)",
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from cmcd.config import apply_overrides, load_config
    from cmcd.runs.pipeline import run
    from cmcd.validation import check_out_dir

    # overrides apply before validation, so that --set can fix a value of the file
    cfg = apply_overrides(load_config(args.config), args.overrides)
    check_out_dir(args.out, outputs=("result.json", "features.npz"))
    result = run(cfg, args.out, progress=not args.no_progress, overwrite=args.overwrite)
    keys = ("target_accuracy", "target_error", "source_accuracy", "timings")
    print(json.dumps({k: result[k] for k in keys}, indent=2))
    print(f"wrote {Path(args.out) / 'result.json'} and {Path(args.out) / 'features.npz'}")
    return 0


def _add_defaults(p: argparse.ArgumentParser) -> None:
    del p  # no arguments


def _cmd_defaults(args: argparse.Namespace) -> int:
    from cmcd.config import describe_defaults

    print(describe_defaults())
    return 0


HEADER_CHOICES: dict[str, str | bool] = {"infer": "infer", "yes": True, "no": False}
"""``--header`` value -> the ``header`` option of :func:`cmcd.data.files.read_table`."""


def load_array(
    spec: str, key: str = "file", header: str | bool = "infer", index_col: int | str | None = None
) -> np.ndarray:
    """Read one sample with the datasets' reader (:func:`cmcd.data.files.read_array`).

    ``.npy``, ``.npz`` (``FILE.npz:KEY``), ``.csv`` or ``.parquet``; nothing is unpickled, text
    columns and pandas' index column are refused by name.
    """
    from cmcd.data.files import read_array

    return read_array(spec, key=key, header=header, index_col=index_col)


def _index_col(text: str) -> int | str:
    """``--index-col``: a column position (digits) or a column name."""
    return int(text) if text.isdigit() else text


def _seed(text: str) -> int:
    """``--seed``: an integer in [0, 2**32 - 1], numpy's range of seeds."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"must be an integer in [0, 2**32 - 1], got {text!r}")
    return value


def _add_tv(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="source sample file (.npy, .npz[:KEY], .csv, .parquet)")
    p.add_argument("target", help="target sample file")
    p.add_argument("--method", default="classifier", help="estimator name (bounds.METHODS)")
    p.add_argument("--alpha", type=float, default=0.05, help="miscoverage of the lower bound")
    p.add_argument("--seed", type=_seed, default=0, help="random_state of the estimator")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--header",
        default="infer",
        choices=sorted(HEADER_CHOICES),
        help="CSV: does the first row name the columns? (infer: yes unless it is numbers like "
        "the rows below it; rules in cmcd.data.files)",
    )
    p.add_argument(
        "--index-col",
        type=_index_col,
        default=None,
        help="CSV/parquet: a column (position or name) to drop as the row index (pandas' "
        "further index columns go too); without it an index column is refused",
    )


def _cmd_tv(args: argparse.Namespace) -> int:
    from bounds import estimate_tv

    options = {"header": HEADER_CHOICES[args.header], "index_col": args.index_col}
    est = estimate_tv(
        load_array(args.source, "source", **options),
        load_array(args.target, "target", **options),
        method=args.method,
        alpha=args.alpha,
        random_state=args.seed,
    )
    if args.json:
        print(json.dumps(est.to_dict(), indent=2))
    else:
        print(est.to_frame().to_string(index=False))
    return 0


SWEEP_EXAMPLES = """examples:
  cmcd sweep configs/sweep_digits_gap.yaml --out runs/digits_gap --workers 2
  cmcd sweep configs/sweep_digits_gap.yaml --out runs/digits_gap --executor ray --workers 4
  cmcd sweep configs/sweep_digits_gap.yaml --out runs/digits_gap --executor ray --address auto

Rerunning the same command skips finished runs (rows live in DIR/rows/, DIR/results.csv is
rebuilt after every run); a different sweep in the same DIR is refused.
"""

BOUND_EXAMPLES = """examples:
  cmcd bound runs/mfeat_cmc                  # one run: every term of the bound
  cmcd bound runs/mfeat_cmc --json --alpha 0.1
  cmcd bound runs/digits_gap                 # a sweep folder (or its results.csv): bound columns
"""

REPORT_EXAMPLES = """examples:
  cmcd report runs/digits_gap                # tables, DIR/report.md and figures in DIR/figures
  cmcd report runs/digits_gap --figures figures --prefix digits_gap_
"""


MAX_PROCESSES = 1024
"""Cap on ``--threads`` and ``--workers`` (our choice)."""


def _positive_int(text: str) -> int:
    """Parse ``--threads`` or ``--workers``: an integer in [1, 1024] (argparse names it)."""
    from cmcd._checks import check_size

    try:
        return check_size(int(text), "the value", 1, MAX_PROCESSES)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be an integer >= 1 and at most {MAX_PROCESSES}, got {text!r}"
        ) from None


def _add_sweep(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="YAML sweep: a run config plus grid: {dotted.key: [values]}")
    p.add_argument("--out", required=True, help="sweep folder (results.csv, sweep.yaml, runs/)")
    p.add_argument(
        "--executor",
        default="local",
        choices=sorted(EXECUTORS),
        help="local: process pool on this machine (default); ray: Ray tasks",
    )
    p.add_argument("--workers", type=_positive_int, default=1, help="runs at once (default 1)")
    p.add_argument(
        "--threads",
        type=_positive_int,
        default=None,
        help="torch threads per run (default: CPU count // workers)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="ray only: address of a running cluster (default: start a local one)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _cmd_sweep(args: argparse.Namespace) -> int:
    from cmcd.runs.sweep import RESULTS_FILE, load_sweep, run_sweep
    from cmcd.validation import check_out_dir

    sweep = load_sweep(args.config)
    check_out_dir(args.out, outputs=(RESULTS_FILE,))
    outcome = run_sweep(
        sweep,
        args.out,
        executor=args.executor,
        workers=args.workers,
        progress=not args.no_progress,
        threads=args.threads,
        address=args.address,
    )
    total = outcome.ran + outcome.skipped + len(outcome.failed)
    print(
        f"{total} runs: {outcome.ran} ran, {outcome.skipped} skipped (finished before), "
        f"{len(outcome.failed)} failed"
    )
    for run_id, error in outcome.failed.items():
        print(f"  failed {run_id}: {error} (traceback: {args.out}/runs/{run_id}/error.txt)")
    print(f"results: {Path(args.out) / RESULTS_FILE}")
    return 1 if outcome.failed else 0


def _add_bound(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "path",
        help="a run folder (features.npz, result.json): computes every term; or a sweep folder "
        "or its results.csv: shows the stored bound columns (the options below do not apply)",
    )
    p.add_argument("--tv-method", default="classifier", help="TV estimator (bounds.METHODS)")
    p.add_argument("--alpha", type=float, default=0.05, help="miscoverage of certified terms")
    p.add_argument(
        "--alignment",
        default="center",
        help="alignment map of the aligned terms (bounds.ALIGNMENTS: none, center, whiten, linear)",
    )
    p.add_argument(
        "--compare-alignments",
        nargs="*",
        default=[],
        help="further maps whose aligned marginal TV is reported beside it",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random_state (default: the run's seed from result.json, else 0)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _run_seed(run_dir: Path) -> int:
    """Return the seed of the run config in ``result.json`` (0 when absent or unreadable)."""
    try:
        return int(json.loads((run_dir / "result.json").read_text())["config"]["seed"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def _cmd_bound(args: argparse.Namespace) -> int:
    from cmcd.runs.sweep import RESULTS_FILE

    path = Path(args.path)
    if path.is_file() or (path / RESULTS_FILE).is_file():
        return _print_sweep_bounds(path, args.json)
    from bounds.target.generalization import bound_from_run

    seed = _run_seed(path) if args.seed is None else args.seed
    report = bound_from_run(
        path,
        tv_method=args.tv_method,
        alpha=args.alpha,
        random_state=seed,
        alignment=args.alignment,
        compare_alignments=args.compare_alignments,
    )
    print(json.dumps(_bound_json(report), indent=2, default=str) if args.json else report.summary())
    return 0


def _bound_json(report: BoundReport) -> dict[str, object]:
    """Return a run's bound as JSON: values, each term's status, settings and rows used.

    Errors read off held-out labels are ``"measured"``, as in a sweep's ``columns.json``.
    """
    from bounds.target.generalization import TERMS
    from cmcd.runs.columns import MEASURED

    status = {n: "measured" if n in MEASURED else report.status(n) for n in TERMS}
    return {
        "values": report.to_dict(),
        "status": status,
        "alpha": report.alpha,
        "split_pairs": report.split_pairs,
        "tv_method": report.tv_method,
        "rows_independent": report.rows_independent,
        "rows": report.details.get("rows"),
    }


def _print_sweep_bounds(path: Path, as_json: bool) -> int:
    from cmcd.runs.report import coverage_table, grid_columns
    from cmcd.runs.sweep import read_results

    df = read_results(path)
    columns = [
        "run_id",
        *grid_columns(df),
        "source_error",
        "transfer_error",
        "target_error",
        "tv_joint_estimate",
        "bound",
        "disagreement",
        "certified_bound",
        *("gap_norm", "tv_aligned_estimate", "aligned_bound", "aligned_certified_bound"),
    ]
    columns = [c for c in columns if c in df.columns]
    coverage = coverage_table(df, by=None)
    if as_json:
        from cmcd.runs.columns import read_column_status

        out = {
            "runs": df[columns].to_dict("records"),
            "coverage": coverage.to_dict("records"),
            "columns": read_column_status(path),
        }
        print(json.dumps(out, indent=2, default=str))
    else:
        print(df[columns].to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        print(
            "\nruns whose certified bound sits below the error it certifies, on the same rows "
            "(a sanity check, not a validity test):"
        )
        print(coverage.to_string(index=False))
    return 0


def _add_report(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", help="a sweep folder or its results.csv")
    p.add_argument("--figures", default=None, help="figure folder (default: DIR/figures)")
    p.add_argument("--prefix", default="", help="prepended to figure file names")
    p.add_argument(
        "--by",
        default=None,
        help="grouping column of the tables, one of the sweep's grid columns "
        "(default: loss when the grid has it, else no grouping)",
    )
    p.add_argument("--no-figures", action="store_true", help="print the tables only")


def _report_by(path: str, by: str | None) -> str:
    """Check ``--by`` against the sweep's grid columns; None keeps the default ``loss``."""
    from cmcd._checks import did_you_mean
    from cmcd.runs.report import grid_columns
    from cmcd.runs.sweep import read_results

    if by is None:
        return "loss"  # sweep_report skips the grouping when loss is not a column
    valid = grid_columns(read_results(path))
    if by not in valid:
        raise ValueError(
            f"--by {by!r} is not a grid column of {path}{did_you_mean(by, valid)}; "
            f"valid columns: {valid}"
        )
    return by


def _cmd_report(args: argparse.Namespace) -> int:
    from cmcd.runs.report import sweep_report
    from cmcd.validation import check_out_dir

    if args.figures is not None and not args.no_figures:
        check_out_dir(args.figures, option="--figures")  # before any work: a file is refused
    report = sweep_report(
        args.path,
        figures_dir=args.figures,
        by=_report_by(args.path, args.by),
        prefix=args.prefix,
        write=not args.no_figures,
    )
    print(report.markdown)
    for name, path in report.figures.items():
        print(f"figure {name}: {path}")
    return 0


RANK_EXAMPLES = """examples:
  cmcd rank-teachers runs/mfeat_teachers      # a sweep with data.source in its grid
  cmcd rank-teachers runs/t --terms pair_disagreement certified_target_bound
"""


def _add_rank(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", help="sweep folders or results.csv files (rows are joined)")
    p.add_argument(
        "--terms",
        nargs="+",
        default=None,
        help="label-free terms to rank by (default: every one the results hold)",
    )
    p.add_argument("--source", default="source", help="column of the candidate teacher")
    p.add_argument("--target", default="target", help="column of the target view (optional)")


def _cmd_rank(args: argparse.Namespace) -> int:
    import pandas as pd

    from bounds.report.tightness import rank_teachers
    from bounds.target.target_terms import TARGET_TERMS
    from cmcd.runs.sweep import read_results

    frame = pd.concat([read_results(p) for p in args.paths], ignore_index=True)
    if args.source not in frame:
        raise ValueError(f"--source {args.source!r} is not a column of the results: "
                         f"{sorted(frame.columns)}")  # fmt: skip
    if args.target not in frame:
        frame[args.target] = "all"
    free = [t for t in TARGET_TERMS if t != "target_head_error"]  # measured, when present
    terms = args.terms or [t for t in free if t in frame and frame[t].notna().any()]
    if not terms:
        raise ValueError("the results hold no label-free target term; rerun the sweep's bound")
    ranks = rank_teachers(frame, terms, target=args.target, source=args.source)
    print(ranks.to_markdown(index=False, floatfmt=".3f"))
    print(
        "\nkendall_tau [tau_low, tau_high]: 95% bootstrap interval (estimates); finding: it "
        "excludes 0. best_by_term is picked after seeing every teacher's value: not "
        "certified at alpha for the picked teacher."
    )
    return 0


COMMANDS: dict[str, tuple[str, str, Callable, Callable]] = {
    "run": ("run the three steps for one config", RUN_EXAMPLES, _add_run, _cmd_run),
    "defaults": ("list every config key with its default", "", _add_defaults, _cmd_defaults),
    "tv": ("estimate the TV distance between two samples", TV_EXAMPLES, _add_tv, _cmd_tv),
    "sweep": ("run every combination of a sweep's grid", SWEEP_EXAMPLES, _add_sweep, _cmd_sweep),
    "bound": (
        "the generalization bound of a run or of a sweep's runs",
        BOUND_EXAMPLES,
        _add_bound,
        _cmd_bound,
    ),
    "report": (
        "summary tables and theory-vs-practice figures of a sweep",
        REPORT_EXAMPLES,
        _add_report,
        _cmd_report,
    ),
    "rank-teachers": (
        "rank candidate teachers by label-free terms (Kendall tau with the target error)",
        RANK_EXAMPLES,
        _add_rank,
        _cmd_rank,
    ),
}


def _add_debug(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug",
        action="store_true",
        default=default,
        help="show the Python traceback of an error instead of its one-line message",
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser from :data:`COMMANDS`."""
    from cmcd import __version__

    parser = argparse.ArgumentParser(prog="cmcd", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"cmcd {__version__}")
    _add_debug(parser, default=False)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, examples, add_args, handler) in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=examples,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        add_args(p)
        _add_debug(p, default=argparse.SUPPRESS)
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; errors are reported as one line on stderr, never as a traceback.

    Exit status (our choice, after the shell conventions): 0 success; 2 a usage error (a
    config key, an argument or a file refused as given, argparse's own errors); 1 a data or
    system error (a file that cannot be read or holds damaged content,
    :class:`cmcd._checks.DataError`, permissions, a read-only folder, memory, a non-finite
    training loss, an internal error); 130 Ctrl-C (``128 + SIGINT``); 141 the reader of
    stdout went away (``cmcd defaults | head``: ``128 + SIGPIPE``, nothing printed).
    ``--debug`` (anywhere on the line, or ``CMCD_DEBUG=1``) re-raises with the traceback.
    """
    raw = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in raw or os.environ.get("CMCD_DEBUG", "") not in ("", "0")
    command = "cmcd"
    try:
        args = build_parser().parse_args(argv)
        command = f"cmcd {args.command}"
        with _stderr_lines(command):
            code = args.handler(args)
            sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
        return code
    except KeyboardInterrupt:
        print("cmcd: interrupted (Ctrl-C)", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return _broken_pipe()
    except Exception as err:
        if debug:
            raise
        code, message = _error_line(err)
        print(f"{command}: error: {message}", file=sys.stderr)
        return code


def _broken_pipe() -> int:
    """Point stdout at /dev/null (so the exit flush raises nothing) and return 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (tests)
        pass
    return 141


ERROR_CODES: tuple[tuple[type[BaseException], int], ...] = (
    (MissingExtraError, 2),
    (DataError, 1),
    (FileNotFoundError, 2),
    (IsADirectoryError, 2),
    (NotADirectoryError, 2),
    (ValueError, 2),
    (FloatingPointError, 1),  # cmcd.train.training.NonFiniteLossError
    (MemoryError, 1),
    (OSError, 1),
)
"""Exception class -> exit status, first match wins; anything else exits 1."""


_OS_HINTS = {
    errno.EACCES: "check its permissions",
    errno.EPERM: "check its permissions",
    errno.ENOSPC: "free some disk space, then rerun (finished steps are kept)",
    errno.EROFS: "it is on a read-only file system: use another --out folder",
}
"""errno -> what to do, appended to the one-line message of an ``OSError``."""


def _error_line(err: BaseException) -> tuple[int, str]:
    """Return (exit status, one-line message) for an exception that reached :func:`main`."""
    code = next((c for kind, c in ERROR_CODES if isinstance(err, kind)), 1)
    text = " ".join(str(err).split())
    if isinstance(err, MemoryError) or "can't allocate memory" in text:
        return 1, (
            f"out of memory ({text[:160] or type(err).__name__}): reduce the sizes in the "
            "config (model.*, batch sizes, data.n_samples) or use a machine with more memory"
        )
    if isinstance(err, OSError) and not isinstance(err, FileNotFoundError):
        if err.filename is not None:
            hint = _OS_HINTS.get(err.errno or 0, "check the path")
            return code, f"{err.filename}: {err.strerror or text}; {hint}"
    if code == 1 and not isinstance(err, (DataError, FloatingPointError, OSError)):
        text = (
            f"internal error {type(err).__name__}: {text[:300]} (please report it; rerun with "
            "--debug for the traceback)"
        )
    return code, text


@contextlib.contextmanager
def _stderr_lines(command: str) -> Iterator[None]:
    """While a command runs: warnings print as one line, the readers' decisions too.

    The table reader (:mod:`cmcd.data.files`) logs what it decided about a file (header,
    index, dropped columns, rows) to the ``cmcd`` logger at INFO; the CLI shows it.
    """
    logger = logging.getLogger("cmcd")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{command}: %(message)s"))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False

    def show(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        text = " ".join(str(message).split())
        print(f"{command}: warning: {text}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show
            yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

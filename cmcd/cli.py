"""Command-line interface: ``cmcd <command> ...`` (also ``python -m cmcd``).

Each command is a pair (``add_arguments``, ``handler``) in :data:`COMMANDS`; ``main`` builds the
parser from that registry. Run ``cmcd <command> --help`` for examples.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

import numpy as np

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
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (dotted), value parsed as YAML; repeatable")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _cmd_run(args: argparse.Namespace) -> int:
    from cmcd.config import apply_overrides, load_config, resolve_config
    from cmcd.pipeline import run

    cfg = apply_overrides(resolve_config(load_config(args.config)), args.overrides)
    result = run(cfg, args.out, progress=not args.no_progress)
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


def load_array(spec: str) -> np.ndarray:
    """Read a 2-D array from ``.npy``, ``.npz`` (``FILE.npz:KEY``), ``.csv`` or ``.parquet``.

    Files are read without unpickling (``allow_pickle=False``).
    """
    import pandas as pd

    path_str, _, key = spec.partition(".npz:")
    if key:
        path_str += ".npz"
    path = Path(path_str)
    if not path.is_file():
        raise FileNotFoundError(f"array file not found: {path}")
    suffix = path.suffix.lower()
    readers: dict[str, Callable[[], np.ndarray]] = {
        ".npy": lambda: np.load(path, allow_pickle=False),
        ".npz": lambda: _npz_key(path, key),
        ".csv": lambda: pd.read_csv(path).select_dtypes("number").to_numpy(),
        ".parquet": lambda: pd.read_parquet(path).select_dtypes("number").to_numpy(),
    }
    if suffix not in readers:
        raise ValueError(f"unsupported file type {suffix!r} for {path}; use {sorted(readers)}")
    try:
        return readers[suffix]()
    except ValueError as err:
        raise ValueError(f"could not read {path}: {err}") from None


def _npz_key(path: Path, key: str) -> np.ndarray:
    with np.load(path, allow_pickle=False) as data:
        if not key:
            if len(data.files) != 1:
                raise ValueError(f"{path} holds {data.files}; name one as {path}:KEY")
            key = data.files[0]
        if key not in data.files:
            raise ValueError(f"{path} has no array {key!r}; it holds {data.files}")
        return data[key]


def _add_tv(p: argparse.ArgumentParser) -> None:
    p.add_argument("source", help="source sample file (.npy, .npz[:KEY], .csv, .parquet)")
    p.add_argument("target", help="target sample file")
    p.add_argument("--method", default="classifier", help="estimator name (bounds.METHODS)")
    p.add_argument("--alpha", type=float, default=0.05, help="miscoverage of the lower bound")
    p.add_argument("--seed", type=int, default=0, help="random_state of the estimator")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def _cmd_tv(args: argparse.Namespace) -> int:
    from bounds import estimate_tv

    est = estimate_tv(load_array(args.source), load_array(args.target), method=args.method,
                      alpha=args.alpha, random_state=args.seed)
    if args.json:
        print(json.dumps(est.to_dict(), indent=2))
    else:
        print(est.to_frame().to_string(index=False))
    return 0


COMMANDS: dict[str, tuple[str, str, Callable, Callable]] = {
    "run": ("run the three steps for one config", RUN_EXAMPLES, _add_run, _cmd_run),
    "defaults": ("list every config key with its default", "", _add_defaults, _cmd_defaults),
    "tv": ("estimate the TV distance between two samples", TV_EXAMPLES, _add_tv, _cmd_tv),
}


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser from :data:`COMMANDS`."""
    parser = argparse.ArgumentParser(prog="cmcd", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (help_text, examples, add_args, handler) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text, epilog=examples,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        add_args(p)
        p.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; bad input is reported as one line on stderr with exit code 2."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"cmcd {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""Audit cases A01-A32: command-line arguments of ``cmcd sweep/report/run/tv/bound/rank-teachers``.

Bad option values, missing or wrong folders and files, ``--out``/``--figures`` pointing at
something that must not be clobbered, and output folders holding someone else's results.
"""

from __future__ import annotations

import os
from pathlib import Path

from .fixtures import (
    RUN,
    TINY,
    _gauss,
    csv_file,
    do,
    fake_results,
    fake_run_dir,
    no_runs_started,
    npy,
    rc_is,
    record,
    snapshot,
    sweep_spec,
    tv,
    tv_files,
    with_cfg,
    write_yaml,
)
from .harness import Case, State

CATEGORY = "CLI arguments"


def cli_cases() -> list[Case]:
    """Return every CLI case, A01-A32 in order."""
    return [*_sweep_report_run_cases(), *_tv_bound_rank_cases(), *_foreign_folder_cases()]


def _sweep_report_run_cases() -> list[Case]:
    """A01-A16: sweep options, ``report`` inputs, ``run --out`` targets, unknown subcommand."""
    cat = CATEGORY
    sweep_cfg = with_cfg(sweep_spec({"seed": [0]}), "s.yaml")
    unwritable_skip = "running as root: permissions do not stop root" if os.geteuid() == 0 else None

    def unwritable(tmp: Path) -> State:
        write_yaml(tmp, "c.yaml", TINY)
        (tmp / "ro").mkdir()
        (tmp / "ro").chmod(0o500)
        return {}

    def keep(name: str, text: str = "my notes\n"):
        def setup(tmp: Path) -> State:
            write_yaml(tmp, "c.yaml", TINY)
            (tmp / name).write_text(text)
            return record(tmp, name)

        return setup

    return [
        Case(
            "A01",
            cat,
            "sweep --threads 0",
            "error",
            ("--threads",),
            ["sweep", "s.yaml", "--out", "o", "--threads", "0"],
            setup=sweep_cfg,
        ),
        Case(
            "A02",
            cat,
            "sweep --threads -2",
            "error",
            ("--threads",),
            ["sweep", "s.yaml", "--out", "o", "--threads", "-2"],
            setup=sweep_cfg,
        ),
        Case(
            "A03",
            cat,
            "sweep --workers 0",
            "error",
            ("--workers",),
            ["sweep", "s.yaml", "--out", "o", "--workers", "0", "--no-progress"],
            setup=sweep_cfg,
            side=no_runs_started,
        ),
        Case(
            "A04",
            cat,
            "sweep --workers -1",
            "error",
            ("--workers",),
            ["sweep", "s.yaml", "--out", "o", "--workers", "-1", "--no-progress"],
            setup=sweep_cfg,
            side=no_runs_started,
        ),
        Case(
            "A05",
            cat,
            "sweep --executor nosuch",
            "error",
            ("--executor",),
            ["sweep", "s.yaml", "--out", "o", "--executor", "nosuch"],
            setup=sweep_cfg,
        ),
        Case(
            "A06",
            cat,
            "report --by xyz",
            "error",
            ("--by", "xyz"),
            ["report", "o", "--by", "xyz", "--no-figures"],
            setup=do(fake_results),
        ),
        Case(
            "A07", cat, "report of a missing folder", "error", ("nofolder",), ["report", "nofolder"]
        ),
        Case(
            "A08",
            cat,
            "report of an empty folder (no results.csv)",
            "error",
            ("empty", "results.csv"),
            ["report", "empty"],
            setup=lambda tmp: (tmp / "empty").mkdir() or {},
        ),
        Case(
            "A09",
            cat,
            "report of a results.csv holding garbage",
            "error",
            ("results.csv",),
            ["report", "g/results.csv", "--no-figures"],
            setup=lambda tmp: (
                (tmp / "g").mkdir()
                or (tmp / "g" / "results.csv").write_text("\x00\x01garbage\n;;;\n")
                and {}
            ),
        ),
        Case(
            "A10",
            cat,
            "report --figures pointing at an existing file (must not clobber it)",
            "error",
            ("--figures", "notes.txt"),
            ["report", "o", "--figures", "notes.txt"],
            setup=lambda tmp: fake_results(tmp) or keep("notes.txt")(tmp),
            intact=snapshot("notes.txt"),
        ),
        Case(
            "A11",
            cat,
            "run --out an existing file",
            "error",
            ("--out", "notes.txt"),
            ["run", "c.yaml", "--out", "notes.txt"],
            setup=keep("notes.txt"),
            intact=snapshot("notes.txt"),
        ),
        Case(
            "A12",
            cat,
            "run --out the config file itself",
            "error",
            ("--out", "c.yaml"),
            ["run", "c.yaml", "--out", "c.yaml"],
            setup=with_cfg(TINY, then=lambda t: record(t, "c.yaml")),
            intact=snapshot("c.yaml"),
        ),
        Case(
            "A13",
            cat,
            "run --out under a file",
            "error",
            ("--out", "notes.txt"),
            ["run", "c.yaml", "--out", "notes.txt/run"],
            setup=keep("notes.txt"),
            intact=snapshot("notes.txt"),
        ),
        Case(
            "A14",
            cat,
            "run --out an unwritable folder",
            "error",
            ("--out", "ro"),
            ["run", "c.yaml", "--out", "ro/run"],
            setup=unwritable,
            skip=unwritable_skip,
        ),
        Case("A15", cat, "unknown subcommand 'train'", "error", ("train",), ["train", "c.yaml"]),
        Case(
            "A16",
            cat,
            "run without --out",
            "error",
            ("--out",),
            ["run", "c.yaml"],
            setup=with_cfg(TINY),
        ),
    ]


def _tv_bound_rank_cases() -> list[Case]:
    """A17-A30: ``tv``, ``bound`` and ``rank-teachers`` options and inputs."""
    cat = CATEGORY
    return [
        Case(
            "A17",
            cat,
            "tv --alpha 2",
            "error",
            ("alpha",),
            tv("a.npy", "b.npy", "--alpha", "2"),
            setup=tv_files(a=npy("a.npy", _gauss(100)), b=npy("b.npy", _gauss(100, seed=1))),
        ),
        Case(
            "A18",
            cat,
            "tv --alpha abc",
            "error",
            ("--alpha",),
            tv("a.npy", "b.npy", "--alpha", "abc"),
            setup=tv_files(a=npy("a.npy", _gauss(100)), b=npy("b.npy", _gauss(100, seed=1))),
        ),
        Case(
            "A19",
            cat,
            "tv --method nosuch",
            "error",
            ("method", "nosuch"),
            tv("a.npy", "b.npy", "--method", "nosuch"),
            setup=tv_files(a=npy("a.npy", _gauss(100)), b=npy("b.npy", _gauss(100, seed=1))),
        ),
        Case(
            "A20",
            cat,
            "tv --header maybe",
            "error",
            ("--header",),
            tv("a.npy", "b.npy", "--header", "maybe"),
            setup=tv_files(a=npy("a.npy", _gauss(100)), b=npy("b.npy", _gauss(100, seed=1))),
        ),
        Case(
            "A21",
            cat,
            "tv --index-col 9 (no such column)",
            "error",
            ("index", "9"),
            tv("a.csv", "b.csv", "--index-col", "9"),
            setup=tv_files(
                a=csv_file("a.csv", _gauss(100)), b=csv_file("b.csv", _gauss(100, seed=1))
            ),
        ),
        Case(
            "A22",
            cat,
            "tv --seed -1",
            "error",
            ("seed", "random_state"),
            tv("a.npy", "b.npy", "--seed", "-1"),
            setup=tv_files(a=npy("a.npy", _gauss(100)), b=npy("b.npy", _gauss(100, seed=1))),
        ),
        Case("A23", cat, "bound of a missing folder", "error", ("norun",), ["bound", "norun"]),
        Case(
            "A24",
            cat,
            "bound --alpha 0",
            "error",
            ("alpha",),
            ["bound", "r", "--alpha", "0"],
            setup=do(fake_run_dir),
        ),
        Case(
            "A25",
            cat,
            "bound --tv-method nosuch",
            "error",
            ("tv-method", "tv_method", "nosuch"),
            ["bound", "r", "--tv-method", "nosuch"],
            setup=do(fake_run_dir),
        ),
        Case(
            "A26",
            cat,
            "bound --alignment centre (typo)",
            "error",
            ("alignment",),
            ["bound", "r", "--alignment", "centre"],
            setup=do(fake_run_dir),
        ),
        Case(
            "A27",
            cat,
            "bound --compare-alignments bogus",
            "error",
            ("alignment", "bogus"),
            ["bound", "r", "--compare-alignments", "bogus"],
            setup=do(fake_run_dir),
        ),
        Case(
            "A28",
            cat,
            "bound of a folder with no features.npz",
            "error",
            ("features.npz",),
            ["bound", "empty"],
            setup=lambda tmp: (tmp / "empty").mkdir() or {},
        ),
        Case(
            "A29",
            cat,
            "rank-teachers of a missing folder",
            "error",
            ("nofolder",),
            ["rank-teachers", "nofolder"],
        ),
        Case(
            "A30",
            cat,
            "rank-teachers --source nosuch",
            "error",
            ("--source", "nosuch"),
            ["rank-teachers", "o", "--source", "nosuch"],
            setup=do(fake_results),
        ),
    ]


def _foreign_folder_cases() -> list[Case]:
    """A31-A32: an output folder that holds an unrelated result file (refused, intact)."""
    cat = CATEGORY
    sweep_cfg = with_cfg(sweep_spec({"seed": [0]}), "s.yaml")
    return [
        Case(
            "A31",
            cat,
            "run --out a folder holding an unrelated result.json (not a cmcd run)",
            "refuse",
            ("result.json", "out"),
            RUN,
            setup=lambda tmp: (
                write_yaml(tmp, "c.yaml", TINY)
                and (
                    (tmp / "out").mkdir() or (tmp / "out" / "result.json").write_text('{"mine": 1}')
                )
                and record(tmp, "out/result.json")
            ),
            check=rc_is(2, "refusing"),
            intact=snapshot("out/result.json"),
        ),
        Case(
            "A32",
            cat,
            "sweep --out a folder holding an unrelated results.csv",
            "refuse",
            ("results.csv", "o"),
            ["sweep", "s.yaml", "--out", "o", "--no-progress"],
            setup=lambda tmp: (
                sweep_cfg(tmp)
                or ((tmp / "o").mkdir() or (tmp / "o" / "results.csv").write_text("a,b\n1,2\n"))
                and record(tmp, "o/results.csv")
            ),
            check=rc_is(2, "refusing"),
            intact=snapshot("o/results.csv"),
        ),
    ]

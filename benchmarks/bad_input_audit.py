"""Audit of hostile-but-fair inputs: run each bad input, fault or interruption, count outcomes.

Each :class:`Case` of :func:`catalogue` is run in a fresh temporary folder, as a subprocess
(``python -m cmcd ...``, or a short Python snippet for the ``bounds`` API) with a timeout, and
its outcome is classified as one of :data:`OUTCOMES`:

- ``clear error``: non-zero exit, no Python traceback, and the message names the offending
  key, argument or file (one of the case's ``names`` appears in stderr, case-insensitive);
- ``vague error``: non-zero exit, no traceback, but none of the names appears (also used,
  with a note, when a valid input is refused);
- ``correct behaviour``: the case's own check passes (a rerun resumes, a lock error, a refused
  overwrite that leaves the files intact, a file read as asked);
- ``stack trace``: ``Traceback (most recent call last)`` in stdout or stderr; for an API case,
  an exception other than ``ValueError``/``TypeError``/``FileNotFoundError`` (an internal
  error the caller could not expect), whose traceback the snippet prints;
- ``silent wrong``: exit 0 although the input had to be refused, or the case's check of the
  result fails (also: a forbidden side effect happened, e.g. unpickled code ran);
- ``data loss``: a check that files written before the command are intact fails.

Outputs: ``benchmarks/results/bad_input_audit.csv`` (one row per case) and
``benchmarks/results/bad_input_audit.md`` (counts per outcome and per category, then every case
that is neither a clear error nor correct behaviour, with its message). Takes a few minutes on
2 CPU cores (every command is a fresh Python process that imports torch).

The cases live in the package ``benchmarks/bad_input/`` (imported as ``bad_input``: running
this file puts ``benchmarks/`` first on ``sys.path``), one module per topic: the harness
(:class:`~bad_input.harness.Case`, the subprocess launchers), the fixtures, the permission
faults, one module per case family and :func:`~bad_input.catalogue.catalogue`. This file runs
the cases, classifies their outcomes and writes the tables. A case expecting a refusal with
a given exit status (2: usage error, 1: data or system error, 141: a closed pipe) checks it.
Permission cases use ``chmod``; the superuser ignores modes, so under root the command gets a
``sitecustomize.py`` that raises the same ``PermissionError`` (:mod:`bad_input.faults`).

Examples
--------
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 python benchmarks/bad_input_audit.py
python benchmarks/bad_input_audit.py --only C01 C02 --no-write
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bad_input.catalogue import catalogue
from bad_input.harness import REPO, THREADS, Case, Proc, State, cmcd, python_api
from tqdm import tqdm

RESULTS = REPO / "benchmarks" / "results"
TRACEBACK = "Traceback (most recent call last)"
OUTCOMES = (
    "clear error",
    "vague error",
    "correct behaviour",
    "stack trace",
    "silent wrong",
    "data loss",
)


# ------------------------------------------------------------------------------ classify
def first_line(proc: Proc) -> str:
    """Return the message a user reads: a traceback's exception line, else the error line."""
    err = [line.strip() for line in proc.err.splitlines() if line.strip()]
    if TRACEBACK in proc.out + proc.err:
        return err[-1] if err else ""
    for line in err:
        if "error" in line.lower() or "interrupt" in line.lower():
            return line
    if err:
        return err[-1]
    out = [line.strip() for line in proc.out.splitlines() if line.strip()]
    return out[0] if out else ""


def _named(case: Case, proc: Proc) -> bool:
    text = proc.err.lower()
    return any(name.lower() in text for name in case.names)


def _safe(check: Callable[..., bool], *args: Any) -> bool:
    """Run a check; one that raises (a file it reads is missing or unreadable) fails."""
    try:
        return bool(check(*args))
    except (OSError, ValueError, KeyError, TypeError, StopIteration):
        return False


def classify(case: Case, proc: Proc, state: State, tmp: Path) -> tuple[str, str]:
    """Return (outcome, note) for one case (see the module docstring)."""
    if TRACEBACK in proc.out + proc.err:
        return "stack trace", ""
    if case.intact is not None and not _safe(case.intact, tmp, state):
        return "data loss", "files written before the command changed or vanished"
    if case.side is not None and not _safe(case.side, tmp, state):
        return "silent wrong", "a forbidden side effect happened"
    check_ok = _safe(case.check, tmp, proc, state) if case.check is not None else None
    if proc.rc == 0:
        if check_ok:
            return "correct behaviour", ""
        if case.expect == "error" and case.check is None:
            return "silent wrong", "exit 0 although the input had to be refused"
        return "silent wrong", "exit 0 but the check of the result failed"
    if case.expect == "ok":
        return "vague error", "a valid input was refused"
    if case.expect == "refuse" and check_ok:
        return "correct behaviour", ""
    if proc.rc < 0:
        return "vague error", "timed out or killed"
    return ("clear error", "") if _named(case, proc) else ("vague error", "no name in message")


@dataclass
class Row:
    """One line of the results table."""

    id: str
    category: str
    description: str
    outcome: str
    exit_code: int | str
    message: str
    seconds: float
    note: str = ""


def run_case(case: Case, root: Path) -> Row:
    tmp = Path(tempfile.mkdtemp(prefix=f"{case.id}-", dir=root))
    start = time.perf_counter()
    try:
        state = case.setup(tmp) if case.setup else {}
        state = state or {}
        if case.driver is not None:
            proc = case.driver(tmp, state)
        elif case.code is not None:
            proc = python_api(tmp, case.code, case.timeout)
        else:
            proc = cmcd(tmp, case.argv or [], case.timeout)
        outcome, note = classify(case, proc, state, tmp)
    except Exception as err:  # the audit's own setup failed: report it, do not stop
        return Row(
            case.id,
            case.category,
            case.description,
            "audit error",
            "",
            f"{err!r}"[:300],
            round(time.perf_counter() - start, 2),
        )
    return Row(
        case.id,
        case.category,
        case.description,
        outcome,
        proc.rc,
        first_line(proc)[:300],
        round(time.perf_counter() - start, 2),
        note,
    )


# ------------------------------------------------------------------------------- reports
def counts_table(rows: list[Row]) -> str:
    outcomes = [*OUTCOMES, *sorted({r.outcome for r in rows} - set(OUTCOMES))]
    cats = list(dict.fromkeys(r.category for r in rows))
    head = "| category | cases | " + " | ".join(outcomes) + " |"
    lines = [head, "|" + "---|" * (len(outcomes) + 2)]
    for cat in [*cats, "total"]:
        sel = [r for r in rows if cat in ("total", r.category)]
        count = Counter(r.outcome for r in sel)
        name = f"**{cat}**" if cat == "total" else cat
        lines.append(
            f"| {name} | {len(sel)} | " + " | ".join(str(count[o]) for o in outcomes) + " |"
        )
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(rows: list[Row], skipped: list[Case], command: str, seconds: float) -> str:
    bad = [r for r in rows if r.outcome not in ("clear error", "correct behaviour")]
    total = Counter(r.outcome for r in rows)
    summary = ", ".join(f"{total[o]} {o}" for o in OUTCOMES)
    parts = [
        "# Audit of hostile-but-fair inputs",
        "",
        f"`{command}` ({len(rows)} cases, {seconds:.0f} s). Outcomes: {summary}.",
        "",
        "Classification (benchmarks/bad_input_audit.py): *clear error* = non-zero exit, no "
        "traceback, the message names the key/argument/file; *vague error* = the same without "
        "the name (or a valid input refused); *correct behaviour* = the case's own check "
        "passes; *stack trace* = a Python traceback (API cases: an exception other than "
        "ValueError/TypeError/FileNotFoundError); *silent wrong* = exit 0 on an input that "
        "had to be refused, or a failed check of the result; *data loss* = files written "
        "before were changed or removed.",
        "",
        "## Counts per category",
        "",
        counts_table(rows),
        "",
        "## Cases that are neither a clear error nor correct behaviour",
        "",
    ]
    if bad:
        parts += [
            "| id | category | case | outcome | exit | message | note |",
            "|---|---|---|---|---|---|---|",
        ]
        parts += [
            f"| {r.id} | {r.category} | {_cell(r.description)} | {r.outcome} | {r.exit_code} | "
            f"`{_cell(r.message)}` | {r.note} |"
            for r in bad
        ]
    else:
        parts.append("None.")
    if skipped:
        parts += ["", "## Skipped", ""]
        parts += [f"- {c.id} ({c.description}): {c.skip}" for c in skipped]
    parts += [
        "",
        "## Every case",
        "",
        "| id | outcome | exit | s | message |",
        "|---|---|---|---|---|",
    ]
    parts += [
        f"| {r.id} | {r.outcome} | {r.exit_code} | {r.seconds:.1f} | `{_cell(r.message)[:140]}` |"
        for r in rows
    ]
    return "\n".join(parts) + "\n"


def write_csv(rows: list[Row], path: Path) -> None:
    columns = [
        "id",
        "category",
        "description",
        "outcome",
        "exit_code",
        "message",
        "seconds",
        "note",
    ]
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for r in rows:
            writer.writerow([getattr(r, c) for c in columns])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help="case ids to run (default: all)")
    parser.add_argument("--out", default=str(RESULTS), help="folder of the CSV and MD tables")
    parser.add_argument("--no-write", action="store_true", help="print only; write no table")
    parser.add_argument("--list", action="store_true", help="list the cases and exit")
    parser.add_argument(
        "--all", action="store_true", help="also run the near-duplicate cases of EXTENDED"
    )
    args = parser.parse_args(argv)
    os.environ.update(THREADS)
    cases = catalogue(extended=args.all)
    if args.list:
        for case in cases:
            print(f"{case.id:5} {case.category:15} {case.expect:7} {case.description}")
        return 0
    if args.only:
        cases = [c for c in cases if c.id in set(args.only)]
    skipped = [c for c in cases if c.skip]
    todo = [c for c in cases if not c.skip]
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory(prefix="cmcd-audit-") as root:
        for case in tqdm(todo, desc="bad-input audit", unit="case"):
            rows.append(run_case(case, Path(root)))
    seconds = time.perf_counter() - start
    command = "python benchmarks/bad_input_audit.py" + (" --all" if args.all else "")
    command += f" --only {' '.join(args.only)}" if args.only else ""
    text = markdown(rows, skipped, command, seconds)
    print(text)
    if not args.no_write:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        write_csv(rows, out / "bad_input_audit.csv")
        (out / "bad_input_audit.md").write_text(text)
        print(f"wrote {out / 'bad_input_audit.csv'} and {out / 'bad_input_audit.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

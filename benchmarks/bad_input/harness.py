"""What a case is and how its commands run: :class:`Case`, :class:`Proc`, subprocess launchers.

Every command is a fresh Python process in the case's temporary folder, with one thread per
library, the repository and the folder on ``PYTHONPATH`` and a private ``CMCD_CACHE_DIR``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The repository root (this file is ``benchmarks/bad_input/harness.py``).
REPO = Path(__file__).resolve().parents[2]
THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

State = dict[str, Any]


@dataclass
class Proc:
    """What one command did."""

    rc: int
    out: str
    err: str
    seconds: float


@dataclass
class Case:
    """One hostile input.

    ``expect``: ``error`` (must be refused naming one of ``names``), ``refuse`` (a refusal or
    exit code that is the correct behaviour when ``check`` passes), ``ok`` (must succeed and
    pass ``check``) or ``either`` (a clear error, or a success that passes ``check``).
    ``setup(tmp) -> state`` prepares files; ``check(tmp, proc, state)`` judges the result;
    ``intact(tmp, state)`` says whether earlier files survived; ``side(tmp, state)`` whether
    no forbidden side effect happened; ``driver(tmp, state) -> Proc`` replaces the plain
    command for cases with concurrency or signals.
    """

    id: str
    category: str
    description: str
    expect: str
    names: tuple[str, ...] = ()
    argv: list[str] | None = None
    code: str | None = None
    setup: Callable[[Path], State] | None = None
    check: Callable[[Path, Proc, State], bool] | None = None
    intact: Callable[[Path, State], bool] | None = None
    side: Callable[[Path, State], bool] | None = None
    driver: Callable[[Path, State], Proc] | None = None
    timeout: float = 120.0
    skip: str | None = None
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------- commands
def _env(tmp: Path) -> dict[str, str]:
    env = {**os.environ, **THREADS}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(tmp)])
    env["CMCD_CACHE_DIR"] = str(tmp / "cache")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    return env


def _default_sigint() -> None:
    """Give the child the default SIGINT action (run in the child, between fork and exec).

    An ignored signal stays ignored across fork and exec, and a shell without job control
    starts a background command (``nohup python benchmarks/bad_input_audit.py &``) with SIGINT
    ignored. Python installs its ``KeyboardInterrupt`` handler only when SIGINT is not ignored
    at startup, so such a child would shrug off the SIGINT of case R08 (and the one that
    :func:`_stop` sends first). With ``SIG_DFL`` set before exec, the child's Python installs
    its handler as when the audit runs in a terminal (exec keeps only an ignored disposition;
    a caught one is reset to ``SIG_DFL`` anyway).
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def cmcd(tmp: Path, argv: list[str], timeout: float = 120.0) -> Proc:
    """Run ``python -m cmcd ARGV`` in ``tmp``."""
    return _run([sys.executable, "-m", "cmcd", *argv], tmp, timeout)


def _run(command: list[str], tmp: Path, timeout: float) -> Proc:
    """Run ``command`` in ``tmp`` with the audit's environment; a timeout gives exit -9."""
    start = time.perf_counter()
    try:
        p = subprocess.run(
            command,
            cwd=tmp,
            env=_env(tmp),
            capture_output=True,
            text=True,
            timeout=timeout,
            preexec_fn=_default_sigint,
        )
        rc, out, err = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as exc:
        rc, out, err = -9, _text(exc.stdout), _text(exc.stderr) + f"\n[audit: timeout {timeout}s]"
    return Proc(rc, out, err, time.perf_counter() - start)


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


API_WRAPPER = """
import sys
CODE = {code!r}
try:
    exec(compile(CODE, "<case>", "exec"), {{"__name__": "__case__"}})
except (ValueError, TypeError, FileNotFoundError) as err:
    print(f"error: {{type(err).__name__}}: {{err}}", file=sys.stderr)
    sys.exit(2)
"""


def python_api(tmp: Path, code: str, timeout: float = 120.0) -> Proc:
    """Run a snippet; expected exception types exit 2 with one line, others show a traceback."""
    script = tmp / "case_snippet.py"
    script.write_text(API_WRAPPER.format(code=textwrap.dedent(code)))
    return _run([sys.executable, str(script)], tmp, timeout)


def _popen(tmp: Path, argv: list[str]) -> subprocess.Popen:
    # In its own session (so _stop can signal its whole group), with SIGINT at its default
    # action even when the audit itself ignores SIGINT (see _default_sigint).
    return subprocess.Popen(
        [sys.executable, "-m", "cmcd", *argv],
        cwd=tmp,
        env=_env(tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=_default_sigint,
    )


def _wait_for(path: Path, proc: subprocess.Popen, limit: float = 60.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        if path.exists():
            return True
        time.sleep(0.1)
    return path.exists()


def _stop(proc: subprocess.Popen) -> tuple[int, str, str]:
    """Stop a background command we started (its own session: SIGINT, then SIGKILL)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return proc.returncode, out, err

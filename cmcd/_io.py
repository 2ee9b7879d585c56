"""File helpers shared by the pipeline and the sweep: atomic writes and folder locks.

- :func:`atomic_write` writes a file through a temporary file in the same folder and an
  ``os.replace``, so a reader (or a run killed mid-write) sees the old file or the new one,
  never half of one.
- :func:`folder_lock` holds an exclusive, non-blocking ``flock`` on ``FOLDER/.lock`` (POSIX;
  no lock elsewhere), so two processes never work in one folder at once.

Examples
--------
>>> import tempfile
>>> from pathlib import Path
>>> path = Path(tempfile.mkdtemp()) / "a.txt"
>>> write_text_atomic(path, "hello")
>>> path.read_text()
'hello'
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

__all__ = ["LOCK_FILE", "atomic_write", "folder_lock", "write_text_atomic"]

LOCK_FILE = ".lock"


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], object]) -> None:
    """Call ``write(handle)`` on a temporary file next to ``path``, then rename it to ``path``.

    Parameters
    ----------
    path : str or Path
        The file to (re)place.
    write : callable
        Writes the content into the binary file handle it gets, e.g.
        ``lambda f: torch.save(obj, f)`` or ``lambda f: np.savez(f, **arrays)``.

    Notes
    -----
    The temporary file is ``.NAME.PID.tmp`` in the same folder (so the rename is atomic and
    concurrent writers do not share it) and is removed when ``write`` fails.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda handle: handle.write(text.encode("utf-8")))


@contextlib.contextmanager
def folder_lock(folder: str | Path, user: str) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (its ``.lock`` file) while the block runs.

    Parameters
    ----------
    folder : str or Path
        An existing folder.
    user : str
        What holds the lock, for the error message (e.g. ``"sweep"``, ``"cmcd run"``).

    Raises
    ------
    ValueError
        When another process holds the lock: ``"FOLDER is in use by another running USER"``.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(Path(folder) / LOCK_FILE, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ValueError(f"{folder} is in use by another running {user}") from None
        yield

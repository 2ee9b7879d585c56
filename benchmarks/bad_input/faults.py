"""Permission faults for the audit: unreadable files and read-only folders, also under root.

:func:`deny` makes files unreadable (``chmod 000``) and folders read-only (``chmod 555``).
The superuser ignores file modes, so when the audit runs as root it also writes a
``sitecustomize.py`` into the case folder (which is on the command's ``PYTHONPATH``, so the
command's Python imports it at start-up): it makes ``open``, ``os.open``, ``os.access``,
``os.replace``, ``os.unlink`` and ``os.mkdir`` fail on those paths with the ``PermissionError``
an ordinary user would get. Nothing else of the command changes.
"""

from __future__ import annotations

import os
from pathlib import Path

SITECUSTOMIZE = """
import builtins, io, os

_READ = {read!r}
_WRITE = {write!r}


def _real(path):
    try:
        return os.path.realpath(os.fspath(path))
    except TypeError:
        return None


def _denied(path, write):
    p = _real(path)
    if p is None:
        return False
    if p in _READ:
        return True
    return write and (os.path.dirname(p) in _WRITE or p in _WRITE)


def _fail(path):
    raise PermissionError(13, "Permission denied", os.fspath(path))


_open = builtins.open


def _guarded_open(file, mode="r", *args, **kwargs):
    if not isinstance(file, int) and _denied(file, any(c in mode for c in "wax+")):
        _fail(file)
    return _open(file, mode, *args, **kwargs)


builtins.open = io.open = _guarded_open
_os_open = os.open


def _guarded_os_open(path, flags, *args, **kwargs):
    write = flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
    if _denied(path, bool(write)):
        _fail(path)
    return _os_open(path, flags, *args, **kwargs)


os.open = _guarded_os_open
_access = os.access


def _guarded_access(path, mode, *args, **kwargs):
    if _denied(path, bool(mode & os.W_OK)) and (mode & (os.W_OK | os.R_OK)):
        return False
    return _access(path, mode, *args, **kwargs)


os.access = _guarded_access


def _writer(real, *names):
    def guarded(*args, **kwargs):
        for i in names:
            if len(args) > i and _denied(args[i], True):
                _fail(args[i])
        return real(*args, **kwargs)

    return guarded


os.replace = _writer(os.replace, 0, 1)
os.rename = _writer(os.rename, 0, 1)
os.unlink = os.remove = _writer(os.unlink, 0)
os.mkdir = _writer(os.mkdir, 0)
"""


def deny(tmp: Path, read: tuple[str, ...] = (), write: tuple[str, ...] = ()) -> None:
    """Make the files ``read`` unreadable and the folders ``write`` read-only (see module)."""
    for name in read:
        os.chmod(tmp / name, 0)
    for name in write:
        os.chmod(tmp / name, 0o555)
    if os.geteuid() == 0:
        paths = {"read": {os.path.realpath(tmp / n) for n in read}}
        paths["write"] = {os.path.realpath(tmp / n) for n in write}
        (tmp / "sitecustomize.py").write_text(SITECUSTOMIZE.format(**paths))


def allow(tmp: Path, *names: str) -> None:
    """Undo :func:`deny` for ``names`` (so that the checks and the clean-up can read them)."""
    for name in names:
        path = tmp / name
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    (tmp / "sitecustomize.py").unlink(missing_ok=True)

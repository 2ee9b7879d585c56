"""Checks run before any compute: keyword options against a signature, and output folders.

:func:`check_keywords` validates user options (a loss's ``distill.params``, a dataset's
``data.*`` options) against the keyword parameters of the function that will receive them:
unknown names are refused with the close match (difflib) and the valid names, and values are
checked against the parameters' annotations (``int``, ``float``, ``bool``, ``str``, unions with
``None``; richer annotations are left to the function). :func:`check_out_dir` refuses an output
folder that cannot be written, before a run or sweep trains anything.

Examples
--------
>>> def loss(temperature: float = 0.1, symmetric: bool = True): ...
>>> check_keywords({"temperature": 0.2}, loss, "distill.params")
>>> check_keywords({"temprature": 0.2}, loss, "distill.params")
Traceback (most recent call last):
    ...
ValueError: unknown config key 'distill.params.temprature'; did you mean 'temperature'? valid keys: ['symmetric', 'temperature']
"""  # noqa: E501

from __future__ import annotations

import inspect
import numbers
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from cmcd._checks import did_you_mean

__all__ = ["check_keywords", "check_out_dir", "keyword_parameters"]

_TYPES: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "int": ("an integer", lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, numbers.Real) and not isinstance(v, bool)),
    "bool": ("true or false", lambda v: isinstance(v, bool)),
    "str": ("a string", lambda v: isinstance(v, str)),
    "None": ("null", lambda v: v is None),
}
"""Annotation name -> (what the message says, test). Other annotations are not checked."""


def keyword_parameters(func: Callable[..., Any], exclude: Iterable[str] = ()) -> dict[str, Any]:
    """Return the named parameters of ``func`` (no ``*args``/``**kwargs``) and their annotations.

    Examples
    --------
    >>> def f(n_data: int, temperature: float = 0.1, *args, **kwargs): ...
    >>> keyword_parameters(f, exclude=["n_data"])
    {'temperature': 'float'}
    """
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    out = {}
    for p in inspect.signature(func).parameters.values():
        if p.kind in skip or p.name in set(exclude):
            continue
        ann = p.annotation
        out[p.name] = ann.__name__ if isinstance(ann, type) else str(ann)
    return out


def _check_annotated(value: Any, key: str, annotation: str) -> None:
    parts = [part.strip() for part in annotation.split("|")]
    if not all(part in _TYPES for part in parts):
        return  # e.g. Sequence[int], PathLike: the receiving function checks those
    if not any(_TYPES[part][1](value) for part in parts):
        allowed = " or ".join(_TYPES[part][0] for part in parts)
        raise ValueError(f"config key {key!r} must be {allowed}, got {value!r}")


def check_keywords(
    given: dict[str, Any], func: Callable[..., Any], prefix: str, exclude: Iterable[str] = ()
) -> None:
    """Check option names and annotated types against ``func``'s keyword parameters.

    Parameters
    ----------
    given : dict
        Option name -> value, as the user wrote them.
    func : callable
        The function that will receive them as keywords.
    prefix : str
        Dotted config key of the options (``distill.params``), used in messages.
    exclude : iterable of str
        Parameters the caller fills in itself (not user options).

    Raises
    ------
    ValueError
        For an unknown name (close match and valid names listed) or a value whose type does
        not match the parameter's annotation.
    """
    params = keyword_parameters(func, exclude)
    for name, value in given.items():
        if name not in params:
            hint = did_you_mean(name, params) or ";"
            raise ValueError(
                f"unknown config key '{prefix}.{name}'{hint} valid keys: {sorted(params)}"
            )
        _check_annotated(value, f"{prefix}.{name}", params[name])


def _first_existing(path: Path) -> Path:
    """Return ``path`` or its nearest existing ancestor."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def _probe_writable(folder: Path, option: str, path: Path) -> None:
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cmcd-write-test-"):
            pass
    except OSError as err:
        raise ValueError(
            f"{option} {str(path)!r}: folder {str(folder)!r} is not writable ({err.strerror})"
        ) from None


def check_out_dir(
    path: str | os.PathLike, outputs: Iterable[str] = (), option: str = "--out"
) -> Path:
    """Refuse an output folder that a run or sweep could not write, before any compute.

    Nothing is created. The folder may be missing (it is created later, so its nearest existing
    ancestor must be a writable folder) or an existing writable folder; ``outputs`` are file
    names the run will write there, which must not be folders.

    Parameters
    ----------
    path : str or os.PathLike
        The output folder.
    outputs : iterable of str
        File names the caller writes inside it (``result.json``, ...).
    option : str
        How the user named the folder, used in messages.

    Returns
    -------
    Path

    Raises
    ------
    ValueError
        When ``path`` is an existing file, lies under a file, sits in an unwritable folder, or
        one of ``outputs`` is a folder.

    Examples
    --------
    >>> import tempfile
    >>> check_out_dir(Path(tempfile.mkdtemp()) / "run").name
    'run'
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValueError(f"{option} {str(path)!r} is an existing file; give a folder")
    existing = _first_existing(path)
    if not existing.is_dir():
        raise ValueError(
            f"{option} {str(path)!r} lies under {str(existing)!r}, which is a file, not a folder"
        )
    _probe_writable(existing, option, path)
    for name in outputs:
        if (path / name).is_dir():
            raise ValueError(f"{option} {str(path)!r}: {name!r} there is a folder, not a file")
    return path

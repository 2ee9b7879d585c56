"""Argument checks shared by the config, the datasets, the losses and the models.

Each check returns the value converted to its plain Python type, or raises a ``ValueError``
whose message names the argument, shows the bad value and says what is allowed. Booleans are
refused wherever a number is expected (``True`` is an ``int`` in Python, never a count here).

Examples
--------
>>> check_count(5, "n_samples")
5
>>> check_number(0.5, "mask", low=0, high=1)
0.5
>>> check_count(True, "seed", 0)
Traceback (most recent call last):
    ...
ValueError: seed must be an integer >= 0, got True
"""

from __future__ import annotations

import difflib
import math
import numbers
from collections.abc import Iterable
from typing import Any

__all__ = [
    "DataError",
    "check_choice",
    "check_count",
    "check_number",
    "check_size",
    "did_you_mean",
    "number_from_text",
]


class DataError(ValueError):
    """A file's content cannot be used: unreadable, damaged, or not what it must hold.

    A ``ValueError`` (so every ``except ValueError`` still catches it); the CLI exits with
    status 1 for it, and with 2 for the other ``ValueError`` s (a key, an argument or a file
    refused as given).
    """


def number_from_text(value: Any) -> Any:
    """Return a numeric string as a number (int when integral), anything else unchanged.

    YAML 1.1 (PyYAML) reads ``1e-3`` and ``1e9`` as strings (its floats need a dot), so the
    config and ``--set`` accept numeric strings for numeric keys (our choice). Booleans and
    non-numeric strings are returned as they are, for the check to refuse.

    Examples
    --------
    >>> number_from_text("1e-3"), number_from_text("1e3"), number_from_text("fast")
    (0.001, 1000, 'fast')
    """
    if not isinstance(value, str):
        return value
    try:
        number = float(value.strip())
    except ValueError:
        return value
    if number.is_integer() and abs(number) < 2**63:
        return int(number)
    return number


def check_count(value: Any, name: str, minimum: int = 1) -> int:
    """Return ``value`` as an int ``>= minimum``, else raise ``ValueError`` naming ``name``.

    Parameters
    ----------
    value : Any
        The value to check; booleans and non-integral numbers are refused.
    name : str
        The argument's name, used in the message.
    minimum : int
        The smallest allowed value.

    Returns
    -------
    int

    Examples
    --------
    >>> check_count(0, "queue_size", 0)
    0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_size(value: Any, name: str, minimum: int, maximum: int) -> int:
    """Return ``value`` as an int in ``[minimum, maximum]``; the cap is named in the message.

    Sizes that allocate memory (widths, batch sizes) are capped before any compute, so a
    typo such as ``latent_dim: 1000000000`` is refused in a line, not by the allocator.

    Examples
    --------
    >>> check_size(64, "latent_dim", 1, 8192)
    64
    >>> check_size(10**9, "latent_dim", 1, 8192)
    Traceback (most recent call last):
        ...
    ValueError: latent_dim must be at most 8192 (a cap on sizes that allocate memory, our choice), got 1000000000
    """  # noqa: E501
    value = check_count(value, name, minimum)
    if value > maximum:
        raise ValueError(
            f"{name} must be at most {maximum} (a cap on sizes that allocate memory, our "
            f"choice), got {value!r}"
        )
    return value


def _interval(low: float | None, high: float | None, low_open: bool, high_open: bool) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    lo = "-inf" if low is None else f"{low:g}"
    hi = "inf" if high is None else f"{high:g}"
    return f"{left}{lo}, {hi}{right}"


def check_number(
    value: Any,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a finite float in an interval, else raise ``ValueError``.

    Parameters
    ----------
    value : Any
        The value to check; booleans, strings and non-finite numbers are refused.
    name : str
        The argument's name, used in the message.
    low, high : float or None
        Bounds of the interval (None: unbounded on that side).
    low_open, high_open : bool
        Exclude the bound itself.

    Returns
    -------
    float

    Examples
    --------
    >>> check_number(1e-3, "lr", low=0, low_open=True)
    0.001
    """
    interval = _interval(low, high, low_open, high_open)
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real)
    ok = ok and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        kind = " (a string)" if isinstance(value, str) else ""
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}{kind}")
    return float(value)


def did_you_mean(word: Any, valid: Iterable[str]) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest valid word, or ``""`` (difflib).

    Examples
    --------
    >>> did_you_mean("temprature", ["temperature", "symmetric"])
    "; did you mean 'temperature'?"
    """
    if not isinstance(word, str):
        return ""
    close = difflib.get_close_matches(word, list(valid), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def check_choice(value: Any, name: str, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them.

    Booleans are refused (``True == 1`` must not select a choice).

    Examples
    --------
    >>> check_choice("cpu", "device", ("auto", "cpu", "cuda"))
    'cpu'
    """
    choices = tuple(choices)
    plain = isinstance(value, (str, numbers.Number, type(None))) and not isinstance(value, bool)
    if not plain or value not in choices:
        hint = did_you_mean(value, [c for c in choices if isinstance(c, str)])
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}{hint}")
    return value

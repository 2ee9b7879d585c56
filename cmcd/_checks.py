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

__all__ = ["check_choice", "check_count", "check_number", "did_you_mean"]


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
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
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

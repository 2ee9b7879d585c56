"""Input checks shared by the estimators: clear ``ValueError`` s that name the argument."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.utils import check_random_state

__all__ = ["as_2d_float_array", "as_random_state", "check_alpha", "check_min_samples", "check_pair"]


def as_2d_float_array(x: Any, name: str) -> np.ndarray:
    """Convert numpy, torch or pandas input to a finite float64 array of shape (n, d).

    Parameters
    ----------
    x : array-like
        A numpy array, torch tensor, pandas DataFrame or nested sequence.
    name : str
        Argument name used in error messages.

    Returns
    -------
    numpy.ndarray
        Float64 array of shape (n, d) with n >= 1 and d >= 1.

    Raises
    ------
    ValueError
        If ``x`` is not numeric, not 2-D, empty, or holds NaN or inf.

    Examples
    --------
    >>> as_2d_float_array([[1, 2], [3, 4]], "source").shape
    (2, 2)
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor without importing torch
        x = x.detach().cpu().numpy()
    elif hasattr(x, "to_numpy"):  # pandas DataFrame / Series
        x = x.to_numpy()
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{name} could not be read as an array: {err}") from None
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.bool_)
    ):
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise ValueError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D of shape (n_samples, n_features), got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


def check_pair(source: Any, target: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validate two samples and check they have the same number of features.

    Examples
    --------
    >>> s, t = check_pair([[0.0], [1.0]], [[2.0]])
    >>> s.shape, t.shape
    ((2, 1), (1, 1))
    """
    s = as_2d_float_array(source, "source")
    t = as_2d_float_array(target, "target")
    if s.shape[1] != t.shape[1]:
        raise ValueError(
            f"source and target must have the same number of features, "
            f"got {s.shape[1]} and {t.shape[1]}"
        )
    return s, t


def check_alpha(alpha: float) -> float:
    """Check that ``alpha`` is a float strictly between 0 and 1.

    Examples
    --------
    >>> check_alpha(0.05)
    0.05
    """
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0.0 < a < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    return a


def check_min_samples(n: int, needed: int, name: str, why: str) -> None:
    """Raise a ``ValueError`` when a sample has fewer than ``needed`` rows."""
    if n < needed:
        raise ValueError(f"{name} has {n} samples, but {why} needs at least {needed}")


def as_random_state(random_state: Any) -> np.random.RandomState:
    """Turn ``None``, an int, a ``RandomState`` or a numpy ``Generator`` into a ``RandomState``.

    A ``Generator`` is consumed once to seed a new ``RandomState`` (our choice), so seeded
    generators from :mod:`bounds.truth.groundtruth` can be passed straight through.

    Examples
    --------
    >>> as_random_state(0).randint(10) == as_random_state(0).randint(10)
    True
    >>> isinstance(as_random_state(np.random.default_rng(1)), np.random.RandomState)
    True
    """
    if isinstance(random_state, np.random.Generator):
        return np.random.RandomState(int(random_state.integers(2**31)))
    if random_state is None or isinstance(random_state, np.random.RandomState):
        return check_random_state(random_state)
    if isinstance(random_state, bool) or not isinstance(random_state, int | np.integer):
        raise ValueError(
            f"random_state must be None, an int, a RandomState or a Generator, got {random_state!r}"
        )
    return check_random_state(int(random_state))

"""Seeded stratified sampling of dataset rows: the fixed train/test split and subsamples.

Every loader in :mod:`cmcd.data` draws its held-out rows with :func:`split_indices` and its
subsamples with :func:`stratified_subsample`. (Which rows each *step of a run* sees is decided
later, by :mod:`cmcd.data.splits`.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cmcd._checks import check_count, check_number

__all__ = [
    "allocate",
    "check_count",
    "check_fraction",
    "split_indices",
    "stratified_subsample",
]


def check_fraction(value: Any, name: str = "test_fraction") -> float:
    """Return ``value`` as a float strictly between 0 and 1, else raise ``ValueError``.

    Examples
    --------
    >>> check_fraction(0.25)
    0.25
    """
    return check_number(value, name, low=0, high=1, low_open=True, high_open=True)


def allocate(counts: np.ndarray, total: int) -> np.ndarray:
    r"""Split ``total`` into integer parts proportional to ``counts`` (largest remainder).

    .. math:: k_c = \lfloor t\, n_c / n \rfloor + 1\{c \text{ among the largest remainders}\}

    Examples
    --------
    >>> allocate(np.array([5, 3, 2]), 5).tolist()
    [3, 1, 1]
    """
    counts = np.asarray(counts, dtype=np.int64)
    exact = total * counts / counts.sum()
    parts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - parts), kind="stable")
    parts[order[: total - parts.sum()]] += 1
    return parts


def stratified_subsample(y: np.ndarray, n_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of ``n_samples`` rows drawn without replacement, keeping class shares.

    Examples
    --------
    >>> y = np.repeat([0, 1], [60, 40])
    >>> idx = stratified_subsample(y, 10, np.random.default_rng(0))
    >>> np.bincount(y[idx]).tolist()
    [6, 4]
    """
    y = np.asarray(y)
    if not 1 <= n_samples <= len(y):
        raise ValueError(f"n_samples must be between 1 and {len(y)}, got {n_samples}")
    classes, counts = np.unique(y, return_counts=True)
    parts = allocate(counts, n_samples)
    picked = [
        rng.choice(np.flatnonzero(y == c), k, replace=False)
        for c, k in zip(classes, parts, strict=True)
    ]
    return np.sort(np.concatenate(picked)).astype(np.int64)


def split_indices(
    y: np.ndarray | None, n: int, test_fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted (train, test) indices; stratified by class when labels exist.

    Each class keeps ``round(test_fraction * n_c)`` test rows (largest-remainder rounding of
    the total, then at least one row on each side per class: our choice). Without labels the
    rows are permuted and split with the same rounding.

    Examples
    --------
    >>> y = np.repeat([0, 1], [10, 20])
    >>> train, test = split_indices(y, 30, 0.3, np.random.default_rng(0))
    >>> np.bincount(y[test]).tolist(), len(train)
    ([3, 6], 21)
    """
    test_fraction = check_fraction(test_fraction)
    if y is None:
        if n < 2:
            raise ValueError(f"a train/test split needs at least 2 samples, got {n}")
        n_test = min(max(round(test_fraction * n), 1), n - 1)
        perm = rng.permutation(n)
        return np.sort(perm[n_test:]).astype(np.int64), np.sort(perm[:n_test]).astype(np.int64)
    classes, counts = np.unique(y, return_counts=True)
    if counts.min() < 2:
        small = classes[counts < 2].tolist()
        raise ValueError(f"labels: classes {small} have fewer than 2 samples; cannot split")
    parts = np.clip(allocate(counts, round(test_fraction * n)), 1, counts - 1)
    test = [
        rng.choice(np.flatnonzero(y == c), k, replace=False)
        for c, k in zip(classes, parts, strict=True)
    ]
    test_idx = np.sort(np.concatenate(test)).astype(np.int64)
    return np.setdiff1d(np.arange(n), test_idx).astype(np.int64), test_idx

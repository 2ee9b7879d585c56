"""Which rows each step of a run sees: SSL/standardisation rows, pairs, labels, evaluation.

Our choices (the paper does not state them):

- Steps 1 and 2 use only training rows; the evaluation rows are the dataset's fixed test split,
  or, with ``evaluate_on: validation``, a stratified part of the training rows (for tuning
  without ever touching the test split).
- The labeled rows are ``labels_per_class`` training rows per class. They may also belong to the
  paired set: step 2 never reads labels.
- The paired set is every training row, or ``distill.n_pairs`` of them drawn by seed.

Each draw uses its own named stream of the run seed (:mod:`cmcd.seeding`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from cmcd.data import PairedDataset
from cmcd.seeding import rng_for, seed_for

if TYPE_CHECKING:  # annotations only: cmcd.run_config imports the dataset registry
    from cmcd.run_config import SplitConfig

__all__ = ["choose_labeled", "make_splits", "RunSplits"]


@dataclass(frozen=True)
class RunSplits:
    """Row indices (into the dataset arrays) used by each step of a run."""

    train: np.ndarray
    paired: np.ndarray
    labeled: np.ndarray
    evaluation: np.ndarray

    @property
    def train_t(self) -> torch.Tensor:
        """Training rows as a tensor index."""
        return torch.as_tensor(self.train)

    @property
    def labeled_t(self) -> torch.Tensor:
        """Labeled rows as a tensor index."""
        return torch.as_tensor(self.labeled)

    @property
    def evaluation_t(self) -> torch.Tensor:
        """Evaluation rows as a tensor index."""
        return torch.as_tensor(self.evaluation)


def _train_and_evaluation(ds: PairedDataset, split: SplitConfig) -> tuple[np.ndarray, np.ndarray]:
    train, test = np.asarray(ds.train_idx), np.asarray(ds.test_idx)
    if split.evaluate_on == "test":
        return train, test
    frac = split.validation_fraction
    if not 0.0 < frac < 1.0:
        raise ValueError(f"validation_fraction must be in (0, 1), got {frac!r}")
    strat = None if ds.y is None else ds.y[train]
    fit, val = train_test_split(
        train, test_size=frac, random_state=seed_for(split.seed, "validation-split"), stratify=strat
    )
    return np.sort(fit), np.sort(val)


def choose_labeled(y: np.ndarray, rows: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Draw ``per_class`` rows of each class among ``rows``.

    Raises
    ------
    ValueError
        If ``per_class`` < 1 or a class has fewer rows than ``per_class``.

    Examples
    --------
    >>> choose_labeled(np.array([0, 0, 1, 1, 1]), np.arange(5), 2, seed=0).size
    4
    """
    if not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise ValueError(f"finetune.labels_per_class must be a positive integer, got {per_class!r}")
    rng = rng_for(seed, "labeled")
    chosen = []
    for label in np.unique(y[rows]):
        members = rows[y[rows] == label]
        if len(members) < per_class:
            raise ValueError(
                f"finetune.labels_per_class={per_class} but class {label} has only "
                f"{len(members)} training rows"
            )
        chosen.append(rng.choice(members, size=per_class, replace=False))
    return np.sort(np.concatenate(chosen))


def _choose_paired(train: np.ndarray, n_pairs: int | None, seed: int) -> np.ndarray:
    if n_pairs is None:
        return train
    if not isinstance(n_pairs, (int, np.integer)) or not 2 <= n_pairs <= len(train):
        raise ValueError(
            f"distill.n_pairs must be an integer in [2, {len(train)}] (the training rows), "
            f"got {n_pairs!r}"
        )
    rng = rng_for(seed, "paired")
    return np.sort(rng.choice(train, size=n_pairs, replace=False))


def make_splits(ds: PairedDataset, split: SplitConfig) -> RunSplits:
    """Split the dataset rows for one run (see the module docstring for the rules).

    ``split`` is :attr:`cmcd.run_config.RunConfig.split` (the five settings that choose rows).
    """
    train, evaluation = _train_and_evaluation(ds, split)
    paired = _choose_paired(train, split.n_pairs, split.seed)
    if ds.y is None:
        labeled = np.array([], dtype=np.int64)
    else:
        labeled = choose_labeled(ds.y, train, split.labels_per_class, split.seed)
    return RunSplits(train=train, paired=paired, labeled=labeled, evaluation=evaluation)

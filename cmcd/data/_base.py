"""Paired datasets: the container, the registry and the seeded splits shared by every loader.

A :class:`PairedDataset` holds two aligned views of the same objects (row ``i`` of
``x_source`` and of ``x_target`` is one object), optional labels and a fixed train/test
split. Loaders register themselves in :data:`DATASETS` with :func:`register`;
:func:`load_dataset` checks the name and options before calling one.
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np

__all__ = [
    "check_seed",
    "dataset_options",
    "DATASETS",
    "DEFAULT_TEST_FRACTION",
    "load_dataset",
    "PairedDataset",
    "register",
    "ViewSpec",
]

DEFAULT_TEST_FRACTION = 0.3
"""Default held-out fraction of every dataset (our choice)."""

DATASETS: dict[str, Callable[..., PairedDataset]] = {}
"""Registry: dataset name -> loader ``loader(*, seed=0, **options) -> PairedDataset``."""

ViewKind = Literal["vector", "image", "spectrogram"]
# a loader returns a PairedDataset or a class with the same interface (streamed data)
LoaderT = TypeVar("LoaderT", bound=Callable[..., Any])


@dataclass(frozen=True)
class ViewSpec:
    """Description of one modality (view) of a paired dataset.

    Parameters
    ----------
    name : str
        View name, e.g. ``"fac"``, ``"pix"``, ``"image"``, ``"sketch"``.
    kind : {"vector", "image", "spectrogram"}
        ``"vector"`` for feature vectors, ``"image"`` for single-channel images in [0, 1],
        ``"spectrogram"`` for log-mel spectrograms (mel bands x frames) in [0, 1].
    shape : tuple of int
        ``(d,)`` for vectors, ``(H, W)`` for images, ``(n_mels, n_frames)`` for spectrograms.

    Examples
    --------
    >>> ViewSpec("pix", "image", (16, 15)).shape
    (16, 15)
    """

    name: str
    kind: ViewKind
    shape: tuple[int, ...]

    def __post_init__(self) -> None:
        expected = {"vector": 1, "image": 2, "spectrogram": 2}
        if self.kind not in expected:
            raise ValueError(f"ViewSpec kind must be one of {list(expected)}, got {self.kind!r}")
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != expected[self.kind] or min(shape) < 1:
            raise ValueError(
                f"ViewSpec shape of a {self.kind} view must have {expected[self.kind]} positive "
                f"entries, got {self.shape!r}"
            )
        object.__setattr__(self, "shape", shape)


@dataclass(frozen=True)
class PairedDataset:
    """Two aligned views of the same objects, optional labels and a fixed split.

    Parameters
    ----------
    x_source, x_target : numpy.ndarray
        float32 arrays of shape ``(n, *source.shape)`` and ``(n, *target.shape)``; row ``i``
        of both is the same object. Raw values: vector views are NOT standardised (the
        pipeline standardises with training statistics); image views lie in [0, 1].
    y : numpy.ndarray or None
        int64 labels ``0..C-1`` of shape ``(n,)``, or None for unlabeled data.
    source, target : ViewSpec
        Descriptions of the two views.
    train_idx, test_idx : numpy.ndarray
        Disjoint sorted int64 indices, fixed by the seed (stratified when labels exist).
    name : str
        Human-readable name, e.g. ``"mfeat:fac->zer"``.
    info : dict
        Loader-specific facts, e.g. ``{"gap": 0.5, "family": "sketch"}``.

    Examples
    --------
    >>> x = np.zeros((4, 2), dtype=np.float32)
    >>> ds = PairedDataset(x, x, np.array([0, 1, 0, 1]), ViewSpec("a", "vector", (2,)),
    ...                    ViewSpec("b", "vector", (2,)), np.array([0, 1]), np.array([2, 3]),
    ...                    "toy", {})
    >>> ds.n_samples, ds.n_classes
    (4, 2)
    """

    x_source: np.ndarray
    x_target: np.ndarray
    y: np.ndarray | None
    source: ViewSpec
    target: ViewSpec
    train_idx: np.ndarray
    test_idx: np.ndarray
    name: str
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.x_source)
        for attr, view in (("x_source", self.source), ("x_target", self.target)):
            arr = np.asarray(getattr(self, attr), dtype=np.float32)
            if arr.shape != (n, *view.shape):
                raise ValueError(
                    f"{attr} must have shape {(n, *view.shape)} (n, *{view.name} shape), "
                    f"got {arr.shape}"
                )
            object.__setattr__(self, attr, arr)
        if self.y is not None:
            y = np.asarray(self.y, dtype=np.int64)
            if y.shape != (n,) or (n and y.min() < 0):
                raise ValueError(f"y must be non-negative int labels of shape ({n},)")
            object.__setattr__(self, "y", y)
        for attr in ("train_idx", "test_idx"):
            idx = np.asarray(getattr(self, attr), dtype=np.int64)
            if idx.ndim != 1 or (idx.size and (idx.min() < 0 or idx.max() >= n)):
                raise ValueError(f"{attr} must be 1-D indices in [0, {n})")
            object.__setattr__(self, attr, idx)
        if np.intersect1d(self.train_idx, self.test_idx).size:
            raise ValueError("train_idx and test_idx must be disjoint")

    @property
    def n_samples(self) -> int:
        """Number of paired objects ``n``."""
        return int(len(self.x_source))

    @property
    def n_classes(self) -> int | None:
        """Number of classes ``C`` (labels are ``0..C-1``), or None without labels."""
        return None if self.y is None else int(self.y.max()) + 1


def register(name: str) -> Callable[[LoaderT], LoaderT]:
    """Add a loader to :data:`DATASETS` under ``name`` (decorator).

    Examples
    --------
    >>> "mfeat" in DATASETS
    True
    """

    def decorator(loader: LoaderT) -> LoaderT:
        DATASETS[name] = loader
        return loader

    return decorator


def _check_name(name: Any) -> Callable[..., PairedDataset]:
    if not isinstance(name, str) or name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid names: {sorted(DATASETS)}")
    return DATASETS[name]


def dataset_options(name: str) -> dict[str, object]:
    """Return the valid option names of a dataset and their defaults (``seed`` excluded).

    The options are the keyword-only parameters of the registered loader.

    Examples
    --------
    >>> dataset_options("mfeat")["source"]
    'fac'
    """
    params = inspect.signature(_check_name(name)).parameters.values()
    return {
        p.name: p.default
        for p in params
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name != "seed"
    }


def load_dataset(name: str, *, seed: int = 0, **options: Any) -> PairedDataset:
    """Load a registered paired dataset after checking its name and options.

    Parameters
    ----------
    name : str
        A key of :data:`DATASETS`.
    seed : int
        Fixes subsampling, random transforms and the train/test split.
    **options
        Loader options; see :func:`dataset_options`.

    Raises
    ------
    ValueError
        Unknown ``name`` (the valid names are listed) or unknown option (the valid
        options of that dataset are listed).

    Examples
    --------
    >>> ds = load_dataset("digits", gap=0.0, n_samples=100)
    >>> ds.n_samples, ds.source.shape, bool(np.array_equal(ds.x_source, ds.x_target))
    (100, (8, 8), True)
    """
    loader = _check_name(name)
    valid = dataset_options(name)
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for dataset {name!r}; valid options: {sorted(valid)}"
        )
    return loader(seed=check_seed(seed), **options)


def check_seed(seed: Any) -> int:
    """Return ``seed`` as an int, or raise ``ValueError`` if it is not a non-negative integer.

    Examples
    --------
    >>> check_seed(3)
    3
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)

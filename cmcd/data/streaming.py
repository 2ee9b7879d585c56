"""Paired datasets read from disk row by row, and the loaders that stream them.

A :class:`StreamingPairedDataset` has the fields of :class:`~cmcd.data.PairedDataset` except
the two arrays: ``source_rows`` and ``target_rows`` are lazy :class:`RowReader` s
(``len(reader)``, ``reader[i] -> float32 array of the view's shape``), so that a dataset of
any size costs the memory of its labels and file names only. The readers refuse to be turned
into one array (``np.asarray(reader)`` raises ``TypeError``, our choice), so that no code
path materialises a dataset by accident.

:func:`make_loader` wraps chosen rows in a ``torch.utils.data.DataLoader``;
:func:`streamed_moments` and :func:`embed_rows` make one streaming pass over rows.

Determinism (our choices)
-------------------------
- Shuffled loaders draw epoch ``e`` (counted from 0: the ``e``-th pass over the loader, or
  the value set with :meth:`EpochSampler.set_epoch`) as ``torch.randperm`` with a
  ``torch.Generator`` seeded by ``seed_for(seed, f"{stream}/epoch-{e}")``
  (:func:`cmcd.seeding.seed_for`): the same seed and stream give the same batches in every
  epoch, other seeds or streams give others, and epochs are independent draws.
- Worker ``k`` seeds ``random``, ``numpy`` and ``torch`` from
  ``seed_for(seed, f"{stream}/worker-{k}")``; the loader's own generator (whose draws seed
  the workers' torch state first) is seeded by ``seed_for(seed, f"{stream}/workers")``.
  Reading rows draws no random numbers, so the batches do not depend on the number of
  workers: ``workers=2`` gives the batches of ``workers=0``.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

from cmcd.data._base import PairedDataset, ViewSpec
from cmcd.seeding import seed_for

__all__ = [
    "ArrayRows",
    "EpochSampler",
    "RowReader",
    "RowsDataset",
    "Standardise",
    "StreamingPairedDataset",
    "embed_rows",
    "make_loader",
    "streamed_moments",
    "streaming_from_paired",
]

SIDES = ("source", "target")


class RowReader:
    """Lazy rows of one view: ``len(reader)`` rows, ``reader[i]`` a float32 array of ``shape``.

    Subclasses implement :meth:`read`. Conversion to one array is refused (``__array__``
    raises ``TypeError``): stream the rows with :func:`make_loader` instead.

    Parameters
    ----------
    shape : tuple of int
        Shape of one row (the view's ``ViewSpec.shape``).
    """

    def __init__(self, shape: Sequence[int]) -> None:
        self.shape = tuple(int(s) for s in shape)

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, i: int) -> np.ndarray:
        """Return row ``i`` (``0 <= i < len(self)``) as a float32 array of ``self.shape``."""
        raise NotImplementedError

    def __getitem__(self, i: int) -> np.ndarray:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise TypeError(f"a row reader takes one integer row index, got {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"row {i} out of range for a reader of {n} rows")
        return self.read(int(i) % n)

    def __iter__(self) -> Iterator[np.ndarray]:
        raise TypeError("row readers are not iterated whole: stream rows with make_loader")

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError(
            f"{type(self).__name__} refuses to be converted to one array (it would load "
            f"all {len(self)} rows into memory): stream rows with cmcd.data.streaming.make_loader"
        )


class ArrayRows(RowReader):
    """A :class:`RowReader` over an in-memory array ``(n, *shape)`` (tests, inline columns).

    Examples
    --------
    >>> rows = ArrayRows(np.arange(6, dtype=np.float32).reshape(3, 2))
    >>> len(rows), rows[2].tolist()
    (3, [4.0, 5.0])
    """

    def __init__(self, array: np.ndarray) -> None:
        super().__init__(np.shape(array)[1:])
        self._array = array

    def __len__(self) -> int:
        return len(self._array)

    def read(self, i: int) -> np.ndarray:
        """Return a float32 copy of row ``i``."""
        return np.array(self._array[i], dtype=np.float32)


def _check_index(idx: Any, n: int, name: str) -> np.ndarray:
    arr = np.asarray(idx, dtype=np.int64)
    if arr.ndim != 1 or (arr.size and (arr.min() < 0 or arr.max() >= n)):
        raise ValueError(f"{name} must be 1-D indices in [0, {n})")
    return arr


@dataclass(frozen=True)
class StreamingPairedDataset:
    """A :class:`~cmcd.data.PairedDataset` whose two views are read from disk row by row.

    Parameters
    ----------
    source_rows, target_rows : RowReader
        Lazy readers of the same length ``n``; ``reader[i]`` has the view's shape.
    y, source, target, train_idx, test_idx, name, info
        As in :class:`~cmcd.data.PairedDataset` (labels and indices stay in memory).
    fingerprint : str
        Content key of the rows (e.g. a SHA-256 of the manifest, the files' sizes and times
        and the decode settings); checkpoint keys use it instead of hashing the data.
    workers : int
        DataLoader worker processes the pipeline uses for streaming passes (0: read in the
        main process).

    Examples
    --------
    >>> x = np.zeros((4, 2), dtype=np.float32)
    >>> ds = StreamingPairedDataset(ArrayRows(x), ArrayRows(x), np.array([0, 1, 0, 1]),
    ...                             ViewSpec("a", "vector", (2,)), ViewSpec("b", "vector", (2,)),
    ...                             np.array([0, 1]), np.array([2, 3]), "toy")
    >>> ds.n_samples, ds.n_classes, ds.source_rows[3].shape
    (4, 2, (2,))
    """

    source_rows: RowReader
    target_rows: RowReader
    y: np.ndarray | None
    source: ViewSpec
    target: ViewSpec
    train_idx: np.ndarray
    test_idx: np.ndarray
    name: str
    info: dict = field(default_factory=dict)
    fingerprint: str = ""
    workers: int = 0

    def __post_init__(self) -> None:
        n = len(self.source_rows)
        for attr, view in (("source_rows", self.source), ("target_rows", self.target)):
            reader = getattr(self, attr)
            if len(reader) != n or tuple(reader.shape) != view.shape:
                raise ValueError(
                    f"{attr} must hold {n} rows of shape {view.shape} ({view.name}), got "
                    f"{len(reader)} rows of shape {tuple(reader.shape)}"
                )
        if self.y is not None:
            y = np.asarray(self.y, dtype=np.int64)
            if y.shape != (n,) or (n and y.min() < 0):
                raise ValueError(f"y must be non-negative int labels of shape ({n},)")
            object.__setattr__(self, "y", y)
        for attr in ("train_idx", "test_idx"):
            object.__setattr__(self, attr, _check_index(getattr(self, attr), n, attr))
        if np.intersect1d(self.train_idx, self.test_idx).size:
            raise ValueError("train_idx and test_idx must be disjoint")

    @property
    def n_samples(self) -> int:
        """Number of paired objects ``n``."""
        return int(len(self.source_rows))

    @property
    def n_classes(self) -> int | None:
        """Number of classes ``C`` (labels are ``0..C-1``), or None without labels."""
        return None if self.y is None else int(self.y.max()) + 1

    def rows(self, side: str) -> RowReader:
        """Return the reader of ``side`` (``"source"`` or ``"target"``)."""
        return getattr(self, f"{_check_side(side)}_rows")

    def view(self, side: str) -> ViewSpec:
        """Return the :class:`~cmcd.data.ViewSpec` of ``side``."""
        return getattr(self, _check_side(side))


def _check_side(side: Any) -> str:
    if side not in SIDES:
        raise ValueError(f"side must be one of {list(SIDES)}, got {side!r}")
    return side


def streaming_from_paired(ds: PairedDataset) -> StreamingPairedDataset:
    """Wrap an in-memory dataset's arrays in :class:`ArrayRows` (for tests and checks).

    Examples
    --------
    >>> from cmcd.data import load_dataset
    >>> streaming_from_paired(load_dataset("synthetic", n_samples=50)).n_samples
    50
    """
    return StreamingPairedDataset(
        ArrayRows(ds.x_source),
        ArrayRows(ds.x_target),
        ds.y,
        ds.source,
        ds.target,
        ds.train_idx,
        ds.test_idx,
        ds.name,
        dict(ds.info),
    )


class Standardise:
    r"""Picklable row transform :math:`(x - \mu) / \sigma` in float32 (workers can run it).

    Examples
    --------
    >>> Standardise(np.array([1.0]), np.array([2.0]))(np.array([5.0])).tolist()
    [2.0]
    """

    def __init__(self, mean: np.ndarray, std: np.ndarray) -> None:
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Return the standardised row."""
        return ((x - self.mean) / self.std).astype(np.float32)


Transform = Callable[[np.ndarray], np.ndarray]


class RowsDataset(Dataset):
    """``torch`` map-style dataset over chosen rows: item ``k`` is ``(k, x_side1[, x_side2])``.

    ``k`` indexes ``rows`` (a *position*), the arrays are the views of dataset row
    ``rows[k]``, each passed through its side's transform (if any).

    Examples
    --------
    >>> x = np.arange(8, dtype=np.float32).reshape(4, 2)
    >>> ds = StreamingPairedDataset(ArrayRows(x), ArrayRows(-x), None,
    ...                             ViewSpec("a", "vector", (2,)), ViewSpec("b", "vector", (2,)),
    ...                             np.array([0, 1]), np.array([2, 3]), "toy")
    >>> k, xs, xt = RowsDataset(ds, [3, 1])[1]
    >>> k, xs.tolist(), xt.tolist()
    (1, [2.0, 3.0], [-2.0, -3.0])
    """

    def __init__(
        self,
        ds: StreamingPairedDataset,
        rows: Sequence[int] | np.ndarray,
        sides: Sequence[str] = SIDES,
        transforms: dict[str, Transform | None] | None = None,
    ) -> None:
        if not sides:
            raise ValueError("sides must name at least one of 'source', 'target'")
        self.readers = [ds.rows(side) for side in sides]
        self.transforms = [(transforms or {}).get(side) for side in sides]
        self.rows = _check_index(rows, ds.n_samples, "rows")

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, k: int) -> tuple:
        row = int(self.rows[k])
        out = []
        for reader, transform in zip(self.readers, self.transforms, strict=True):
            x = reader[row]
            out.append(x if transform is None else transform(x))
        return (k, *out)


class EpochSampler(Sampler[int]):
    """Positions ``0..n-1``, shuffled per epoch by a seeded generator (module docstring).

    Each pass (``iter``) draws the permutation of the current epoch, then moves to the next
    epoch; :meth:`set_epoch` picks the epoch of the next pass.

    Examples
    --------
    >>> s = EpochSampler(5, shuffle=True, seed=0, stream="demo")
    >>> first, second = list(s), list(s)
    >>> s.set_epoch(0)
    >>> list(s) == first, sorted(second)
    (True, [0, 1, 2, 3, 4])
    """

    def __init__(self, n: int, *, shuffle: bool, seed: int, stream: str) -> None:
        self.n, self.shuffle, self.seed, self.stream = int(n), bool(shuffle), int(seed), stream
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Make the next pass draw the order of ``epoch``."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        epoch, self.epoch = self.epoch, self.epoch + 1
        if not self.shuffle:
            return iter(range(self.n))
        generator = torch.Generator().manual_seed(
            seed_for(self.seed, f"{self.stream}/epoch-{epoch}")
        )
        return iter(torch.randperm(self.n, generator=generator).tolist())


def _seed_worker(seed: int, stream: str, worker_id: int) -> None:
    """``worker_init_fn``: seed ``random``, numpy and torch from the named stream + worker id."""
    s = seed_for(seed, f"{stream}/worker-{worker_id}")
    random.seed(s)
    np.random.seed(s)  # noqa: NPY002 - legacy global state decoders may read
    torch.manual_seed(s)
    torch.set_num_threads(1)  # our choice: a worker decodes; the main process computes


def make_loader(
    ds: StreamingPairedDataset,
    rows: Sequence[int] | np.ndarray,
    *,
    sides: Sequence[str] = SIDES,
    batch_size: int,
    shuffle: bool,
    seed: int,
    stream: str,
    device: torch.device | str = "cpu",
    workers: int = 0,
    drop_last: bool = False,
    transforms: dict[str, Transform | None] | None = None,
) -> DataLoader:
    """Return a ``DataLoader`` of ``(positions, x_side1[, x_side2])`` batches over ``rows``.

    Parameters
    ----------
    ds : StreamingPairedDataset
        The dataset; nothing of it is loaded beyond the current batches.
    rows : array-like of int
        Dataset rows to stream; ``positions`` (int64) index into ``rows``.
    sides : sequence of {"source", "target"}
        Views returned, in this order.
    batch_size : int
        Rows per batch (>= 1).
    shuffle : bool
        Shuffle per epoch (see the module docstring for the seeding).
    seed : int
        The run seed; with ``stream`` it fixes the order and the workers' seeds.
    stream : str
        Name of this use of randomness (:mod:`cmcd.seeding`).
    device : torch.device or str
        Where batches will go; memory is pinned only for CUDA.
    workers : int
        Worker processes (0: read in the calling process); they persist across epochs.
    drop_last : bool
        Drop the last partial batch.
    transforms : dict, optional
        Side -> picklable ``f(row) -> row`` applied after reading (e.g. :class:`Standardise`).

    Returns
    -------
    torch.utils.data.DataLoader

    Raises
    ------
    ValueError
        ``batch_size`` < 1, ``workers`` < 0, an unknown side or rows out of range.

    Examples
    --------
    >>> x = np.arange(10, dtype=np.float32).reshape(5, 2)
    >>> ds = StreamingPairedDataset(ArrayRows(x), ArrayRows(x), None,
    ...                             ViewSpec("a", "vector", (2,)), ViewSpec("b", "vector", (2,)),
    ...                             np.array([0, 1, 2]), np.array([3, 4]), "toy")
    >>> pos, xs = next(iter(make_loader(ds, [4, 2], sides=("source",), batch_size=2,
    ...                                 shuffle=False, seed=0, stream="demo")))
    >>> pos.tolist(), xs[:, 0].tolist()
    ([0, 1], [8.0, 4.0])
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer, got {workers!r}")
    dataset = RowsDataset(ds, rows, [_check_side(s) for s in sides], transforms)
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, stream=stream)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        drop_last=drop_last,
        num_workers=workers,
        worker_init_fn=functools.partial(_seed_worker, int(seed), stream) if workers else None,
        generator=torch.Generator().manual_seed(seed_for(seed, f"{stream}/workers")),
        pin_memory=torch.device(device).type == "cuda",
        persistent_workers=workers > 0,
    )


def streamed_moments(
    ds: StreamingPairedDataset,
    side: str,
    rows: Sequence[int] | np.ndarray,
    *,
    batch_size: int = 1024,
    workers: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-feature mean and (population) standard deviation of ``rows`` in one pass.

    Batches are merged with Chan et al.'s pairwise update in float64:

    .. math:: M_{2,AB} = M_{2,A} + M_{2,B} + \delta^2 \frac{n_A n_B}{n_A + n_B},
              \quad \delta = \bar x_B - \bar x_A

    Returns
    -------
    mean, std : numpy.ndarray
        float64 arrays of the view's shape (``std`` as ``np.std``, ``ddof=0``).

    Raises
    ------
    ValueError
        ``rows`` is empty.

    References
    ----------
    Chan, Golub, LeVeque, "Updating formulae and a pairwise algorithm for computing sample
    variances", 1979.

    Examples
    --------
    >>> x = np.random.default_rng(0).normal(size=(100, 3)).astype(np.float32)
    >>> ds = streaming_from_paired(PairedDataset(x, x, None, ViewSpec("a", "vector", (3,)),
    ...     ViewSpec("b", "vector", (3,)), np.arange(70), np.arange(70, 100), "toy"))
    >>> mean, std = streamed_moments(ds, "source", np.arange(100), batch_size=7)
    >>> bool(np.allclose(mean, x.mean(0), atol=1e-6) and np.allclose(std, x.std(0), atol=1e-6))
    True
    """
    if len(rows) == 0:
        raise ValueError("streamed_moments needs at least one row, got none")
    loader = make_loader(
        ds, rows, sides=(side,), batch_size=batch_size, shuffle=False, seed=0,
        stream="moments", workers=workers,
    )  # fmt: skip
    count, mean, m2 = 0, np.zeros(ds.view(side).shape), np.zeros(ds.view(side).shape)
    for _, xb in loader:
        x = xb.double().numpy()
        nb, mb = len(x), x.mean(axis=0)
        delta, total = mb - mean, count + nb
        m2 += ((x - mb) ** 2).sum(axis=0) + delta**2 * count * nb / total
        mean += delta * nb / total
        count = total
    return mean, np.sqrt(m2 / count)


@torch.no_grad()
def embed_rows(
    encoder: nn.Module,
    ds: StreamingPairedDataset,
    side: str,
    rows: Sequence[int] | np.ndarray,
    *,
    batch_size: int = 1024,
    device: torch.device | str = "cpu",
    workers: int = 0,
    transform: Transform | None = None,
) -> np.ndarray:
    """Return encoder outputs (n x d, float32) of ``rows``, streamed, eval mode, no grad.

    Only the outputs are kept (they are small); the inputs are read batch by batch.

    Examples
    --------
    >>> x = np.ones((5, 2), dtype=np.float32)
    >>> ds = streaming_from_paired(PairedDataset(x, x, None, ViewSpec("a", "vector", (2,)),
    ...     ViewSpec("b", "vector", (2,)), np.arange(3), np.arange(3, 5), "toy"))
    >>> embed_rows(nn.Linear(2, 3), ds, "source", [0, 4], batch_size=1).shape
    (2, 3)
    """
    device = torch.device(device)
    encoder.eval()
    loader = make_loader(
        ds, rows, sides=(side,), batch_size=batch_size, shuffle=False, seed=0, stream="embed",
        device=device, workers=workers, transforms={side: transform},
    )  # fmt: skip
    out: np.ndarray | None = None
    for pos, xb in loader:
        z = encoder(xb.to(device, non_blocking=True)).float().cpu().numpy()
        if out is None:
            out = np.empty((len(rows), *z.shape[1:]), dtype=np.float32)
        out[pos.numpy()] = z
    return out if out is not None else np.empty((0, 0), dtype=np.float32)

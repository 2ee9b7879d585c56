"""The pipeline's adapter for datasets streamed from disk (:mod:`cmcd.data.streaming`).

The training loops of :mod:`cmcd.train.training` take an input ``x`` they index with batch
positions (``x[idx]``) and measure with ``len(x)``; :func:`cmcd.train.training.embed` splits
it (``x.split(batch_size)``). :class:`LazyRows` behaves like that tensor for exactly those
uses, reading, decoding and standardising only the rows asked for, so the loops run
unchanged on data that is never held in memory:

- ``rows[idx]`` (a tensor, array or list of positions) reads those rows and returns a
  float32 tensor on the run's device;
- ``rows.take(idx)`` is the lazy subset (what ``x[idx]`` of a tensor is to the pipeline when
  it selects the rows of a step);
- ``rows.split(batch_size)`` streams every row in order, in batches, through a DataLoader
  (with the dataset's ``workers``);
- :meth:`LazyRows.fingerprint` stands for a content hash in the checkpoint keys: the
  dataset's fingerprint (manifest bytes, files' sizes and times, decode settings), the rows
  and the standardisation, never the data themselves.

Vector views are standardised with the statistics of the training rows (as
:func:`cmcd.runs.pipeline.standardise` does in memory), computed in one streaming pass
(:func:`cmcd.data.streaming.streamed_moments`).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from torch import Tensor

from cmcd.data.splits import RunSplits
from cmcd.data.streaming import Standardise, StreamingPairedDataset, make_loader, streamed_moments

__all__ = ["LazyRows", "lazy_views", "select_rows", "standardiser"]

MIN_STD = 1e-8
"""Features of a smaller training std keep unit scale (as in memory: ``standardise``)."""


class LazyRows:
    """Rows of one side of a streaming dataset that act as the input tensor of a loop.

    Parameters
    ----------
    ds : StreamingPairedDataset
        The dataset.
    side : {"source", "target"}
        Which view.
    rows : array-like of int
        Dataset rows; position ``k`` of this object is dataset row ``rows[k]``.
    device : torch.device
        Where read batches go.
    transform : Standardise, optional
        Applied to each row after reading.

    Examples
    --------
    >>> from cmcd.data import load_dataset
    >>> from cmcd.data.streaming import streaming_from_paired
    >>> ds = streaming_from_paired(load_dataset("synthetic", n_samples=30))
    >>> x = LazyRows(ds, "source", np.arange(30), torch.device("cpu")).take([4, 7, 9])
    >>> len(x), tuple(x[torch.tensor([2, 0])].shape) == (2, *ds.source.shape)
    (3, True)
    """

    def __init__(
        self,
        ds: StreamingPairedDataset,
        side: str,
        rows: Any,
        device: torch.device,
        transform: Standardise | None = None,
    ) -> None:
        self.ds, self.side, self.device, self.transform = ds, side, torch.device(device), transform
        self.rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        self.reader = ds.rows(side)
        self.dtype = torch.float32

    @property
    def shape(self) -> torch.Size:
        """``(len(self), *view shape)``, as a tensor's."""
        return torch.Size((len(self.rows), *self.ds.view(self.side).shape))

    def __len__(self) -> int:
        return len(self.rows)

    def _positions(self, idx: Any) -> np.ndarray:
        if isinstance(idx, Tensor):
            idx = idx.detach().cpu().numpy()
        return np.asarray(idx, dtype=np.int64).reshape(-1)

    def take(self, idx: Any) -> LazyRows:
        """Return the lazy subset of positions ``idx`` (nothing is read)."""
        return LazyRows(self.ds, self.side, self.rows[self._positions(idx)], self.device,
                        self.transform)  # fmt: skip

    def __getitem__(self, idx: Any) -> Tensor:
        """Read the rows at positions ``idx`` as one float32 tensor on the device.

        With ``ds.workers > 0`` the rows are decoded by that many threads (our choice: the
        decoders of PIL and numpy release the GIL), in order.
        """
        rows = self.rows[self._positions(idx)]
        out = np.empty((len(rows), *self.reader.shape), dtype=np.float32)

        def read(k: int) -> None:
            x = self.reader[int(rows[k])]
            out[k] = x if self.transform is None else self.transform(x)

        if self.ds.workers > 0 and len(rows) > 1:
            list(_threads(self.ds.workers).map(read, range(len(rows))))
        else:
            for k in range(len(rows)):
                read(k)
        return torch.from_numpy(out).to(self.device)

    def split(self, batch_size: int) -> Iterator[Tensor]:
        """Stream every row in order, ``batch_size`` at a time (as ``Tensor.split``)."""
        loader = make_loader(
            self.ds, self.rows, sides=(self.side,), batch_size=int(batch_size), shuffle=False,
            seed=0, stream="embed", device=self.device, workers=self.ds.workers,
            transforms={self.side: self.transform},
        )  # fmt: skip
        for _, xb in loader:
            yield xb.to(self.device, non_blocking=True)

    def fingerprint(self) -> str:
        """SHA-256 of what these rows hold: dataset fingerprint, side, rows, transform."""
        h = hashlib.sha256()
        view = self.ds.view(self.side)
        spec = {"dataset": self.ds.fingerprint, "side": self.side, "kind": view.kind,
                "shape": list(view.shape)}  # fmt: skip
        h.update(json.dumps(spec, sort_keys=True).encode())
        h.update(self.rows.tobytes())
        if self.transform is not None:
            h.update(self.transform.mean.tobytes() + self.transform.std.tobytes())
        return h.hexdigest()

    def __array__(self, *args: Any, **kwargs: Any) -> np.ndarray:
        raise TypeError("LazyRows refuses to be converted to one array: read batches with x[idx]")


@functools.lru_cache(maxsize=4)
def _threads(n: int) -> ThreadPoolExecutor:
    """One shared pool of ``n`` reading threads (created on first use)."""
    return ThreadPoolExecutor(max_workers=n, thread_name_prefix="cmcd-read")


def select_rows(x: Any, idx: Any) -> Any:
    """``x[idx]`` for a tensor (today's path, unchanged); the lazy subset for :class:`LazyRows`.

    Examples
    --------
    >>> select_rows(torch.arange(5), torch.tensor([3, 1])).tolist()
    [3, 1]
    """
    return x.take(idx) if isinstance(x, LazyRows) else x[idx]


def standardiser(ds: StreamingPairedDataset, side: str, fit_rows: np.ndarray) -> Standardise | None:
    """Z-scoring of a vector view with the moments of ``fit_rows`` (None for other views).

    Our choice, as in memory: constant features (std < :data:`MIN_STD`) keep unit scale.
    """
    if ds.view(side).kind != "vector":
        return None
    mean, std = streamed_moments(ds, side, fit_rows, workers=ds.workers)
    std[std < MIN_STD] = 1.0
    return Standardise(mean, std)


def lazy_views(
    ds: StreamingPairedDataset, splits: RunSplits, device: torch.device
) -> tuple[LazyRows, LazyRows]:
    """Every row of both sides as :class:`LazyRows`, standardised with ``splits.train``."""
    rows = np.arange(ds.n_samples)
    source, target = (
        LazyRows(ds, side, rows, device, standardiser(ds, side, splits.train))
        for side in ("source", "target")
    )
    return source, target

"""Streaming datasets: loaders (order, seeding, workers), moments and embeddings."""

import numpy as np
import pytest
import torch
from torch import nn

from cmcd.data import PairedDataset, ViewSpec, load_dataset
from cmcd.data.streaming import (
    ArrayRows,
    RowReader,
    StreamingPairedDataset,
    embed_rows,
    make_loader,
    streamed_moments,
    streaming_from_paired,
)


@pytest.fixture(scope="module")
def ds():
    return streaming_from_paired(load_dataset("synthetic", n_samples=60))


def _batches(loader):
    return [tuple(t.clone() for t in batch) for batch in loader]


def _loader(ds, **kw):
    options = {"batch_size": 8, "shuffle": True, "seed": 0, "stream": "distill"}
    options.update(kw)
    return make_loader(ds, ds.train_idx, **options)


def test_batches_hold_positions_into_rows_and_their_views(ds):
    rows = ds.train_idx[::-1].copy()
    seen = []
    for pos, xs, xt in make_loader(ds, rows, batch_size=7, shuffle=True, seed=1, stream="s"):
        assert pos.dtype == torch.int64 and xs.dtype == torch.float32
        for k, p in enumerate(pos.tolist()):
            np.testing.assert_array_equal(xs[k].numpy(), ds.source_rows[rows[p]])
            np.testing.assert_array_equal(xt[k].numpy(), ds.target_rows[rows[p]])
        seen.extend(pos.tolist())
    assert sorted(seen) == list(range(len(rows))) and seen != sorted(seen)


def test_loader_order_is_fixed_by_seed_and_stream(ds):
    base = [b[0] for b in _batches(_loader(ds))]
    again = [b[0] for b in _batches(_loader(ds))]
    other_seed = [b[0] for b in _batches(_loader(ds, seed=1))]
    other_stream = [b[0] for b in _batches(_loader(ds, stream="source-ssl"))]
    assert all(torch.equal(a, b) for a, b in zip(base, again, strict=True))
    assert not torch.equal(torch.cat(base), torch.cat(other_seed))
    assert not torch.equal(torch.cat(base), torch.cat(other_stream))


def test_each_epoch_is_a_new_deterministic_draw(ds):
    loader = _loader(ds)
    epoch0, epoch1 = (torch.cat([b[0] for b in _batches(loader)]) for _ in range(2))
    assert not torch.equal(epoch0, epoch1)
    fresh = _loader(ds)
    fresh.sampler.set_epoch(1)
    torch.testing.assert_close(torch.cat([b[0] for b in _batches(fresh)]), epoch1)


def test_unshuffled_loader_keeps_row_order_and_drop_last(ds):
    loader = _loader(ds, shuffle=False, drop_last=True)
    pos = torch.cat([b[0] for b in loader])
    assert pos.tolist() == list(range(len(ds.train_idx) // 8 * 8))
    assert not loader.pin_memory  # CPU device


class NoisyRows(RowReader):
    """Rows drawn from numpy's global generator (to observe the workers' seeding)."""

    def __init__(self, n):
        super().__init__((2,))
        self.n = n

    def __len__(self):
        return self.n

    def read(self, i):
        return np.array([i, np.random.random()], dtype=np.float32)  # noqa: NPY002


def _noisy():
    rows = NoisyRows(24)
    view = ViewSpec("v", "vector", (2,))
    return StreamingPairedDataset(rows, rows, None, view, view, np.arange(20), np.arange(20, 24),
                                  "noisy")  # fmt: skip


def test_two_workers_give_the_batches_of_zero_workers(ds):
    serial = _batches(_loader(ds, workers=0))
    loader = _loader(ds, workers=2)
    assert loader.persistent_workers and loader.num_workers == 2
    parallel = _batches(loader)
    assert len(serial) == len(parallel)
    for a, b in zip(serial, parallel, strict=True):
        for ta, tb in zip(a, b, strict=True):
            torch.testing.assert_close(ta, tb, rtol=0, atol=0)


def test_workers_are_seeded_from_the_named_stream():
    def draws(stream):
        loader = make_loader(_noisy(), np.arange(24), sides=("source",), batch_size=4,
                             shuffle=False, seed=0, stream=stream, workers=2)  # fmt: skip
        return torch.cat([xs for _, xs in loader])

    first, again, other = draws("a"), draws("a"), draws("b")
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert not torch.equal(first[:, 1], other[:, 1])
    assert first[:, 0].tolist() == list(range(24))  # in order whatever the workers


def test_streamed_moments_match_numpy_on_the_chosen_rows(ds):
    rows = ds.train_idx
    x = np.stack([ds.source_rows[i] for i in rows]).astype(np.float64)
    mean, std = streamed_moments(ds, "source", rows, batch_size=7)
    np.testing.assert_allclose(mean, x.mean(axis=0), rtol=0, atol=1e-10)
    np.testing.assert_allclose(std, x.std(axis=0), rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="at least one row"):
        streamed_moments(ds, "source", [])


def test_embed_rows_is_the_eval_mode_encoder_in_row_order(ds):
    torch.manual_seed(0)
    encoder = nn.Sequential(nn.Linear(ds.target.shape[0], 16), nn.Dropout(0.5), nn.Linear(16, 4))
    encoder.train()
    rows = np.array([5, 0, 33, 2, 17])
    z = embed_rows(encoder, ds, "target", rows, batch_size=2, transform=lambda r: 2 * r)
    assert not encoder.training
    x = torch.as_tensor(np.stack([2 * ds.target_rows[i] for i in rows]))
    with torch.no_grad():
        want = encoder(x).numpy()
    assert z.dtype == np.float32 and z.shape == (5, 4)
    np.testing.assert_allclose(z, want, rtol=1e-6, atol=1e-6)


def test_dataset_checks_its_readers_and_indices():
    x = np.zeros((4, 2), dtype=np.float32)
    view = ViewSpec("a", "vector", (2,))
    with pytest.raises(ValueError, match="target_rows must hold 4 rows of shape"):
        StreamingPairedDataset(ArrayRows(x), ArrayRows(x[:3]), None, view, view, [0], [1], "t")
    with pytest.raises(ValueError, match="disjoint"):
        StreamingPairedDataset(ArrayRows(x), ArrayRows(x), None, view, view, [0, 1], [1], "t")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_loader(streaming_from_paired(PairedDataset(x, x, None, view, view, [0, 1], [2, 3],
                    "t")), [0], batch_size=0, shuffle=False, seed=0, stream="s")  # fmt: skip
    with pytest.raises(IndexError):
        ArrayRows(x)[4]

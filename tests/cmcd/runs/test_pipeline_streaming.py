"""``cmcd.run`` on a manifest of files: streamed end to end, same numbers as in memory."""

import json

import numpy as np
import pytest
import torch

from cmcd.data import export_paired_files, load_dataset
from cmcd.data.paired_files import FileRows
from cmcd.runs import streaming_steps
from cmcd.runs.pipeline import run
from cmcd.runs.streaming_steps import LazyRows

DIGITS = {"name": "digits", "gap": 0.3, "n_samples": 200}
TINY = {
    "model": {"latent_dim": 8, "hidden": [16]},
    "pretrain": {"epochs": 2, "batch_size": 32},
    "distill": {"loss": "cmc", "epochs": 2, "batch_size": 32},
    "finetune": {"labels_per_class": 2},
    "seed": 0,
    "device": "cpu",
}


def _features(out):
    with np.load(out / "features.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def digits_manifests(tmp_path_factory):
    ds = load_dataset(seed=0, **{k: v for k, v in DIGITS.items() if k != "name"}, name="digits")
    folder = tmp_path_factory.mktemp("manifests")
    png = export_paired_files(ds, folder / "png")
    npy = export_paired_files(ds, folder / "npy", image_format="npy")
    return ds, png, npy


@pytest.fixture(scope="module")
def streamed_run(digits_manifests, tmp_path_factory):
    """A run on the exact (.npy) export, recording every batch the steps read."""
    _, _, npy = digits_manifests
    out = tmp_path_factory.mktemp("streamed")
    sizes = []
    original = LazyRows.__getitem__

    def spy(self, idx):
        batch = original(self, idx)
        sizes.append(len(batch))
        return batch

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(LazyRows, "__getitem__", spy)
        result = run({**TINY, "data": {"name": "paired_files", "manifest": str(npy)}}, out,
                     progress=False)  # fmt: skip
    return out, result, sizes


@pytest.mark.slow
def test_streamed_run_reports_a_target_error(streamed_run, digits_manifests):
    out, result, _ = streamed_run
    on_disk = json.loads((out / "result.json").read_text())
    assert 0.0 <= on_disk["target_error"] <= 1.0
    assert on_disk["target_error"] == pytest.approx(1 - on_disk["target_accuracy"])
    assert on_disk["dataset"] == "paired_files:manifest.csv"
    assert on_disk["dataset_info"]["streaming"] is True
    ds = digits_manifests[0]
    assert on_disk["n_pairs"] == len(ds.train_idx) and on_disk["n_eval"] == len(ds.test_idx)


@pytest.mark.slow
def test_streamed_run_equals_the_in_memory_run_exactly(streamed_run, tmp_path):
    out, result, _ = streamed_run
    memory = run({**TINY, "data": DIGITS}, tmp_path, progress=False)
    assert result["target_error"] == memory["target_error"]
    assert result["pretrain_final_loss"] == memory["pretrain_final_loss"]
    assert result["distill_final_loss"] == memory["distill_final_loss"]
    want, got = _features(tmp_path), _features(out)
    assert set(got) == set(want)
    for key in want:
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_streamed_run_reads_batches_never_the_dataset(streamed_run, digits_manifests):
    _, _, sizes = streamed_run
    ds = digits_manifests[0]
    assert sizes, "the steps read their batches through LazyRows"
    # SSL / distillation batches (32) and step 3's labelled rows (2 per class, 10 classes)
    assert max(sizes) == 32 and min(sizes) >= 2
    assert max(sizes) < ds.n_samples / 4


@pytest.mark.slow
def test_png_manifest_runs_and_reuses_its_checkpoints(digits_manifests, tmp_path, monkeypatch):
    _, png, _ = digits_manifests
    cfg = {**TINY, "data": {"name": "paired_files", "manifest": str(png)}}
    first = run(cfg, tmp_path, progress=False)
    keys = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert [k.split("-")[0] for k in keys] == ["distill", "source_ssl"]

    def no_training(*args, **kwargs):
        raise AssertionError("a rerun must load its checkpoints, not retrain")

    monkeypatch.setattr("cmcd.runs.pipeline.pretrain_ssl", no_training)
    monkeypatch.setattr("cmcd.runs.pipeline.distill", no_training)
    second = run(cfg, tmp_path, progress=False)
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == keys
    assert second["target_error"] == first["target_error"]


@pytest.mark.slow
def test_vector_views_are_standardised_with_streamed_training_moments(tmp_path):
    from cmcd.data.splits import make_splits
    from cmcd.run_config import RunConfig
    from cmcd.runs.pipeline import standardise

    ds = load_dataset("synthetic", n_samples=120)
    m = export_paired_files(ds, tmp_path / "data")
    streaming = load_dataset("paired_files", manifest=m)
    splits = make_splits(ds, RunConfig.build({**TINY, "data": {"name": "synthetic"}}).split)
    views = streaming_steps.lazy_views(streaming, splits, torch.device("cpu"))
    for side, lazy in zip(("source", "target"), views, strict=True):
        want = standardise(getattr(ds, f"x_{side}"), "vector", splits.train)
        # numpy's float32 moments and the streamed float64 ones differ by rounding only
        np.testing.assert_allclose(lazy[torch.arange(120)].numpy(), want, rtol=0, atol=2e-6)
    memory = run({**TINY, "data": {"name": "synthetic", "n_samples": 120}}, tmp_path / "a",
                 progress=False)  # fmt: skip
    cfg = {**TINY, "data": {"name": "paired_files", "manifest": str(m)}}
    streamed = run(cfg, tmp_path / "b", progress=False)
    z_memory, z_streamed = _features(tmp_path / "a"), _features(tmp_path / "b")
    # training amplifies that rounding (~5e-7 in the inputs) to ~4e-3 in the unit latents
    np.testing.assert_allclose(
        z_streamed["z_target_test"], z_memory["z_target_test"], rtol=0, atol=0.05
    )
    assert abs(streamed["target_error"] - memory["target_error"]) <= 2 / len(ds.test_idx)


def test_lazy_rows_read_only_what_is_asked(digits_manifests, monkeypatch):
    _, png, _ = digits_manifests
    ds = load_dataset("paired_files", manifest=png)
    reads = []
    original = FileRows.read
    monkeypatch.setattr(FileRows, "read", lambda self, i: reads.append(i) or original(self, i))
    x = LazyRows(ds, "source", ds.train_idx, torch.device("cpu")).take([3, 1, 4])
    assert reads == [] and len(x) == 3
    batch = x[torch.tensor([2, 0])]
    assert reads == [int(ds.train_idx[4]), int(ds.train_idx[3])]
    assert len(x.fingerprint()) == 64 and len(reads) == 2  # hashing reads nothing
    torch.testing.assert_close(batch[0], torch.as_tensor(ds.source_rows[int(ds.train_idx[4])]))
    with pytest.raises(TypeError, match="refuses"):
        np.asarray(x)
    assert streaming_steps.select_rows(x, [0]).rows.tolist() == [int(ds.train_idx[3])]


def test_threads_and_loader_workers_read_the_same_rows(digits_manifests):
    _, png, _ = digits_manifests
    serial = load_dataset("paired_files", manifest=png)
    parallel = load_dataset("paired_files", manifest=png, workers=2)
    assert parallel.fingerprint == serial.fingerprint
    idx = torch.tensor([5, 0, 17, 3, 150])
    rows = np.arange(serial.n_samples)
    a = LazyRows(serial, "target", rows, torch.device("cpu"))
    b = LazyRows(parallel, "target", rows, torch.device("cpu"))
    torch.testing.assert_close(b[idx], a[idx], rtol=0, atol=0)
    batches_a, batches_b = list(a.split(64)), list(b.split(64))  # b: 2 DataLoader workers
    assert [len(x) for x in batches_b] == [64, 64, 64, 8]
    torch.testing.assert_close(torch.cat(batches_b), torch.cat(batches_a), rtol=0, atol=0)

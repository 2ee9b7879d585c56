"""Distributed training: 2 gloo processes on CPU under torchrun against one process.

This file is also the torchrun worker: ``torchrun --standalone --nproc_per_node=2
tests/cmcd/test_distributed.py OUT`` runs :func:`_worker` on each rank, which saves what it
computed to ``OUT/rank{r}.pt``; the tests run the same scenarios in the pytest process (no
process group) and compare.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from torch import Tensor, nn

from cmcd.runs.pipeline import cached_step, run
from cmcd.train import distributed
from cmcd.train.augment import augment_vector
from cmcd.train.losses import CMCLoss, CMDLoss, CRDLoss, info_nce
from cmcd.train.models import MLPEncoder, ProjectionHead
from cmcd.train.training import distill, pretrain_ssl

ROOT = Path(__file__).resolve().parents[3]
TORCHRUN = Path(sys.executable).with_name("torchrun")
WORLD = 2
N_ROWS, IN_DIM, DIM = 21, 6, 4  # 21 rows, batches of 8: 8, 8 and an uneven last batch of 5

# a global batch size per loss: 7 and 9 give uneven shards (4/3 and 5/4)
STEP_BATCH = {"info_nce": 8, "cmc": 7, "cmd": 8, "crd": 9}
DISTILL_LOSSES = {
    "cmc": lambda: CMCLoss(temperature=0.3),
    "cmd": lambda: CMDLoss(dim=DIM, queue_size=12),
    "crd": lambda: CRDLoss(n_data=N_ROWS, dim=DIM, n_negatives=10, seed=3),
}


def _randn(*shape: int, seed: int) -> Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _encoder() -> nn.Module:
    return MLPEncoder(IN_DIM, DIM, hidden=(8,), seed=0)  # has batch norm


def _state(module: nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _identifiable(module: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Weights, running variances and the training-mode output on ``x``.

    A bias feeding a batch-norm layer has an exactly zero gradient, so AdamW moves it by
    rounding noise (differently in one and two processes), and the running means follow it;
    neither changes the training-mode output, which is compared instead.
    """
    state = {k: v for k, v in _state(module).items() if k.endswith(("weight", "running_var"))}
    with torch.no_grad():
        out = copy.deepcopy(module).train()(x)
    return {**state, "train_output": out}


# --------------------------------------------------------------------------- scenarios
def _one_step(name: str) -> dict[str, Any]:
    """Loss and gradients of one global batch, each rank encoding its shard."""
    n = STEP_BATCH[name]
    model, x1, x2 = _encoder(), _randn(n, IN_DIM, seed=1), _randn(n, IN_DIM, seed=2)
    z_teacher, index = _randn(n, DIM, seed=3), torch.arange(n) * 2
    losses = {"cmc": CMCLoss(), "cmd": CMDLoss(), "crd": CRDLoss(2 * n, DIM, n_negatives=9)}
    with distributed.data_parallel(model) as ddp:
        rows = distributed.shard(n)
        z1 = distributed.all_gather_with_grad(ddp(x1[rows]))
        if name == "info_nce":
            z2 = distributed.all_gather_with_grad(ddp(x2[rows]))
            loss = info_nce(z1, z2, temperature=0.5)
        else:
            loss = losses[name](z_teacher, z1, index)
        loss.backward()
    grads = {k: p.grad.clone() for k, p in model.named_parameters()}
    return {"loss": loss.detach(), "grads": grads, "running": _state(model)}


def _ssl_loop() -> dict[str, Any]:
    encoder, head = _encoder(), ProjectionHead(DIM, out_dim=3, hidden=8, seed=1)
    x = _randn(N_ROWS, IN_DIM, seed=4)
    history = pretrain_ssl(
        encoder,
        head,
        x,
        lambda b, g: augment_vector(b, 0.1, 0.3, g),
        epochs=2,
        batch_size=8,
        lr=1e-2,
        weight_decay=1e-4,
        temperature=0.5,
        seed=5,
        progress=False,
    )
    model = nn.Sequential(encoder, head)
    return {"history": torch.tensor(history), "model": _identifiable(model, x)}


def _distill_loop(name: str) -> dict[str, Any]:
    student, loss_fn, x = _encoder(), DISTILL_LOSSES[name](), _randn(N_ROWS, IN_DIM, seed=7)
    history = distill(
        student,
        _randn(N_ROWS, DIM, seed=6),
        x,
        loss_fn,
        epochs=2,
        batch_size=8,
        lr=1e-2,
        weight_decay=1e-4,
        seed=8,
        progress=False,
    )
    student_state = _identifiable(student, x)
    return {"history": torch.tensor(history), "student": student_state, "loss": _state(loss_fn)}


def _scenarios() -> dict[str, Any]:
    return {
        "step": {name: _one_step(name) for name in STEP_BATCH},
        "ssl": _ssl_loop(),
        "distill": {name: _distill_loop(name) for name in DISTILL_LOSSES},
    }


def _error(fn: Any) -> str:
    try:
        fn()
    except Exception as err:  # recorded for the parent test to inspect
        return f"{type(err).__name__}: {err}"
    return "no error"


def _rank_files(out: Path) -> dict[str, Any]:
    """Exercise rank-0 file handling: cached_step writes once and sends what it loaded."""
    distributed.run_on_main(lambda: _append(out / "writers.txt", f"{distributed.rank()}\n"))
    path, module = out / "ckpt" / "step.pt", nn.Linear(2, 1)
    with torch.no_grad():
        module.weight.fill_(float(distributed.rank()))  # differs per rank
    first = cached_step(path, module, lambda: [1.0, 0.5])
    module.weight.data.fill_(-1.0)
    second = cached_step(path, module, lambda: pytest.fail("recomputed a cached step"))
    return {"history": (first, second), "weight": module.weight.detach().clone()}


def _append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def _worker(out: Path) -> None:
    with distributed.process_group(torch.device("cpu")) as device:
        result = {
            "device": str(device),
            "world": distributed.world_size(),
            "rank": distributed.rank(),
            "scenarios": _scenarios(),
            "files": _rank_files(out),
            "bad_batch": _error(lambda: _distill_batch(7)),
            "rank0_error": _error(lambda: distributed.broadcast_from_main(_fail)),
            "bad_sizes": _error(lambda: distributed.all_gather_with_grad(torch.ones(2, 1), [3, 3])),
            "bn_types": [type(m).__name__ for m in _bn_after_training()],
        }
        torch.save(result, out / f"rank{result['rank']}.pt")
    torch.save(
        {"initialised_after": distributed.is_distributed()}, out / f"after{result['rank']}.pt"
    )


def _distill_batch(batch_size: int) -> None:
    distill(
        _encoder(),
        _randn(8, DIM, seed=0),
        _randn(8, IN_DIM, seed=0),
        CMCLoss(),
        epochs=1,
        batch_size=batch_size,
        lr=1e-3,
        weight_decay=0.0,
        seed=0,
        progress=False,
    )


def _fail() -> None:
    raise ValueError("checkpoint unreadable")


def _bn_after_training() -> list[nn.Module]:
    model = _encoder()
    distill(
        model,
        _randn(8, DIM, seed=0),
        _randn(8, IN_DIM, seed=0),
        CMCLoss(),
        epochs=1,
        batch_size=8,
        lr=1e-3,
        weight_decay=0.0,
        seed=0,
        progress=False,
    )
    return [m for m in model.modules() if "BatchNorm" in type(m).__name__]


# --------------------------------------------------------------------------- launching
def _torchrun(args: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    cmd = [str(TORCHRUN), "--standalone", f"--nproc_per_node={WORLD}", *args]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def workers(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    _torchrun([str(Path(__file__).resolve()), str(out)])
    ranks = [torch.load(out / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    return out, ranks


@pytest.fixture(scope="module")
def single():
    return _scenarios()


def _assert_nested_close(actual: Any, expected: Any, **tol: float) -> None:
    if isinstance(expected, dict):
        assert set(actual) == set(expected)
        for key in expected:
            _assert_nested_close(actual[key], expected[key], **tol)
    else:
        torch.testing.assert_close(actual, expected, **tol)


# --------------------------------------------------------------------------- tests
@pytest.mark.slow
def test_workers_join_a_gloo_group_of_two_and_leave_it(workers):
    out, ranks = workers
    assert [(r["world"], r["rank"], r["device"]) for r in ranks] == [(2, 0, "cpu"), (2, 1, "cpu")]
    for r in range(WORLD):
        assert torch.load(out / f"after{r}.pt")["initialised_after"] is False


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(STEP_BATCH))
def test_one_step_loss_and_gradients_equal_single_process(workers, single, name):
    expected = single["step"][name]
    for rank in workers[1]:
        got = rank["scenarios"]["step"][name]
        torch.testing.assert_close(got["loss"], expected["loss"], rtol=1e-6, atol=1e-6)
        _assert_nested_close(got["grads"], expected["grads"], rtol=1e-5, atol=2e-6)
        _assert_nested_close(got["running"], expected["running"], rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_gradients_are_not_trivially_equal(single):
    # the comparison above is informative only if the losses give distinct, non-zero grads
    norms = [single["step"][n]["grads"]["net.0.weight"].norm().item() for n in STEP_BATCH]
    assert min(norms) > 1e-3
    assert len({round(v, 6) for v in norms}) == len(norms)


@pytest.mark.slow
def test_ssl_pretraining_matches_single_process(workers, single):
    for rank in workers[1]:
        _assert_nested_close(rank["scenarios"]["ssl"], single["ssl"], rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(DISTILL_LOSSES))
def test_distillation_matches_single_process_and_buffers_agree(workers, single, name):
    expected = single["distill"][name]
    for rank in workers[1]:  # includes the CMD queue and the CRD memory bank
        _assert_nested_close(rank["scenarios"]["distill"][name], expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_only_rank_zero_writes_and_loaded_checkpoints_reach_every_rank(workers):
    out, ranks = workers
    assert (out / "writers.txt").read_text() == "0\n"
    for rank in ranks:
        assert rank["files"]["history"] == ([1.0, 0.5], [1.0, 0.5])
        torch.testing.assert_close(rank["files"]["weight"], torch.zeros(1, 2), rtol=0, atol=0)


@pytest.mark.slow
def test_misuse_under_two_processes_gives_clear_errors(workers):
    r0, r1 = workers[1]
    for rank in (r0, r1):
        assert rank["bad_batch"].startswith("ValueError: batch_size=7 is the global batch")
        assert "divisible by the world size 2" in rank["bad_batch"]
        assert rank["bn_types"] == ["BatchNorm1d"]  # original layers back after training
    for rank in (r0, r1):
        assert rank["bad_sizes"].startswith("ValueError: sizes must give the 2 ranks' row counts")
    assert r0["rank0_error"] == "ValueError: checkpoint unreadable"
    assert r1["rank0_error"] == "RuntimeError: rank 0 failed: ValueError: checkpoint unreadable"


TINY = {
    "data": {"name": "synthetic", "n_samples": 300},
    "model": {"latent_dim": 16, "hidden": [32], "projection_dim": 16},
    "pretrain": {"epochs": 2, "batch_size": 64},
    "distill": {"loss": "cmc", "epochs": 3, "batch_size": 64},
    "seed": 0,
    "device": "cpu",
}


@pytest.mark.slow
def test_cmcd_run_under_torchrun_matches_single_process(tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    _torchrun(["-m", "cmcd", "run", str(config), "--out", str(tmp_path / "dist"), "--no-progress"])
    got = json.loads((tmp_path / "dist" / "result.json").read_text())
    expected = run(TINY, tmp_path / "single", progress=False)
    assert abs(got["target_accuracy"] - expected["target_accuracy"]) <= 0.01
    for key in ("pretrain_final_loss", "distill_final_loss"):
        assert got[key] == pytest.approx(expected[key], rel=1e-3)
    assert sorted(p.name for p in (tmp_path / "dist").iterdir()) == [
        ".lock",  # rank 0's folder lock
        "checkpoints",
        "features.npz",
        "predictions.csv",  # rank 0's step-3 predictions
        "result.json",
        "run.json",  # rank 0's record of the config
    ]


# --------------------------------------------------------------------------- in-process
def test_single_process_helpers_are_the_identity():
    x = torch.randn(5, 3, requires_grad=True)
    assert distributed.all_gather_with_grad(x) is x
    assert distributed.shard(5) == slice(0, 5)
    net = nn.Sequential(nn.Linear(3, 2), nn.BatchNorm1d(2))
    with distributed.data_parallel(net) as model:
        assert model is net


@pytest.mark.parametrize(("n", "sizes"), [(8, [2, 2, 2, 2]), (6, [2, 2, 1, 1]), (3, [1, 1, 1, 0])])
def test_shards_partition_the_batch_in_order(n, sizes):
    assert distributed.shard_sizes(n, size=4) == sizes
    rows = [distributed.shard(n, rank_id=r, size=4) for r in range(4)]
    covered = [i for s in rows for i in range(n)[s]]
    assert covered == list(range(n))


def test_global_batch_not_divisible_by_world_size_is_refused():
    assert distributed.check_global_batch(12, size=3) == 4
    with pytest.raises(ValueError, match=r"distill.batch_size=10 .* world size 3"):
        distributed.check_global_batch(10, "distill.batch_size", size=3)
    with pytest.raises(ValueError, match="positive integer"):
        distributed.check_global_batch(0, size=1)


def test_unavailable_backend_is_refused(monkeypatch):
    with pytest.raises(ValueError, match="'nccl' cannot run on device cpu"):
        distributed.backend_for(torch.device("cpu"), "nccl")
    with pytest.raises(ValueError, match="backend must be one of"):
        distributed.backend_for(torch.device("cpu"), "smoke-signals")
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: False)
    with pytest.raises(ValueError, match="'nccl' is not available in this torch build"):
        distributed.backend_for(torch.device("cuda"))
    monkeypatch.setattr(torch.distributed, "is_mpi_available", lambda: False)
    with pytest.raises(ValueError, match="'mpi' is not available"):
        distributed.backend_for(torch.device("cpu"), "mpi")


def test_bad_torchrun_environment_is_refused():
    env = {"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "localhost", "MASTER_PORT": "1"}
    with pytest.raises(ValueError, match="need 0 <= RANK < WORLD_SIZE"):
        distributed.init_distributed(torch.device("cpu"), env=env)
    with pytest.raises(ValueError, match="WORLD_SIZE must be an integer"):
        distributed.init_distributed(torch.device("cpu"), env={**env, "WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match=r"\['MASTER_PORT'\] not set"):
        distributed.init_distributed(
            torch.device("cpu"), env={**env, "RANK": "0", "MASTER_PORT": ""}
        )
    assert not distributed.is_distributed()


if __name__ == "__main__":
    _worker(Path(sys.argv[1]))

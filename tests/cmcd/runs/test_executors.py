"""Executors: the local process pool, Ray on a local instance, and their bad input."""

from __future__ import annotations

import math
import os
import sys

import pandas as pd
import pytest

from cmcd.runs.executors import (
    EXECUTORS,
    LocalExecutor,
    MissingExtraError,
    RayExecutor,
    default_threads,
    make_executor,
)
from cmcd.runs.sweep import parse_sweep, run_sweep

#: Two real runs on tiny synthetic data (one teacher, two losses).
TINY = {
    "data": {"name": "synthetic", "n_samples": 300},
    "model": {"hidden": [32], "latent_dim": 8, "projection_dim": 8},
    "pretrain": {"epochs": 2, "batch_size": 128},
    "distill": {"epochs": 2, "batch_size": 128},
    "grid": {"distill.loss": ["cmc", "l2"]},
}


def thread_settings(_: object) -> tuple[str, int]:
    import torch

    return os.environ["OMP_NUM_THREADS"], torch.get_num_threads()


def test_registry_names():
    assert sorted(EXECUTORS) == ["local", "ray"]
    assert isinstance(make_executor("local", workers=2), LocalExecutor)


@pytest.mark.slow
def test_local_pool_returns_every_result_with_its_index():
    items = [-3, 5, -7, 0, 2]
    with make_executor("local", workers=2) as ex:
        out = dict(ex.map_unordered(abs, items))
    assert out == {i: abs(v) for i, v in enumerate(items)}


@pytest.mark.slow
def test_local_pool_reraises_a_task_error():
    with (
        make_executor("local", workers=1) as ex,
        pytest.raises(ValueError, match="math domain error"),
    ):
        dict(ex.map_unordered(math.sqrt, [4.0, -1.0]))


@pytest.mark.slow
def test_tasks_run_with_the_requested_threads():
    with make_executor("local", workers=2, threads=1) as ex:
        out = dict(ex.map_unordered(thread_settings, [0, 1]))
    assert out == {0: ("1", 1), 1: ("1", 1)}
    assert default_threads(1) == max(1, os.cpu_count() or 1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "dask"}, "unknown executor 'dask'; valid executors: ['local', 'ray']"),
        ({"name": "local", "workers": 0}, "workers must be an integer >= 1, got 0"),
        ({"name": "local", "workers": True}, "workers must be an integer >= 1"),
        ({"name": "local", "address": "auto"}, "address is only used by the 'ray' executor"),
        ({"name": "local", "colour": 1}, "bad option for executor 'local'"),
    ],
)
def test_bad_executor_arguments(kwargs, message):
    with pytest.raises(ValueError) as info:
        make_executor(**kwargs)
    assert message in str(info.value)


def test_map_outside_the_context_is_an_error():
    with pytest.raises(ValueError, match="inside `with`"):
        next(LocalExecutor().map_unordered(abs, [1]))
    with pytest.raises(ValueError, match="inside `with`"):
        next(RayExecutor().map_unordered(abs, [1]))


def test_missing_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    with pytest.raises(MissingExtraError, match=r"pip install 'cmcd\[ray\]'"):
        make_executor("ray", workers=2).__enter__()


@pytest.mark.slow
@pytest.mark.ray
def test_ray_map_and_errors_on_a_local_instance():
    ray = pytest.importorskip("ray")
    with make_executor("ray", workers=2, threads=1) as ex:
        assert ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == 2
        assert dict(ex.map_unordered(abs, [-1, 2, -3])) == {0: 1, 1: 2, 2: 3}
        with pytest.raises(ValueError, match="math domain error"):
            dict(ex.map_unordered(math.sqrt, [4.0, -1.0]))
    assert not ray.is_initialized()  # the instance it started is shut down


@pytest.mark.slow
@pytest.mark.ray
def test_ray_sweep_equals_local_sweep(tmp_path):
    pytest.importorskip("ray")
    sweep = parse_sweep(TINY)
    local = run_sweep(sweep, tmp_path / "local", workers=2, threads=1, progress=False)
    ray_out = run_sweep(
        sweep, tmp_path / "ray", executor="ray", workers=2, threads=1, progress=False
    )
    assert local.failed == {} and ray_out.failed == {}
    assert (local.ran, ray_out.ran) == (2, 2)
    pd.testing.assert_frame_equal(
        local.results.drop(columns="seconds"), ray_out.results.drop(columns="seconds")
    )


ORPHAN_SCRIPT = """
import os, sys, time
from pathlib import Path

from cmcd.runs.executors import LocalExecutor


def task(folder):
    Path(folder, f"{os.getpid()}.started").write_text("")
    time.sleep(60)  # a long run; the queued ones must never start after the parent dies


if __name__ == "__main__":
    with LocalExecutor(workers=1, threads=1) as ex:
        list(ex.map_unordered(task, [sys.argv[1]] * 3))
"""


def _gone(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state in ("Z", "X")


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="reads process states from /proc")
def test_workers_exit_when_the_sweep_process_is_killed(tmp_path):
    import signal
    import subprocess
    import time

    script = tmp_path / "pool.py"
    script.write_text(ORPHAN_SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)])
    deadline = time.time() + 15
    while not list(tmp_path.glob("*.started")) and time.time() < deadline:
        time.sleep(0.1)
    started = list(tmp_path.glob("*.started"))
    assert len(started) == 1, "the worker never started its task"
    worker = int(started[0].stem)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 15  # generous: the CI machine is shared
    while not _gone(worker) and time.time() < deadline:
        time.sleep(0.1)
    assert _gone(worker), "the worker outlived its killed parent"
    time.sleep(1.0)
    assert len(list(tmp_path.glob("*.started"))) == 1  # no queued task started afterwards

"""Fixtures of the bad-input audit: tiny configs, file writers, folder setups, result checks.

A *setup* takes the case's temporary folder and returns the case's state (a dict); a *check*
takes the folder, the :class:`~bad_input.harness.Proc` and the state; a *driver* runs the
command itself (concurrency, signals).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from cmcd.config import set_dotted

from .harness import Proc, State, _popen, _stop, _wait_for, cmcd

#: A run of a few seconds: 200 synthetic rows, one epoch per step, a fixed probe C (no CV).
TINY: dict[str, Any] = {
    "data": {"name": "synthetic", "n_samples": 200, "tv_samples": 500},
    "model": {"hidden": [16], "latent_dim": 4, "projection_dim": 4},
    "pretrain": {"epochs": 1, "batch_size": 64},
    "distill": {"epochs": 1, "batch_size": 64},
    "finetune": {"C": 1.0},
    "device": "cpu",
}
RUN = ["run", "c.yaml", "--out", "out", "--no-progress"]


# -------------------------------------------------------------------------------- helpers
def tiny(**dotted: Any) -> dict[str, Any]:
    """TINY with ``section__key=value`` overrides (``__`` stands for the dot)."""
    cfg = copy.deepcopy(TINY)
    for key, value in dotted.items():
        cfg = set_dotted(cfg, key.replace("__", "."), value)
    return cfg


def write_yaml(tmp: Path, name: str, obj: Any) -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(obj, sort_keys=False))
    return path


def with_cfg(cfg: dict[str, Any], name: str = "c.yaml", then: Callable | None = None):
    """Return a setup writing ``cfg`` to ``name`` (then running ``then(tmp)``)."""

    def setup(tmp: Path) -> State:
        write_yaml(tmp, name, cfg)
        return then(tmp) if then else {}

    return setup


def write_text(name: str, text: str):
    def setup(tmp: Path) -> State:
        (tmp / name).write_text(text)
        return {}

    return setup


def sha(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None


def snapshot(*names: str):
    """Return an ``intact`` check: the named files keep the hashes in ``state['sha']``."""

    def intact(tmp: Path, state: State) -> bool:
        return all(sha(tmp / n) == state["sha"][n] and state["sha"][n] for n in names)

    return intact


def record(tmp: Path, *names: str) -> State:
    return {"sha": {n: sha(tmp / n) for n in names}}


def rc_is(code: int, *needles: str):
    def check(tmp: Path, proc: Proc, state: State) -> bool:
        return proc.rc == code and all(n.lower() in proc.err.lower() for n in needles)

    return check


FACTORIES = """
import math
import torch
from torch import nn

class Lin(nn.Module):
    def __init__(self, shape, out):
        super().__init__()
        self.flat = nn.Flatten()
        self.lin = nn.Linear(math.prod(shape), out)
    def forward(self, x):
        return self.lin(self.flat(x))

class NaNOut(Lin):
    def forward(self, x):
        return super().forward(x) * float("nan")

class Rank3(Lin):
    def forward(self, x):
        return super().forward(x).unsqueeze(1)

def good(input_shape, latent_dim):
    return Lin(input_shape, latent_dim)

def wrong_shape(input_shape, latent_dim):
    return Lin(input_shape, latent_dim + 3)

def rank3(input_shape, latent_dim):
    return Rank3(input_shape, latent_dim)

def returns_none(input_shape, latent_dim):
    return None

def crashes(input_shape, latent_dim):
    raise RuntimeError("factory exploded")

def nan_out(input_shape, latent_dim):
    return NaNOut(input_shape, latent_dim)

NOT_CALLABLE = 3
"""

EVIL = """
import os, pickle
class Evil:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))
with open("evil.pt", "wb") as f:
    pickle.dump({"lin.weight": Evil()}, f)
"""


def factories(cfg: dict[str, Any]):
    def setup(tmp: Path) -> State:
        (tmp / "userfac.py").write_text(FACTORIES)
        write_yaml(tmp, "c.yaml", cfg)
        return {}

    return setup


def _torch_file(kind: str):
    """Return a setup writing a teacher weights file of ``kind`` and a config using it."""

    def setup(tmp: Path) -> State:
        if kind == "evil":
            subprocess.run([sys.executable, "-c", EVIL], cwd=tmp, check=True)
            name = "evil.pt"
        else:
            import torch

            name = "w.pt"
            if kind == "other_arch":
                torch.save(torch.nn.Linear(5, 3).state_dict(), tmp / name)
            elif kind == "objects":
                torch.save({"weight": argparse.Namespace(a=1)}, tmp / name)
            elif kind == "empty":
                (tmp / name).write_bytes(b"")
        write_yaml(tmp, "c.yaml", tiny(model__teacher_weights=name))
        return {}

    return setup


# ------------------------------------------------------------------------ run-folder setups
def finished_run(cfg: dict[str, Any] | None = None, out: str = "out") -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        write_yaml(tmp, "first.yaml", cfg or TINY)
        proc = cmcd(tmp, ["run", "first.yaml", "--out", out, "--no-progress"])
        if proc.rc != 0:
            raise RuntimeError(f"setup run failed: {proc.err[-400:]}")

    return make


def _ckpts(tmp: Path) -> dict[str, str | None]:
    return {p.name: sha(p) for p in sorted((tmp / "out" / "checkpoints").glob("*.pt"))}


def rerun_setup(tmp: Path) -> State:
    finished_run()(tmp)
    write_yaml(tmp, "c.yaml", TINY)
    result = json.loads((tmp / "out" / "result.json").read_text())
    return {"ckpts": _ckpts(tmp), "acc": result["target_accuracy"]}


def rerun_check(tmp: Path, proc: Proc, state: State) -> bool:
    result = json.loads((tmp / "out" / "result.json").read_text())
    return _ckpts(tmp) == state["ckpts"] and result["target_accuracy"] == state["acc"]


def other_config_setup(extra: Callable[[Path], None] | None = None):
    def setup(tmp: Path) -> State:
        finished_run()(tmp)
        if extra:
            extra(tmp)
        write_yaml(tmp, "c.yaml", tiny(seed=1))
        return record(tmp, "out/result.json", "out/features.npz")

    return setup


def overwrite_notes_setup(tmp: Path) -> State:
    def notes(tmp: Path) -> None:
        (tmp / "out" / "notes.txt").write_text("mine\n")

    other_config_setup(notes)(tmp)
    return record(tmp, "out/result.json", "out/features.npz", "out/notes.txt")


def overwrite_check(tmp: Path, proc: Proc, state: State) -> bool:
    result = json.loads((tmp / "out" / "result.json").read_text())
    old = state["sha"]["out/result.json"]
    return result["config"]["seed"] == 1 and sha(tmp / "out" / "result.json") != old


def corrupt_checkpoint(how: str):
    def setup(tmp: Path) -> State:
        finished_run()(tmp)
        write_yaml(tmp, "c.yaml", TINY)
        path = next((tmp / "out" / "checkpoints").glob("source_ssl-*.pt"))
        data = path.read_bytes()
        path.write_bytes(
            {"empty": b"", "truncated": data[: len(data) // 2], "junk": b"x" * 99}[how]
        )
        return {"ckpt": path.name}

    return setup


def retrained_check(tmp: Path, proc: Proc, state: State) -> bool:
    path = tmp / "out" / "checkpoints" / state["ckpt"]
    return state["ckpt"] in proc.err and path.stat().st_size > 1000


def _long_cfg() -> dict[str, Any]:
    return tiny(pretrain__epochs=4000, data__n_samples=400)


def lock_driver(tmp: Path, state: State) -> Proc:
    write_yaml(tmp, "long.yaml", _long_cfg())
    first = _popen(tmp, ["run", "long.yaml", "--out", "out", "--no-progress"])
    try:
        _wait_for(tmp / "out" / "run.json", first)
        proc = cmcd(tmp, ["run", "long.yaml", "--out", "out", "--no-progress"])
    finally:
        _stop(first)
    return proc


def sigint_driver(tmp: Path, state: State) -> Proc:
    write_yaml(tmp, "long.yaml", _long_cfg())
    start = time.perf_counter()
    first = _popen(tmp, ["run", "long.yaml", "--out", "out", "--no-progress"])
    _wait_for(tmp / "out" / "run.json", first)
    time.sleep(1.5)
    if first.poll() is None:
        first.send_signal(signal.SIGINT)
    rc, out, err = _stop(first)
    return Proc(rc, out, err, time.perf_counter() - start)


def sigint_check(tmp: Path, proc: Proc, state: State) -> bool:
    lines = [line for line in proc.err.splitlines() if line.strip()]
    return proc.rc == 130 and len(lines) == 1


def sweep_spec(grid: Any, **extra: Any) -> dict[str, Any]:
    return {**copy.deepcopy(TINY), **extra, "grid": grid}


def no_runs_started(tmp: Path, state: State) -> bool:
    return not (tmp / "o" / "runs").exists()


def finished_sweep(tmp: Path) -> None:
    write_yaml(tmp, "first.yaml", sweep_spec({"seed": [0]}))
    proc = cmcd(tmp, ["sweep", "first.yaml", "--out", "o", "--no-progress"], timeout=180)
    if proc.rc != 0:
        raise RuntimeError(f"setup sweep failed: {proc.err[-400:]}")


def sweep_lock_driver(tmp: Path, state: State) -> Proc:
    write_yaml(tmp, "long.yaml", sweep_spec({"seed": [0]}, pretrain=_long_cfg()["pretrain"]))
    first = _popen(tmp, ["sweep", "long.yaml", "--out", "o", "--no-progress"])
    try:
        _wait_for(tmp / "o" / "runs", first)
        time.sleep(0.5)
        proc = cmcd(tmp, ["sweep", "long.yaml", "--out", "o", "--no-progress"])
    finally:
        _stop(first)
    return proc


def fake_results(tmp: Path, name: str = "o") -> None:
    """Write a sweep folder ``name`` with a results.csv of 6 rows (grid: gap, loss)."""
    import pandas as pd

    from cmcd.runs.sweep import METRIC_COLUMNS

    rows = []
    for i, gap in enumerate([0.0, 0.2, 0.4, 0.6, 0.8, 1.0]):
        row = dict.fromkeys(METRIC_COLUMNS, 0.3)
        row.update(run_id=f"r{i}", gap=gap, loss="cmc", tv_estimate=gap, bound=0.5)
        rows.append(row)
    (tmp / name).mkdir()
    pd.DataFrame(rows)[["run_id", "gap", "loss", *METRIC_COLUMNS]].to_csv(
        tmp / name / "results.csv", index=False
    )


def fake_run_dir(tmp: Path, name: str = "r") -> None:
    """Write a run folder like a finished run's (paired Gaussian latents, 2 classes)."""
    rng = np.random.default_rng(0)
    y_train, y_test = np.repeat([0, 1], 40), np.repeat([0, 1], 100)
    z_source = rng.normal(size=(200, 4)) + 2.0 * y_test[:, None]
    folder = tmp / name
    folder.mkdir()
    np.savez(
        folder / "features.npz",
        z_source_train=rng.normal(size=(80, 4)) + 2.0 * y_train[:, None],
        y_train=y_train,
        z_source_test=z_source,
        z_target_test=z_source + 0.3 + 0.3 * rng.normal(size=(200, 4)),
        y_test=y_test,
    )
    (folder / "result.json").write_text(json.dumps({"target_error": 0.2, "config": {"seed": 3}}))


def do(*steps: Callable[[Path], Any]) -> Callable[[Path], State]:
    def setup(tmp: Path) -> State:
        for step in steps:
            step(tmp)
        return {}

    return setup


# ------------------------------------------------------------------------------ tv files
def _gauss(n: int, d: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def tv_files(**files: Callable[[Path], None]):
    def setup(tmp: Path) -> State:
        for make in files.values():
            make(tmp)
        return {}

    return setup


def npy(name: str, arr: Any, **kw: Any) -> Callable[[Path], None]:
    return lambda tmp: np.save(tmp / name, arr, **kw)


def csv_file(name: str, arr: np.ndarray, index: bool = False, header: bool = True):
    def make(tmp: Path) -> None:
        import pandas as pd

        frame = pd.DataFrame(arr, columns=[f"f{i}" for i in range(arr.shape[1])])
        frame.to_csv(tmp / name, index=index, header=header)

    return make


def raw(name: str, content: str | bytes) -> Callable[[Path], None]:
    def make(tmp: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (tmp / name).write_bytes(data)

    return make


def tv_json(proc: Proc) -> dict[str, Any] | None:
    try:
        start = proc.out.index("{")
        return json.loads(proc.out[start:])
    except ValueError:
        return None


def low_tv(max_estimate: float = 0.3, n_source: int | None = None):
    """Same-distribution samples: the TV estimate is low (and all rows were read)."""

    def check(tmp: Path, proc: Proc, state: State) -> bool:
        est = tv_json(proc)
        if est is None:
            return False
        ok = est["estimate"] <= max_estimate
        return ok and (n_source is None or est["n_source"] == n_source)

    return check


def tv(a: str, b: str, *extra: str) -> list[str]:
    return ["tv", a, b, "--json", *extra]

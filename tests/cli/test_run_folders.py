"""Run and sweep folders with damaged contents: checkpoints, row files, a failed first run."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from cmcd.cli.main import main

TINY = {
    "data": {"name": "synthetic", "n_samples": 200, "tv_samples": 500},
    "model": {"hidden": [16], "latent_dim": 4, "projection_dim": 4},
    "pretrain": {"epochs": 1, "batch_size": 64},
    "distill": {"epochs": 1, "batch_size": 64},
    "finetune": {"C": 1.0},
    "device": "cpu",
}


def _run(tmp_path: Path, cfg: dict, *extra: str) -> int:
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    return main(
        ["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "out"), "--no-progress", *extra]
    )


@pytest.fixture
def finished(tmp_path, capsys):
    assert _run(tmp_path, TINY) == 0
    capsys.readouterr()
    ckpt = next((tmp_path / "out" / "checkpoints").glob("source_ssl-*.pt"))
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    return ckpt, result


@pytest.mark.parametrize("damage", ["other_arch", "nan"])
def test_a_checkpoint_that_does_not_fit_is_retrained(tmp_path, capsys, finished, damage):
    ckpt, result = finished
    state = torch.load(ckpt, weights_only=True)
    if damage == "other_arch":
        state["model"] = torch.nn.Linear(5, 3).state_dict()
    else:
        state["model"] = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
                          for k, v in state["model"].items()}  # fmt: skip
    torch.save(state, ckpt)
    assert _run(tmp_path, TINY) == 0
    err = capsys.readouterr().err
    assert ckpt.name in err and "retraining this step" in err and "Traceback" not in err
    assert ("another architecture" if damage == "other_arch" else "NaN") in err
    rerun = json.loads((tmp_path / "out" / "result.json").read_text())
    assert rerun["target_accuracy"] == pytest.approx(result["target_accuracy"])
    fresh = torch.load(ckpt, weights_only=True)["model"]
    assert all(torch.isfinite(v).all() for v in fresh.values() if v.is_floating_point())


def test_overwrite_into_a_read_only_checkpoint_folder_deletes_nothing(
    tmp_path, capsys, finished, monkeypatch
):
    before = (tmp_path / "out" / "result.json").read_bytes()
    folder = (tmp_path / "out" / "checkpoints").resolve()
    real_access = os.access
    monkeypatch.setattr(  # as `chmod a-w checkpoints` (root ignores modes)
        os, "access", lambda p, mode: False if Path(p).resolve() == folder else real_access(p, mode)
    )
    assert _run(tmp_path, {**TINY, "seed": 1}, "--overwrite") == 1
    err = capsys.readouterr().err
    assert "checkpoints is not writable" in err and "nothing was deleted" in err
    assert (tmp_path / "out" / "result.json").read_bytes() == before


def test_a_corrected_rerun_after_a_data_load_failure_just_runs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", source=rng.normal(size=(120, 4)), target=rng.normal(size=(120, 3)),
             labels=np.arange(120) % 3)  # fmt: skip
    broken = {**TINY, "data": {"name": "npz", "path": str(tmp_path / "d.npz"), "source_key": "src"}}
    assert _run(tmp_path, broken) == 2
    assert "source_key='src'" in capsys.readouterr().err
    fixed = {**TINY, "data": {"name": "npz", "path": str(tmp_path / "d.npz")}}
    assert _run(tmp_path, fixed) == 0
    err = capsys.readouterr().err
    assert "never finished" in err and "Traceback" not in err
    record = json.loads((tmp_path / "out" / "run.json").read_text())
    assert record["config"]["data"].get("source_key", "source") == "source"
    other = {**fixed, "seed": 1}  # a finished run of another config is still refused
    assert _run(tmp_path, other) == 2
    assert "--overwrite" in capsys.readouterr().err


def _fake_row(task):
    return {"run_id": task.run_id, "target_error": 0.25, "target_accuracy": 0.75}


@pytest.mark.slow
@pytest.mark.parametrize(
    "content", [b"", b'{"run_id": "abc", "target_err', b'{"target_error": 0.1}', b"[1, 2]"]
)
def test_a_damaged_sweep_row_file_is_named_and_its_run_rerun(tmp_path, content):
    from cmcd.runs.sweep import ROWS_DIR, parse_sweep, run_sweep

    sweep = parse_sweep({**TINY, "grid": {"seed": [0, 1]}})
    first = run_sweep(sweep, tmp_path, progress=False, run_fn=_fake_row)
    assert first.ran == 2
    row_file = sorted((tmp_path / ROWS_DIR).glob("*.json"))[0]
    row_file.write_bytes(content)
    with pytest.warns(RuntimeWarning, match=f"sweep row file .*{row_file.name}"):
        again = run_sweep(sweep, tmp_path, progress=False, run_fn=_fake_row)
    assert (again.ran, again.skipped) == (1, 1) and len(again.results) == 2
    assert json.loads(row_file.read_text())["run_id"] == row_file.stem

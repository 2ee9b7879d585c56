"""Mis-named files and config values as YAML reads them: read by content, or refused clearly."""

import json
import zipfile

import numpy as np
import pytest
import yaml

from cmcd.cli.main import main
from cmcd.config import MAX_WIDTH, apply_overrides, resolve_config


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(300, 3))


def test_a_file_is_read_as_what_its_bytes_say(tmp_path, capsys, x):
    np.save(tmp_path / "b.npy", x)
    np.savez(tmp_path / "z.npz", x=x)
    (tmp_path / "z.npz").rename(tmp_path / "z.npy")  # an .npz renamed .npy
    assert main(["tv", str(tmp_path / "z.npy"), str(tmp_path / "b.npy"), "--json"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["n_source"] == 300
    assert "z.npy: its content is .npz" in captured.err
    np.savetxt(tmp_path / "t.npy", x)  # text named .npy
    assert main(["tv", str(tmp_path / "t.npy"), str(tmp_path / "b.npy")]) == 2
    assert "t.npy" in capsys.readouterr().err


def test_damaged_binary_files_are_data_errors_naming_them(tmp_path, capsys, x):
    np.save(tmp_path / "b.npy", x)
    np.savez(tmp_path / "z.npz", x=x)
    data = (tmp_path / "z.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with zipfile.ZipFile(tmp_path / "sheet.npz", "w") as archive:  # e.g. an .xlsx renamed
        archive.writestr("xl/workbook.xml", "<workbook/>")
    (tmp_path / "empty.csv").write_bytes(b"")
    for name in ("cut.npz", "sheet.npz", "empty.csv"):
        assert main(["tv", str(tmp_path / name), str(tmp_path / "b.npy")]) == 1, name
        err = capsys.readouterr().err
        assert name in err and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "key", ["distill.lr", "pretrain.lr", "finetune.lr", "pretrain.weight_decay"]
)
def test_float_keys_accept_the_numeric_strings_yaml_makes(key):
    assert yaml.safe_load("1e-3") == "1e-3"  # PyYAML: no dot, no float
    section, name = key.split(".")
    assert apply_overrides({}, [f"{key}=1e-3"])[section][name] == pytest.approx(1e-3)
    assert resolve_config({section: {name: "1e-3"}})[section][name] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match=rf"'{key}' must be a finite number .* \(a string\)"):
        resolve_config({section: {name: "1e-3x"}})


def test_a_string_number_gives_the_run_id_of_the_number():
    from cmcd.config import config_hash

    assert config_hash(resolve_config({"distill": {"lr": "1e-3"}})) == config_hash(
        resolve_config({"distill": {"lr": 0.001}})
    )


@pytest.mark.parametrize(
    "override",
    [
        "model.latent_dim=1000000000",
        "model.projection_dim=1e11",
        "model.hidden=[64, 100000000000]",
        "pretrain.batch_size=1e9",
        "data.n_samples=1e11",
    ],
)
def test_huge_sizes_are_capped_before_any_compute(tmp_path, capsys, monkeypatch, override):
    import cmcd.runs.pipeline

    def no_load(**kwargs):
        raise AssertionError("the data must not be loaded")

    monkeypatch.setattr(cmcd.runs.pipeline, "load_dataset", no_load)
    config = tmp_path / "c.yaml"
    config.write_text("data: {name: synthetic}\n")
    argv = ["run", str(config), "--out", str(tmp_path / "o"), "--set", override]
    assert main(argv) == 2
    err = capsys.readouterr().err
    key = override.split("=")[0]
    assert f"'{key}" in err and "must be at most" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_the_width_cap_is_documented():
    from cmcd.config import describe_defaults

    assert f"1 to {MAX_WIDTH}" in describe_defaults()

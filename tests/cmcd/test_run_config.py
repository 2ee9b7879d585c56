"""Tests of cmcd.run_config: built once from the validated mapping, frozen, round-trips."""

from __future__ import annotations

import dataclasses

import pytest

from cmcd.config import config_hash, resolve_config
from cmcd.run_config import SECTIONS, RunConfig

CONFIGS = [
    None,
    {"data": {"name": "digits", "gap": 0.3}, "distill": {"loss": "cmd", "params": {}}},
    {
        "data": {"name": "mfeat", "source": "fac", "target": "zer"},
        "model": {"hidden": [64, 32]},
        "distill": {"loss": "cmc", "params": {"temperature": 0.2}},
        "seed": 4,
    },
]


@pytest.mark.parametrize("config", CONFIGS)
def test_as_dict_gives_back_the_resolved_mapping_and_the_same_run_id(config):
    rc = RunConfig.build(config)
    assert rc.as_dict() == resolve_config(config)
    assert config_hash(rc.as_dict()) == config_hash(resolve_config(config))


def test_every_section_of_the_defaults_has_a_dataclass_with_its_keys():
    resolved = resolve_config(None)
    for name, kind in SECTIONS.items():
        if name == "data":
            continue
        assert {f.name for f in dataclasses.fields(kind)} == set(resolved[name]), name


def test_sections_and_nested_values_are_frozen():
    rc = RunConfig.build(CONFIGS[2])
    with pytest.raises(dataclasses.FrozenInstanceError):
        rc.seed = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        rc.model.latent_dim = 3
    with pytest.raises(TypeError):
        rc.distill.params["temperature"] = 0.5
    with pytest.raises(TypeError):
        rc.data.options["source"] = "pix"
    assert rc.model.hidden == (64, 32)


def test_the_mapping_returned_is_a_copy():
    rc = RunConfig.build(CONFIGS[2])
    out = rc.as_dict()
    out["distill"]["params"]["temperature"] = 9.0
    out["model"]["hidden"].append(1)
    assert rc.distill.params["temperature"] == 0.2
    assert rc.model.hidden == (64, 32)


def test_bad_config_is_refused_with_the_key_named():
    with pytest.raises(ValueError, match="distill.epochs"):
        RunConfig.build({"distill": {"epochs": -1}})

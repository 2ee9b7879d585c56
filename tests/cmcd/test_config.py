import pytest
import yaml

from cmcd.config import (
    DEFAULTS,
    DOCS,
    apply_overrides,
    config_hash,
    describe_defaults,
    get_dotted,
    load_config,
    resolve_config,
)


def _leaf_keys(d, prefix=""):
    for key, value in d.items():
        if isinstance(value, dict) and f"{prefix}{key}" not in ("distill.params", "data"):
            yield from _leaf_keys(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}"


def test_every_default_key_is_documented():
    leaves = set(_leaf_keys(DEFAULTS)) - {"data"}
    assert leaves <= set(DOCS), sorted(leaves - set(DOCS))


def test_minimal_config_from_the_issue_resolves():
    cfg = resolve_config(
        {
            "data": {"name": "mfeat", "source": "fac", "target": "zer"},
            "distill": {"loss": "cmc"},
            "finetune": {"labels_per_class": 3},
            "seed": 0,
        }
    )
    assert cfg["data"] == {"name": "mfeat", "source": "fac", "target": "zer"}
    assert cfg["pretrain"]["epochs"] == DEFAULTS["pretrain"]["epochs"]
    assert cfg["finetune"]["labels_per_class"] == 3


def test_unknown_key_lists_valid_ones():
    with pytest.raises(ValueError, match=r"distill\.lossx.*valid keys: .*loss"):
        resolve_config({"distill": {"lossx": "cmc"}})
    with pytest.raises(ValueError, match="unknown config key 'sed'"):
        resolve_config({"sed": 1})


def test_section_must_be_mapping_and_choices_checked():
    with pytest.raises(ValueError, match="'pretrain' must be a mapping"):
        resolve_config({"pretrain": 3})
    with pytest.raises(ValueError, match="evaluate_on"):
        resolve_config({"evaluate_on": "train"})


def test_overrides_parse_yaml_values_and_revalidate():
    cfg = apply_overrides(resolve_config({}), ["distill.epochs=7", "pretrain.target_ssl=true"])
    assert cfg["distill"]["epochs"] == 7
    assert cfg["pretrain"]["target_ssl"] is True
    with pytest.raises(ValueError, match="key=value"):
        apply_overrides(cfg, ["distill.epochs"])
    with pytest.raises(ValueError, match="unknown config key"):
        apply_overrides(cfg, ["distill.nope=1"])


def test_load_config_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ValueError, match="must hold a mapping"):
        load_config(bad)
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump({"seed": 3}))
    assert resolve_config(load_config(good))["seed"] == 3


def test_hash_changes_with_any_value():
    a = resolve_config({})
    b = apply_overrides(a, ["seed=1"])
    assert config_hash(a) == config_hash(resolve_config({}))
    assert config_hash(a) != config_hash(b)
    assert get_dotted(b, "seed") == 1


def test_describe_defaults_mentions_every_key():
    text = describe_defaults()
    for key in DOCS:
        assert key in text

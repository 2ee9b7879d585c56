import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from cmcd._checks import number_from_text
from cmcd.config import (
    CHECKS,
    DEFAULTS,
    DOCS,
    apply_overrides,
    config_hash,
    describe_defaults,
    get_dotted,
    load_config,
    resolve_config,
    set_dotted,
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


def test_set_value_that_is_not_yaml_names_the_item():
    with pytest.raises(ValueError, match=r"--set 'seed=\[1': the value '\[1' is not valid YAML"):
        apply_overrides(resolve_config({}), ["seed=[1"])
    with pytest.raises(ValueError, match=r"--set 'distill.params=\{a: 1': .* not valid YAML"):
        apply_overrides(resolve_config({}), ["distill.params={a: 1"])


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


# ------------------------------------------------------------- issue 12: checked before compute
ISSUE_CASES = [
    (
        {"distill": {"loss": "cmcx"}},
        r"'distill\.loss' must be one of \['cmd', 'cmc'.*got 'cmcx'; did you mean 'cmc'",
    ),
    (
        {"distill": {"params": {"temprature": 0.2}}},
        r"'distill\.params\.temprature'; did you mean 'temperature'\? valid keys: \['symmetric'",
    ),
    ({"distill": {"epochs": "ten"}}, r"'distill\.epochs' must be an integer >= 0, got 'ten'"),
    ({"pretrain": {"lr": -1}}, r"'pretrain\.lr' must be a finite number in \(0, inf\), got -1"),
    ({"distill": {"epochs": -1}}, r"'distill\.epochs' must be an integer >= 0, got -1"),
    ({"seed": 1.5}, r"'seed' must be an integer >= 0, got 1\.5"),
    ({"seed": True}, r"'seed' must be an integer >= 0, got True"),
    ({"pretrain": {"mask": 2}}, r"'pretrain\.mask' must be a finite number in \[0, 1\], got 2"),
    ({"pretrain": {"noise": -1}}, r"'pretrain\.noise' must be a finite number in \[0, inf\)"),
]


@pytest.mark.parametrize(("config", "match"), ISSUE_CASES)
def test_issue_bad_values_are_refused_with_key_value_and_range(config, match):
    with pytest.raises(ValueError, match=match):
        resolve_config(config)


@pytest.mark.parametrize(("config", "match"), ISSUE_CASES)
def test_issue_bad_values_are_refused_as_overrides(config, match):
    ((section, inner),) = config.items()
    if isinstance(inner, dict):
        ((key, value),) = inner.items()
        dotted = f"{section}.{key}"
    else:
        dotted, value = section, inner
    text = yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()
    with pytest.raises(ValueError, match=match):
        apply_overrides({}, [f"{dotted}={text}"])


def test_every_documented_key_has_a_check():
    assert set(CHECKS) == {k for k in DOCS if k not in ("data.name", "distill.params")}


def test_typo_in_a_key_suggests_the_close_match():
    with pytest.raises(ValueError, match=r"'distill\.lossx'.*did you mean 'loss'\?"):
        resolve_config({"distill": {"lossx": "cmc"}})
    with pytest.raises(ValueError, match=r"'sed'.*did you mean 'seed'\?"):
        resolve_config({"sed": 1})


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"distill": {"loss": "cmc", "params": {"symmetric": "yes"}}}, "must be true or false"),
        ({"distill": {"loss": "cmc", "params": {"temperature": 0}}}, "temperature must be"),
        ({"distill": {"loss": "crd", "params": {"momentum": 1.0}}}, r"momentum must lie in"),
        ({"distill": {"loss": "cmd", "params": {"queue_size": 2.5}}}, "queue_size.*integer"),
        ({"distill": {"loss": "l2", "params": {"temperature": 0.1}}}, r"valid keys: \[\]"),
        ({"distill": {"params": [1]}}, "'distill.params' must be a mapping"),
        ({"data": {"name": "mfet"}}, r"'data\.name'.*did you mean 'mfeat'"),
        ({"data": {"name": "digits", "gapp": 0.1}}, r"'data\.gapp'; did you mean 'gap'"),
        ({"data": {"name": "digits", "gap": "big"}}, r"'data\.gap' must be a number"),
        ({"model": {"hidden": [64, 0]}}, r"'model\.hidden' entry must be an integer >= 1"),
        ({"pretrain": {"batch_size": 1}}, r"'pretrain\.batch_size' must be an integer >= 2"),
        ({"pretrain": {"target_ssl": "no"}}, r"'pretrain\.target_ssl' must be true or false"),
        ({"finetune": {"C": -1.0}}, r"'finetune\.C' must be a finite number in \(0, inf\)"),
        ({"validation_fraction": 1.0}, r"'validation_fraction'.*\(0, 1\)"),
        ({"distill": {"n_pairs": 1}}, r"'distill\.n_pairs' must be an integer >= 2"),
        ({"device": "gpu"}, r"'device' must be one of \['auto', 'cpu', 'cuda'\]"),
    ],
)
def test_loss_dataset_and_other_keys_are_checked(config, match):
    with pytest.raises(ValueError, match=match):
        resolve_config(config)


def test_valid_loss_params_and_huge_buffers_resolve_without_allocating():
    cfg = resolve_config({"distill": {"loss": "cmd", "params": {"queue_size": 10**6}}})
    assert cfg["distill"]["params"] == {"queue_size": 10**6}
    with pytest.raises(ValueError, match=r"'distill.params.queue_size' must be at most 10000000"):
        resolve_config({"distill": {"loss": "cmd", "params": {"queue_size": 10**9}}})
    cfg = resolve_config({"distill": {"loss": "crd", "n_pairs": 10**8}})
    assert cfg["distill"]["loss"] == "crd"


_INT_KEYS = [k for k in CHECKS if k.endswith(("epochs", "batch_size", "_dim", "labels_per_class"))]
_POSITIVE_KEYS = ["pretrain.lr", "distill.lr", "finetune.lr", "pretrain.temperature"]


@settings(max_examples=25, deadline=None)
@given(
    key=st.sampled_from(_INT_KEYS + ["seed"]),
    value=st.one_of(
        st.booleans(),
        st.floats(allow_nan=True),
        st.integers(max_value=-1),
        # numeric text is read as a number (YAML 1.1 reads 1e3 as text): see the next test
        st.text(max_size=3).filter(lambda s: isinstance(number_from_text(s), str)),
    ),
)
def test_integer_keys_refuse_bools_floats_negatives_and_text(key, value):
    with pytest.raises(ValueError, match=f"config key '{key}'"):
        resolve_config(set_dotted({}, key, value))


@pytest.mark.parametrize("key", _INT_KEYS + ["seed"])
def test_integer_keys_read_numeric_text_as_numbers_and_still_check_them(key):
    assert get_dotted(resolve_config(set_dotted({}, key, "8")), key) == 8
    assert get_dotted(resolve_config(set_dotted({}, key, " 1e1")), key) == 10
    for bad in ("-1", "1.5", "nan"):
        with pytest.raises(ValueError, match=f"config key '{key}'"):
            resolve_config(set_dotted({}, key, bad))


@settings(max_examples=25, deadline=None)
@given(
    key=st.sampled_from(_POSITIVE_KEYS),
    value=st.one_of(st.booleans(), st.floats(max_value=0), st.just(float("inf"))),
)
def test_positive_keys_refuse_non_positive_and_non_finite(key, value):
    with pytest.raises(ValueError, match=f"config key '{key}'.*\\(0, inf\\)"):
        resolve_config(set_dotted({}, key, value))


def test_set_can_fix_a_bad_value_of_the_file():
    assert apply_overrides({"seed": -1}, ["seed=2"])["seed"] == 2


# ------------------------------------------------------------- issue 13: encoders, teacher file
@pytest.mark.parametrize("arch", ["auto", "mlp", "cnn", "spec_cnn", "my_pkg.encoders:make_encoder"])
def test_arch_keys_take_a_registered_name_or_a_factory_path(arch):
    cfg = resolve_config({"model": {"source_arch": arch, "target_arch": arch}})
    assert cfg["model"]["source_arch"] == cfg["model"]["target_arch"] == arch


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"model": {"source_arch": "resnet"}}, r"config key 'model\.source_arch' must be 'auto'"),
        ({"model": {"target_arch": "pkg.mod:"}}, r"config key 'model\.target_arch'.*'pkg.mod:'"),
        ({"model": {"target_arch": 3}}, r"config key 'model\.target_arch'.*factory path"),
        ({"model": {"teacher_weights": 3}}, r"'model\.teacher_weights' must be a path"),
        ({"model": {"teacher_weights": "/no/such/t.pt"}}, r"'model\.teacher_weights'.*t\.pt"),
    ],
)
def test_bad_arch_and_teacher_weights_are_refused_before_compute(config, match):
    with pytest.raises(ValueError, match=match):
        resolve_config(config)


def test_teacher_weights_default_to_none_and_take_an_existing_file(tmp_path):
    assert resolve_config({})["model"]["teacher_weights"] is None
    path = tmp_path / "teacher.pt"
    path.write_bytes(b"checked later, by the pipeline")
    cfg = resolve_config({"model": {"teacher_weights": str(path)}})
    assert cfg["model"]["teacher_weights"] == str(path)


# ------------------------------------------------------------- issue 22: loop options
def test_loop_section_defaults_and_values_resolve():
    assert DEFAULTS["loop"] == {
        "precision": "auto",
        "channels_last": "auto",
        "compile": False,
        "check_every": 50,
    }
    cfg = resolve_config({"loop": {"precision": "bf16", "channels_last": False, "compile": True}})
    assert cfg["loop"] == {
        "precision": "bf16",
        "channels_last": False,
        "compile": True,
        "check_every": 50,
    }
    assert apply_overrides({}, ["loop.check_every=1e2"])["loop"]["check_every"] == 100


@pytest.mark.parametrize(
    ("config", "match"),
    [
        ({"loop": {"precision": "fp8"}}, r"'loop\.precision' must be one of \['auto', 'fp32'"),
        ({"loop": {"precision": "bf61"}}, r"got 'bf61'; did you mean 'bf16'"),
        ({"loop": {"channels_last": "on"}}, r"'loop\.channels_last' must be 'auto', true or fa"),
        ({"loop": {"compile": "true"}}, r"'loop\.compile' must be true or false, got 'true'"),
        ({"loop": {"check_every": 0}}, r"'loop\.check_every' must be an integer >= 1, got 0"),
        ({"loop": {"check_every": 10**7}}, r"'loop\.check_every' must be at most 1000000"),
        ({"loop": {"chek_every": 5}}, r"'loop\.chek_every'.*did you mean 'check_every'"),
        ({"loop": "fast"}, r"config key 'loop' must be a mapping"),
    ],
)
def test_bad_loop_options_name_the_key(config, match):
    with pytest.raises(ValueError, match=match):
        resolve_config(config)


def test_loop_defaults_keep_the_run_ids_of_earlier_runs():
    # ids of these configs before the loop section existed (commit 563c62e)
    assert config_hash(resolve_config({})) == "ac447a2d4e70"
    assert config_hash(resolve_config({"data": {"name": "digits"}, "seed": 3})) == "776a61ecc29c"
    base = config_hash(resolve_config({}))
    assert config_hash(resolve_config({"loop": {"check_every": 1}})) == base  # same numbers
    for change in ("precision=bf16", "precision=fp32", "channels_last=false", "compile=true"):
        assert config_hash(apply_overrides({}, [f"loop.{change}"])) != base, change
    assert config_hash({"loop": {"compile": 0}}) != config_hash({})  # 0 is not False here

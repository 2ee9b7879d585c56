"""Checkpoint keys of the steps: what each records, and that they stay put across versions."""

import torch

from cmcd.data import load_dataset
from cmcd.run_config import RunConfig
from cmcd.runs.pipeline import distill_key, init_key, ssl_key

CONFIG = {
    "data": {"name": "synthetic", "n_samples": 200},
    "seed": 3,
    "loop": {"check_every": 7},
    "distill": {"loss": "cmd"},
}
X = torch.arange(12.0).reshape(6, 2)


def _keys(config):
    rc = RunConfig.build(config)
    ds = load_dataset(seed=rc.seed, **rc.data.as_dict())
    return (
        ssl_key(X, ds.source, rc, "source"),
        init_key(ds.target, rc, "student"),
        distill_key("teacher", "student", X, X, rc),
    )


def test_keys_match_those_of_the_mapping_based_version():
    # computed by cmcd at e7756b1, whose key functions read the config mapping: checkpoints
    # written before the frozen config are still found
    ssl, init, dist = _keys(CONFIG)
    assert (ssl, init) == ("634b7fe84869", "2af1bbe744be")
    assert distill_key("a", "b", X, X, RunConfig.build(CONFIG)) == "3ec8f8828892"
    assert dist != "3ec8f8828892"  # the start keys enter the distillation key


def test_each_key_moves_with_the_settings_it_records_only():
    base = _keys(CONFIG)
    pretrain = _keys({**CONFIG, "pretrain": {"epochs": 3}})
    assert pretrain[0] != base[0] and pretrain[1:] == base[1:]
    distill = _keys({**CONFIG, "distill": {"loss": "cmd", "epochs": 3}})
    assert distill[:2] == base[:2] and distill[2] != base[2]
    finetune = _keys({**CONFIG, "finetune": {"epochs": 5}})
    assert finetune == base  # step 3 is never checkpointed
    seed = _keys({**CONFIG, "seed": 4})
    assert all(a != b for a, b in zip(seed, base, strict=True))

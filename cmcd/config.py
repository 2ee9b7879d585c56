"""Run configuration: documented defaults, YAML loading, ``--set`` overrides and validation.

A run is described by one nested dict (usually a YAML file). Every key has a default in
:data:`DEFAULTS`, documented in :data:`DOCS`; unknown keys are errors that list the valid ones.
The ``data`` section is passed to :func:`cmcd.data.load_dataset`, which validates its options.

Examples
--------
>>> cfg = resolve_config({"data": {"name": "mfeat", "source": "fac", "target": "zer"},
...                       "distill": {"loss": "cmc"}, "finetune": {"labels_per_class": 3}})
>>> cfg["distill"]["loss"], cfg["seed"]
('cmc', 0)
>>> apply_overrides(cfg, ["distill.loss=cmd", "seed=2"])["seed"]
2
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import yaml

DEFAULTS: dict[str, Any] = {
    "data": {"name": "mfeat"},
    "model": {
        "latent_dim": 128,
        "hidden": [512, 256],
        "source_arch": "auto",
        "target_arch": "auto",
        "projection_dim": 64,
    },
    "pretrain": {
        "epochs": 150,
        "batch_size": 256,
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "temperature": 1.0,
        "noise": 0.1,
        "mask": 0.5,
        "target_ssl": False,
    },
    "distill": {
        "loss": "cmc",
        "epochs": 150,
        "batch_size": 256,
        "lr": 1e-3,
        "weight_decay": 1e-4,
        "n_pairs": None,
        "params": {},
    },
    "finetune": {
        "labels_per_class": 3,
        "epochs": 0,
        "lr": 1e-4,
        "C": None,
    },
    "evaluate_on": "test",
    "validation_fraction": 0.25,
    "seed": 0,
    "device": "auto",
}

DOCS: dict[str, str] = {
    "data.name": "dataset registry name (mfeat, digits, fashion, synthetic, npz, csv, parquet); "
    "the other data.* keys are that dataset's options (cmcd.data.dataset_options)",
    "model.latent_dim": "dimension of the shared latent space of teacher and student encoders",
    "model.hidden": "hidden widths of MLP encoders (vector views)",
    "model.source_arch": "encoder for the source view: auto (by view kind), mlp or cnn",
    "model.target_arch": "encoder for the target view: auto (by view kind), mlp or cnn",
    "model.projection_dim": "output width of the SSL projection head",
    "pretrain.epochs": "epochs of SimCLR pre-training (source teacher; target with target_ssl)",
    "pretrain.batch_size": "SSL batch size (2x views per step)",
    "pretrain.lr": "AdamW learning rate for SSL",
    "pretrain.weight_decay": "AdamW weight decay for SSL",
    "pretrain.temperature": "NT-Xent temperature",
    "pretrain.noise": "augmentation: Gaussian noise std (standardised units; images: x0.1)",
    "pretrain.mask": "augmentation: probability of SCARF-corrupting each feature (vectors) / of "
    "a one-pixel shift per axis (images)",
    "pretrain.target_ssl": "also pre-train the target encoder with SSL on target data "
    "(the SSL(target) -> FT(target) baseline when distill.loss is none)",
    "distill.loss": "distillation loss: cmd, cmc, cmd+cmc, l2, cosine, crd, none",
    "distill.epochs": "epochs of cross-modality distillation on the paired unlabeled set",
    "distill.batch_size": "pairs per distillation step",
    "distill.lr": "AdamW learning rate for distillation",
    "distill.weight_decay": "AdamW weight decay for distillation",
    "distill.n_pairs": "number m of paired unlabeled samples (null: every training row)",
    "distill.params": "loss hyper-parameters passed to cmcd.losses.make_distill_loss",
    "finetune.labels_per_class": "labeled target samples per class for step 3",
    "finetune.epochs": "epochs of full fine-tuning after the linear probe (0: linear probe only)",
    "finetune.lr": "AdamW learning rate of full fine-tuning",
    "finetune.C": "inverse L2 strength of the linear probe on standardised latents; null "
    "(default): cross-validated on the labelled rows (bounds.probe.LinearProbe), a number: fixed",
    "evaluate_on": "test (the held-out test split) or validation (a split of the training rows, "
    "for tuning without touching the test split)",
    "validation_fraction": "fraction of training rows held out when evaluate_on is validation",
    "seed": "seed of every random choice in the run",
    "device": "auto (CUDA when present), cpu or cuda",
}

CHOICES: dict[str, tuple[Any, ...]] = {
    "evaluate_on": ("test", "validation"),
    "model.source_arch": ("auto", "mlp", "cnn"),
    "model.target_arch": ("auto", "mlp", "cnn"),
}


def _merge(base: dict[str, Any], update: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``; unknown keys raise."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        free_form = prefix == "data." or dotted == "distill.params"
        if key not in base and not free_form:
            valid = ", ".join(sorted(base))
            where = f"section '{prefix[:-1]}'" if prefix else "the top level"
            raise ValueError(f"unknown config key '{dotted}' in {where}; valid keys: {valid}")
        if isinstance(base.get(key), dict) and dotted != "distill.params":
            if not isinstance(value, dict):
                raise ValueError(f"config key '{dotted}' must be a mapping, got {value!r}")
            out[key] = _merge(base[key], value, f"{dotted}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_choices(cfg: dict[str, Any]) -> None:
    for dotted, choices in CHOICES.items():
        value = get_dotted(cfg, dotted)
        if value not in choices:
            raise ValueError(f"config key '{dotted}' must be one of {choices}, got {value!r}")


def resolve_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """Fill every missing key with its default and reject unknown keys.

    Parameters
    ----------
    config : dict or None
        A (partial) run configuration.

    Returns
    -------
    dict
        The complete configuration.

    Raises
    ------
    ValueError
        On an unknown key (the message lists the valid keys) or a value outside its choices.
    """
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"config must be a mapping of sections, got {type(config).__name__}")
    cfg = _merge(DEFAULTS, config, "")
    if not isinstance(cfg["data"].get("name"), str):
        raise ValueError("config key 'data.name' must name a dataset")
    _check_choices(cfg)
    return cfg


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (``yaml.safe_load``: no arbitrary objects).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a YAML mapping.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        loaded = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"config file {path} is not valid YAML: {err}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ValueError(f"config file {path} must hold a mapping, got {type(loaded).__name__}")
    return loaded


def get_dotted(cfg: dict[str, Any], dotted: str) -> Any:
    """Return ``cfg["a"]["b"]`` for ``dotted == "a.b"``."""
    node: Any = cfg
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def set_dotted(cfg: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """Return a copy of ``cfg`` with ``dotted`` set to ``value`` (sections created as needed)."""
    out = copy.deepcopy(cfg)
    node = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ValueError(f"cannot set '{dotted}': '{part}' is not a section")
    node[parts[-1]] = value
    return out


def apply_overrides(cfg: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``key=value`` strings (values parsed as YAML) and re-validate.

    Raises
    ------
    ValueError
        If an override has no ``=`` or names an unknown key.
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        cfg = set_dotted(cfg, key.strip(), yaml.safe_load(raw))
    return resolve_config(cfg)


def config_hash(cfg: dict[str, Any]) -> str:
    """Return a short stable hash of a resolved config (used as a run id).

    Examples
    --------
    >>> config_hash({"a": 1}) == config_hash({"a": 1})
    True
    """
    text = json.dumps(cfg, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def describe_defaults() -> str:
    """Return a human-readable list of every config key, its default and its meaning."""
    lines = []
    for dotted, doc in DOCS.items():
        try:
            default = get_dotted(DEFAULTS, dotted)
        except KeyError:
            default = "(required)"
        lines.append(f"{dotted} = {default!r}\n    {doc}")
    return "\n".join(lines)

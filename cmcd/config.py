"""Run configuration: documented defaults, YAML loading, ``--set`` overrides and validation.

A run is described by one nested dict (usually a YAML file). Every key has a default in
:data:`DEFAULTS`, documented in :data:`DOCS` and checked by :data:`CHECKS`; unknown keys are
errors that suggest the close match and list the valid ones. ``data.*`` options are checked
against the dataset loader's signature and ``distill.params`` against the loss's, so that a bad
config fails in :func:`resolve_config`, before any data is loaded or any model trained.

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from cmcd._checks import (
    DataError,
    check_choice,
    check_count,
    check_number,
    check_size,
    did_you_mean,
    number_from_text,
)

__all__ = [
    "apply_overrides",
    "Check",
    "CHECKS",
    "CHOICES",
    "config_hash",
    "DEFAULTS",
    "describe_defaults",
    "DOCS",
    "get_dotted",
    "HASH_NEUTRAL",
    "load_config",
    "MAX_BATCH",
    "MAX_EPOCHS",
    "MAX_LAYERS",
    "MAX_OPTION_INT",
    "MAX_WIDTH",
    "resolve_config",
    "set_dotted",
    "validate_config",
]

DEFAULTS: dict[str, Any] = {
    "data": {"name": "mfeat"},
    "model": {
        "latent_dim": 128,
        "hidden": [512, 256],
        "source_arch": "auto",
        "target_arch": "auto",
        "projection_dim": 64,
        "teacher_weights": None,
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
    "loop": {
        "precision": "auto",
        "channels_last": "auto",
        "compile": False,
        "check_every": 50,
    },
}

MAX_WIDTH = 8192
"""Cap on ``model.latent_dim``, ``model.projection_dim`` and each ``model.hidden`` width (our
choice: a 8192 x 8192 layer already holds 67M weights)."""
MAX_LAYERS = 64
"""Cap on the number of ``model.hidden`` layers (our choice)."""
MAX_BATCH = 2**20
"""Cap on ``pretrain.batch_size`` and ``distill.batch_size`` (our choice)."""
MAX_EPOCHS = 10**6
"""Cap on every ``*.epochs`` key (our choice)."""
MAX_OPTION_INT = 10**7
"""Cap on every integer ``data.*`` option and ``distill.params`` value (sizes such as
``n_samples`` or ``queue_size``; our choice)."""

DOCS: dict[str, str] = {
    "data.name": "dataset registry name (mfeat, digits, fashion, synthetic, npz, csv, parquet); "
    "the other data.* keys are that dataset's options (cmcd.data.dataset_options)",
    "model.latent_dim": "dimension (1 to 8192) of the shared latent space of teacher and student "
    "encoders",
    "model.hidden": "hidden widths (a list of at most 64 integers, each 1 to 8192) of MLP "
    "encoders (vector views)",
    "model.source_arch": "encoder for the source view: auto, mlp, cnn, spec_cnn, resnet18, "
    "resnet34 (torchvision, small-input stem; image and spectrogram views) or "
    "package.module:factory (factory(input_shape, latent_dim) -> nn.Module; auto: by view kind)",
    "model.target_arch": "encoder for the target view: auto, mlp, cnn, spec_cnn, resnet18, "
    "resnet34 (torchvision, small-input stem; image and spectrogram views) or "
    "package.module:factory (factory(input_shape, latent_dim) -> nn.Module; auto: by view kind)",
    "model.projection_dim": "output width (1 to 8192) of the SSL projection head",
    "model.teacher_weights": "path to a state-dict file for the source encoder; skips step 1 "
    "(null: pre-train the teacher with SSL)",
    "pretrain.epochs": "epochs (>= 0) of SimCLR pre-training (source teacher; target with "
    "target_ssl); 0 keeps the encoder at its initialisation",
    "pretrain.batch_size": "SSL batch size, 2 to 2^20 (2x views per step)",
    "pretrain.lr": "AdamW learning rate for SSL, > 0",
    "pretrain.weight_decay": "AdamW weight decay for SSL, >= 0",
    "pretrain.temperature": "NT-Xent temperature, > 0",
    "pretrain.noise": "augmentation: Gaussian noise std, >= 0 (standardised units; images: x0.1)",
    "pretrain.mask": "augmentation: probability in [0, 1] of SCARF-corrupting each feature "
    "(vectors) / of a one-pixel shift per axis (images)",
    "pretrain.target_ssl": "also pre-train the target encoder with SSL on target data "
    "(the SSL(target) -> FT(target) baseline when distill.loss is none)",
    "distill.loss": "distillation loss: cmd, cmc, cmd+cmc, l2, cosine, crd, none",
    "distill.epochs": "epochs (>= 0) of cross-modality distillation on the paired unlabeled set",
    "distill.batch_size": "pairs per distillation step, 2 to 2^20",
    "distill.lr": "AdamW learning rate for distillation, > 0",
    "distill.weight_decay": "AdamW weight decay for distillation, >= 0",
    "distill.n_pairs": "number m >= 2 of paired unlabeled samples (null: every training row)",
    "distill.params": "loss hyper-parameters passed to cmcd.train.losses.make_distill_loss (names, "
    "types and ranges checked against that loss; see cmcd.train.losses.distill_loss_defaults)",
    "finetune.labels_per_class": "labeled target samples per class for step 3, >= 1",
    "finetune.epochs": "epochs (>= 0) of full fine-tuning after the linear probe "
    "(0: linear probe only)",
    "finetune.lr": "AdamW learning rate of full fine-tuning, > 0",
    "finetune.C": "inverse L2 strength (> 0) of the linear probe on standardised latents; null "
    "(default): cross-validated on the labelled rows (bounds.target.probe.LinearProbe), "
    "a number: fixed",
    "evaluate_on": "test (the held-out test split) or validation (a split of the training rows, "
    "for tuning without touching the test split)",
    "validation_fraction": "fraction in (0, 1) of training rows held out when evaluate_on "
    "is validation",
    "seed": "seed of every random choice in the run: an integer >= 0 (not a bool)",
    "device": "auto (CUDA when present), cpu or cuda",
    "loop.precision": "autocast dtype of the encoders in steps 1 and 2: auto (bf16 on CUDA when "
    "supported, else fp16 with a gradient scaler; fp32 on CPU), fp32, bf16 or fp16",
    "loop.channels_last": "channels-last memory format for 2-D CNN encoders: auto (on CUDA only), "
    "true or false",
    "loop.compile": "wrap the trained modules in torch.compile (true or false; the first batches "
    "pay the compilation, seconds to minutes)",
    "loop.check_every": "batches (1 to 10^6) between two host reads of the summed loss, where a "
    "NaN or infinite loss is caught; every epoch's end is checked too",
}

CHOICES: dict[str, tuple[Any, ...]] = {
    "evaluate_on": ("test", "validation"),
}
"""Keys with a fixed set of values. The encoder keys are open (:func:`_arch`)."""

Check = Callable[[Any, str], Any]


def _count(minimum: int, maximum: int | None = None) -> Check:
    """Check an integer key; numeric strings (YAML's ``1e3``) are read as numbers."""
    if maximum is None:
        return lambda value, key: check_count(number_from_text(value), key, minimum)
    return lambda value, key: check_size(number_from_text(value), key, minimum, maximum)


def _number(**bounds: Any) -> Check:
    """Check a float key; numeric strings (YAML reads ``1e-3`` as one) are read as numbers."""
    return lambda value, key: check_number(number_from_text(value), key, **bounds)


def _optional(check: Check) -> Check:
    return lambda value, key: None if value is None else check(value, key)


def _choice(choices: tuple[Any, ...]) -> Check:
    return lambda value, key: check_choice(value, key, choices)


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{key} must be true or false, got {value!r}")
    return value


def _widths(value: Any, key: str) -> list[int]:
    if not isinstance(value, list) or len(value) > MAX_LAYERS:
        raise ValueError(
            f"{key} must be a list of at most {MAX_LAYERS} positive integers, got {value!r:.80}"
        )
    return [check_size(number_from_text(v), f"{key} entry", 1, MAX_WIDTH) for v in value]


def _device(value: Any, key: str) -> str:
    from cmcd._device import DEVICE_CHOICES

    return check_choice(value, key, tuple(DEVICE_CHOICES))


def _arch(value: Any, key: str) -> str:
    """``auto``, a registered encoder or ``package.module:factory`` (spelling only here)."""
    from cmcd.train.models import check_arch_name

    return check_arch_name(value, key)


def _existing_file(value: Any, key: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a path (a string) or null, got {value!r}")
    if not Path(value).expanduser().is_file():
        raise ValueError(f"{key}: file {value!r} does not exist")
    return value


def _distill_loss(value: Any, key: str) -> str:
    from cmcd.train.losses import DISTILL_LOSSES

    return check_choice(value, key, tuple(DISTILL_LOSSES))


def _loop_option(field: str) -> Check:
    """Check a ``loop.*`` key with :data:`cmcd.train.training.LOOP_OPTION_CHECKS`.

    ``check_every`` may be a numeric string (YAML's ``1e2``), read as a number.
    """

    def check(value: Any, key: str) -> Any:
        from cmcd.train.training import LOOP_OPTION_CHECKS

        if field == "check_every":
            value = number_from_text(value)
        return LOOP_OPTION_CHECKS[field](value, key)

    return check


_POSITIVE = _number(low=0, low_open=True)
_NON_NEGATIVE = _number(low=0)

CHECKS: dict[str, Check] = {
    "model.latent_dim": _count(1, MAX_WIDTH),
    "model.hidden": _widths,
    "model.source_arch": _arch,
    "model.target_arch": _arch,
    "model.projection_dim": _count(1, MAX_WIDTH),
    "model.teacher_weights": _optional(_existing_file),
    "pretrain.epochs": _count(0, MAX_EPOCHS),
    "pretrain.batch_size": _count(2, MAX_BATCH),
    "pretrain.lr": _POSITIVE,
    "pretrain.weight_decay": _NON_NEGATIVE,
    "pretrain.temperature": _POSITIVE,
    "pretrain.noise": _NON_NEGATIVE,
    "pretrain.mask": _number(low=0, high=1),
    "pretrain.target_ssl": _flag,
    "distill.loss": _distill_loss,
    "distill.epochs": _count(0, MAX_EPOCHS),
    "distill.batch_size": _count(2, MAX_BATCH),
    "distill.lr": _POSITIVE,
    "distill.weight_decay": _NON_NEGATIVE,
    "distill.n_pairs": _optional(_count(2)),
    "finetune.labels_per_class": _count(1),
    "finetune.epochs": _count(0, MAX_EPOCHS),
    "finetune.lr": _POSITIVE,
    "finetune.C": _optional(_POSITIVE),
    "evaluate_on": _choice(CHOICES["evaluate_on"]),
    "validation_fraction": _number(low=0, high=1, low_open=True, high_open=True),
    "seed": _count(0),
    "device": _device,
    "loop.precision": _loop_option("precision"),
    "loop.channels_last": _loop_option("channels_last"),
    "loop.compile": _loop_option("compile"),
    "loop.check_every": _loop_option("check_every"),
}
"""Dotted key -> check of its type and range (the ranges follow :data:`DOCS`). ``data.*`` and
``distill.params`` are checked against the dataset loader's and the loss's signatures."""


def _merge(base: dict[str, Any], update: dict[str, Any], prefix: str) -> dict[str, Any]:
    """Recursively merge ``update`` into a copy of ``base``; unknown keys raise."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        dotted = f"{prefix}{key}"
        free_form = prefix == "data." or dotted == "distill.params"
        if key not in base and not free_form:
            valid = ", ".join(sorted(base))
            where = f"section '{prefix[:-1]}'" if prefix else "the top level"
            hint = did_you_mean(key, base) or ";"
            raise ValueError(f"unknown config key '{dotted}' in {where}{hint} valid keys: {valid}")
        if isinstance(base.get(key), dict) and dotted != "distill.params":
            if not isinstance(value, dict):
                raise ValueError(f"config key '{dotted}' must be a mapping, got {value!r}")
            out[key] = _merge(base[key], value, f"{dotted}.")
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check_data(data: dict[str, Any]) -> None:
    """Check ``data.name`` against the dataset registry and the options' names and types."""
    from cmcd.data import DATASETS
    from cmcd.validation import check_keywords

    name = check_choice(data.get("name"), "config key 'data.name'", tuple(sorted(DATASETS)))
    _numbers_from_text(data, DATASETS[name], "data", exclude=("seed",))
    options = {k: v for k, v in data.items() if k != "name"}
    check_keywords(options, DATASETS[name], "data", exclude=("seed",))


def _numbers_from_text(
    options: dict[str, Any], func: Callable[..., Any], prefix: str, exclude: tuple[str, ...] = ()
) -> None:
    """Read numeric strings of ``func``'s ``int``/``float`` parameters as numbers, in place.

    Integers above :data:`MAX_OPTION_INT` are refused (sizes that allocate memory).
    """
    from cmcd.validation import keyword_parameters

    annotations = keyword_parameters(func, exclude=exclude)
    for name, value in list(options.items()):
        parts = {part.strip() for part in annotations.get(name, "").split("|")}
        if isinstance(value, str) and parts & {"int", "float"} and "str" not in parts:
            options[name] = value = number_from_text(value)
        if isinstance(value, int) and not isinstance(value, bool) and value > MAX_OPTION_INT:
            raise ValueError(
                f"config key '{prefix}.{name}' must be at most {MAX_OPTION_INT} (a cap on "
                f"sizes that allocate memory, our choice), got {value!r}"
            )


def _check_distill_params(cfg: dict[str, Any]) -> None:
    """Check ``distill.params`` against the chosen loss's signature, then build that loss.

    The loss is built on the meta device (no memory is allocated), so that its own range
    checks run before any data is loaded.
    """
    import torch

    from cmcd.train.losses import DISTILL_LOSSES, distill_loss_defaults, make_distill_loss
    from cmcd.validation import check_keywords, keyword_parameters

    loss, params = cfg["distill"]["loss"], cfg["distill"]["params"]
    if not isinstance(params, dict):
        raise ValueError(f"config key 'distill.params' must be a mapping, got {params!r}")
    factory = DISTILL_LOSSES[loss]
    context = set(keyword_parameters(factory)) - set(distill_loss_defaults(loss))  # n_data, dim
    _numbers_from_text(params, factory, "distill.params", exclude=tuple(context))
    check_keywords(params, factory, "distill.params", exclude=context)
    n_data = cfg["distill"]["n_pairs"] or 2
    try:
        with torch.device("meta"):
            make_distill_loss(loss, n_data=n_data, dim=cfg["model"]["latent_dim"], **params)
    except ValueError as err:
        raise ValueError(f"config key 'distill.params' for loss {loss!r}: {err}") from None


def validate_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Check every key of a merged config against :data:`CHECKS`, the dataset and the loss.

    Parameters
    ----------
    cfg : dict
        A complete configuration (every key of :data:`DEFAULTS` present).

    Returns
    -------
    dict
        ``cfg`` itself.

    Raises
    ------
    ValueError
        Naming the key, the bad value and what is allowed.

    Examples
    --------
    >>> validate_config(set_dotted(resolve_config({}), "pretrain.mask", 2))
    Traceback (most recent call last):
        ...
    ValueError: config key 'pretrain.mask' must be a finite number in [0, 1], got 2
    """
    for dotted, check in CHECKS.items():
        value = get_dotted(cfg, dotted)
        checked = check(value, f"config key '{dotted}'")
        if isinstance(value, str) and not isinstance(checked, str):  # '1e-3' -> 0.001
            section, _, key = dotted.rpartition(".")
            (get_dotted(cfg, section) if section else cfg)[key] = checked
        elif isinstance(value, list) and checked != value:  # model.hidden: ['64'] -> [64]
            section, _, key = dotted.rpartition(".")
            get_dotted(cfg, section)[key] = checked
    _check_data(cfg["data"])
    _check_distill_params(cfg)
    return cfg


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
        On an unknown key (the message suggests the close match and lists the valid keys), or
        a value of the wrong type or range (:func:`validate_config`).
    """
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ValueError(f"config must be a mapping of sections, got {type(config).__name__}")
    return validate_config(_merge(DEFAULTS, config, ""))


def load_config(path: str | Path) -> dict[str, Any]:
    """Read a YAML config file (``yaml.safe_load``: no arbitrary objects).

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file is not a YAML mapping (:class:`~cmcd._checks.DataError` when it cannot
        be read or is not text).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"config file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as err:
        raise DataError(
            f"config file {path} cannot be read ({err.strerror or err}): check its permissions"
        ) from None
    except UnicodeDecodeError:
        raise DataError(f"config file {path} is not a text (UTF-8) YAML file") from None
    try:
        loaded = yaml.safe_load(text)
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
        If an override has no ``=``, a value that is not valid YAML or names an unknown key.

    Examples
    --------
    >>> apply_overrides({}, ["seed=[1"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: --set 'seed=[1': the value '[1' is not valid YAML (expected ',' or ']', ...)
    """
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key=value, got {item!r}")
        key, raw = item.split("=", 1)
        cfg = set_dotted(cfg, key.strip(), _override_value(item, raw))
    return resolve_config(cfg)


def _override_value(item: str, raw: str) -> Any:
    """Parse the value of one ``--set`` item as YAML; a syntax error names the item."""
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError as err:
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ValueError(
            f"--set {item!r}: the value {raw!r} is not valid YAML ({problem})"
        ) from None


HASH_NEUTRAL: dict[str, Any] = {
    "loop.precision": "auto",
    "loop.channels_last": "auto",
    "loop.compile": False,
    "loop.check_every": None,
}
"""Keys left out of :func:`config_hash` while they hold the value given here (``None``:
always). The ``loop`` section came after runs were recorded; at its defaults it leaves their
run ids unchanged (our choice). ``loop.check_every`` never changes a finished run's numbers,
so it never enters the hash; a non-default precision, memory format or compilation does."""


def _hashed(cfg: dict[str, Any]) -> dict[str, Any]:
    """Return ``cfg`` without the :data:`HASH_NEUTRAL` keys that hold their neutral value."""
    out = dict(cfg)
    for dotted, neutral in HASH_NEUTRAL.items():
        section, _, key = dotted.partition(".")
        part = out.get(section)
        if isinstance(part, dict) and key in part and neutral in (None, part[key]):
            if neutral is not None and type(part[key]) is not type(neutral):
                continue  # 0 == False: only a value of the neutral's own type is neutral
            out[section] = part = {k: v for k, v in part.items() if k != key}
            if not part:
                del out[section]
    return out


def config_hash(cfg: dict[str, Any]) -> str:
    """Return a short stable hash of a resolved config (used as a run id).

    The :data:`HASH_NEUTRAL` keys are left out while they hold their neutral value, so
    adding them kept the run ids of earlier runs.

    Examples
    --------
    >>> config_hash({"a": 1}) == config_hash({"a": 1})
    True
    >>> config_hash({"a": 1}) == config_hash({"a": 1, "loop": {"precision": "auto"}})
    True
    """
    text = json.dumps(_hashed(cfg), sort_keys=True, default=str)
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

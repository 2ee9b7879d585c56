"""A typed, frozen run configuration, built and validated once from the config mapping.

:func:`cmcd.config.resolve_config` fills the defaults of a user's mapping and checks every key
(names, types, ranges, the dataset's options and the loss's parameters). :meth:`RunConfig.build`
runs it once and freezes the result into one dataclass per section, so that each step of a run
receives only the section it needs (``pretrain`` never sees ``finetune``) and nothing can change
a setting half-way through a run. The mapping form stays the file format, the run id's source
(:func:`cmcd.config.config_hash`) and what ``result.json`` records: :meth:`RunConfig.as_dict`
gives it back unchanged.

Examples
--------
>>> rc = RunConfig.build({"data": {"name": "digits", "gap": 0.3}, "distill": {"loss": "cmd"}})
>>> rc.distill.loss, rc.data.name, rc.data.options["gap"], rc.seed
('cmd', 'digits', 0.3, 0)
>>> rc.distill.loss = "l2"
Traceback (most recent call last):
...
dataclasses.FrozenInstanceError: cannot assign to field 'loss'
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, fields
from types import MappingProxyType
from typing import Any

from cmcd.config import resolve_config

__all__ = [
    "DataConfig",
    "DistillConfig",
    "FinetuneConfig",
    "LoopConfig",
    "ModelConfig",
    "PretrainConfig",
    "RunConfig",
    "SplitConfig",
]


def _frozen_mapping(value: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return a read-only deep copy of ``value`` (nested mappings read-only too)."""
    return MappingProxyType(
        {
            k: _frozen_mapping(v) if isinstance(v, Mapping) else copy.deepcopy(v)
            for k, v in value.items()
        }  # fmt: skip
    )


def _thaw(value: Any) -> Any:
    """Return a plain (mutable) copy of a frozen section value."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return list(value)
    return copy.deepcopy(value)


@dataclass(frozen=True)
class DataConfig:
    """``data``: the dataset's registry name and its loader options (``cmcd.data``)."""

    name: str
    options: Mapping[str, Any]

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> DataConfig:
        """Freeze a resolved ``data`` section."""
        options = {k: v for k, v in section.items() if k != "name"}
        return cls(section["name"], _frozen_mapping(options))

    def as_dict(self) -> dict[str, Any]:
        """Return the plain ``data`` section."""
        return {"name": self.name, **_thaw(self.options)}


@dataclass(frozen=True)
class _Section:
    """A section whose keys are exactly the dataclass fields."""

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> Any:
        values = {f.name: section[f.name] for f in fields(cls)}
        for name, value in values.items():
            if isinstance(value, list):
                values[name] = tuple(value)
            elif isinstance(value, Mapping):
                values[name] = _frozen_mapping(value)
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _thaw(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class ModelConfig(_Section):
    """``model``: encoder architectures and widths (:func:`cmcd.train.models.make_view_encoder`)."""

    latent_dim: int
    hidden: tuple[int, ...]
    source_arch: str
    target_arch: str
    projection_dim: int
    teacher_weights: str | None


@dataclass(frozen=True)
class PretrainConfig(_Section):
    """``pretrain``: SimCLR pre-training (:func:`cmcd.train.training.pretrain_ssl`)."""

    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    temperature: float
    noise: float
    mask: float
    target_ssl: bool


@dataclass(frozen=True)
class DistillConfig(_Section):
    """``distill``: the distillation loss and its loop (:func:`cmcd.train.training.distill`)."""

    loss: str
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    n_pairs: int | None
    params: Mapping[str, Any]


@dataclass(frozen=True)
class FinetuneConfig(_Section):
    """``finetune``: step 3 (:func:`cmcd.train.evaluation.fit_step3`)."""

    labels_per_class: int
    epochs: int
    lr: float
    C: float | None


@dataclass(frozen=True)
class LoopConfig(_Section):
    """``loop``: precision, memory format, compilation and finiteness checks of the loops."""

    precision: str
    channels_last: str | bool
    compile: bool
    check_every: int


SECTIONS: dict[str, Any] = {
    "data": DataConfig,
    "model": ModelConfig,
    "pretrain": PretrainConfig,
    "distill": DistillConfig,
    "finetune": FinetuneConfig,
    "loop": LoopConfig,
}
"""Registry: config section name -> its frozen dataclass."""


@dataclass(frozen=True)
class SplitConfig:
    """What chooses a run's rows (:func:`cmcd.data.splits.make_splits`): :attr:`RunConfig.split`.

    Gathered from three places of the mapping (``evaluate_on``, ``validation_fraction``,
    ``distill.n_pairs``, ``finetune.labels_per_class``, ``seed``), so that the split step sees
    these five settings and nothing else.
    """

    evaluate_on: str
    validation_fraction: float
    n_pairs: int | None
    labels_per_class: int
    seed: int


@dataclass(frozen=True)
class RunConfig:
    """Every setting of one run, validated once and frozen; one attribute per section.

    Build it with :meth:`build` (never from unchecked values); :meth:`as_dict` returns the
    mapping :func:`cmcd.config.resolve_config` returned, so the run id is unchanged.
    """

    data: DataConfig
    model: ModelConfig
    pretrain: PretrainConfig
    distill: DistillConfig
    finetune: FinetuneConfig
    loop: LoopConfig
    evaluate_on: str
    validation_fraction: float
    seed: int
    device: str

    @classmethod
    def build(cls, config: Mapping[str, Any] | None) -> RunConfig:
        """Validate ``config`` (:func:`cmcd.config.resolve_config`) and freeze it.

        Raises
        ------
        ValueError
            Whatever :func:`cmcd.config.resolve_config` refuses (the message names the key).
        """
        cfg = resolve_config(None if config is None else dict(config))
        sections = {name: kind.from_section(cfg[name]) for name, kind in SECTIONS.items()}
        scalars = {f.name: cfg[f.name] for f in fields(cls) if f.name not in SECTIONS}
        return cls(**sections, **scalars)

    @property
    def split(self) -> SplitConfig:
        """The settings of the row split (:func:`cmcd.data.splits.make_splits`)."""
        return SplitConfig(
            evaluate_on=self.evaluate_on,
            validation_fraction=self.validation_fraction,
            n_pairs=self.distill.n_pairs,
            labels_per_class=self.finetune.labels_per_class,
            seed=self.seed,
        )

    def as_dict(self) -> dict[str, Any]:
        """Return the plain nested mapping (for ``config_hash``, ``result.json`` and YAML)."""
        out: dict[str, Any] = {name: getattr(self, name).as_dict() for name in SECTIONS}
        out.update({f.name: getattr(self, f.name) for f in fields(self) if f.name not in SECTIONS})
        return out

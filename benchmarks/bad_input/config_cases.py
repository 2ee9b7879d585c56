"""Audit cases C01-C59: config values, config files, ``--set``, user factories, weights.

Every case runs ``cmcd run c.yaml --out out`` on :data:`~bad_input.fixtures.TINY` with one
value changed (or a broken config file), and must be refused naming the key or file.
"""

from __future__ import annotations

from .fixtures import RUN, TINY, _torch_file, factories, tiny, with_cfg, write_text
from .harness import Case

CATEGORY = "config values"


def c(i, desc, cfg, names, argv=None, **kw):
    """Return case ``C{i:02d}``: ``cfg`` written to ``c.yaml`` (or ``setup=``), then ``argv``."""
    setup = kw.pop("setup", None) or with_cfg(cfg)
    expect = kw.pop("expect", "error")
    return Case(f"C{i:02d}", CATEGORY, desc, expect, names, argv or RUN, setup=setup, **kw)


def config_cases() -> list[Case]:
    """Return every config case, C01-C59 in order."""
    return [*_value_cases(), *_model_cases(), *_size_cases()]


def _value_cases() -> list[Case]:
    """C01-C25: bad values, unknown keys, unreadable config files, ``--set``, dataset options."""
    return [
        c(1, "distill.loss: cmcx (typo)", tiny(distill__loss="cmcx"), ("distill.loss",)),
        c(
            2,
            "distill.params: {temprature: 0.2}",
            tiny(distill__params={"temprature": 0.2}),
            ("temprature",),
        ),
        c(3, 'distill.epochs: "ten"', tiny(distill__epochs="ten"), ("distill.epochs",)),
        c(4, "pretrain.lr: -1", tiny(pretrain__lr=-1), ("pretrain.lr",)),
        c(
            5,
            "--set distill.epochs=-1",
            TINY,
            ("distill.epochs",),
            [*RUN, "--set", "distill.epochs=-1"],
        ),
        c(6, "seed: 1.5", tiny(seed=1.5), ("seed",)),
        c(7, "seed: true", tiny(seed=True), ("seed",)),
        c(8, "pretrain.mask: 2", tiny(pretrain__mask=2), ("pretrain.mask",)),
        c(9, "pretrain.noise: -1", tiny(pretrain__noise=-1), ("pretrain.noise",)),
        c(10, "unknown top-level key 'sed: 1'", tiny(sed=1), ("sed",)),
        c(11, "unknown dataset data.name: mnist2", tiny(data__name="mnist2"), ("data.name",)),
        c(12, "data.gap: 1.5 (synthetic; range [0, 1])", tiny(data__gap=1.5), ("gap",)),
        c(13, "data.gap: -0.1", tiny(data__gap=-0.1), ("gap",)),
        c(
            14,
            "finetune.labels_per_class: 0",
            tiny(finetune__labels_per_class=0),
            ("finetune.labels_per_class",),
        ),
        c(
            15,
            "config YAML is a list, not a mapping",
            None,
            ("c.yaml",),
            setup=write_text("c.yaml", "- data\n- model\n"),
        ),
        c(
            16,
            "missing config file",
            None,
            ("nope.yaml",),
            ["run", "nope.yaml", "--out", "out"],
            setup=lambda tmp: {},
        ),
        c(
            17,
            "config path is a directory",
            None,
            ("cfgdir",),
            ["run", "cfgdir", "--out", "out"],
            setup=lambda tmp: (tmp / "cfgdir").mkdir() or {},
        ),
        c(
            18,
            "invalid YAML syntax",
            None,
            ("c.yaml",),
            setup=write_text("c.yaml", "data: {name: synthetic\nseed: [1, 2\n"),
        ),
        c(19, "--set without '=' ('seed 3')", TINY, ("--set",), [*RUN, "--set", "seed 3"]),
        c(
            20,
            "--set unknown key distill.los=cmc",
            TINY,
            ("distill.los",),
            [*RUN, "--set", "distill.los=cmc"],
        ),
        c(
            21,
            "--set value that is not valid YAML (seed=[1)",
            TINY,
            ("seed",),
            [*RUN, "--set", "seed=[1"],
        ),
        c(22, "--set into a scalar (seed.x=1)", TINY, ("seed",), [*RUN, "--set", "seed.x=1"]),
        c(
            23,
            "spoken_digits data.pair_noise: 1.5",
            tiny(data={"name": "spoken_digits", "pair_noise": 1.5, "n_samples": 60}),
            ("pair_noise",),
        ),
        c(
            24,
            "spoken_digits unknown data.source view 'video'",
            tiny(data={"name": "spoken_digits", "source": "video", "n_samples": 60}),
            ("source", "video"),
        ),
        c(
            25,
            "mfeat unknown data.source view 'xyz'",
            tiny(data={"name": "mfeat", "source": "xyz"}),
            ("source", "xyz"),
        ),
    ]


def _model_cases() -> list[Case]:
    """C26-C36: user encoder factories and teacher weight files."""
    return [
        c(
            26,
            "model.source_arch: nosuch.module:factory",
            tiny(model__source_arch="nosuch.module:factory"),
            ("source_arch",),
        ),
        c(
            27,
            "user factory returns the wrong output width",
            None,
            ("source_arch", "wrong_shape"),
            setup=factories(tiny(model__source_arch="userfac:wrong_shape")),
        ),
        c(
            28,
            "user factory returns a rank-3 output",
            None,
            ("source_arch", "rank3"),
            setup=factories(tiny(model__source_arch="userfac:rank3")),
        ),
        c(
            29,
            "user factory returns None",
            None,
            ("source_arch", "returns_none"),
            setup=factories(tiny(model__source_arch="userfac:returns_none")),
        ),
        c(
            30,
            "user factory raises",
            None,
            ("source_arch", "crashes"),
            setup=factories(tiny(model__source_arch="userfac:crashes")),
        ),
        c(
            31,
            "user factory name is not callable",
            None,
            ("source_arch", "NOT_CALLABLE"),
            setup=factories(tiny(model__target_arch="userfac:NOT_CALLABLE")),
        ),
        c(
            32,
            "model.teacher_weights: a missing file",
            tiny(model__teacher_weights="gone.pt"),
            ("teacher_weights",),
        ),
        c(
            33,
            "model.teacher_weights: a state dict of another architecture",
            None,
            ("teacher_weights", "w.pt"),
            setup=_torch_file("other_arch"),
        ),
        c(
            34,
            "model.teacher_weights: a pickle holding objects",
            None,
            ("teacher_weights", "w.pt"),
            setup=_torch_file("objects"),
        ),
        c(
            35,
            "model.teacher_weights: a pickle whose __reduce__ runs a command (must not run)",
            None,
            ("teacher_weights", "evil.pt"),
            setup=_torch_file("evil"),
            side=lambda tmp, state: not (tmp / "PWNED").exists(),
        ),
        c(
            36,
            "model.teacher_weights: a 0-byte file",
            None,
            ("teacher_weights", "w.pt"),
            setup=_torch_file("empty"),
        ),
    ]


def _size_cases() -> list[Case]:
    """C37-C59: section shapes, sizes and counts, other options, a NaN during training."""
    return [
        c(37, "section is a scalar (pretrain: 5)", tiny(pretrain=5), ("pretrain",)),
        c(38, "model.hidden: [0]", tiny(model__hidden=[0]), ("model.hidden",)),
        c(39, "model.hidden: 32 (not a list)", tiny(model__hidden=32), ("model.hidden",)),
        c(40, "distill.batch_size: 1", tiny(distill__batch_size=1), ("distill.batch_size",)),
        c(41, "distill.n_pairs: 1", tiny(distill__n_pairs=1), ("distill.n_pairs",)),
        c(
            42,
            "distill.n_pairs: 100000 (more than the training rows)",
            tiny(distill__n_pairs=100000),
            ("n_pairs",),
        ),
        c(43, "device: tpu", tiny(device="tpu"), ("device",)),
        c(44, "evaluate_on: valid", tiny(evaluate_on="valid"), ("evaluate_on",)),
        c(45, "validation_fraction: 1.0", tiny(validation_fraction=1.0), ("validation_fraction",)),
        c(46, "finetune.C: 0", tiny(finetune__C=0), ("finetune.C",)),
        c(
            47,
            "distill.params.temperature for loss l2 (takes none)",
            tiny(distill__loss="l2", distill__params={"temperature": 0.1}),
            ("temperature",),
        ),
        c(
            48,
            "distill.params.temperature: -1 for cmc",
            tiny(distill__params={"temperature": -1}),
            ("temperature",),
        ),
        c(49, "distill.params is a list", tiny(distill__params=[1, 2]), ("distill.params",)),
        c(
            50,
            "data.n_samples: 5 (too few rows to split and label)",
            tiny(data__n_samples=5),
            ("n_samples", "labels_per_class", "rows"),
        ),
        c(
            51,
            "finetune.labels_per_class: 1000 (more than a class has)",
            tiny(finetune__labels_per_class=1000),
            ("labels_per_class",),
        ),
        c(52, "synthetic data.n_classes: 1", tiny(data__n_classes=1), ("n_classes",)),
        c(53, "model.latent_dim: 0", tiny(model__latent_dim=0), ("model.latent_dim",)),
        c(
            54,
            "pretrain.batch_size: 100000 (more than the rows; clipping is fine)",
            tiny(pretrain__batch_size=100000),
            ("batch_size",),
            expect="either",
            check=lambda tmp, proc, state: (tmp / "out" / "result.json").is_file(),
        ),
        c(55, "csv dataset without data.source_path", tiny(data={"name": "csv"}), ("source_path",)),
        c(
            56,
            "npz dataset: data.path missing file",
            tiny(data={"name": "npz", "path": "gone.npz"}),
            ("gone.npz",),
        ),
        c(57, "unknown data option for synthetic (data.gapp)", tiny(data__gapp=0.5), ("gapp",)),
        c(
            58,
            "pretrain.temperature: .inf",
            tiny(pretrain__temperature=float("inf")),
            ("pretrain.temperature",),
        ),
        c(
            59,
            "user encoder outputs NaN: the run must stop naming step and epoch (exit 1)",
            None,
            ("epoch",),
            expect="refuse",
            setup=factories(tiny(model__source_arch="userfac:nan_out")),
            check=lambda tmp, proc, state: (
                proc.rc == 1
                and "epoch" in proc.err
                and not list((tmp / "out" / "checkpoints").glob("source_ssl-*.pt"))
            ),
        ),
    ]

"""Audit cases S01-S16: sweep specs (grid, bound section), the sweep lock, reruns."""

from __future__ import annotations

import copy
from pathlib import Path

from .fixtures import (
    TINY,
    finished_sweep,
    no_runs_started,
    rc_is,
    record,
    snapshot,
    sweep_lock_driver,
    sweep_spec,
    with_cfg,
    write_yaml,
)
from .harness import Case, State


def sweep_cases() -> list[Case]:
    cat = "sweeps"
    S = ["sweep", "s.yaml", "--out", "o", "--no-progress"]

    def s(i, desc, spec, names, **kw):
        setup = kw.pop("setup", None) or with_cfg(spec, "s.yaml")
        expect = kw.pop("expect", "error")
        return Case(
            f"S{i:02d}",
            cat,
            desc,
            expect,
            names,
            S,
            setup=setup,
            side=kw.pop("side", no_runs_started),
            **kw,
        )

    def rerun_sweep(tmp: Path) -> State:
        finished_sweep(tmp)
        write_yaml(tmp, "s.yaml", sweep_spec({"seed": [0]}))
        return record(tmp, "o/results.csv")

    def other_sweep(tmp: Path) -> State:
        finished_sweep(tmp)
        write_yaml(tmp, "s.yaml", sweep_spec({"seed": [5]}, distill={"epochs": 2}))
        return record(tmp, "o/results.csv")

    return [
        s(1, "empty grid (grid: {})", sweep_spec({}), ("grid",)),
        s(2, "no grid section", copy.deepcopy(TINY), ("grid",)),
        s(
            3,
            "grid key that does not exist (distill.los)",
            sweep_spec({"distill.los": ["cmc"]}),
            ("distill.los",),
        ),
        s(4, "grid value that is not a list (seed: 3)", sweep_spec({"seed": 3}), ("seed",)),
        s(5, "grid value an empty list", sweep_spec({"seed": []}), ("seed",)),
        s(
            6,
            "a bad loss among good ones (distill.loss: [cmc, cmcx, l2])",
            sweep_spec({"distill.loss": ["cmc", "cmcx", "l2"]}),
            ("cmcx",),
        ),
        s(
            7,
            "an invalid value of another key in the grid (distill.epochs: [1, -1])",
            sweep_spec({"distill.epochs": [1, -1]}),
            ("distill.epochs",),
        ),
        s(8, "grid is a list, not a mapping", sweep_spec(["seed", 0]), ("grid",)),
        s(
            9,
            "two combinations give the same config (seed: [0, 0])",
            sweep_spec({"seed": [0, 0]}),
            ("seed", "same run config"),
        ),
        s(
            10,
            "bound section with alpha: 2",
            sweep_spec({"seed": [0]}, bound={"alpha": 2}),
            ("alpha",),
        ),
        s(
            11,
            "bound section with an unknown option",
            sweep_spec({"seed": [0]}, bound={"alpah": 0.1}),
            ("alpah",),
        ),
        s(
            12,
            "grid value bad inside a section key (data.gap: [0.5, 2.0])",
            sweep_spec({"data.gap": [0.5, 2.0]}),
            ("gap",),
        ),
        s(
            13,
            "bad base config beside a good grid (pretrain.lr: 0)",
            sweep_spec({"seed": [0]}, pretrain={"lr": 0}),
            ("pretrain.lr",),
        ),
        Case(
            "S14",
            cat,
            "two sweeps on one folder at once (lock)",
            "refuse",
            ("o", "in use"),
            S,
            driver=sweep_lock_driver,
            check=rc_is(2, "in use"),
        ),
        Case(
            "S15",
            cat,
            "rerun of a finished sweep (skips its runs, exit 0)",
            "ok",
            (),
            S,
            setup=rerun_sweep,
            timeout=180,
            intact=snapshot("o/results.csv"),
            check=lambda tmp, proc, state: "1 skipped" in proc.out,
        ),
        Case(
            "S16",
            cat,
            "a different sweep into a finished sweep's folder (refused, intact)",
            "refuse",
            ("o", "refusing"),
            S,
            setup=other_sweep,
            timeout=180,
            check=rc_is(2, "refusing"),
            intact=snapshot("o/results.csv"),
        ),
    ]

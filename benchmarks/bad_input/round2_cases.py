"""Audit cases H01-H54 (hardening round 2): no stack trace anywhere, no vague message.

Closed pipes, unreadable files and read-only folders (:mod:`bad_input.faults`, also under
root), config numbers as PyYAML reads them and sizes that would exhaust memory, checkpoints
of another architecture or holding NaN, damaged sweep row files, label files of one class
or without a header, and a corrected rerun after a failed data load in the same ``--out``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .faults import allow, deny
from .fixtures import (
    RUN,
    TINY,
    _gauss,
    finished_run,
    finished_sweep,
    npy,
    rc_is,
    record,
    snapshot,
    sweep_spec,
    tiny,
    tv,
    with_cfg,
    write_yaml,
)
from .harness import Case, Proc, State, _env, cmcd

S = ["sweep", "s.yaml", "--out", "o", "--no-progress"]


def round2_cases() -> list[Case]:
    """Return every round-2 case, H01-H54 in order."""
    return [
        *_pipe_cases(),
        *_permission_cases(),
        *_number_cases(),
        *_checkpoint_cases(),
        *_row_cases(),
        *_label_cases(),
        *_rerun_cases(),
        *_misc_cases(),
    ]


# ------------------------------------------------------------------------------ pipes
def closed_pipe(argv: list[str]) -> Callable[[Path, State], Proc]:
    """Run ``cmcd ARGV`` with a stdout whose reader is gone (``cmcd ... | true``)."""

    def driver(tmp: Path, state: State) -> Proc:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "cmcd", *argv],
            cwd=tmp,
            env=_env(tmp),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        proc.stdout.close()
        err = proc.stderr.read().decode(errors="replace")
        rc = proc.wait(timeout=120)
        return Proc(rc, "", err, time.perf_counter() - start)

    return driver


def quiet_pipe(tmp: Path, proc: Proc, state: State) -> bool:
    return proc.rc in (0, 141) and not proc.err.strip()


def _pipe_cases() -> list[Case]:
    cat = "closed pipes"
    files = do_files(a=npy("a.npy", _gauss(300)), b=npy("b.npy", _gauss(300, seed=1)))
    return [
        Case(
            "H01",
            cat,
            "cmcd defaults | head (reader gone)",
            "refuse",
            (),
            driver=closed_pipe(["defaults"]),
            check=quiet_pipe,
        ),
        Case(
            "H02",
            cat,
            "cmcd tv a.npy b.npy --json | head (reader gone)",
            "refuse",
            (),
            setup=files,
            driver=closed_pipe(tv("a.npy", "b.npy")),
            check=quiet_pipe,
        ),
        Case(
            "H03",
            cat,
            "cmcd run --help | head (reader gone)",
            "refuse",
            (),
            driver=closed_pipe(["run", "--help"]),
            check=quiet_pipe,
        ),
    ]


def do_files(**makers: Callable[[Path], None]) -> Callable[[Path], State]:
    def setup(tmp: Path) -> State:
        for make in makers.values():
            make(tmp)
        return {}

    return setup


# ------------------------------------------------------------------------ permissions
def denied(make: Callable[[Path], None], read=(), write=()) -> Callable[[Path], State]:
    """Make the files, then :func:`~bad_input.faults.deny` access to some of them."""

    def setup(tmp: Path) -> State:
        state = make(tmp) or {}
        deny(tmp, read, write)
        return {**state, "denied": (*read, *write)}

    return setup


def allowed(check: Callable | None) -> Callable[[Path, Proc, State], bool]:
    """Wrap a check: undo the denial first (the check and the clean-up read the files)."""

    def wrapped(tmp: Path, proc: Proc, state: State) -> bool:
        allow(tmp, *state.get("denied", ()))
        return True if check is None else check(tmp, proc, state)

    return wrapped


def _csv_run_files(tmp: Path, labels: np.ndarray | None = None, **data) -> None:
    x = _gauss(200, 4)
    np.savetxt(tmp / "s.csv", x, delimiter=",")
    np.savetxt(tmp / "t.csv", x[:, :3] + 0.1, delimiter=",")
    np.savetxt(tmp / "y.csv", np.arange(200) % 2 if labels is None else labels, fmt="%d")
    paths = {"source_path": "s.csv", "target_path": "t.csv", "labels_path": "y.csv"}
    write_yaml(tmp, "c.yaml", tiny(data={"name": "csv", **paths, **data}))


def _npz_run_files(tmp: Path, labels: np.ndarray | None = None, **data) -> None:
    x = _gauss(200, 4)
    y = np.arange(200) % 2 if labels is None else labels
    np.savez(tmp / "d.npz", source=x, target=x[:, :3] + 0.1, labels=y)
    write_yaml(tmp, "c.yaml", tiny(data={"name": "npz", "path": "d.npz", **data}))


def _permission_cases() -> list[Case]:
    cat = "permissions"
    b = npy("b.npy", _gauss(300, seed=1))

    def tv_file(name: str, write: Callable[[Path], None]):
        return denied(do_files(a=write, b=b), read=(name,))

    def ro_checkpoints(tmp: Path) -> State:
        finished_run()(tmp)
        write_yaml(tmp, "c.yaml", tiny(seed=1))
        return record(tmp, "out/result.json", "out/features.npz")

    def h(i, desc, names, argv, setup, code=1, **kw):
        return Case(
            f"H{i:02d}",
            cat,
            desc,
            "refuse",
            names,
            argv,
            setup=setup,
            check=allowed(rc_is(code, *names)),
            **kw,
        )

    x = _gauss(300)
    return [
        h(
            4,
            "an unreadable .npy as a cmcd tv input",
            ("a.npy",),
            tv("a.npy", "b.npy"),
            tv_file("a.npy", npy("a.npy", x)),
        ),
        h(
            5,
            "an unreadable .csv as a cmcd tv input",
            ("a.csv",),
            tv("a.csv", "b.npy"),
            tv_file("a.csv", lambda tmp: np.savetxt(tmp / "a.csv", x, delimiter=",")),
        ),
        h(
            6,
            "an unreadable .npz as a cmcd tv input",
            ("a.npz",),
            tv("a.npz", "b.npy"),
            tv_file("a.npz", lambda tmp: np.savez(tmp / "a.npz", x=x)),
        ),
        h(
            7,
            "an unreadable config file",
            ("c.yaml",),
            RUN,
            denied(with_cfg(TINY), read=("c.yaml",)),
        ),
        h(
            8,
            "an unreadable .npz as data.path of a run",
            ("d.npz",),
            RUN,
            denied(_npz_run_files, read=("d.npz",)),
        ),
        h(
            9,
            "an unreadable label file of a csv run",
            ("y.csv",),
            RUN,
            denied(_csv_run_files, read=("y.csv",)),
        ),
        h(
            10,
            "an unreadable sweep spec",
            ("s.yaml",),
            S,
            denied(with_cfg(sweep_spec({"seed": [0]}), "s.yaml"), read=("s.yaml",)),
        ),
        h(
            11,
            "--overwrite while out/checkpoints is read-only (nothing deleted)",
            ("checkpoints",),
            [*RUN, "--overwrite"],
            denied(ro_checkpoints, write=("out/checkpoints",)),
            intact=snapshot("out/result.json", "out/features.npz"),
        ),
    ]


# ---------------------------------------------------------------------- config numbers
def ran(tmp: Path, proc: Proc, state: State) -> bool:
    return proc.rc == 0 and (tmp / "out" / "result.json").is_file()


def no_out(tmp: Path, state: State) -> bool:
    return not (tmp / "out").exists()


def _number_cases() -> list[Case]:
    cat = "config numbers"

    def ok(i, desc, cfg, argv=RUN):
        return Case(f"H{i:02d}", cat, desc, "ok", (), argv, setup=with_cfg(cfg), check=ran)

    def cap(i, desc, cfg, names, argv=RUN):
        return Case(
            f"H{i:02d}",
            cat,
            desc,
            "error",
            names,
            argv,
            setup=with_cfg(cfg),
            side=no_out,
            timeout=60,
        )

    return [
        ok(12, "distill.lr: 1e-3 in YAML (PyYAML reads a string)", tiny(distill__lr="1e-3")),
        ok(13, "--set distill.lr=1e-3", TINY, [*RUN, "--set", "distill.lr=1e-3"]),
        ok(
            14,
            "pretrain.weight_decay: 5e-4 and finetune.C: 1e0",
            tiny(pretrain__weight_decay="5e-4", finetune__C="1e0"),
        ),
        ok(
            15,
            "distill.params.temperature: 1e-1 (YAML string)",
            tiny(distill__params={"temperature": "1e-1"}),
        ),
        ok(16, "data.gap: 5e-1 (synthetic; YAML string)", tiny(data__gap="5e-1")),
        cap(17, "distill.lr: fast (not a number)", tiny(distill__lr="fast"), ("distill.lr",)),
        cap(
            18, "model.latent_dim: 1000000000", tiny(model__latent_dim=10**9), ("model.latent_dim",)
        ),
        cap(
            19,
            "model.projection_dim: 100000000000",
            tiny(model__projection_dim=10**11),
            ("model.projection_dim",),
        ),
        cap(
            20,
            "--set model.latent_dim=1e9",
            TINY,
            ("model.latent_dim",),
            [*RUN, "--set", "model.latent_dim=1e9"],
        ),
        cap(
            21, "model.hidden: [64, 100000000]", tiny(model__hidden=[64, 10**8]), ("model.hidden",)
        ),
        cap(
            22, "distill.batch_size: 1e9", tiny(distill__batch_size="1e9"), ("distill.batch_size",)
        ),
        cap(
            23,
            "data.n_samples: 1e11 (synthetic)",
            tiny(data__n_samples=10**11),
            ("data.n_samples",),
        ),
        cap(
            24,
            "distill.params.queue_size: 10000000000 (cmd)",
            tiny(distill__loss="cmd", distill__params={"queue_size": 10**10}),
            ("queue_size",),
        ),
        cap(25, "pretrain.epochs: 1e12", tiny(pretrain__epochs=10**12), ("pretrain.epochs",)),
    ]


# -------------------------------------------------------------------------- checkpoints
def damaged_checkpoint(step: str, how: str) -> Callable[[Path], State]:
    def setup(tmp: Path) -> State:
        import torch

        finished_run()(tmp)
        write_yaml(tmp, "c.yaml", TINY)
        ckpts = tmp / "out" / "checkpoints"
        path = next(ckpts.glob(f"{step}-*.pt"))
        state = torch.load(path, weights_only=True)
        if how == "other_arch":
            state["model"] = torch.nn.Linear(5, 3).state_dict()
        elif how in ("nan", "inf"):
            value = float(how)
            state["model"] = {
                k: v.fill_(value) if v.is_floating_point() else v for k, v in state["model"].items()
            }
        elif how == "bare":
            state = state["model"]
        elif how == "history":
            state["history"] = "not losses"
        elif how == "teacher":
            teacher = next(ckpts.glob("source_ssl-*.pt"))
            state = torch.load(teacher, weights_only=True)
        torch.save(state, path)
        return {"ckpt": path.name}

    return setup


def retrained(tmp: Path, proc: Proc, state: State) -> bool:
    import torch

    path = tmp / "out" / "checkpoints" / state["ckpt"]
    saved = torch.load(path, weights_only=True)
    finite = all(torch.isfinite(v).all() for v in saved["model"].values() if v.is_floating_point())
    return proc.rc == 0 and state["ckpt"] in proc.err and finite


def _checkpoint_cases() -> list[Case]:
    cat = "checkpoints"

    def c(i, desc, step, how):
        return Case(
            f"H{i:02d}",
            cat,
            desc,
            "either",
            (step,),
            RUN,
            setup=damaged_checkpoint(step, how),
            check=retrained,
        )

    return [
        c(
            26,
            "another architecture's state dict under the teacher's name",
            "source_ssl",
            "other_arch",
        ),
        c(
            27,
            "another architecture's state dict under the student's name",
            "distill",
            "other_arch",
        ),
        c(28, "a checkpoint holding NaN weights", "source_ssl", "nan"),
        c(29, "a checkpoint holding inf weights", "distill", "inf"),
        c(30, "a bare state dict (no history) under a step's name", "source_ssl", "bare"),
        c(31, "a checkpoint whose history is a string", "distill", "history"),
        c(32, "the teacher's checkpoint copied under the student's name", "distill", "teacher"),
    ]


# -------------------------------------------------------------------------- sweep rows
def damaged_row(content: bytes | str) -> Callable[[Path], State]:
    def setup(tmp: Path) -> State:
        finished_sweep(tmp)
        write_yaml(tmp, "s.yaml", sweep_spec({"seed": [0]}))
        path = next((tmp / "o" / "rows").glob("*.json"))
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)
        return {"row": path.name}

    return setup


def row_rerun(tmp: Path, proc: Proc, state: State) -> bool:
    path = tmp / "o" / "rows" / state["row"]
    row = json.loads(path.read_text())
    return proc.rc == 0 and state["row"] in proc.err and row["run_id"] == path.stem


def _row_cases() -> list[Case]:
    cat = "sweep rows"

    def r(i, desc, content):
        return Case(
            f"H{i:02d}",
            cat,
            desc,
            "either",
            ("rows",),
            S,
            setup=damaged_row(content),
            check=row_rerun,
            timeout=240,
        )

    return [
        r(33, "a rows/*.json that is valid JSON without run_id", '{"target_error": 0.1}'),
        r(34, "a truncated rows/*.json", '{"run_id": "ab12", "target_err'),
        r(35, "a 0-byte rows/*.json", b""),
        r(36, "a rows/*.json holding a JSON list", "[1, 2, 3]"),
        r(37, "a rows/*.json of binary junk", b"\x00\xff\xfe" * 40),
        r(38, "a rows/*.json holding another run's id", '{"run_id": "elsewhere"}'),
    ]


# ------------------------------------------------------------------------------ labels
def _label_cases() -> list[Case]:
    cat = "labels"
    one = np.ones(200, dtype=int)

    def series_header(tmp: Path) -> None:
        import pandas as pd

        _csv_run_files(tmp)
        pd.Series(np.arange(200) % 2).to_csv(tmp / "y.csv", index=False)  # header "0"

    def label_column_one_class(tmp: Path) -> None:
        x = np.column_stack([_gauss(200, 4), np.zeros(200)])
        np.savetxt(tmp / "s.csv", x, delimiter=",", header="a,b,c,d,y", comments="")
        np.savetxt(tmp / "t.csv", x[:, :3], delimiter=",", header="a,b,c", comments="")
        data = {"name": "csv", "source_path": "s.csv", "target_path": "t.csv", "label_column": "y"}
        write_yaml(tmp, "c.yaml", tiny(data=data))

    def lab(i, desc, make, names=(), expect="error", **kw):
        return Case(f"H{i:02d}", cat, desc, expect, names, RUN, setup=do_files(a=make), **kw)

    return [
        lab(39, "a label file holding one class", lambda t: _csv_run_files(t, one), ("y.csv",)),
        lab(
            40,
            "a headerless label file whose first label is 0 (every label kept)",
            _csv_run_files,
            expect="ok",
            check=ran,
        ),
        lab(41, "label_column with one class", label_column_one_class, ("label_column",)),
        lab(
            42, "an .npz whose labels hold one class", lambda t: _npz_run_files(t, one), ("labels",)
        ),
        lab(
            43,
            "a label file written by pd.Series.to_csv(index=False) (header '0')",
            series_header,
            expect="ok",
            check=ran,
        ),
        lab(
            44,
            "a label file written with pandas' index",
            lambda t: pandas_labels(t),
            ("y.csv", "index"),
        ),
    ]


def pandas_labels(tmp: Path) -> None:
    import pandas as pd

    _csv_run_files(tmp)
    pd.DataFrame({"y": np.arange(200) % 2}).to_csv(tmp / "y.csv")


# ------------------------------------------------------------------------------ reruns
def rerun_after_failure(
    broken: Callable[[Path], None], fixed: Callable[[Path], None]
) -> Callable[[Path, State], Proc]:
    """Run a config whose data fails to load into ``out``, fix it, rerun into ``out``."""

    def driver(tmp: Path, state: State) -> Proc:
        broken(tmp)
        first = cmcd(tmp, RUN)
        if first.rc == 0 or "Traceback" in first.err:
            return first
        fixed(tmp)
        return cmcd(tmp, RUN)

    return driver


def _rerun_cases() -> list[Case]:
    cat = "reruns"

    def bad_key(tmp: Path) -> None:
        _npz_run_files(tmp, source_key="src")

    def no_labels(tmp: Path) -> None:
        _csv_run_files(tmp)
        (tmp / "y.csv").unlink()

    def one_class(tmp: Path) -> None:
        _csv_run_files(tmp, np.ones(200, dtype=int))

    return [
        Case(
            "H45",
            cat,
            "data load fails (npz source_key), corrected config, same --out",
            "ok",
            (),
            driver=rerun_after_failure(bad_key, _npz_run_files),
            check=ran,
        ),
        Case(
            "H46",
            cat,
            "data load fails (labels file missing), file restored, same --out",
            "ok",
            (),
            driver=rerun_after_failure(no_labels, _csv_run_files),
            check=ran,
        ),
        Case(
            "H47",
            cat,
            "data load fails (one class), labels fixed, same --out",
            "ok",
            (),
            driver=rerun_after_failure(one_class, _csv_run_files),
            check=ran,
        ),
        Case(
            "H48",
            cat,
            "data load fails, then the same config again (same clear error)",
            "error",
            ("src",),
            driver=rerun_after_failure(bad_key, bad_key),
        ),
    ]


# -------------------------------------------------------------------------------- misc
def _nan_teacher(tmp: Path) -> None:
    import torch

    from cmcd.train.models import MLPEncoder

    state = MLPEncoder(32, 4, hidden=(16,)).state_dict()  # TINY's teacher on synthetic data
    state = {k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in state.items()}
    torch.save(state, tmp / "w.pt")
    write_yaml(tmp, "c.yaml", tiny(model__teacher_weights="w.pt"))


def _teacher_file(tmp: Path) -> None:
    import torch

    from cmcd.train.models import MLPEncoder

    torch.save(MLPEncoder(32, 4, hidden=(16,)).state_dict(), tmp / "w.pt")
    write_yaml(tmp, "c.yaml", tiny(model__teacher_weights="w.pt"))


def _bom_crlf_labels(tmp: Path) -> None:
    _csv_run_files(tmp)
    text = "label\r\n" + "".join(f"{v}\r\n" for v in np.arange(200) % 2)
    (tmp / "y.csv").write_bytes(b"\xef\xbb\xbf" + text.encode())


def _misc_cases() -> list[Case]:
    cat = "other files and options"
    files = do_files(a=npy("a.npy", _gauss(300)), b=npy("b.npy", _gauss(300, seed=1)))

    def run_dir(tmp: Path) -> State:
        from .fixtures import fake_run_dir

        fake_run_dir(tmp)
        deny(tmp, read=("r/features.npz",))
        return {"denied": ("r/features.npz",)}

    return [
        Case(
            "H49",
            cat,
            "model.teacher_weights holding NaN weights",
            "error",
            ("w.pt",),
            RUN,
            setup=do_files(a=_nan_teacher),
        ),
        Case(
            "H50",
            cat,
            "an unreadable model.teacher_weights file",
            "refuse",
            ("w.pt",),
            RUN,
            setup=denied(_teacher_file, read=("w.pt",)),
            check=allowed(rc_is(1, "w.pt")),
        ),
        Case(
            "H51",
            cat,
            "tv --seed 99999999999999999999 (beyond numpy's seeds)",
            "error",
            ("--seed",),
            tv("a.npy", "b.npy", "--seed", "99999999999999999999"),
            setup=files,
        ),
        Case(
            "H52",
            cat,
            "bound of a run whose features.npz is unreadable",
            "error",
            ("features.npz",),
            ["bound", "r"],
            setup=run_dir,
            check=allowed(rc_is(1, "features.npz")),
        ),
        Case(
            "H53",
            cat,
            "sweep --workers 100000",
            "error",
            ("--workers",),
            ["sweep", "s.yaml", "--out", "o", "--workers", "100000"],
            setup=with_cfg(sweep_spec({"seed": [0]}), "s.yaml"),
        ),
        Case(
            "H54",
            cat,
            "a label file with a BOM, a header and CRLF line endings",
            "ok",
            (),
            RUN,
            setup=do_files(a=_bom_crlf_labels),
            check=ran,
        ),
    ]

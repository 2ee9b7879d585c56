"""Audit cases R01-R13: run folders (reruns, overwrites, corrupt files, SIGINT, the lock)."""

from __future__ import annotations

from pathlib import Path

from .fixtures import (
    RUN,
    TINY,
    corrupt_checkpoint,
    lock_driver,
    other_config_setup,
    overwrite_check,
    overwrite_notes_setup,
    rc_is,
    rerun_check,
    rerun_setup,
    retrained_check,
    sigint_check,
    sigint_driver,
    snapshot,
    write_yaml,
)
from .harness import Case, State


def run_cases() -> list[Case]:
    cat = "runs"
    ok_files = snapshot("out/result.json", "out/features.npz")

    def garbage_run_json(tmp: Path) -> None:
        (tmp / "out" / "run.json").write_text("{not json")

    def no_run_json(tmp: Path) -> None:
        (tmp / "out" / "run.json").unlink()

    def corrupt_result(tmp: Path) -> State:
        state = rerun_setup(tmp)
        (tmp / "out" / "result.json").write_text("{trunc")
        return state

    def features_dir(tmp: Path) -> State:
        write_yaml(tmp, "c.yaml", TINY)
        (tmp / "out" / "features.npz").mkdir(parents=True)
        return {}

    return [
        Case(
            "R01",
            cat,
            "rerun of the same config into the same --out (resumes, exit 0, "
            "checkpoints and accuracy unchanged)",
            "ok",
            (),
            RUN,
            setup=rerun_setup,
            check=rerun_check,
        ),
        Case(
            "R02",
            cat,
            "a different config into the same --out (refused, files intact)",
            "refuse",
            ("out", "--overwrite"),
            RUN,
            setup=other_config_setup(),
            check=rc_is(2, "--overwrite"),
            intact=ok_files,
        ),
        Case(
            "R03",
            cat,
            "--overwrite with a different config (replaces the result)",
            "ok",
            (),
            [*RUN, "--overwrite"],
            setup=other_config_setup(),
            check=overwrite_check,
        ),
        Case(
            "R04",
            cat,
            "--overwrite keeps the user's other files in the folder",
            "ok",
            (),
            [*RUN, "--overwrite"],
            setup=overwrite_notes_setup,
            check=overwrite_check,
            intact=snapshot("out/notes.txt"),
        ),
        Case(
            "R05",
            cat,
            "0-byte checkpoint: warned (file named) and retrained",
            "either",
            ("source_ssl",),
            RUN,
            setup=corrupt_checkpoint("empty"),
            check=retrained_check,
        ),
        Case(
            "R06",
            cat,
            "truncated checkpoint: warned (file named) and retrained",
            "either",
            ("source_ssl",),
            RUN,
            setup=corrupt_checkpoint("truncated"),
            check=retrained_check,
        ),
        Case(
            "R07",
            cat,
            "checkpoint replaced by junk bytes: warned and retrained",
            "either",
            ("source_ssl",),
            RUN,
            setup=corrupt_checkpoint("junk"),
            check=retrained_check,
        ),
        Case(
            "R08",
            cat,
            "SIGINT 1.5 s into training (exit 130, one line)",
            "refuse",
            ("interrupt",),
            RUN,
            driver=sigint_driver,
            check=sigint_check,
        ),
        Case(
            "R09",
            cat,
            "a second run of the same config while the first runs (lock error)",
            "refuse",
            ("out", "in use"),
            RUN,
            driver=lock_driver,
            check=rc_is(2, "in use"),
        ),
        Case(
            "R10",
            cat,
            "garbage run.json, then another config (refused, files intact)",
            "refuse",
            ("out", "--overwrite"),
            RUN,
            setup=other_config_setup(garbage_run_json),
            check=rc_is(2, "--overwrite"),
            intact=ok_files,
        ),
        Case(
            "R11",
            cat,
            "run.json deleted, then another config (refused via result.json)",
            "refuse",
            ("out", "--overwrite"),
            RUN,
            setup=other_config_setup(no_run_json),
            check=rc_is(2, "--overwrite"),
            intact=ok_files,
        ),
        Case(
            "R12",
            cat,
            "result.json corrupted, then the same config (resumes, rewrites it)",
            "ok",
            (),
            RUN,
            setup=corrupt_result,
            check=rerun_check,
        ),
        Case(
            "R13",
            cat,
            "--out whose features.npz is a folder",
            "error",
            ("features.npz",),
            RUN,
            setup=features_dir,
        ),
    ]

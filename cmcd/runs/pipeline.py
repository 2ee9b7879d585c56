"""The three-step CMCD pipeline: SSL pre-training, cross-modality distillation, fine-tuning.

:func:`run` takes one resolved config and an output folder, writes ``result.json`` and
``features.npz`` there, and checkpoints each finished step under ``checkpoints/`` so that a
rerun after an interruption resumes without redoing finished steps.

Examples
--------
>>> import tempfile
>>> cfg = {"data": {"name": "synthetic", "n_samples": 300}, "seed": 0,
...        "pretrain": {"epochs": 2}, "distill": {"epochs": 2}}
>>> result = run(cfg, tempfile.mkdtemp(), progress=False)
>>> 0.0 <= result["target_accuracy"] <= 1.0
True
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cmcd._checks import DataError
from cmcd._device import select_device
from cmcd._io import atomic_write, folder_lock, write_text_atomic
from cmcd.config import config_hash
from cmcd.data import PairedDataset, StreamingPairedDataset, ViewSpec, load_dataset
from cmcd.data.splits import RunSplits, make_splits
from cmcd.run_config import DistillConfig, ModelConfig, PretrainConfig, RunConfig
from cmcd.runs.streaming_steps import LazyRows, lazy_views, select_rows
from cmcd.seeding import seed_for
from cmcd.train.augment import AUGMENTATIONS
from cmcd.train.distributed import (
    broadcast_from_main,
    check_global_batch,
    is_main_process,
    process_group,
    run_on_main,
)
from cmcd.train.evaluation import fit_step3, head_arrays, record_predictions
from cmcd.train.losses import make_distill_loss
from cmcd.train.models import ProjectionHead, file_sha256, load_teacher_state, make_view_encoder
from cmcd.train.training import LoopOptions, distill, embed, pretrain_ssl

__all__ = [
    "Step",
    "Views",
    "build_view_encoder",
    "cached_step",
    "distill_key",
    "init_key",
    "latent_features",
    "plan_steps",
    "run",
    "ssl_key",
    "standardise",
    "teacher_weights_key",
]

RUN_FILE = "run.json"
RESULT_FILE = "result.json"
FEATURES_FILE = "features.npz"


@dataclass
class Views:
    """Standardised source/target inputs of every row, as tensors on the run's device.

    For a dataset streamed from disk (:class:`~cmcd.data.StreamingPairedDataset`) the inputs
    are :class:`~cmcd.runs.streaming_steps.LazyRows`, which read rows only when a step asks
    for a batch; steps select their rows with :func:`~cmcd.runs.streaming_steps.select_rows`.
    """

    source: Tensor | LazyRows
    target: Tensor | LazyRows
    y: Tensor | None


def standardise(x: np.ndarray, kind: str, fit_rows: np.ndarray) -> np.ndarray:
    """Z-score vector views with statistics of ``fit_rows`` only; images are left as they are.

    Our choice: constant features keep unit scale (their std is replaced by 1).
    """
    if kind != "vector":
        return x.astype(np.float32)
    mean = x[fit_rows].mean(axis=0)
    std = x[fit_rows].std(axis=0)
    std[std < 1e-8] = 1.0
    return ((x - mean) / std).astype(np.float32)


def _to_views(
    ds: PairedDataset | StreamingPairedDataset, splits: RunSplits, device: torch.device
) -> Views:
    y = None if ds.y is None else torch.as_tensor(ds.y, dtype=torch.long, device=device)
    if isinstance(ds, StreamingPairedDataset):  # rows stay on disk; vectors z-scored lazily
        return Views(*lazy_views(ds, splits, device), y)
    src = standardise(ds.x_source, ds.source.kind, splits.train)
    tgt = standardise(ds.x_target, ds.target.kind, splits.train)
    return Views(torch.as_tensor(src, device=device), torch.as_tensor(tgt, device=device), y)


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with a fixed torch seed, leaving the global RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def build_view_encoder(
    view: ViewSpec, model: ModelConfig | Mapping[str, Any], arch_key: str
) -> nn.Module:
    """Build and check the encoder of one view from ``model.<arch_key>`` (the model section).

    ``model`` is the run's frozen model section, or a resolved ``model`` mapping.

    ``auto`` picks by view kind (MLP for vectors, CNN for images, 1-D CNN for spectrograms);
    a registered name or a user factory ``package.module:factory`` is built and checked on a
    dummy batch (:func:`cmcd.train.models.make_view_encoder`). Errors name ``model.<arch_key>``.
    """
    spec = ModelConfig.from_section(model) if isinstance(model, Mapping) else model
    return make_view_encoder(
        getattr(spec, arch_key),
        view.kind,
        view.shape,
        spec.latent_dim,
        hidden=list(spec.hidden),
        key=f"model.{arch_key}",
    )


def _model_spec(model: ModelConfig) -> dict[str, Any]:
    """Return the model settings a step key records: all but ``teacher_weights``.

    The teacher file enters keys by its content (:func:`teacher_weights_key`), never by its
    path, so a moved file is reused and a rewritten one is not; keys of runs without it are
    those of earlier versions.
    """
    return {k: v for k, v in model.as_dict().items() if k != "teacher_weights"}


def _digest(x: Tensor | LazyRows) -> dict[str, Any]:
    """Content hash and shape of a tensor (what a step key records of its inputs).

    Rows streamed from disk are never read to be hashed: their fingerprint (the manifest's
    bytes, the files' sizes and times, the rows and the decode and standardisation settings,
    :meth:`~cmcd.runs.streaming_steps.LazyRows.fingerprint`) stands for the content.
    """
    if isinstance(x, LazyRows):
        return {"sha256": x.fingerprint(), "shape": list(x.shape)}
    data = x.detach().cpu().contiguous().numpy()
    return {"sha256": hashlib.sha256(data.tobytes()).hexdigest(), "shape": list(x.shape)}


def ssl_key(x: Tensor | LazyRows, view: ViewSpec, rc: RunConfig, side: str) -> str:
    """Checkpoint key of an SSL pre-training: what it sees and how, not the rest of the config.

    The key hashes the training inputs themselves (so runs that differ only in the other view,
    e.g. mfeat ``fac -> zer`` and ``fac -> mor``, share one teacher), the view, the model and
    pre-training settings, the run seed and the side (``"source"`` or ``"target"``), whose
    random streams (and the encoder's seeded initialisation) differ.
    """
    digest = _digest(x)
    pre = {k: v for k, v in rc.pretrain.as_dict().items() if k != "target_ssl"}
    return config_hash(
        {
            "inputs": digest["sha256"],
            "shape": digest["shape"],
            "view": view.kind,
            "model": _model_spec(rc.model),
            "pretrain": pre,
            "seed": rc.seed,
            "side": side,
            "loop": rc.loop.as_dict(),  # left out of the hash at its defaults (HASH_NEUTRAL)
        }
    )


def init_key(view: ViewSpec, rc: RunConfig, role: str) -> str:
    """Key of a freshly initialised encoder: its view, the model settings, the seed and role."""
    spec = {"view": view.kind, "shape": list(view.shape), "model": _model_spec(rc.model)}
    return config_hash({"init": role, "seed": rc.seed, **spec})


def teacher_weights_key(path: str | Path, view: ViewSpec, model: ModelConfig) -> str:
    """Key of a teacher loaded from a state-dict file: the file's content hash and the model.

    :func:`cmcd.train.models.file_sha256` of the file (not its path), the source view and the model
    settings. It is the teacher key the distillation key starts from (:func:`distill_key`), so
    a changed file retrains the student.
    """
    spec = {"view": view.kind, "shape": list(view.shape), "model": _model_spec(model)}
    return config_hash({"teacher_weights": file_sha256(path), **spec})


def distill_key(
    teacher_key: str,
    student_key: str,
    x_source: Tensor | LazyRows,
    x_target: Tensor | LazyRows,
    rc: RunConfig,
) -> str:
    """Checkpoint key of the distillation: everything it consumes.

    The teacher's key (the checkpoint the teacher embeddings come from), the key the student
    starts from (its target SSL checkpoint, or its initialisation), the content of the paired
    source rows the teacher embeds and of the paired target rows the student trains on, and
    the distillation, model and seed settings. A changed input file therefore retrains the
    student even when its path and the config are unchanged.
    """
    return config_hash(
        {
            "teacher": teacher_key,
            "student_start": student_key,
            "source_inputs": _digest(x_source),
            "target_inputs": _digest(x_target),
            "distill": rc.distill.as_dict(),
            "model": _model_spec(rc.model),
            "seed": rc.seed,
            "loop": rc.loop.as_dict(),  # left out of the hash at its defaults (HASH_NEUTRAL)
        }
    )


@dataclass
class Step:
    """One checkpointed training step of a run.

    Attributes
    ----------
    name : str
        Checkpoint prefix: the step's checkpoint is ``CACHE/NAME-KEY.pt``.
    timing : str
        Its entry in ``result["timings"]``.
    key : str
        Hash of everything the step consumes (inputs' content, settings, the key of the
        checkpoint it starts from): :func:`ssl_key`, :func:`distill_key`.
    module : nn.Module
        What it produces: the encoder it trains in place, whose state is the checkpoint.
    train : callable
        ``train() -> per-epoch losses``; run only when no valid checkpoint exists.
    checkpointed : bool
        Whether the result is cached under ``CACHE`` (False for a step that only reads a
        file, such as loading the teacher's weights: it is run every time).
    """

    name: str
    timing: str
    key: str
    module: nn.Module
    train: Callable[[], list[float]]
    checkpointed: bool = True

    def checkpoint(self, cache: Path) -> Path:
        """Path of this step's checkpoint under ``cache``."""
        return cache / f"{self.name}-{self.key}.pt"

    def execute(self, cache: Path) -> list[float]:
        """Run the step (:func:`cached_step` when checkpointed); return its loss history."""
        if not self.checkpointed:
            return self.train()
        return cached_step(self.checkpoint(cache), self.module, self.train)


def _load_checkpoint(path: Path) -> dict[str, Any] | None:
    """Read a checkpoint; ``None`` when absent, or unreadable (a warning names the file)."""
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        _check_checkpoint(state)
    except (EOFError, RuntimeError, ValueError, OSError, pickle.UnpicklingError) as err:
        reason = " ".join(f"{type(err).__name__}: {err}".split()).rstrip(":")[:160]
        _retrain_warning(path, f"is unreadable ({reason})")
        return None
    return state


def _check_checkpoint(state: Any) -> None:
    """Raise ``ValueError`` unless ``state`` is a finite ``{"model", "history"}`` checkpoint.

    ``model``: a state dict of tensors; ``history``: a 1-D tensor of losses. A checkpoint
    holding NaN or infinite values is refused (our choice).
    """
    if not isinstance(state, dict) or not {"model", "history"} <= set(state):
        raise ValueError("it holds no 'model' and 'history' entries")
    model, history = state["model"], state["history"]
    if not isinstance(model, dict) or not all(isinstance(v, Tensor) for v in model.values()):
        raise ValueError("its 'model' entry is not a state dict of tensors")
    if not isinstance(history, Tensor) or history.ndim != 1:
        raise ValueError("its 'history' entry is not a 1-D tensor of losses")
    bad = [k for k, v in model.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad or not torch.isfinite(history.double()).all():
        raise ValueError(f"it holds NaN or infinite values ({(bad or ['history'])[:3]})")


def _retrain_warning(path: Path, what: str) -> None:
    warnings.warn(
        f"checkpoint {path} {what}; retraining this step and replacing the file",
        RuntimeWarning,
        stacklevel=3,
    )


def _fits(module: nn.Module, model: dict[str, Tensor]) -> str | None:
    """Say why a checkpoint's state dict does not fit ``module`` (None when it fits)."""
    expected = module.state_dict()
    missing, unexpected = sorted(set(expected) - set(model)), sorted(set(model) - set(expected))
    shapes = [k for k in expected if k in model and model[k].shape != expected[k].shape]
    if not (missing or unexpected or shapes):
        return None
    parts = {"missing": missing, "unexpected": unexpected, "other shapes": shapes}
    found = ", ".join(f"{what} {names[:3]}" for what, names in parts.items() if names)
    return f"was made for another architecture ({found})"


def _save_checkpoint(path: Path, module: nn.Module, history: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": module.state_dict(), "history": torch.tensor(history)}
    atomic_write(path, lambda handle: torch.save(state, handle))


def cached_step(path: Path, module: nn.Module, compute: Callable[[], list[float]]) -> list[float]:
    """Load ``module`` from ``path`` if a finished checkpoint exists, else train and save it.

    Checkpoints are read with ``torch.load(..., weights_only=True)`` (no arbitrary unpickling)
    and written atomically, so a killed run leaves either no checkpoint or a whole one. A
    corrupt checkpoint (0 bytes, truncated, or not a checkpoint) is not fatal: a
    ``RuntimeWarning`` names the file, the step is retrained and the file replaced (our
    choice); so is a checkpoint holding NaN or infinite values, or the state dict of another
    architecture (checked before anything is loaded into ``module``). When ``compute``
    raises (e.g. a non-finite loss) nothing is written.
    Under torchrun only rank 0 reads (and sends the state to the other ranks) and writes.
    """
    state = broadcast_from_main(lambda: _load_checkpoint(path))
    if state is not None:
        misfit = _fits(module, state["model"])
        if misfit is None:
            module.load_state_dict(state["model"])
            return [float(v) for v in state["history"]]
        if is_main_process():
            _retrain_warning(path, misfit)
    history = compute()
    run_on_main(lambda: _save_checkpoint(path, module, history))
    return history


def _loop_options(rc: RunConfig) -> LoopOptions:
    """Return the loop options of a run (precision, memory format, compilation, check interval)."""
    return LoopOptions(**rc.loop.as_dict())


def _pretrain_encoder(
    encoder: nn.Module,
    x: Tensor,
    view: ViewSpec,
    sections: tuple[PretrainConfig, ModelConfig, LoopOptions],
    run_seed: int,
    side: str,
    progress: bool,
) -> list[float]:
    """SimCLR pre-training of one side (``"source"`` or ``"target"``) on its own streams.

    ``sections``: the run's ``pretrain`` and ``model`` sections and its loop options, all it
    reads of the config.
    """
    pre, model, loop = sections
    base_augment = AUGMENTATIONS[view.kind]
    seed = seed_for(run_seed, f"{side}-ssl")

    def augment(batch: Tensor, generator: torch.Generator) -> Tensor:
        return base_augment(batch, pre.noise, pre.mask, generator)

    head = _seeded(
        seed_for(run_seed, f"{side}-ssl-head"),
        lambda: ProjectionHead(model.latent_dim, model.projection_dim),
    )
    head.to(x.device)
    return pretrain_ssl(
        encoder,
        head,
        x,
        augment,
        epochs=pre.epochs,
        batch_size=pre.batch_size,
        lr=pre.lr,
        weight_decay=pre.weight_decay,
        temperature=pre.temperature,
        seed=seed,
        desc=f"pretrain {side}",
        progress=progress,
        loop=loop,
    )


def _timed(timings: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    out = fn()
    timings[name] = round(time.perf_counter() - start, 3)
    return out


def run(
    config: dict[str, Any],
    out_dir: str | Path,
    *,
    progress: bool = True,
    cache_dir: str | Path | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Run the three steps for one config and write ``result.json`` and ``features.npz``.

    Parameters
    ----------
    config : dict
        A (partial) run config; missing keys take their defaults (:mod:`cmcd.config`).
    out_dir : str or Path
        Output folder; created if needed. A folder of the same config resumes: its finished
        steps' checkpoints are reused.
    progress : bool
        Show tqdm progress bars.
    cache_dir : str or Path, optional
        Where step checkpoints live (default ``out_dir/checkpoints``). Sweeps share one so that
        runs differing only in later steps reuse the same pre-trained teacher.
    overwrite : bool
        Replace the run of another config held in ``out_dir`` (its ``result.json`` and
        ``features.npz`` are deleted before training; checkpoints stay, as they are keyed by
        what each step consumes). Without it such a folder is refused.

    Returns
    -------
    dict
        The content of ``result.json``.

    Raises
    ------
    ValueError
        ``out_dir`` holds a run of another config (and ``overwrite`` is False), or another
        process is running in it.
    cmcd.train.training.NonFiniteLossError
        A NaN or infinite loss in a step; the message names the step and the epoch. The
        failed step writes no checkpoint; finished steps keep theirs.

    Notes
    -----
    The folder records its config in ``run.json`` before training and is locked
    (``.lock``) while the run lasts. Each step's checkpoint is keyed by the content of its
    inputs, its settings and the key of the checkpoint it starts from (:class:`Step`); an
    unreadable checkpoint is reported and retrained (:func:`cached_step`).
    Under ``torchrun`` each process joins the process group (:mod:`cmcd.train.distributed`),
    ``pretrain.batch_size`` and ``distill.batch_size`` are global batches split across the
    processes, and only rank 0 reads and writes checkpoints, ``result.json`` and
    ``features.npz`` (and runs step 3); every rank returns the same result.
    A dataset streamed from disk (``data.name: paired_files``, a
    :class:`~cmcd.data.StreamingPairedDataset`) is never held in memory: every step reads
    its batches through :class:`~cmcd.runs.streaming_steps.LazyRows` (vector views
    standardised with streamed training moments), and its step keys hash the dataset's
    fingerprint and the rows instead of the data.
    """
    rc = RunConfig.build(config)  # validated once, frozen; each step gets its section
    cfg = rc.as_dict()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = Path(cache_dir) if cache_dir is not None else out / "checkpoints"
    device = select_device(cfg["device"])
    with process_group(device) as device, contextlib.ExitStack() as claim:
        for section in ("pretrain", "distill"):
            check_global_batch(cfg[section]["batch_size"], f"{section}.batch_size")
        broadcast_from_main(lambda: _claim_folder(claim, out, cfg, overwrite))
        return _run_steps(rc, out, ckpt, device, progress and is_main_process())


def _stored_run_id(out: Path) -> str | None:
    """Run id of the run ``out`` holds (``run.json``, else ``result.json``); None if empty.

    A folder with outputs but no readable record gives ``"unknown"``.
    """
    for name in (RUN_FILE, RESULT_FILE):
        if (out / name).is_file():
            try:
                return str(json.loads((out / name).read_text())["run_id"])
            except (OSError, ValueError, KeyError, TypeError):
                return "unknown"
    return "unknown" if (out / FEATURES_FILE).exists() else None


def _claim_folder(stack: contextlib.ExitStack, out: Path, cfg: dict[str, Any], ok: bool) -> None:
    """Lock ``out`` for this run and check it holds no finished run of another config.

    With ``ok`` (overwrite) another config's ``result.json`` and ``features.npz`` are
    deleted, once ``out/checkpoints`` is known to be writable. A record (``run.json``) of
    another config's run that never finished (no ``result.json`` nor ``features.npz``: the
    data failed to load, or the run was stopped) is replaced with a warning, so that a
    corrected config just runs (our choice; checkpoints are kept, keyed by content). Then
    ``run.json`` records this run's id and config.
    """
    stack.enter_context(folder_lock(out, "cmcd run"))
    run_id, stored = config_hash(cfg), _stored_run_id(out)
    finished = any((out / name).exists() for name in (RESULT_FILE, FEATURES_FILE))
    if stored not in (None, run_id):
        if finished and not ok:
            raise ValueError(
                f"{out} holds a run of another config (run id {stored}; this config's is "
                f"{run_id}); refusing to overwrite it: use another --out folder, or pass "
                "--overwrite (overwrite=True) to replace it"
            )
        _check_writable(out / "checkpoints")  # before anything is deleted
        if not finished and not ok:
            warnings.warn(
                f"{out / RUN_FILE} records run {stored}, which never finished (no "
                f"{RESULT_FILE}); this run ({run_id}) takes the folder over, checkpoints kept",
                RuntimeWarning,
                stacklevel=2,
            )
        for name in (RESULT_FILE, FEATURES_FILE):
            (out / name).unlink(missing_ok=True)
    if stored != run_id:
        record = {"run_id": run_id, "config": cfg}
        write_text_atomic(out / RUN_FILE, json.dumps(_jsonable(record), indent=2))


def _check_writable(folder: Path) -> None:
    """Refuse a read-only checkpoint folder before a run deletes or trains anything."""
    if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(
            f"{folder} is not writable, and this run must write its checkpoints there: make "
            f"it writable (chmod u+w {folder}) or use another --out folder; nothing was deleted"
        )


def _run_steps(
    rc: RunConfig, out: Path, ckpt: Path, device: torch.device, progress: bool
) -> dict[str, Any]:
    """Run steps 1-3 of :func:`run` on ``device`` (this process's device under torchrun)."""
    seed = rc.seed
    timings: dict[str, float] = {}
    ds = _timed(timings, "load_data", lambda: load_dataset(seed=seed, **rc.data.as_dict()))
    teacher, student = _build_encoders(ds, rc.model, seed, device)  # user encoders fail here
    splits = make_splits(ds, rc.split)
    views = _to_views(ds, splits, device)
    histories = {}
    for step in plan_steps(rc, ds, views, splits, teacher, student, progress):
        histories[step.name] = _timed(timings, step.timing, functools.partial(step.execute, ckpt))
    teacher.eval().requires_grad_(False)
    result = _timed(
        timings,
        "finetune",
        lambda: broadcast_from_main(
            lambda: _evaluate(rc, ds, teacher, student, views, splits, out)
        ),
    )
    result.update(_summary(rc.as_dict(), ds, splits, histories, timings, device))
    run_on_main(lambda: _write_json(result, out / RESULT_FILE))
    return result


def _build_encoders(
    ds: PairedDataset, model: ModelConfig, seed: int, device: torch.device
) -> tuple[nn.Module, nn.Module]:
    """Build and check the teacher (source) and student (target) encoders, seeded, on ``device``.

    Run right after the dataset loads, so that a user factory that does not import or builds
    the wrong output shape fails (naming its key) before any training.
    """
    teacher = _seeded(
        seed_for(seed, "teacher-init"),
        lambda: build_view_encoder(ds.source, model, "source_arch"),
    )
    student = _seeded(
        seed_for(seed, "student-init"),
        lambda: build_view_encoder(ds.target, model, "target_arch"),
    )
    return teacher.to(device), student.to(device)


def plan_steps(
    rc: RunConfig,
    ds: PairedDataset,
    views: Views,
    splits: RunSplits,
    teacher: nn.Module,
    student: nn.Module,
    progress: bool,
) -> list[Step]:
    """List the training steps of a run, in order, each with its key (what it consumes).

    ``source_ssl`` (the teacher; ``source_weights`` instead when ``model.teacher_weights``
    names a state-dict file, see :func:`_teacher_step`), ``target_ssl`` (the student, when
    ``pretrain.target_ssl``) and ``distill`` (the student, unless the loss is ``none``), which
    starts from both.
    """
    seed = rc.seed
    ssl_sections = (rc.pretrain, rc.model, _loop_options(rc))
    tgt = select_rows(views.target, splits.train_t)
    src = select_rows(views.source, splits.train_t)
    steps = [_teacher_step(rc, ds, src, teacher, progress)]
    teacher_key = steps[0].key
    student_key = init_key(ds.target, rc, "student")
    if rc.pretrain.target_ssl:
        student_key = ssl_key(tgt, ds.target, rc, "target")
        steps.append(
            Step(
                "target_ssl",
                "pretrain_target",
                student_key,
                student,
                lambda: _pretrain_encoder(
                    student, tgt, ds.target, ssl_sections, seed, "target", progress
                ),
            )
        )
    step = _distill_step(rc, teacher, student, views, splits, (teacher_key, student_key), progress)
    return steps if step is None else [*steps, step]


def _teacher_step(
    rc: RunConfig, ds: PairedDataset, src: Tensor, teacher: nn.Module, progress: bool
) -> Step:
    """Step 1: SimCLR pre-training of the teacher on ``src``, or loading its weights.

    With ``model.teacher_weights`` the step ``source_weights`` loads the file into the
    teacher (:func:`cmcd.train.models.load_teacher_state`, ``weights_only=True``; empty history,
    timing ``load_teacher``). It is not checkpointed; its key is the file's content hash
    (:func:`teacher_weights_key`), which the distillation key starts from.
    """
    seed, weights = rc.seed, rc.model.teacher_weights
    if weights is not None:
        path = Path(weights).expanduser()

        def load() -> list[float]:
            load_teacher_state(path, teacher)
            return []

        key = teacher_weights_key(path, ds.source, rc.model)
        return Step("source_weights", "load_teacher", key, teacher, load, checkpointed=False)
    return Step(
        "source_ssl",
        "pretrain_source",
        ssl_key(src, ds.source, rc, "source"),
        teacher,
        lambda: _pretrain_encoder(
            teacher,
            src,
            ds.source,
            (rc.pretrain, rc.model, _loop_options(rc)),
            seed,
            "source",
            progress,
        ),
    )


def _distill_step(
    rc: RunConfig,
    teacher: nn.Module,
    student: nn.Module,
    views: Views,
    splits: RunSplits,
    start_keys: tuple[str, str],
    progress: bool,
) -> Step | None:
    """Build the distillation step (None for loss ``none``); ``start_keys``: teacher, student."""
    dcfg: DistillConfig = rc.distill
    paired = torch.as_tensor(splits.paired, device=views.source.device)
    loss_fn = make_distill_loss(
        dcfg.loss, n_data=len(paired), dim=rc.model.latent_dim, **dict(dcfg.params)
    )
    loop = _loop_options(rc)
    if loss_fn is None:
        return None
    x_source, x_target = select_rows(views.source, paired), select_rows(views.target, paired)

    def train() -> list[float]:
        teacher.eval().requires_grad_(False)
        return distill(
            student,
            embed(teacher, x_source),
            x_target,
            loss_fn,
            epochs=dcfg.epochs,
            batch_size=dcfg.batch_size,
            lr=dcfg.lr,
            weight_decay=dcfg.weight_decay,
            seed=seed_for(rc.seed, "distill"),
            progress=progress,
            loop=loop,
        )

    key = distill_key(*start_keys, x_source, x_target, rc)
    return Step("distill", "distill", key, student, train)


def _summary(
    cfg: dict[str, Any],
    ds: PairedDataset,
    splits: RunSplits,
    histories: dict[str, list[float]],
    timings: dict[str, float],
    device: torch.device,
) -> dict[str, Any]:
    """Return the bookkeeping entries of ``result.json`` (all but step 3's numbers)."""
    ssl_hist, distill_hist = histories.get("source_ssl", []), histories.get("distill", [])
    return {
        "run_id": config_hash(cfg),
        "config": cfg,
        "timings": timings,
        "device": str(device),
        "torch_threads": torch.get_num_threads(),
        "dataset": ds.name,
        "dataset_info": _jsonable(ds.info),
        "pretrain_final_loss": ssl_hist[-1] if ssl_hist else None,
        "distill_final_loss": distill_hist[-1] if distill_hist else None,
        "n_pairs": int(len(splits.paired)),
        "n_labeled": int(len(splits.labeled)),
        "n_eval": int(len(splits.evaluation)),
    }


def _latents(encoder: nn.Module, x: Tensor) -> np.ndarray:
    return F.normalize(embed(encoder, x), dim=1).cpu().numpy().astype(np.float32)


def _evaluate(
    rc: RunConfig,
    ds: PairedDataset,
    teacher: nn.Module,
    student: nn.Module,
    views: Views,
    splits: RunSplits,
    out: Path,
) -> dict[str, Any]:
    """Step 3 (:func:`cmcd.train.evaluation.fit_step3`), the saved latents, heads and predictions.

    Without labels only the latents are written. The student's latents are taken after
    step 3, which fine-tunes it in place when ``finetune.epochs > 0``, so that the saved
    target head applied to them is the step-3 model. The reported errors are those of the
    predictions in ``predictions.csv`` (:func:`cmcd.train.evaluation.record_predictions`).
    """
    keys = ("target_accuracy", "target_error", "source_accuracy", "source_error")
    result: dict[str, Any] = dict.fromkeys(keys)
    arrays: dict[str, np.ndarray] = {}
    models = {}
    if views.y is not None and ds.n_classes is not None:
        encoders = {"source": teacher, "target": student}
        inputs = {"source": views.source, "target": views.target}
        models = fit_step3(rc.finetune, rc.seed, ds.n_classes, encoders, inputs, views.y, splits)
        arrays["y_train"] = views.y[splits.labeled_t].cpu().numpy()
        arrays["y_test"] = views.y[splits.evaluation_t].cpu().numpy()
    arrays.update(latent_features(teacher, student, views, splits))
    if models:
        arrays.update(head_arrays(models))
        teacher_file = rc.model.teacher_weights is not None
        result.update(record_predictions(arrays, splits, rc.seed, teacher_file, dict(ds.info), out))
    _write_npz(arrays, out / FEATURES_FILE)
    return result


def latent_features(
    teacher: nn.Module, student: nn.Module, views: Views, splits: RunSplits
) -> dict[str, np.ndarray]:
    """Unit-norm latents saved in ``features.npz``.

    Those of the labelled rows (``*_train``, when there are any), of the evaluation rows
    (``*_test``) and of the paired unlabeled training rows (``*_paired``, the rows the
    bound's alignment maps are fitted on, disjoint from the evaluation rows).
    """
    lab, ev = splits.labeled_t, splits.evaluation_t
    paired = torch.as_tensor(splits.paired, device=views.source.device)
    rows = {"test": ev, "paired": paired, **({"train": lab} if len(lab) else {})}
    arrays = {}
    for name, idx in rows.items():
        arrays[f"z_source_{name}"] = _latents(teacher, select_rows(views.source, idx))
        arrays[f"z_target_{name}"] = _latents(student, select_rows(views.target, idx))
    return arrays


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    return obj


def _write_json(obj: dict[str, Any], path: Path) -> None:
    write_text_atomic(path, json.dumps(_jsonable(obj), indent=2, sort_keys=True))


def _write_npz(arrays: dict[str, np.ndarray], path: Path) -> None:
    # numpy's stub lets a keyword named allow_pickle through **arrays: ours never is one
    atomic_write(path, lambda handle: np.savez(handle, **arrays))  # type: ignore[arg-type]

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

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from cmcd._device import select_device
from cmcd.augment import AUGMENTATIONS
from cmcd.config import config_hash, resolve_config
from cmcd.data import PairedDataset, ViewSpec, load_dataset
from cmcd.distributed import (
    broadcast_from_main,
    check_global_batch,
    is_main_process,
    process_group,
    run_on_main,
)
from cmcd.finetune import accuracy, finetune
from cmcd.losses import make_distill_loss
from cmcd.models import ProjectionHead, build_encoder
from cmcd.seeding import seed_for
from cmcd.splits import RunSplits, make_splits
from cmcd.training import distill, embed, pretrain_ssl

ARCH_BY_KIND = {"vector": "mlp", "image": "cnn"}


@dataclass
class Views:
    """Standardised source/target inputs of every row, as tensors on the run's device."""

    source: Tensor
    target: Tensor
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


def _to_views(ds: PairedDataset, splits: RunSplits, device: torch.device) -> Views:
    src = standardise(ds.x_source, ds.source.kind, splits.train)
    tgt = standardise(ds.x_target, ds.target.kind, splits.train)
    y = None if ds.y is None else torch.as_tensor(ds.y, dtype=torch.long, device=device)
    return Views(torch.as_tensor(src, device=device), torch.as_tensor(tgt, device=device), y)


def _seeded(seed: int, build: Callable[[], nn.Module]) -> nn.Module:
    """Build a module with a fixed torch seed, leaving the global RNG state untouched."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build()


def build_view_encoder(view: ViewSpec, model_cfg: dict[str, Any], arch_key: str) -> nn.Module:
    """Build the encoder of one view: ``auto`` picks an MLP for vectors, a CNN for images."""
    arch = model_cfg[arch_key]
    arch = ARCH_BY_KIND[view.kind] if arch == "auto" else arch
    params = {"hidden": tuple(model_cfg["hidden"])} if arch == "mlp" else {}
    return build_encoder(arch, view.shape, model_cfg["latent_dim"], **params)


def _step_key(cfg: dict[str, Any], sections: tuple[str, ...], extra: str = "") -> str:
    part = {k: cfg[k] for k in sections}
    return config_hash({"part": part, "extra": extra})


def ssl_key(x: Tensor, view: ViewSpec, cfg: dict[str, Any], seed: int, side: str) -> str:
    """Checkpoint key of an SSL pre-training: what it sees and how, not the rest of the config.

    The key hashes the training inputs themselves (so runs that differ only in the other view,
    e.g. mfeat ``fac -> zer`` and ``fac -> mor``, share one teacher), the view, the model and
    pre-training settings, the run seed and the side (``"source"`` or ``"target"``), whose
    random streams differ.
    """
    digest = hashlib.sha256(x.detach().cpu().numpy().tobytes()).hexdigest()
    pre = {k: v for k, v in cfg["pretrain"].items() if k != "target_ssl"}
    return config_hash(
        {
            "inputs": digest,
            "shape": list(x.shape),
            "view": view.kind,
            "model": cfg["model"],
            "pretrain": pre,
            "seed": seed,
            "side": side,
        }
    )


def _save_atomic(obj: dict[str, Any], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _load_checkpoint(path: Path) -> dict[str, Any] | None:
    return torch.load(path, map_location="cpu", weights_only=True) if path.is_file() else None


def _save_checkpoint(path: Path, module: nn.Module, history: list[float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_atomic({"model": module.state_dict(), "history": torch.tensor(history)}, path)


def cached_step(path: Path, module: nn.Module, compute: Callable[[], list[float]]) -> list[float]:
    """Load ``module`` from ``path`` if a finished checkpoint exists, else train and save it.

    Checkpoints are read with ``torch.load(..., weights_only=True)`` (no arbitrary unpickling).
    Under torchrun only rank 0 reads (and sends the state to the other ranks) and writes.
    """
    state = broadcast_from_main(lambda: _load_checkpoint(path))
    if state is not None:
        module.load_state_dict(state["model"])
        return [float(v) for v in state["history"]]
    history = compute()
    run_on_main(lambda: _save_checkpoint(path, module, history))
    return history


def _pretrain_encoder(
    encoder: nn.Module,
    x: Tensor,
    view: ViewSpec,
    cfg: dict[str, Any],
    run_seed: int,
    side: str,
    progress: bool,
) -> list[float]:
    """SimCLR pre-training of one side (``"source"`` or ``"target"``) on its own streams."""
    pre = cfg["pretrain"]
    base_augment = AUGMENTATIONS[view.kind]
    seed = seed_for(run_seed, f"{side}-ssl")

    def augment(batch: Tensor, generator: torch.Generator) -> Tensor:
        return base_augment(batch, pre["noise"], pre["mask"], generator)

    head = _seeded(
        seed_for(run_seed, f"{side}-ssl-head"),
        lambda: ProjectionHead(cfg["model"]["latent_dim"], cfg["model"]["projection_dim"]),
    )
    head.to(x.device)
    return pretrain_ssl(
        encoder,
        head,
        x,
        augment,
        epochs=pre["epochs"],
        batch_size=pre["batch_size"],
        lr=pre["lr"],
        weight_decay=pre["weight_decay"],
        temperature=pre["temperature"],
        seed=seed,
        desc=f"pretrain {side}",
        progress=progress,
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
) -> dict[str, Any]:
    """Run the three steps for one config and write ``result.json`` and ``features.npz``.

    Parameters
    ----------
    config : dict
        A (partial) run config; missing keys take their defaults (:mod:`cmcd.config`).
    out_dir : str or Path
        Output folder; created if needed. Existing checkpoints there are reused.
    progress : bool
        Show tqdm progress bars.
    cache_dir : str or Path, optional
        Where step checkpoints live (default ``out_dir/checkpoints``). Sweeps share one so that
        runs differing only in later steps reuse the same pre-trained teacher.

    Returns
    -------
    dict
        The content of ``result.json``.

    Notes
    -----
    Under ``torchrun`` each process joins the process group (:mod:`cmcd.distributed`),
    ``pretrain.batch_size`` and ``distill.batch_size`` are global batches split across the
    processes, and only rank 0 reads and writes checkpoints, ``result.json`` and
    ``features.npz`` (and runs step 3); every rank returns the same result.
    """
    cfg = resolve_config(config)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = Path(cache_dir) if cache_dir is not None else out / "checkpoints"
    with process_group(select_device(cfg["device"])) as device:
        for section in ("pretrain", "distill"):
            check_global_batch(cfg[section]["batch_size"], f"{section}.batch_size")
        return _run_steps(cfg, out, ckpt, device, progress and is_main_process())


def _run_steps(
    cfg: dict[str, Any], out: Path, ckpt: Path, device: torch.device, progress: bool
) -> dict[str, Any]:
    """Run steps 1-3 of :func:`run` on ``device`` (this process's device under torchrun)."""
    seed = int(cfg["seed"])
    timings: dict[str, float] = {}

    ds = _timed(timings, "load_data", lambda: load_dataset(seed=seed, **cfg["data"]))
    splits = make_splits(ds, cfg, seed)
    views = _to_views(ds, splits, device)

    teacher = _seeded(
        seed_for(seed, "teacher-init"),
        lambda: build_view_encoder(ds.source, cfg["model"], "source_arch"),
    )
    teacher.to(device)
    key = ssl_key(views.source[splits.train_t], ds.source, cfg, seed, "source")
    ssl_hist = _timed(
        timings,
        "pretrain_source",
        lambda: cached_step(
            ckpt / f"source_ssl-{key}.pt",
            teacher,
            lambda: _pretrain_encoder(
                teacher,
                views.source[splits.train_t],
                ds.source,
                cfg,
                seed,
                "source",
                progress,
            ),
        ),
    )
    teacher.eval().requires_grad_(False)

    student = _seeded(
        seed_for(seed, "student-init"),
        lambda: build_view_encoder(ds.target, cfg["model"], "target_arch"),
    )
    student.to(device)
    if cfg["pretrain"]["target_ssl"]:
        key = ssl_key(views.target[splits.train_t], ds.target, cfg, seed, "target")
        _timed(
            timings,
            "pretrain_target",
            lambda: cached_step(
                ckpt / f"target_ssl-{key}.pt",
                student,
                lambda: _pretrain_encoder(
                    student,
                    views.target[splits.train_t],
                    ds.target,
                    cfg,
                    seed,
                    "target",
                    progress,
                ),
            ),
        )
    distill_hist = _timed(
        timings,
        "distill",
        lambda: _distill_step(cfg, teacher, student, views, splits, ckpt, seed, progress),
    )

    result = _timed(
        timings,
        "finetune",
        lambda: broadcast_from_main(
            lambda: _evaluate(cfg, ds, teacher, student, views, splits, seed, out)
        ),
    )
    result.update(
        {
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
    )
    run_on_main(lambda: _write_json(result, out / "result.json"))
    return result


def _distill_step(
    cfg: dict[str, Any],
    teacher: nn.Module,
    student: nn.Module,
    views: Views,
    splits: RunSplits,
    ckpt: Path,
    seed: int,
    progress: bool,
) -> list[float]:
    dcfg = cfg["distill"]
    paired = torch.as_tensor(splits.paired, device=views.source.device)
    loss_fn = make_distill_loss(
        dcfg["loss"], n_data=len(paired), dim=cfg["model"]["latent_dim"], **dcfg["params"]
    )
    if loss_fn is None:
        return []
    z_teacher = embed(teacher, views.source[paired])
    key = _step_key(
        cfg, ("data", "model", "pretrain", "distill", "seed", "evaluate_on", "validation_fraction")
    )
    return cached_step(
        ckpt / f"distill-{key}.pt",
        student,
        lambda: distill(
            student,
            z_teacher,
            views.target[paired],
            loss_fn,
            epochs=dcfg["epochs"],
            batch_size=dcfg["batch_size"],
            lr=dcfg["lr"],
            weight_decay=dcfg["weight_decay"],
            seed=seed_for(seed, "distill"),
            progress=progress,
        ),
    )


def _latents(encoder: nn.Module, x: Tensor) -> np.ndarray:
    return F.normalize(embed(encoder, x), dim=1).cpu().numpy().astype(np.float32)


def _evaluate(
    cfg: dict[str, Any],
    ds: PairedDataset,
    teacher: nn.Module,
    student: nn.Module,
    views: Views,
    splits: RunSplits,
    seed: int,
    out: Path,
) -> dict[str, Any]:
    """Step 3 and the saved latents; without labels only the latents are written.

    ``features.npz`` holds unit-norm latents of the labelled rows (``*_train``), of the
    evaluation rows (``*_test``) and of the paired unlabeled training rows (``*_paired``, the
    rows the bound's alignment maps are fitted on, disjoint from the evaluation rows).
    """
    lab, ev = splits.labeled_t, splits.evaluation_t
    arrays = {
        "z_source_test": _latents(teacher, views.source[ev]),
        "z_source_train": _latents(teacher, views.source[lab]) if len(lab) else None,
    }
    result: dict[str, Any] = {
        "target_accuracy": None,
        "target_error": None,
        "source_accuracy": None,
        "source_error": None,
    }
    if views.y is not None:
        ft = cfg["finetune"]
        n_classes = int(ds.n_classes)
        source_model = finetune(
            teacher,
            views.source[lab],
            views.y[lab],
            n_classes,
            epochs=0,
            lr=ft["lr"],
            C=ft["C"],
            seed=seed_for(seed, "finetune"),
        )
        target_model = finetune(
            student,
            views.target[lab],
            views.y[lab],
            n_classes,
            epochs=ft["epochs"],
            lr=ft["lr"],
            C=ft["C"],
            seed=seed_for(seed, "finetune"),
        )
        src_acc = accuracy(source_model, views.source[ev], views.y[ev])
        tgt_acc = accuracy(target_model, views.target[ev], views.y[ev])
        result.update(
            {
                "target_accuracy": tgt_acc,
                "target_error": 1.0 - tgt_acc,
                "source_accuracy": src_acc,
                "source_error": 1.0 - src_acc,
            }
        )
        arrays["y_train"] = views.y[lab].cpu().numpy()
        arrays["y_test"] = views.y[ev].cpu().numpy()
    arrays["z_target_test"] = _latents(student, views.target[ev])
    arrays["z_target_train"] = _latents(student, views.target[lab]) if len(lab) else None
    paired = torch.as_tensor(splits.paired, device=views.source.device)
    arrays["z_source_paired"] = _latents(teacher, views.source[paired])
    arrays["z_target_paired"] = _latents(student, views.target[paired])
    _write_npz({k: v for k, v in arrays.items() if v is not None}, out / "features.npz")
    return result


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
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=True))
    os.replace(tmp, path)


def _write_npz(arrays: dict[str, np.ndarray], path: Path) -> None:
    tmp = path.with_name(path.stem + ".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, path)

"""Training loops of steps 1 and 2: SimCLR pre-training and cross-modality distillation.

Each loop takes tensors already on the device, an explicit seed, and returns per-epoch losses.
They hold no configuration objects: the pipeline unpacks its config into plain arguments.
Both run :func:`epoch_loop`, which never forms a batch of one row (the contrastive losses
are exactly 0 with no gradient on one) and stops at the first NaN or infinite loss with a
:class:`NonFiniteLossError` naming the step and the epoch, before the broken update.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from cmcd.train.distributed import (
    all_gather_with_grad,
    check_global_batch,
    data_parallel,
    shard,
    shard_sizes,
    world_size,
)
from cmcd.train.losses import info_nce

__all__ = ["NonFiniteLossError", "check_finite", "distill", "embed", "epoch_loop", "pretrain_ssl"]


class NonFiniteLossError(FloatingPointError):
    """A training step produced a NaN or infinite loss; the message names the step and epoch."""


def check_finite(loss: Tensor, step: str, epoch: int, epochs: int) -> None:
    """Raise :class:`NonFiniteLossError` when ``loss`` is NaN or infinite.

    ``epoch`` counts from 1. The loops call it before the optimizer step, so the broken
    update is never applied, and the pipeline writes no checkpoint of the failed step.

    Examples
    --------
    >>> check_finite(torch.tensor(float("nan")), "distill", 2, 5)
    Traceback (most recent call last):
    ...
    cmcd.train.training.NonFiniteLossError: non-finite loss nan in step 'distill' at epoch 2 ...
    """
    if not bool(torch.isfinite(loss.detach()).all()):
        raise NonFiniteLossError(
            f"non-finite loss {loss.item()} in step {step!r} at epoch {epoch} of {epochs}; "
            "no checkpoint of this step was written (try a lower learning rate or check the "
            "inputs for NaN or infinite values)"
        )


def _batches(
    n: int, batch_size: int, generator: torch.Generator, drop_last: bool, min_last: int = 2
) -> list[Tensor]:
    """Shuffle ``range(n)`` and cut it into batches (the last partial one kept unless tiny).

    Under torchrun every rank draws the same permutation (same seed); the loops pass
    ``min_last = 2 * world size`` so that each rank's shard of a kept last batch has the two
    rows batch norm needs (our choice; 2 in a single process, as before). A batch of one row
    is never formed: the contrastive losses are exactly 0 with no gradient on it
    (:func:`cmcd.train.losses.info_nce`), so a last batch of one is always dropped.
    """
    order = torch.randperm(n, generator=generator)
    cuts = list(order.split(batch_size))
    smallest = max(min_last, 2, batch_size // 4) if drop_last else 2
    if len(cuts) > 1 and len(cuts[-1]) < smallest:
        cuts = cuts[:-1]
    return cuts


def _check_loop(n: int, batch_size: int, name: str) -> None:
    """Refuse a loop that could only form batches of one (see :func:`_batches`)."""
    check_global_batch(batch_size)
    if batch_size < 2:
        raise ValueError(
            f"batch_size must be >= 2, got {batch_size}: on a batch of one the contrastive "
            "losses are exactly 0 and give no gradient"
        )
    if n < 2:
        raise ValueError(f"{name} needs at least 2 rows to form a batch, got {n}")


def epoch_loop(
    step: Callable[[Tensor], Tensor],
    optimizer: torch.optim.Optimizer,
    n: int,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    desc: str,
    progress: bool,
) -> list[float]:
    """Run the epoch loop shared by :func:`pretrain_ssl` and :func:`distill`.

    Each epoch shuffles ``range(n)`` with ``generator`` (seeded alike on every rank; ``step``
    may draw augmentations from it too), and for each batch of row indices calls
    ``step(idx) -> loss``, checks the loss is finite (:func:`check_finite`, step named
    ``desc``), back-propagates and steps ``optimizer``. Returns the row-weighted mean loss
    of each epoch.
    """
    _check_loop(n, batch_size, desc)
    history = []
    for epoch in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
        total, count = 0.0, 0
        for idx in _batches(n, batch_size, generator, True, 2 * world_size()):
            loss = step(idx)
            check_finite(loss, desc, epoch + 1, epochs)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        history.append(total / max(count, 1))
    return history


def pretrain_ssl(
    encoder: nn.Module,
    head: nn.Module,
    x: Tensor,
    augment: Callable[[Tensor, torch.Generator], Tensor],
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    temperature: float,
    seed: int,
    desc: str = "pretrain",
    progress: bool = True,
) -> list[float]:
    r"""SimCLR pre-training: NT-Xent between two augmented views of each sample.

    .. math:: \min_{\phi, g} \; \mathcal{L}_{\mathrm{NT\text{-}Xent}}
              (g(\phi(t_1(x))), g(\phi(t_2(x))))

    Parameters
    ----------
    encoder, head : nn.Module
        The encoder phi (kept) and the projection head g (discarded after pre-training).
    x : Tensor
        Training inputs on the device, shape (n, ...).
    augment : callable
        ``augment(batch, generator) -> augmented batch``.

    Returns
    -------
    list of float
        Mean loss per epoch.

    Raises
    ------
    ValueError
        ``batch_size`` < 2, not divisible by the world size, or fewer than 2 rows.
    NonFiniteLossError
        A NaN or infinite loss; the message names the step (``desc``) and the epoch.

    Notes
    -----
    Under torchrun (see :mod:`cmcd.train.distributed`) ``batch_size`` is the global batch: every
    rank augments the whole global batch (so the views equal the single-process ones), encodes
    its shard under DistributedDataParallel, and the NT-Xent loss runs on the gathered views.

    References
    ----------
    Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", 2020.
    """
    generator = torch.Generator().manual_seed(seed)
    params = list(encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    encoder.train()
    head.train()
    with data_parallel(encoder) as enc, data_parallel(head) as proj:

        def step(idx: Tensor) -> Tensor:
            xb = x[idx.to(x.device)]
            v1, v2 = augment(xb, generator), augment(xb, generator)  # global batch
            rows, sizes = shard(len(idx)), shard_sizes(len(idx))
            z1 = all_gather_with_grad(proj(enc(v1[rows])), sizes)
            z2 = all_gather_with_grad(proj(enc(v2[rows])), sizes)
            return info_nce(z1, z2, temperature=temperature)

        history = epoch_loop(
            step,
            optimizer,
            len(x),
            epochs=epochs,
            batch_size=batch_size,
            generator=generator,
            desc=desc,
            progress=progress,
        )
    encoder.eval()
    return history


@torch.no_grad()
def embed(encoder: nn.Module, x: Tensor, batch_size: int = 1024) -> Tensor:
    """Return encoder outputs in eval mode, computed in batches (no gradient)."""
    encoder.eval()
    return torch.cat([encoder(xb) for xb in x.split(batch_size)])


def distill(
    student: nn.Module,
    z_teacher: Tensor,
    x_target: Tensor,
    loss_fn: nn.Module,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float,
    seed: int,
    progress: bool = True,
) -> list[float]:
    r"""Step 2: train the student on paired rows so that phi_B(x_B) matches the frozen teacher.

    .. math:: \min_{\phi_B} \; \frac{1}{|S_{AB}|} \sum_{\text{batches}}
              \mathcal{L}(\phi_A(x_A), \phi_B(x_B))

    The teacher embeddings ``z_teacher`` are computed once beforehand (our choice: the frozen
    teacher sees un-augmented source rows, so its outputs are constants).

    Parameters
    ----------
    student : nn.Module
        The target encoder phi_B; trained in place.
    z_teacher : Tensor
        Frozen teacher outputs phi_A(x_A) of the paired rows, shape (m, latent_dim).
    x_target : Tensor
        Target inputs of the same rows, shape (m, ...).
    loss_fn : nn.Module
        A distillation loss module called as ``loss_fn(z_teacher, z_student, index)``.

    Returns
    -------
    list of float
        Mean loss per epoch.

    Raises
    ------
    ValueError
        ``batch_size`` < 2, not divisible by the world size, or fewer than 2 rows.
    NonFiniteLossError
        A NaN or infinite loss; the message names the step (``desc``) and the epoch.

    Notes
    -----
    Under torchrun (see :mod:`cmcd.train.distributed`) ``batch_size`` is the global batch: each
    rank encodes its shard, the student embeddings are gathered so the loss sees the global
    batch's negatives, and every rank applies the same loss to the same rows, so CRD's memory
    bank and CMD's queue stay identical across ranks without communication.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn.to(x_target.device)
    student.train()
    with data_parallel(student) as model:

        def step(idx: Tensor) -> Tensor:
            idx = idx.to(x_target.device)
            z_local = model(x_target[idx[shard(len(idx))]])
            z_student = all_gather_with_grad(z_local, shard_sizes(len(idx)))
            return loss_fn(z_teacher[idx], z_student, idx)

        history = epoch_loop(
            step,
            optimizer,
            len(x_target),
            epochs=epochs,
            batch_size=batch_size,
            generator=generator,
            desc="distill",
            progress=progress,
        )
    student.eval()
    return history

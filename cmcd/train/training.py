"""Training loops of steps 1 and 2: SimCLR pre-training and cross-modality distillation.

Each loop takes tensors already on the device, an explicit seed, and returns per-epoch losses.
They hold no configuration objects: the pipeline unpacks its config into plain arguments
(:meth:`LoopOptions.from_config` turns the ``loop`` section into the one options object).
Both run :func:`epoch_loop`, which never forms a batch of one row (the contrastive losses
are exactly 0 with no gradient on one) and stops at the first NaN or infinite loss with a
:class:`NonFiniteLossError` naming the step and the epoch, before any checkpoint is written.

The loop keeps the device busy: the losses are summed on the device and read back (a host
synchronisation) only every ``check_every`` batches and at the end of each epoch, never per
batch. :class:`LoopOptions` adds mixed precision (bf16 autocast, or fp16 with a gradient
scaler), channels-last memory format for 2-D CNNs and ``torch.compile``; with the default
``loop=None`` every float operation is today's fp32 one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from cmcd._checks import check_choice, check_size
from cmcd.train.distributed import (
    all_gather_with_grad,
    check_global_batch,
    data_parallel,
    shard,
    shard_sizes,
    world_size,
)
from cmcd.train.losses import info_nce

__all__ = [
    "LOOP_OPTION_CHECKS",
    "LoopOptions",
    "MAX_CHECK_EVERY",
    "NonFiniteLossError",
    "PRECISIONS",
    "check_finite",
    "distill",
    "embed",
    "epoch_loop",
    "pretrain_ssl",
]


class NonFiniteLossError(FloatingPointError):
    """A training step produced a NaN or infinite loss; the message names the step and epoch."""


# --------------------------------------------------------------------------- loop options
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
"""Values of :attr:`LoopOptions.precision` (``auto``: bf16, else fp16, on CUDA; fp32 on CPU)."""

MAX_CHECK_EVERY = 10**6
"""Cap on :attr:`LoopOptions.check_every` (our choice)."""

_AUTOCAST_DTYPES: dict[str, torch.dtype | None] = {
    "fp32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}


def _check_precision(value: Any, name: str) -> str:
    return check_choice(value, name, PRECISIONS)


def _check_auto_or_flag(value: Any, name: str) -> bool | str:
    if isinstance(value, bool) or value == "auto":
        return value
    raise ValueError(f"{name} must be 'auto', true or false, got {value!r}")


def _check_flag(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return value


def _check_every(value: Any, name: str) -> int:
    return check_size(value, name, 1, MAX_CHECK_EVERY)


LOOP_OPTION_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "precision": _check_precision,
    "channels_last": _check_auto_or_flag,
    "compile": _check_flag,
    "check_every": _check_every,
}
"""Field of :class:`LoopOptions` -> check ``(value, name) -> value`` (also used by the config)."""


@dataclasses.dataclass(frozen=True)
class LoopOptions:
    """How :func:`pretrain_ssl` and :func:`distill` run on the device (not what they compute).

    Parameters
    ----------
    precision : {"auto", "fp32", "bf16", "fp16"}, default "auto"
        Autocast dtype of the encoders' forward passes (the losses are computed in fp32).
        ``auto``: bf16 on CUDA when the device supports it, else fp16 with a
        ``torch.amp.GradScaler``; fp32 on CPU. bf16 on CPU runs when asked explicitly.
    channels_last : {"auto", True, False}, default "auto"
        Channels-last memory format for the 2-D CNN encoders (``auto``: on CUDA only). The
        modules are put back in the contiguous format after training.
    compile : bool, default False
        Wrap the modules in ``torch.compile``. Our choice: off by default, because the first
        batches pay the compilation (seconds to minutes, once per process and input shape;
        the smaller last batch of an epoch compiles once more), which only pays off on long runs.
    check_every : int, default 50
        Batches between two reads of the summed loss (the only host synchronisations of the
        loop); every epoch's end is checked too. A NaN or infinite loss is caught at the next
        check: the updates since the previous check are undone (parameters and buffers of the
        trained modules are restored) and :class:`NonFiniteLossError` names the epoch and the
        batch. ``1`` checks every batch before its update, as the loop did before.

    Raises
    ------
    ValueError
        A field of the wrong type or value; the message names it.

    Examples
    --------
    >>> LoopOptions().resolve("cpu")
    LoopOptions(precision='fp32', channels_last=False, compile=False, check_every=50)
    >>> LoopOptions(precision="fp8")
    Traceback (most recent call last):
        ...
    ValueError: precision must be one of ['auto', 'fp32', 'bf16', 'fp16'], got 'fp8'
    """

    precision: str = "auto"
    channels_last: bool | str = "auto"
    compile: bool = False
    check_every: int = 50

    def __post_init__(self) -> None:
        for field, check in LOOP_OPTION_CHECKS.items():
            object.__setattr__(self, field, check(getattr(self, field), field))

    def resolve(self, device: torch.device | str) -> LoopOptions:
        """Return the concrete options on ``device`` (no ``auto`` left).

        Raises
        ------
        ValueError
            ``precision="bf16"`` on a CUDA device without bfloat16 support.
        """
        device = torch.device(device)
        cuda = device.type == "cuda"
        precision = _auto_precision(device) if self.precision == "auto" else self.precision
        if precision == "bf16" and cuda and not torch.cuda.is_bf16_supported():
            raise ValueError(
                "precision='bf16' was requested but this CUDA device does not support "
                "bfloat16; use 'auto' (fp16 with a gradient scaler) or 'fp32'"
            )
        channels_last = cuda if self.channels_last == "auto" else self.channels_last
        return dataclasses.replace(self, precision=precision, channels_last=channels_last)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> LoopOptions:
        """Build the options from a run config's ``loop`` section (missing keys: defaults).

        Examples
        --------
        >>> LoopOptions.from_config({"loop": {"precision": "bf16"}}).precision
        'bf16'
        """
        section = cfg.get("loop") or {}
        if not isinstance(section, Mapping):
            raise ValueError(f"config key 'loop' must be a mapping, got {section!r}")
        unknown = sorted(set(section) - set(LOOP_OPTION_CHECKS))
        if unknown:
            raise ValueError(
                f"unknown config key(s) {['loop.' + k for k in unknown]}; valid keys: "
                f"{sorted(LOOP_OPTION_CHECKS)}"
            )
        checked = {
            k: LOOP_OPTION_CHECKS[k](v, f"config key 'loop.{k}'") for k, v in section.items()
        }
        return cls(**checked)


_TODAY = LoopOptions(precision="fp32", channels_last=False)
"""What ``loop=None`` means: fp32, contiguous format, no compilation."""


def _auto_precision(device: torch.device) -> str:
    """bf16 on CUDA when supported, else fp16; fp32 elsewhere (our choice)."""
    if device.type != "cuda":
        return "fp32"
    return "bf16" if torch.cuda.is_bf16_supported() else "fp16"


def _autocast(opts: LoopOptions, device: torch.device) -> Callable[[], AbstractContextManager]:
    """Return a factory of the forward passes' context (a no-op in fp32)."""
    dtype = _AUTOCAST_DTYPES[opts.precision]
    if dtype is None:
        return contextlib.nullcontext
    return lambda: torch.autocast(device.type, dtype=dtype)


def _has_conv2d(modules: Sequence[nn.Module]) -> bool:
    return any(isinstance(m, nn.Conv2d) for module in modules for m in module.modules())


@contextlib.contextmanager
def _memory_format(modules: Sequence[nn.Module], opts: LoopOptions) -> Iterator[None]:
    """Hold 2-D CNN modules in channels-last format inside the block (when asked)."""
    if not (opts.channels_last and _has_conv2d(modules)):
        yield
        return
    for module in modules:
        module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    try:
        yield
    finally:
        for module in modules:
            module.to(memory_format=torch.contiguous_format)  # type: ignore[call-overload]


def _maybe_compile(module: nn.Module, opts: LoopOptions) -> nn.Module:
    if not opts.compile:
        return module
    compiled = torch.compile(module)
    assert isinstance(compiled, nn.Module)  # compiling a module gives a module
    return compiled


def _make_optimizer(
    params: list[nn.Parameter], lr: float, weight_decay: float, opts: LoopOptions, device: Any
) -> torch.optim.Optimizer:
    """AdamW; fused on CUDA under fp16, so that the gradient scaler needs no host sync."""
    fused = opts.precision == "fp16" and torch.device(device).type == "cuda"
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused or None)


# --------------------------------------------------------------------------- finiteness
def check_finite(
    loss: Tensor, step: str, epoch: int, epochs: int, batch: tuple[int, int] | None = None
) -> None:
    """Raise :class:`NonFiniteLossError` when ``loss`` is NaN or infinite.

    ``epoch`` counts from 1; ``batch`` (``(b, of)``, from 1) is named when given. The loops
    call it before any checkpoint is written, so the pipeline keeps no checkpoint of the
    failed step.

    Examples
    --------
    >>> check_finite(torch.tensor(float("nan")), "distill", 2, 5)
    Traceback (most recent call last):
    ...
    cmcd.train.training.NonFiniteLossError: non-finite loss nan in step 'distill' at epoch 2 ...
    """
    if not bool(torch.isfinite(loss.detach()).all()):
        where = f" (batch {batch[0]} of {batch[1]})" if batch is not None else ""
        raise NonFiniteLossError(
            f"non-finite loss {loss.item()} in step {step!r} at epoch {epoch} of {epochs}"
            f"{where}; no checkpoint of this step was written (try a lower learning rate or "
            "check the inputs for NaN or infinite values)"
        )


class _LossMonitor:
    """Sum an epoch's row-weighted losses on the device; read the sum only at checks.

    The sum is kept in float64 with the operations of the former host-side sum
    (``total + float(loss) * rows``), so the epoch means are bitwise those of before. With
    ``check_every > 1`` the trained tensors are copied after each checked update, and put
    back when a later check finds a non-finite loss.
    """

    def __init__(
        self, desc: str, epochs: int, every: int, tensors: list[Tensor], device: torch.device
    ) -> None:
        self.desc, self.epochs, self.every, self.device = desc, epochs, every, device
        self.tensors = tensors if every > 1 else []
        self.snapshot = self._copy()

    def _copy(self) -> list[Tensor]:
        return [t.detach().clone() for t in self.tensors]

    def start(self, epoch: int, n_batches: int) -> None:
        """Begin epoch ``epoch`` (from 1) of ``n_batches`` batches."""
        self.epoch, self.n_batches, self.count, self.mean = epoch, n_batches, 0, math.nan
        self.total = torch.zeros((), dtype=torch.float64, device=self.device)
        self.window: list[Tensor] = []
        self.first = 0  # batch index of window[0]

    def add(self, loss: Tensor, rows: int, b: int) -> bool:
        """Add batch ``b``'s loss; check (before its update) when due; True if checked."""
        loss = loss.detach()
        self.window.append(loss)
        self.total = self.total + loss.to(torch.float64) * rows
        self.count += rows
        due = (b + 1) % self.every == 0 or b + 1 == self.n_batches
        if due:
            total = self.total.item()
            if not math.isfinite(total):
                self._fail()
            self.mean, self.window, self.first = total / max(self.count, 1), [], b + 1
        return due

    def checked_update(self) -> None:
        """Record the trained tensors after an update that followed a passed check."""
        if self.tensors:
            self.snapshot = self._copy()

    def _fail(self) -> None:
        losses = torch.stack([w.to(torch.float64) for w in self.window])
        bad = (~torch.isfinite(losses)).nonzero().flatten().tolist() or [len(self.window) - 1]
        with torch.no_grad():
            for tensor, saved in zip(self.tensors, self.snapshot, strict=True):
                tensor.copy_(saved)
        batch = (self.first + bad[0] + 1, self.n_batches)
        check_finite(self.window[bad[0]], self.desc, self.epoch, self.epochs, batch)
        raise NonFiniteLossError(  # the sum overflowed although every loss is finite
            f"non-finite summed loss in step {self.desc!r} at epoch {self.epoch} of "
            f"{self.epochs}; no checkpoint of this step was written"
        )


def _trained_tensors(
    optimizer: torch.optim.Optimizer, modules: Sequence[nn.Module]
) -> list[Tensor]:
    """Return the optimizer's parameters and the modules' buffers, each once."""
    seen: dict[int, Tensor] = {}
    for group in optimizer.param_groups:
        seen.update({id(p): p for p in group["params"]})
    for module in modules:
        seen.update({id(b): b for b in module.buffers()})
    return list(seen.values())


# --------------------------------------------------------------------------- the loop
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


def _device_batches(
    n: int, batch_size: int, generator: torch.Generator, device: torch.device
) -> list[Tensor]:
    """Return the batches of :func:`_batches`, moved to ``device`` in one copy per epoch."""
    cuts = _batches(n, batch_size, generator, True, 2 * world_size())
    if device.type == "cpu":
        return cuts
    return list(torch.cat(cuts).to(device).split([len(c) for c in cuts]))


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


def _updater(
    optimizer: torch.optim.Optimizer, opts: LoopOptions, device: torch.device
) -> Callable[[Tensor], None]:
    """Return ``update(loss)``: zero the gradients, back-propagate, step (scaled in fp16)."""
    if opts.precision != "fp16":

        def update(loss: Tensor) -> None:
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

        return update
    scaler = torch.amp.GradScaler(device.type)

    def scaled_update(loss: Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    return scaled_update


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
    loop: LoopOptions | None = None,
    device: torch.device | str | None = None,
    modules: Sequence[nn.Module] = (),
) -> list[float]:
    """Run the epoch loop shared by :func:`pretrain_ssl` and :func:`distill`.

    Each epoch shuffles ``range(n)`` with ``generator`` (seeded alike on every rank; ``step``
    may draw augmentations from it too), moves the batches of row indices to ``device`` (one
    copy per epoch) and for each calls ``step(idx) -> loss``, back-propagates and steps
    ``optimizer``. The losses are summed on the device and checked every
    ``loop.check_every`` batches and at each epoch's end (:class:`LoopOptions`); a failed
    check restores the optimizer's parameters and the buffers of ``modules`` as they were
    after the last checked update (the optimizer's own state is not restored) and raises
    :class:`NonFiniteLossError` (step named ``desc``).

    Returns
    -------
    list of float
        The row-weighted mean loss of each epoch.

    Examples
    --------
    >>> w = nn.Parameter(torch.ones(1))  # loss w^2, SGD halves w at each of 2 batches
    >>> epoch_loop(lambda idx: (w ** 2).sum(), torch.optim.SGD([w], lr=0.25), 4, epochs=3,
    ...            batch_size=2, generator=torch.Generator().manual_seed(0), desc="demo",
    ...            progress=False)
    [0.625, 0.0390625, 0.00244140625]
    """
    _check_loop(n, batch_size, desc)
    device = torch.device("cpu" if device is None else device)
    opts = (loop or _TODAY).resolve(device)
    update = _updater(optimizer, opts, device)
    tensors = _trained_tensors(optimizer, modules)
    monitor = _LossMonitor(desc, epochs, opts.check_every, tensors, device)
    history = []
    for epoch in tqdm(range(epochs), desc=desc, disable=not progress, leave=False):
        batches = _device_batches(n, batch_size, generator, device)
        monitor.start(epoch + 1, len(batches))
        for b, idx in enumerate(batches):
            loss = step(idx)
            checked = monitor.add(loss, len(idx), b)
            update(loss)
            if checked:
                monitor.checked_update()
        history.append(monitor.mean)
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
    loop: LoopOptions | None = None,
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
    loop : LoopOptions, optional
        Precision, memory format, compilation and check interval; None: fp32, contiguous,
        not compiled, checked every 50 batches (the float operations of before).

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
    Under autocast only the encoder and head run in low precision; NT-Xent gets fp32 inputs.

    References
    ----------
    Chen et al., "A Simple Framework for Contrastive Learning of Visual Representations", 2020.
    """
    generator = torch.Generator().manual_seed(seed)
    opts = (loop or _TODAY).resolve(x.device)
    autocast = _autocast(opts, x.device)
    params = list(encoder.parameters()) + list(head.parameters())
    encoder.train()
    head.train()
    optimizer = _make_optimizer(params, lr, weight_decay, opts, x.device)
    with _memory_format([encoder, head], opts):
        with data_parallel(encoder) as enc, data_parallel(head) as proj:
            enc, proj = _maybe_compile(enc, opts), _maybe_compile(proj, opts)

            def step(idx: Tensor) -> Tensor:
                xb = x[idx.to(x.device)]
                v1, v2 = augment(xb, generator), augment(xb, generator)  # global batch
                rows, sizes = shard(len(idx)), shard_sizes(len(idx))

                def view(v: Tensor) -> Tensor:
                    with autocast():
                        z = proj(enc(v[rows]))
                    return all_gather_with_grad(z.float(), sizes)

                return info_nce(view(v1), view(v2), temperature=temperature)

            history = epoch_loop(
                step,
                optimizer,
                len(x),
                epochs=epochs,
                batch_size=batch_size,
                generator=generator,
                desc=desc,
                progress=progress,
                loop=opts,
                device=x.device,
                modules=(encoder, head),
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
    loop: LoopOptions | None = None,
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
    loop : LoopOptions, optional
        Precision, memory format, compilation and check interval; None: fp32, contiguous,
        not compiled, checked every 50 batches (the float operations of before).

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
    bank and CMD's queue stay identical across ranks without communication. Under autocast only
    the student runs in low precision; the loss gets fp32 embeddings.
    """
    generator = torch.Generator().manual_seed(seed)
    device = x_target.device
    opts = (loop or _TODAY).resolve(device)
    autocast = _autocast(opts, device)
    loss_fn.to(device)
    student.train()
    optimizer = _make_optimizer(list(student.parameters()), lr, weight_decay, opts, device)
    with _memory_format([student], opts), data_parallel(student) as model:
        model = _maybe_compile(model, opts)

        def step(idx: Tensor) -> Tensor:
            idx = idx.to(device)
            with autocast():
                z_local = model(x_target[idx[shard(len(idx))]])
            z_student = all_gather_with_grad(z_local.float(), shard_sizes(len(idx)))
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
            loop=opts,
            device=device,
            modules=(student, loss_fn),
        )
    student.eval()
    return history

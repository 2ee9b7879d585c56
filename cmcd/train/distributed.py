"""Distributed training under ``torchrun``: process group, sharding, gathering, rank-0 writes.

``torchrun --nproc_per_node=N -m cmcd run CONFIG --out DIR`` starts N processes; each one
calls :func:`process_group` (the pipeline does), which reads torchrun's environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) and joins the
group with gloo on CPU or nccl on CUDA. The training loops then

- draw the same global batch order on every rank (same seed, same permutation) and let each
  rank encode its contiguous :func:`shard` of every global batch;
- gather the embeddings with :func:`all_gather_with_grad` before the contrastive loss, so the
  negatives are those of the global batch and every rank computes the same global loss;
- train the model inside :func:`data_parallel` (DistributedDataParallel, global-batch
  batch norm);
- let only rank 0 read and write files (:func:`broadcast_from_main`, :func:`run_on_main`).

Without torchrun (no ``RANK``/``WORLD_SIZE`` in the environment and no group initialised) every
helper is the identity and a run is bit-identical to the single-process code.

Our choice: an explicit shard of the shared permutation instead of
:class:`torch.utils.data.DistributedSampler`. The sampler deals indices round-robin and pads
the last batch with repeated samples, so its global batches differ from the single-process
ones; a contiguous shard of the same permutation makes the gathered global batch equal, row
for row, to the single-process batch, which is what the equality tests check.

Examples
--------
>>> world_size(), rank(), is_main_process()
(1, 0, True)
>>> shard(10)
slice(0, 10, None)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from numbers import Integral
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "BACKENDS",
    "GlobalBatchNorm",
    "all_gather_with_grad",
    "backend_for",
    "broadcast_from_main",
    "check_global_batch",
    "data_parallel",
    "init_distributed",
    "is_distributed",
    "is_main_process",
    "launched_by_torchrun",
    "process_group",
    "rank",
    "run_on_main",
    "shard",
    "shard_sizes",
    "teardown",
    "world_size",
]

T = TypeVar("T")

BACKENDS: dict[str, str] = {"cpu": "gloo", "cuda": "nccl"}
"""Default process-group backend by device type."""

_BACKEND_DEVICES: dict[str, tuple[str, ...]] = {
    "gloo": ("cpu", "cuda"),
    "nccl": ("cuda",),
    "mpi": ("cpu", "cuda"),
}
_TORCHRUN_VARS = ("RANK", "WORLD_SIZE")


# --------------------------------------------------------------------------- rank helpers
def is_distributed() -> bool:
    """Return True when a default process group is initialised."""
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Return the number of processes in the group (1 without a group)."""
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    """Return this process's global rank (0 without a group)."""
    return dist.get_rank() if is_distributed() else 0


def is_main_process() -> bool:
    """Return True on rank 0, the only process that reads and writes run files."""
    return rank() == 0


def launched_by_torchrun(env: Mapping[str, str] | None = None) -> bool:
    """Return True when ``env`` (default ``os.environ``) holds torchrun's RANK and WORLD_SIZE.

    Examples
    --------
    >>> launched_by_torchrun({"RANK": "0", "WORLD_SIZE": "2"}), launched_by_torchrun({})
    (True, False)
    """
    env = os.environ if env is None else env
    return all(name in env for name in _TORCHRUN_VARS)


# --------------------------------------------------------------------------- setup
def _env_int(env: Mapping[str, str], name: str, default: int | None = None) -> int:
    raw = env.get(name)
    if raw is None and default is not None:
        return default
    try:
        return int(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def backend_for(device: torch.device, backend: str | None = None) -> str:
    """Return the process-group backend for ``device``, checking it is usable here.

    Parameters
    ----------
    device : torch.device
        The run's device; ``backend=None`` picks :data:`BACKENDS` by its type (gloo on CPU,
        nccl on CUDA).
    backend : str, optional
        An explicit backend (``"gloo"``, ``"nccl"`` or ``"mpi"``).

    Returns
    -------
    str
        The backend name.

    Raises
    ------
    ValueError
        If torch has no distributed support, the backend is unknown, not built into this
        torch, or cannot drive tensors of this device type (nccl on CPU).

    Examples
    --------
    >>> backend_for(torch.device("cpu"))
    'gloo'
    """
    if not dist.is_available():
        raise ValueError("this torch build has no torch.distributed support")
    name = BACKENDS.get(device.type) if backend is None else str(backend).lower()
    if name not in _BACKEND_DEVICES:
        raise ValueError(
            f"backend must be one of {sorted(_BACKEND_DEVICES)}, got {backend!r} (device {device})"
        )
    if device.type not in _BACKEND_DEVICES[name]:
        raise ValueError(f"backend {name!r} cannot run on device {device}; use gloo on CPU")
    available = getattr(dist, f"is_{name}_available")
    if not available():
        raise ValueError(f"backend {name!r} is not available in this torch build on {device}")
    return name


def _rank_device(device: torch.device, local_rank: int) -> torch.device:
    """Return the device of this process: ``cuda:LOCAL_RANK`` on CUDA, else ``device``."""
    if device.type != "cuda":
        return device
    count = torch.cuda.device_count()
    if not 0 <= local_rank < count:
        raise ValueError(f"LOCAL_RANK={local_rank} but {count} CUDA device(s) are visible")
    return torch.device("cuda", local_rank)


def init_distributed(
    device: torch.device, backend: str | None = None, env: Mapping[str, str] | None = None
) -> torch.device:
    """Join the process group described by torchrun's environment variables.

    Parameters
    ----------
    device : torch.device
        The run's device (``cpu`` or ``cuda``); on CUDA each process takes ``cuda:LOCAL_RANK``.
    backend : str, optional
        Default: gloo on CPU, nccl on CUDA (see :func:`backend_for`).
    env : mapping, optional
        The environment (default ``os.environ``); needs ``RANK`` and ``WORLD_SIZE``, and
        ``MASTER_ADDR``/``MASTER_PORT`` for the ``env://`` rendezvous.

    Returns
    -------
    torch.device
        This process's device.

    Raises
    ------
    ValueError
        On an unusable backend or device, or malformed environment variables.
    """
    env = os.environ if env is None else env
    name = backend_for(device, backend)
    size, rank_id = _env_int(env, "WORLD_SIZE"), _env_int(env, "RANK")
    if size < 1 or not 0 <= rank_id < size:
        raise ValueError(f"need 0 <= RANK < WORLD_SIZE, got RANK={rank_id}, WORLD_SIZE={size}")
    missing = [v for v in ("MASTER_ADDR", "MASTER_PORT") if not env.get(v)]
    if missing:
        raise ValueError(f"environment variable(s) {missing} not set: launch with torchrun")
    local = _rank_device(device, _env_int(env, "LOCAL_RANK", default=0))
    if local.type == "cuda":
        torch.cuda.set_device(local)
    dist.init_process_group(name, init_method="env://", world_size=size, rank=rank_id)
    return local


def teardown() -> None:
    """Leave and destroy the default process group, if one is initialised."""
    if is_distributed():
        dist.destroy_process_group()


@contextmanager
def process_group(device: torch.device, backend: str | None = None) -> Iterator[torch.device]:
    """Run a block inside the torchrun process group, when there is one.

    An existing group (initialised by the caller) is used and left alone; under torchrun a
    group is created and destroyed on exit; otherwise nothing happens (single process).

    Yields
    ------
    torch.device
        This process's device.

    Examples
    --------
    >>> with process_group(torch.device("cpu")) as device:
    ...     device, world_size()
    (device(type='cpu'), 1)
    """
    if is_distributed():
        yield _rank_device(device, torch.cuda.current_device() if device.type == "cuda" else 0)
        return
    if not launched_by_torchrun():
        yield device
        return
    local = init_distributed(device, backend)
    try:
        yield local
    finally:
        teardown()


# --------------------------------------------------------------------------- sharding
def check_global_batch(batch_size: int, name: str = "batch_size", size: int | None = None) -> int:
    """Return the per-process batch ``batch_size / world size``, refusing a remainder.

    Parameters
    ----------
    batch_size : int
        The GLOBAL batch size (the batch one process would see alone).
    name : str
        How the error message names the setting (e.g. ``"distill.batch_size"``).
    size : int, optional
        World size (default: the current group's).

    Raises
    ------
    ValueError
        If ``batch_size`` is not a positive integer divisible by the world size.

    Examples
    --------
    >>> check_global_batch(256, size=4)
    64
    """
    size = world_size() if size is None else size
    if isinstance(batch_size, bool) or not isinstance(batch_size, Integral) or batch_size < 1:
        raise ValueError(f"{name} must be a positive integer, got {batch_size!r}")
    if batch_size % size:
        raise ValueError(
            f"{name}={batch_size} is the global batch and must be divisible by the world size "
            f"{size} (each process takes {name} / {size} rows)"
        )
    return int(batch_size) // size


def shard_sizes(n: int, size: int | None = None) -> list[int]:
    """Rows of a global batch of ``n`` rows held by each rank, in rank order.

    Full batches split evenly; the last, smaller batch of an epoch is split as evenly as
    possible (the first ``n % size`` ranks take one row more; our choice, so that an epoch
    sees exactly the samples a single process sees).

    Examples
    --------
    >>> shard_sizes(8, size=2), shard_sizes(5, size=2)
    ([4, 4], [3, 2])
    """
    size = world_size() if size is None else size
    return [n // size + (r < n % size) for r in range(size)]


def shard(n: int, *, rank_id: int | None = None, size: int | None = None) -> slice:
    """Contiguous rows of a global batch of ``n`` rows that this rank encodes.

    Concatenating the shards in rank order (what :func:`all_gather_with_grad` does) gives the
    global batch back in its original row order.

    Examples
    --------
    >>> shard(10, rank_id=1, size=2), shard(5, rank_id=1, size=2)
    (slice(5, 10, None), slice(3, 5, None))
    """
    rank_id = rank() if rank_id is None else rank_id
    sizes = shard_sizes(n, size)
    start = sum(sizes[:rank_id])
    return slice(start, start + sizes[rank_id])


# --------------------------------------------------------------------------- gathering
class _GatherRows(torch.autograd.Function):
    """All-gather of rows (uneven counts allowed) whose backward sums gradients over ranks."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, sizes: list[int]) -> Tensor:
        ctx.start = sum(sizes[: dist.get_rank()])
        ctx.stop = ctx.start + x.shape[0]
        padded = x.new_zeros((max(sizes), *x.shape[1:]))
        padded[: x.shape[0]] = x
        pieces = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(pieces, padded)
        return torch.cat([piece[:s] for piece, s in zip(pieces, sizes, strict=True)])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None]:
        total = grad.contiguous().clone()
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total[ctx.start : ctx.stop], None


def _gathered_sizes(n: int, device: torch.device) -> list[int]:
    """Row counts of every rank (one small all-gather)."""
    count = torch.tensor([n], device=device)
    counts = [torch.zeros_like(count) for _ in range(dist.get_world_size())]
    dist.all_gather(counts, count)
    return [int(c) for c in counts]


def all_gather_with_grad(x: Tensor, sizes: Sequence[int] | None = None) -> Tensor:
    r"""Concatenate every rank's rows of ``x`` in rank order, keeping the autograd graph.

    The backward pass sums the incoming gradients over ranks and returns this rank's rows:

    .. math:: \frac{\partial}{\partial x_r} \sum_{r'} L_{r'}

    Every rank computes the same global loss :math:`L` on the gathered batch, so each rank's
    gradient is :math:`W \, \partial L / \partial x_r`; DistributedDataParallel then averages
    parameter gradients over the :math:`W` ranks, which gives exactly the single-process
    gradient :math:`\partial L / \partial \theta` without rescaling the loss. Our choice: an
    own autograd function (all-gather forward, all-reduce backward) rather than
    ``torch.distributed.nn.functional.all_gather``, because it accepts shards of unequal
    length (the last batch of an epoch) and needs no reduce-scatter, which gloo lacks.

    Without a process group, or with one process, ``x`` is returned unchanged.

    Parameters
    ----------
    x : Tensor of shape (n_r, ...)
        This rank's rows; the trailing shape and dtype must agree on every rank.
    sizes : sequence of int, optional
        Every rank's row count, when the caller knows them (e.g. :func:`shard_sizes` of the
        global batch); saves one collective. Default: gathered.

    Returns
    -------
    Tensor of shape (sum_r n_r, ...)

    References
    ----------
    Chen et al. (2020), SimCLR (negatives gathered across accelerators); PyTorch
    DistributedDataParallel documentation (gradient averaging).

    Examples
    --------
    >>> x = torch.ones(3, 2)
    >>> all_gather_with_grad(x) is x
    True
    """
    if world_size() == 1:
        return x
    sizes = _gathered_sizes(x.shape[0], x.device) if sizes is None else [int(s) for s in sizes]
    if len(sizes) != world_size() or sizes[rank()] != x.shape[0]:
        raise ValueError(
            f"sizes must give the {world_size()} ranks' row counts with {x.shape[0]} for rank "
            f"{rank()}, got {sizes}"
        )
    return _GatherRows.apply(x, sizes)


# --------------------------------------------------------------------------- rank-0 files
def broadcast_from_main(fn: Callable[[], T]) -> T:
    """Call ``fn`` on rank 0 only and return its (picklable) result on every rank.

    Rank 0 reads files, the others receive what it read, so ranks stay consistent even when
    they do not share a file system. An exception on rank 0 is re-raised there and reported
    on the other ranks as a ``RuntimeError`` (they do not hang).

    Examples
    --------
    >>> broadcast_from_main(lambda: 3)
    3
    """
    if world_size() == 1:
        return fn()
    box: list[Any] = [None]
    error: Exception | None = None
    if is_main_process():
        try:
            box[0] = ("ok", fn())
        except Exception as err:  # forwarded to every rank below, re-raised here
            box[0], error = ("error", f"{type(err).__name__}: {err}"), err
    dist.broadcast_object_list(box, src=0)
    if error is not None:
        raise error
    status, value = box[0]
    if status == "error":
        raise RuntimeError(f"rank 0 failed: {value}")
    return value


def run_on_main(fn: Callable[[], object]) -> None:
    """Call ``fn`` (e.g. a file write) on rank 0 while the other ranks wait for it.

    Examples
    --------
    >>> run_on_main(lambda: None)
    """
    broadcast_from_main(lambda: (fn(), None)[1])


# --------------------------------------------------------------------------- DDP
class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; the backward sums the incoming gradients over ranks as well."""

    @staticmethod
    def forward(ctx: Any, x: Tensor) -> Tensor:
        total = x.detach().clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> Tensor:
        total = grad.clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
        return total


class GlobalBatchNorm(nn.Module):
    r"""Batch norm whose training-mode statistics are those of the global batch (all ranks).

    Wraps an ``nn.BatchNorm1d/2d/3d`` layer and uses its parameters and running statistics.
    In training mode with several ranks, the per-channel mean and (biased) variance are
    summed over ranks with gradient-carrying all-reduces (two passes: mean, then centred
    squares):

    .. math:: \mu = \frac{1}{N} \sum_{r} \sum_{i \in r} x_i, \quad
              \sigma^2 = \frac{1}{N} \sum_{r} \sum_{i \in r} (x_i - \mu)^2

    so the output and the gradients equal those of one process holding the global batch.
    Otherwise (evaluation, one rank) the wrapped layer runs unchanged. Our choice: this module
    instead of ``nn.SyncBatchNorm``, which in torch 2.13 refuses CPU tensors (gloo runs).

    Parameters
    ----------
    layer : nn.modules.batchnorm._BatchNorm
        The batch-norm layer to synchronise.

    References
    ----------
    Ioffe, Szegedy (2015), "Batch Normalization", ICML; Peng et al. (2018), "MegDet"
    (cross-GPU batch normalisation).

    Examples
    --------
    >>> bn = nn.BatchNorm1d(2)
    >>> x = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    >>> torch.equal(GlobalBatchNorm(bn)(x), bn(x))  # one process: the layer itself
    True
    """

    def __init__(self, layer: nn.modules.batchnorm._BatchNorm) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: Tensor) -> Tensor:
        """Normalise ``x`` of shape (n, C, ...) with global batch statistics when training."""
        bn = self.layer
        if not (bn.training and world_size() > 1):
            return bn(x)
        dims, shape = [0, *range(2, x.ndim)], (1, -1, *[1] * (x.ndim - 2))
        rows = x.new_tensor([x.numel() / max(x.shape[1], 1)])
        sums = _AllReduceSum.apply(torch.cat([x.sum(dims), rows]))
        n = sums[-1].detach()
        mean = sums[:-1] / n
        centred = x - mean.view(shape)
        var = _AllReduceSum.apply(centred.pow(2).sum(dims)) / n
        y = centred * torch.rsqrt(var + bn.eps).view(shape)
        if bn.affine:
            y = y * bn.weight.view(shape) + bn.bias.view(shape)
        if bn.track_running_stats:
            self._update_running(mean.detach(), var.detach() * n / (n - 1).clamp(min=1))
        return y

    @torch.no_grad()
    def _update_running(self, mean: Tensor, unbiased_var: Tensor) -> None:
        """Update the wrapped layer's running statistics as ``F.batch_norm`` does."""
        bn = self.layer
        count, running_mean, running_var = (
            bn.num_batches_tracked,
            bn.running_mean,
            bn.running_var,
        )
        assert count is not None and running_mean is not None and running_var is not None
        count.add_(1)
        momentum = bn.momentum
        if momentum is None:  # cumulative moving average
            momentum = 1.0 / float(count)
        running_mean.lerp_(mean.to(running_mean.dtype), momentum)
        running_var.lerp_(unbiased_var.to(running_var.dtype), momentum)


def _batchnorm_slots(
    module: nn.Module,
) -> list[tuple[nn.Module, str, nn.modules.batchnorm._BatchNorm]]:
    """(parent, attribute, batch-norm layer) for every batch-norm layer below ``module``."""
    return [
        (parent, name, child)
        for parent in module.modules()
        for name, child in parent.named_children()
        if isinstance(child, nn.modules.batchnorm._BatchNorm)
    ]


@contextmanager
def data_parallel(module: nn.Module) -> Iterator[nn.Module]:
    """Train ``module`` under DistributedDataParallel with global-batch batch norm.

    Inside the block, every batch-norm layer is wrapped in :class:`GlobalBatchNorm` (sharing
    its parameters and running statistics), so batch statistics are those of the global
    batch (per-rank statistics would differ from the single-process ones); on exit the
    original layers are put back, so later single-process code (fine-tuning, evaluation)
    never synchronises. The optimizer may hold ``module.parameters()``: they are the same
    tensors. DistributedDataParallel averages the parameter gradients over ranks (see
    :func:`all_gather_with_grad` for why no loss rescaling is needed). Our choice:
    ``broadcast_buffers=False`` (one collective less per forward): the running statistics are
    updated from the same global statistics on every rank, so they never drift apart. Without
    a process group the module itself is yielded.

    Yields
    ------
    nn.Module
        The module to call in the training loop.

    References
    ----------
    Li et al. (2020), "PyTorch Distributed: Experiences on Accelerating Data Parallel
    Training", VLDB.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    >>> with data_parallel(net) as model:
    ...     model is net
    True
    """
    if not is_distributed():
        yield module
        return
    slots = _batchnorm_slots(module)
    for parent, name, layer in slots:
        setattr(parent, name, GlobalBatchNorm(layer))
    try:
        yield DistributedDataParallel(module, broadcast_buffers=False)
    finally:
        for parent, name, layer in slots:
            setattr(parent, name, layer)

"""Executors that run independent tasks in parallel: a local process pool or Ray.

Every executor is a context manager with one method, ``map_unordered(fn, items)``, which
yields ``(index, fn(items[index]))`` pairs in the order the tasks finish. Executors are looked
up by name in :data:`EXECUTORS` and built with :func:`make_executor`.

- ``local`` (default): :class:`concurrent.futures.ProcessPoolExecutor` on this machine, with
  the ``forkserver`` start method where the platform has it, else ``spawn`` (never ``fork``,
  which is unsafe with torch's threads). Workers exit within a second when the process
  that owns the pool dies, even by ``kill -9`` (:func:`watch_parent`), so they never keep
  running queued runs as orphans.
- ``ray``: Ray tasks (the ``ray`` extra, ``pip install 'cmcd[ray]'``). ``address`` joins a
  running cluster; without it a local Ray instance with ``workers`` CPUs is started and shut
  down again on exit.

Both executors run each task with the same number of torch threads, ``threads`` (default
``max(1, os.cpu_count() // workers)``, our choice), so that the two give bit-identical
results for the same tasks.

Examples
--------
>>> with make_executor("local", workers=2) as ex:
...     sorted(ex.map_unordered(abs, [-1, -2, 3]))
[(0, 1), (1, 2), (2, 3)]
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, Protocol

__all__ = [
    "EXECUTORS",
    "Executor",
    "LocalExecutor",
    "MissingExtraError",
    "RayExecutor",
    "default_threads",
    "make_executor",
    "watch_parent",
]

RAY_INSTALL_HINT = "pip install 'cmcd[ray]'"
_THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


class MissingExtraError(ImportError):
    """An optional dependency (a ``cmcd`` extra) is not installed; the message names it."""


class Executor(Protocol):
    """What the sweep needs from an executor."""

    def __enter__(self) -> Executor: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(items[index]))`` as tasks finish."""
        ...


def default_threads(workers: int) -> int:
    """Torch threads per task: ``max(1, os.cpu_count() // workers)`` (our choice).

    Examples
    --------
    >>> default_threads(10_000)
    1
    """
    return max(1, (os.cpu_count() or 1) // check_workers(workers))


def check_workers(workers: Any) -> int:
    """Return ``workers`` as an int >= 1, else raise ``ValueError``.

    Examples
    --------
    >>> check_workers(2)
    2
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    return workers


def call_with_threads(fn: Callable[[Any], Any], item: Any, threads: int) -> Any:
    """Run ``fn(item)`` with ``threads`` torch / OpenMP threads (in a worker process).

    Sets ``OMP_NUM_THREADS`` and ``MKL_NUM_THREADS``, which torch reads when first imported,
    and calls ``torch.set_num_threads`` when torch is already loaded (a reused worker).
    """
    for var in _THREAD_VARS:
        os.environ[var] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    return fn(item)


def watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Make this (worker) process exit when the process ``parent_pid`` dies.

    A pool initializer: it starts a daemon thread that polls every ``interval`` seconds and
    calls ``os._exit(1)`` as soon as ``parent_pid`` is gone or this process's parent has
    changed (it was re-parented: the pool's owner or the ``forkserver`` between them died).
    Without it, a ``kill -9`` of a sweep's main process leaves its workers running the
    queued runs. Portable (no ``prctl``); reacts within about ``interval`` seconds.
    """
    first_ppid = os.getppid()

    def watch() -> None:
        while os.getppid() == first_ppid and _alive(parent_pid):
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="cmcd-parent-watchdog", daemon=True).start()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and is not a zombie (Linux ``/proc``, else ``kill 0``)."""
    if Path("/proc/self/stat").is_file():
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return False
        return state not in ("Z", "X")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _start_method() -> str:
    """``forkserver`` where available (Linux, macOS), else ``spawn``; never ``fork``."""
    methods = multiprocessing.get_all_start_methods()
    return "forkserver" if "forkserver" in methods else "spawn"


class LocalExecutor:
    """A process pool on this machine.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    threads : int or None
        Torch threads per task (default :func:`default_threads`).
    """

    def __init__(self, workers: int = 1, *, threads: int | None = None) -> None:
        self.workers = check_workers(workers)
        self.threads = default_threads(self.workers) if threads is None else threads
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> LocalExecutor:
        context = multiprocessing.get_context(_start_method())
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=context,
            initializer=watch_parent,
            initargs=(os.getpid(),),
        )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=exc_type is None, cancel_futures=True)
            self._pool = None

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(items[index]))`` as tasks finish; a task's error is re-raised."""
        if self._pool is None:
            raise ValueError("LocalExecutor.map_unordered must be called inside `with`")
        pending: dict[Future[Any], int] = {
            self._pool.submit(call_with_threads, fn, item, self.threads): i
            for i, item in enumerate(items)
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield pending.pop(future), future.result()


def import_ray() -> ModuleType:
    """Import Ray, or raise :class:`MissingExtraError` naming the extra to install."""
    try:
        import ray
    except ImportError:
        raise MissingExtraError(
            f"the 'ray' executor needs Ray, which is not installed: {RAY_INSTALL_HINT}"
        ) from None
    return ray


class RayExecutor:
    """Ray tasks, on a running cluster (``address``) or on a local instance.

    Parameters
    ----------
    workers : int
        CPUs of the local Ray instance started when ``address`` is None (each task asks for
        one CPU, so ``workers`` tasks run at once). Ignored when joining a cluster, whose
        CPUs set the parallelism.
    threads : int or None
        Torch threads per task (default :func:`default_threads` of ``workers``).
    address : str or None
        Address of a running cluster (``"auto"``, ``"ray://host:10001"``, ...).
    init_kwargs : dict or None
        Extra keyword arguments for ``ray.init``.

    Notes
    -----
    Results travel back through Ray's object store; files the tasks write stay on the node
    that ran them. A Ray instance that was already initialised is used and left running.
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        threads: int | None = None,
        address: str | None = None,
        init_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.workers = check_workers(workers)
        self.threads = default_threads(self.workers) if threads is None else threads
        self.address = address
        self.init_kwargs = dict(init_kwargs or {})
        self._ray: ModuleType | None = None
        self._owns = False

    def __enter__(self) -> RayExecutor:
        ray = import_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address is None:
                kwargs["num_cpus"] = self.workers
            ray.init(address=self.address, **{**kwargs, **self.init_kwargs})
            self._owns = True
        self._ray = ray
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._ray is not None and self._owns:
            self._ray.shutdown()
        self._ray, self._owns = None, False

    def map_unordered(
        self, fn: Callable[[Any], Any], items: Sequence[Any]
    ) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(items[index]))`` as tasks finish; a task's error is re-raised."""
        ray = self._ray
        if ray is None:
            raise ValueError("RayExecutor.map_unordered must be called inside `with`")
        remote = ray.remote(num_cpus=1)(call_with_threads)
        pending = {remote.remote(fn, item, self.threads): i for i, item in enumerate(items)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    yield pending.pop(ref), ray.get(ref)
        finally:
            for ref in pending:
                ray.cancel(ref)


EXECUTORS: dict[str, Callable[..., Executor]] = {
    "local": LocalExecutor,
    "ray": RayExecutor,
}
"""Registry: executor name -> class ``(workers, *, threads, ...)``."""


def make_executor(name: str, workers: int = 1, **kwargs: Any) -> Executor:
    """Build the executor registered under ``name`` (see :data:`EXECUTORS`).

    Parameters
    ----------
    name : str
        ``"local"`` or ``"ray"``.
    workers : int
        Parallel tasks.
    **kwargs
        Passed to the executor (``threads``; ``address`` and ``init_kwargs`` for Ray).

    Raises
    ------
    ValueError
        Unknown ``name`` (the valid names are listed), or options the executor lacks.

    Examples
    --------
    >>> make_executor("dask")
    Traceback (most recent call last):
    ...
    ValueError: unknown executor 'dask'; valid executors: ['local', 'ray']
    """
    if name not in EXECUTORS:
        raise ValueError(f"unknown executor {name!r}; valid executors: {sorted(EXECUTORS)}")
    if name != "ray" and kwargs.get("address") is not None:
        raise ValueError(f"address is only used by the 'ray' executor, not {name!r}")
    kwargs = {k: v for k, v in kwargs.items() if not (k == "address" and v is None)}
    try:
        return EXECUTORS[name](workers, **kwargs)
    except TypeError as err:
        raise ValueError(f"bad option for executor {name!r}: {err}") from None

"""Where runs and tuning trials execute: one ``concurrent.futures`` executor for grids and tuning alike.

``"local"`` runs each task in this process when it is submitted (progress and errors as usual),
``"process"`` a spawn-based process pool, ``"dask"`` a Dask distributed ``LocalCluster`` (or any
scheduler address in ``$SYMCERE_DASK_SCHEDULER``) through ``Client.get_executor()``; an ``Executor``
instance is used as given. Never a home-made scheduler.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import os
from typing import Iterator

from ..errors import SymcereError


class InlineExecutor(cf.Executor):
    """Runs each task when it is submitted, in this process: the ``concurrent.futures`` face of a loop."""

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        """Run ``fn(*args, **kwargs)`` now; a done future holds its result or exception (interrupts propagate)."""
        future: cf.Future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller through the future
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            future.set_exception(exc)
        return future


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_workers() -> int:
    """Parallel runs for the notebooks' grids: 1 on CUDA (runs would share one GPU), else one per core, at most 4, each
    with its share of torch threads ([`threads_per_worker`][symcere_kit.runs.executors.threads_per_worker]).

    On 2 cores two 1-thread runs beat one 2-thread run for most models, whose steps are too small to keep
    two threads busy, and tie for SymCERE + LightGCN (epoch on Musical Instruments, 1 vs 2 threads: NGCF
    0.168 vs 0.152 s, SymCERE+NGCF 2.10 vs 1.33 s, SymCERE+LightGCN 1.77 vs 0.88 s); metrics are bit-for-bit the
    same at any thread count (tests/test_grid.py). More than 4 was never measured."""
    import torch

    return 1 if torch.cuda.is_available() else max(1, min(available_cores(), 4))


def threads_per_worker(workers: int | None) -> int | None:
    """Torch threads for each of ``workers`` parallel workers sharing the cores this process may use
    (None for a single worker: torch's own default)."""
    if not workers or workers <= 1:
        return None
    return max(1, available_cores() // workers)


@contextlib.contextmanager
def make_executor(kind: str | cf.Executor = "local", workers: int | None = None) -> Iterator[cf.Executor]:
    """The executor of ``kind`` for a ``with`` block; a pool or cluster it starts closes when the block ends.

    Args:
        kind: ``"local"`` ([`InlineExecutor`][symcere_kit.runs.executors.InlineExecutor]), ``"process"`` (a
            spawn-based process pool), ``"dask"`` (a Dask ``LocalCluster``, or the scheduler at
            ``$SYMCERE_DASK_SCHEDULER``), or an ``Executor`` instance, yielded as given and left open.
        workers: processes of the pool or of the local Dask cluster (default 1).

    Raises:
        SymcereError: an unknown ``kind``, or ``"dask"`` without Dask distributed installed.
    """
    if isinstance(kind, cf.Executor):
        yield kind
        return
    if kind == "local":
        yield InlineExecutor()
    elif kind == "process":
        import multiprocessing

        with cf.ProcessPoolExecutor(max_workers=workers or 1, mp_context=multiprocessing.get_context("spawn")) as ex:
            yield ex
    elif kind == "dask":
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise SymcereError(
                "--executor dask needs Dask distributed: pip install 'symcere-kit[distributed]'."
            ) from exc
        address = os.environ.get("SYMCERE_DASK_SCHEDULER")
        with contextlib.ExitStack() as stack:
            if address:
                client = stack.enter_context(Client(address))
            else:
                cluster = stack.enter_context(LocalCluster(n_workers=workers or 1, threads_per_worker=1,
                                                           processes=True, dashboard_address=None))
                client = stack.enter_context(Client(cluster))
            yield client.get_executor(pure=False)
    else:
        raise SymcereError(f"Unknown executor {kind!r}; choose local, process or dask.")

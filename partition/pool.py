"""Partition on this machine's cores: containers worked on by a pool of local processes.

Each container is independent, so a run with many communities (a city nested in villages)
spreads them over processes. :func:`pool_runner` is a runner for
:func:`partition.plan.partition` like :func:`partition.distributed.dask_runner`, without a
scheduler; :func:`default_runner` is what ``partition()`` uses when given none: the pool
when the run is large enough for it to pay, else one container after the other in this
process.

The plan is the same with any runner: every container's random choices are seeded by
the seed and its id, and outputs are put together in container order.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from partition.container import ContainerJob, ContainerOutput, run_container
from partition.solver import warm_up

Runner = Callable[[Iterable[ContainerJob]], Iterable[ContainerOutput]]  # as partition.plan.Runner

__all__ = ["POOL_MIN_CONTAINERS", "POOL_MIN_UNITS", "default_runner", "pool_runner", "usable_cpus"]

# Below these a pool is not worth forking for: a few communities leave one process idle, and a
# small district is quick anyway (Da'an's 1,270 units as one container: about a second).
# Taipei nested in villages (11,490 units, 456 containers) is far above both.
POOL_MIN_UNITS = 3000
POOL_MIN_CONTAINERS = 8
IN_FLIGHT_PER_WORKER = 2


def usable_cpus() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_runner(workers: int) -> Runner:
    """A runner that works on containers in ``workers`` forked processes of this one.

    Parameters
    ----------
    workers
        Processes of the pool (2 or more to gain anything).

    Returns
    -------
    Runner
        Pass it as ``partition(..., runner=...)``. Larger containers come first (the
        order of the jobs), and only a few per worker are shipped ahead, so the pool
        never holds the whole input. A container whose work raises, or whose process
        dies, comes back as a failed :class:`~partition.container.ContainerOutput`.
    """
    if workers < 1:
        raise ValueError(f"workers must be 1 or more, got {workers}")

    def run(jobs: Iterable[ContainerJob]) -> Iterator[ContainerOutput]:
        # fork: the workers start with everything imported (geopandas, OR-Tools); each loads the
        # compiled search loops itself while this process prepares and ships the first jobs
        # (loading them here first left the workers unforked for that long: 0.28 s from the cache)
        ctx = multiprocessing.get_context("fork")
        todo = iter(jobs)
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=warm_up) as pool:
            pending: dict[Future, str] = {}

            def submit() -> None:
                job = next(todo, None)
                if job is not None:
                    pending[pool.submit(run_container, job)] = job.container_id

            for _ in range(IN_FLIGHT_PER_WORKER * workers):
                submit()
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in sorted(done, key=lambda f: pending[f]):
                        cid = pending.pop(future)
                        try:
                            out = future.result()
                        except Exception as exc:  # the process died, or the output could not come back
                            out = ContainerOutput.failure(cid, exc)
                        submit()
                        yield out
            finally:
                for future in pending:
                    future.cancel()

    return run


def default_runner(units: int, containers: int) -> Runner:
    """The runner ``partition()`` uses when given none.

    A pool of one process per usable CPU (at most 2 by default: measured on the 2-core
    bench machine) when the run has at least :data:`POOL_MIN_UNITS` units in
    :data:`POOL_MIN_CONTAINERS` containers and it runs on the main thread (a server's
    job thread, as in ``commgrid serve``, does not fork); else one container after the
    other here. Pass ``runner=run_sequentially`` to keep a large run in one process.
    The workers only compute (no printing, no logging), so the main thread's helpers,
    such as a progress bar's refresh thread, cannot leave them a lock they need.
    """
    from partition.plan import run_sequentially

    workers = min(2, usable_cpus())
    if (
        workers < 2
        or units < POOL_MIN_UNITS
        or containers < POOL_MIN_CONTAINERS
        or threading.current_thread() is not threading.main_thread()
        or multiprocessing.current_process().daemon
    ):
        return run_sequentially
    return pool_runner(workers)

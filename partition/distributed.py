"""Partition on a Dask cluster: one task per container, each carrying only that container's units.

Communities are independent once their units are known, so a country's thousands of
them spread over workers: :func:`dask_runner` turns a ``distributed.Client`` into a
runner for :func:`partition.plan.partition`, and :func:`dask_client` opens a local
cluster or connects to a running one.

>>> with dask_client(workers=2) as client:  # doctest: +SKIP
...     result = partition(units, communities=villages, runner=dask_runner(client))

Each task ships one :class:`~partition.container.ContainerJob` (the container's units,
its outline and the barriers near it) and returns its grids; only a few containers per
worker thread are in flight at a time, so neither the scheduler nor the workers ever
hold the whole country. The plan is the same as in one process: every container's
random choices are seeded by the seed and its id, and outputs are put together in
container order.

Workers import :mod:`partition`, so every worker host needs commgrid installed in the
same version as the client (:func:`check_workers` verifies it on connecting).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from gis.errors import CommgridError
from partition.container import ContainerJob, ContainerOutput, run_container
from partition.plan import Runner

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["check_workers", "commgrid_version", "dask_client", "dask_runner"]

# Containers in flight per worker thread: enough that a thread never waits for the next
# one, few enough that the client pickles (and the scheduler holds) only a handful.
IN_FLIGHT_PER_THREAD = 2
WORKER_WAIT = 30.0  # seconds to wait for the first worker of a remote cluster


def dask_runner(client: Client, *, in_flight: int | None = None) -> Runner:
    """A runner that works on each container in a task on the cluster behind ``client``.

    Parameters
    ----------
    client
        A connected ``distributed.Client``.
    in_flight
        Containers submitted but not yet returned; default two per worker thread.
        Larger containers are submitted first, so the last ones to finish are small.

    Returns
    -------
    Runner
        Pass it as ``partition(..., runner=...)``. A task that raises, or whose worker
        dies, comes back as a failed :class:`~partition.container.ContainerOutput`
        naming the container; the others go on.

    Examples
    --------
    >>> with dask_client(workers=2) as client:  # doctest: +SKIP
    ...     result = partition(units, runner=dask_runner(client))
    """

    def run(jobs: Iterable[ContainerJob]) -> Iterator[ContainerOutput]:
        from distributed import as_completed

        limit = in_flight or max(2, IN_FLIGHT_PER_THREAD * sum(client.nthreads().values()))
        todo = iter(jobs)
        run_id = uuid.uuid4().hex[:8]
        names: dict[str, str] = {}
        pending = as_completed()

        def submit() -> None:
            job = next(todo, None)
            if job is None:
                return
            # the job goes in the task itself: only the worker that runs it receives the units
            future = client.submit(run_container, job, key=f"commgrid-{run_id}-{job.container_id}", pure=False)
            names[future.key] = job.container_id
            pending.add(future)

        for _ in range(limit):
            submit()
        try:
            for future in pending:
                cid = names.pop(future.key)
                try:
                    out = future.result()
                except Exception as exc:  # the worker died, or the task could not run there
                    out = ContainerOutput.failure(cid, exc)
                future.release()
                submit()
                yield out
        finally:
            # stopped early (an error or interrupt in the caller): leave nothing running
            leftover = list(pending.futures)
            if leftover:
                client.cancel(leftover)

    return run


@contextmanager
def dask_client(
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    processes: bool = True,
    threads_per_worker: int = 1,
    timeout: float = 10.0,
) -> Iterator[Client]:
    """A client of a new local cluster (``workers``) or of a running one (``scheduler``).

    Parameters
    ----------
    workers
        Worker processes of a local cluster on this machine (default 1).
    scheduler
        Address of a running scheduler, e.g. ``tcp://10.0.0.5:8786``.
    processes
        Local workers as processes (default; the search is pure Python, so threads of
        one process do not run it in parallel) or as threads of this process (tests).
    threads_per_worker
        Threads of each local worker.
    timeout
        Seconds to keep trying to reach ``scheduler``.

    Raises
    ------
    ValueError
        Both ``workers`` and ``scheduler``, or fewer than one worker.
    CommgridError
        The scheduler cannot be reached, has no workers, or its workers lack commgrid
        in this version.
    """
    try:
        import dask
        from distributed import Client, LocalCluster
    except ImportError:
        raise CommgridError(
            "partitioning on a Dask cluster needs dask.distributed; install it with pip install 'dask[distributed]'"
        ) from None
    if workers is not None and scheduler is not None:
        raise ValueError(
            f"give either workers ({workers}, a local cluster) or a scheduler ({scheduler!r}, a running "
            "cluster), not both"
        )
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as exc:
            raise CommgridError(
                f"cannot reach the Dask scheduler at {scheduler!r} ({exc}); start one with `dask scheduler` "
                "on that host and check the address and port (default 8786)"
            ) from None
        with client:
            _wait_for_workers(client, scheduler)
            check_workers(client)
            yield client
        return
    n = 1 if workers is None else workers
    if n < 1:
        raise ValueError(f"workers must be 1 or more, got {n}")
    with (
        # the workers' statistical profiler samples every thread's stack each 10 ms, which costs
        # the pure-Python search about a tenth of its speed; a local run has no dashboard to show it
        dask.config.set({"distributed.worker.profile.enabled": False}),
        LocalCluster(
            n_workers=n,
            threads_per_worker=threads_per_worker,
            processes=processes,
            # any free port: a fixed one (8787) clashes with a second run on the same host
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def _wait_for_workers(client: Client, scheduler: str) -> None:
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT)
    except TimeoutError:
        raise CommgridError(
            f"the Dask scheduler at {scheduler!r} has no workers after {WORKER_WAIT:.0f} s; start some with "
            f"`dask worker {scheduler}` on each worker host"
        ) from None


def commgrid_version() -> str | None:
    """The installed commgrid version, or ``None`` (run on each worker by :func:`check_workers`)."""
    try:
        return version("commgrid")
    except PackageNotFoundError:
        return None


def check_workers(client: Client) -> dict[str, str | None]:
    """Make sure every worker runs the same commgrid as this process; return their versions.

    Raises
    ------
    CommgridError
        A worker cannot import commgrid, or has another version, naming the workers.
    """
    mine = commgrid_version()
    try:
        theirs = client.run(commgrid_version)
    except Exception as exc:  # the function could not even be unpickled there: no partition package
        raise CommgridError(
            f"the Dask workers cannot run commgrid ({type(exc).__name__}: {exc}); install commgrid {mine} "
            "on every worker host (`pip install commgrid==VERSION` or the same wheel) and restart the workers"
        ) from None
    wrong = {w: v for w, v in theirs.items() if v != mine}
    if wrong:
        listed = ", ".join(f"{w} has {v or 'none'}" for w, v in sorted(wrong.items()))
        raise CommgridError(
            f"Dask workers must run commgrid {mine} like this client: {listed}; install the same version "
            "on those hosts and restart their workers"
        )
    return theirs

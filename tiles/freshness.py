"""Reading the data versions once for many concurrent requests, never from before they arrived.

A tile request must see every change committed before it arrived. Reading the
versions per request would cost a database round trip each; instead, requests share
probes. A request joins the next probe that *starts* after it arrived: the one in
flight may have read before a commit the request already saw, so it cannot answer
it. Under load one probe answers every request that queued during the previous one,
so the round trips stay at one per probe however many requests arrive.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gis.errors import DatabaseUnavailableError

__all__ = ["VersionProbe", "version_reader"]

Versions = dict[str, int]


class VersionProbe:
    """Coalesced reads of the data versions.

    Parameters
    ----------
    fetch
        Reads the versions from the database (``{layer: version}``).
    """

    def __init__(self, fetch: Callable[[], Awaitable[Versions]], *, quiet_s: float = 1.0) -> None:
        self._fetch = fetch
        # after a failed probe, requests in the next quiet_s seconds get its failure at once instead
        # of each waiting out the pool timeout again while the database is down
        self.quiet_s = quiet_s
        self._failure: tuple[float, Exception] | None = None
        self._running: asyncio.Task | None = None
        self._next: asyncio.Future | None = None
        self._started = 0  # probes started so far; the n-th probe carries number n
        self._latest: tuple[int, Versions] | None = None  # the last successful probe: number, versions
        self.probes = 0

    @property
    def last_known(self) -> Versions | None:
        """The versions of the last probe that succeeded (None before the first).

        While the database is down nothing can change in it, so what was cut from these
        versions may still be served (:meth:`tiles.service.TileService.tile` does).
        """
        return None if self._latest is None else self._latest[1]

    def ticket(self) -> int:
        """A mark of this moment for :meth:`current`'s ``since``."""
        return self._started

    async def current(self, *, since: int | None = None) -> Versions:
        """The versions as of a read that started after this call, or after ``since`` was taken.

        A request that reads the versions twice (its token, then its tile) takes a
        :meth:`ticket` on arrival and passes it: the second read then reuses the first one's
        probe, which started after the ticket and so answers for the whole request.
        """
        if since is not None and self._latest is not None and self._latest[0] > since:
            return self._latest[1]
        if self._failure is not None and time.monotonic() - self._failure[0] < self.quiet_s:
            raise self._failure[1]
        if self._running is None:
            future = asyncio.get_running_loop().create_future()
            self._start(future)
        else:
            if self._next is None:
                self._next = asyncio.get_running_loop().create_future()
            future = self._next
        return await asyncio.shield(future)

    def _start(self, future: asyncio.Future) -> None:
        self._started += 1
        self._running = asyncio.get_running_loop().create_task(self._probe(future, self._started))

    async def _probe(self, future: asyncio.Future, number: int) -> None:
        self.probes += 1
        try:
            versions = await self._fetch()
        except Exception as exc:  # every waiter gets the failure (e.g. the database is down)
            self._failure = (time.monotonic(), exc)
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved here so an unawaited failure logs nothing
        else:
            self._latest = (number, versions)
            self._failure = None
            if not future.done():
                future.set_result(versions)
        finally:
            waiting, self._next = self._next, None
            if waiting is not None:
                self._start(waiting)
            else:
                self._running = None


def version_reader(pool: AsyncConnectionPool) -> Callable[[], Awaitable[Versions]]:
    """A ``fetch`` for :class:`VersionProbe` reading the store's ``data_version`` table."""

    async def read() -> Versions:
        try:
            async with pool.connection() as conn:
                cur = await conn.execute("SELECT layer, version FROM data_version")
                return {layer: int(version) for layer, version in await cur.fetchall()}
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailableError(f"the database cannot be reached: {exc}") from exc

    return read

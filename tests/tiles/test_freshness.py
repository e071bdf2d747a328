"""The shared version probe: never answers with a read that started before the request."""

from __future__ import annotations

import asyncio

import pytest

from gis.errors import DatabaseUnavailableError
from tiles.freshness import VersionProbe


class Store:
    """A version counter whose reads take time, like a database round trip."""

    def __init__(self) -> None:
        self.version = 0
        self.reads_started: list[int] = []

    async def read(self) -> dict[str, int]:
        seen = self.version  # the snapshot is taken when the read starts
        self.reads_started.append(seen)
        await asyncio.sleep(0.01)
        return {"plans": seen}


def test_a_request_after_a_commit_sees_it():
    async def run():
        store = Store()
        probe = VersionProbe(store.read)
        first = asyncio.create_task(probe.current())
        await asyncio.sleep(0.001)  # the first read is now in flight with version 0
        store.version = 1  # a commit lands
        second = await probe.current()  # arrived after the commit: must not share the first read
        return await first, second

    first, second = asyncio.run(run())
    assert first == {"plans": 0}
    assert second == {"plans": 1}


def test_concurrent_requests_share_reads():
    async def run():
        store = Store()
        probe = VersionProbe(store.read)
        results = await asyncio.gather(*(probe.current() for _ in range(200)))
        return store, results

    store, results = asyncio.run(run())
    assert all(r == {"plans": 0} for r in results)
    assert len(store.reads_started) <= 2


def test_a_failed_read_reaches_every_waiter_and_the_next_read_recovers():
    async def run():
        calls = 0

        async def read():
            nonlocal calls
            calls += 1
            await asyncio.sleep(0.005)
            if calls == 1:
                raise DatabaseUnavailableError("down")
            return {"plans": 7}

        probe = VersionProbe(read)
        outcome = await asyncio.gather(probe.current(), probe.current(), return_exceptions=True)
        return outcome, await probe.current()

    outcome, later = asyncio.run(run())
    assert isinstance(outcome[0], DatabaseUnavailableError)
    assert later == {"plans": 7}


@pytest.mark.parametrize("budget", [0, 10])
def test_cache_never_returns_a_tile_of_other_versions(budget):
    from tiles.cache import CachedTile, TileCache

    cache = TileCache(max_bytes=budget)
    cache.put("k", CachedTile((1,), '"a"', b"x" * 5))
    assert cache.get("k", (2,)) is None
    cache.put("k", CachedTile((2,), '"b"', b"y" * 5))
    assert cache.get("k", (1,)) is None
    hit = cache.get("k", (2,))
    assert (hit is not None) == (budget >= 5)
    assert cache.size_bytes <= budget


def test_a_ticket_reuses_only_reads_that_started_after_it():
    async def run():
        store = Store()
        probe = VersionProbe(store.read)
        before = probe.ticket()
        first = await probe.current()  # its read started after the ticket
        store.version = 1  # a commit lands after that read
        reused = await probe.current(since=before)
        later = probe.ticket()
        fresh = await probe.current(since=later)  # nothing started after this ticket yet: a new read
        return first, reused, fresh, len(store.reads_started)

    first, reused, fresh, reads = asyncio.run(run())
    assert first == reused == {"plans": 0}
    assert fresh == {"plans": 1}
    assert reads == 2

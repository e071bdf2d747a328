"""Making database races deterministic: hold a lock, wait until others queue behind it.

Instead of sleeping and hoping two requests overlap, a test takes a lock the code under
test needs, starts the requests, and waits (by polling ``pg_stat_activity``) until they
are all blocked on it; only then does it release, kill or stop something.
"""

from __future__ import annotations

import time

import psycopg
from sqlalchemy.engine import URL

__all__ = ["connect", "wait_for_waiters"]


def connect(url: URL, *, autocommit: bool = False) -> psycopg.Connection:
    """A plain psycopg connection to ``url``'s database."""
    return psycopg.connect(
        url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=autocommit
    )


def wait_for_waiters(url: URL, query_like: str, count: int, *, attempts: int = 1200) -> list[int]:
    """Process ids of ``count`` backends of ``url``'s database blocked on a lock in a query matching ``query_like``.

    Polls every 50 ms; fails the test when they do not all queue within ``attempts`` polls.
    """
    with connect(url, autocommit=True) as watcher:
        for _ in range(attempts):
            pids = [
                pid
                for (pid,) in watcher.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock' "
                    "AND query ILIKE %s ORDER BY pid",
                    (url.database, query_like),
                )
            ]
            if len(pids) >= count:
                return pids
            time.sleep(0.05)
    raise AssertionError(f"{count} backends never waited on a lock in a query like {query_like!r}")

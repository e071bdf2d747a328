"""Serving tiles: fresh versions, the cache, PostGIS for the misses.

One :class:`TileService` per process owns an async connection pool, a
:class:`~tiles.freshness.VersionProbe` and a :class:`~tiles.cache.TileCache`. Every
request first learns the current data versions (shared probe), derives the ETag from
them, and only renders when neither the client nor the cache holds that version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import morecantile
import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gis.errors import DatabaseUnavailableError, NotFoundError
from gis.store.lookup import VISIBLE_PLANS_SQL
from tiles.cache import CachedTile, TileCache
from tiles.freshness import VersionProbe
from tiles.layers import Layer, statement

__all__ = ["Tile", "TileService"]


@dataclass(frozen=True)
class Tile:
    """A tile's ETag and, unless the client already holds it, its bytes."""

    etag: str
    body: bytes | None
    cached: bool = False

    @property
    def not_modified(self) -> bool:
        return self.body is None


class TileService:
    """Tiles of the collections in :data:`tiles.catalogue.CATALOGUE` from one PostGIS database.

    Parameters
    ----------
    pool
        Async connections to the store (shared with the rest of the app).
    probe
        Where the current data versions come from.
    cache_bytes
        Budget of the tile cache.
    max_features
        Most features of a point layer in one tile.
    """

    def __init__(
        self,
        pool: AsyncConnectionPool,
        probe: VersionProbe,
        *,
        cache_bytes: int = 256 << 20,
        max_features: int = 10_000,
    ) -> None:
        self.pool = pool
        self.probe = probe
        self.cache = TileCache(cache_bytes)
        self.max_features = max_features
        self._statements: dict[tuple[str, ...], str] = {}

    async def versions(self) -> dict[str, int]:
        """Data versions as of a read that started after the call."""
        return await self.probe.current()

    async def tile(
        self,
        layers: list[Layer],
        tile: morecantile.Tile,
        *,
        plan: str | None = None,
        if_none_match: str | None = None,
        since: int | None = None,
        district: str | None = None,
        private: bool = False,
    ) -> Tile:
        """The tile of ``layers`` at ``tile``, or just its ETag when it matches ``if_none_match``.

        By default the tile shows every district's published plan; ``district`` narrows to
        one, ``plan`` names one plan (``private``: drafts and archived plans too, for planners).
        ``since`` is the request's :meth:`~tiles.freshness.VersionProbe.ticket`, when it has one.

        Raises
        ------
        NotFoundError
            When ``plan`` names no plan the caller may see, or ``district`` no district with a
            published plan.
        DatabaseUnavailableError
            When the database cannot be reached.
        """
        layers = [layer for layer in layers if layer.minzoom <= tile.z <= layer.maxzoom]
        names = tuple(layer.id for layer in layers)
        scope = (plan, district, private and plan is not None)
        sql = self._statements.get(names)
        if sql is None:
            sql = self._statements[names] = statement(layers)
        wanted = {"plan": plan, "district": district, "private": scope[2]}
        params = {"z": tile.z, "x": tile.x, "y": tile.y, **wanted, "limit": self.max_features}

        async def render(conn: AsyncConnection) -> bytes:
            # binary: a text result would carry the tile hex-encoded, twice its size
            cur = await conn.execute(sql, params, binary=True)
            body = bytes((await cur.fetchone())[0])
            if (plan is not None or district is not None) and not body:
                cur = await conn.execute(f"SELECT count(*) FROM ({VISIBLE_PLANS_SQL}) AS p", wanted)
                if (await cur.fetchone())[0] == 0:
                    raise NotFoundError(
                        f"no plan named {plan!r}" if plan is not None else f"no published plan in district {district!r}"
                    )
            return body

        key = (names, tile.z, tile.x, tile.y, scope, self.max_features)
        depends_on = [dep for layer in layers for dep in layer.depends_on]
        return await self.serve(key, depends_on, render, if_none_match=if_none_match, since=since)

    async def serve(
        self,
        key: tuple,
        depends_on: Sequence[str],
        render: Callable[[AsyncConnection], Awaitable[bytes]],
        *,
        if_none_match: str | None = None,
        since: int | None = None,
    ) -> Tile:
        """The envelope every tile shares: ETag, ``If-None-Match``, the cache, and rendering on a miss.

        Parameters
        ----------
        key
            What the tile's bytes depend on besides the data (layers, address, filters, the
            caller's scope); part of the cache key and the ETag.
        depends_on
            The data versions (:mod:`tiles.freshness`) the tile is rendered from.
        render
            Renders the tile's bytes on a pooled connection, when neither the client nor the
            cache holds the current version.
        if_none_match
            The request's ``If-None-Match`` (``*`` matches any tile); a match returns the ETag
            without a body.
        since
            The request's :meth:`~tiles.freshness.VersionProbe.ticket`, when it has one.

        Raises
        ------
        DatabaseUnavailableError
            When the database cannot be reached.
        """
        try:
            current = await self.probe.current(since=since)
            stale = None
        except DatabaseUnavailableError as exc:
            # a cached tile needs no database: cut from the last versions read, nothing has changed since
            current, stale = self.probe.last_known, exc
            if current is None:
                raise
        versions = tuple(current.get(dep, 0) for dep in depends_on)
        hit = self.cache.get(key, versions)
        etag = _etag(key, versions) if hit is None else hit.etag  # the same string: no need to hash again
        if if_none_match is not None and not _etags(if_none_match).isdisjoint({etag, "*"}):
            return Tile(etag, None)
        if hit is not None:
            return Tile(etag, hit.body, cached=True)
        if stale is not None:
            raise stale
        try:
            async with self.pool.connection() as conn:
                body = await render(conn)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailableError(f"the tile database cannot be reached: {exc}") from exc
        self.cache.put(key, CachedTile(versions, etag, body))
        return Tile(etag, body)


def _etag(key: tuple, versions: tuple[int, ...]) -> str:
    digest = hashlib.blake2b(repr((key, versions)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, as RFC 9110 asks)."""
    if header.strip() == "*":
        return {"*"}
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}

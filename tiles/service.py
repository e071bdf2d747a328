"""Serving tiles: fresh versions, the cache, PostGIS for the misses.

One :class:`TileService` per process owns an async connection pool, a
:class:`~tiles.freshness.VersionProbe` and a :class:`~tiles.cache.TileCache`. Every
request first learns the current data versions (shared probe), derives the ETag from
them, and only renders when neither the client nor the cache holds that version.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import morecantile
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gis.errors import DatabaseUnavailableError, NotFoundError
from gis.plans.store import VISIBLE_PLANS_SQL
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
    """Tiles of the layers in :data:`tiles.layers.LAYERS` from one PostGIS database.

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

        ``since`` is the request's :meth:`~tiles.freshness.VersionProbe.ticket`, when it has one.

        Raises
        ------
        NotFoundError
            When ``plan`` names no plan the caller may see (``private``: drafts and archived
            plans too), or ``district`` no district.
        DatabaseUnavailableError
            When the database cannot be reached.
        """
        layers = [layer for layer in layers if layer.minzoom <= tile.z <= layer.maxzoom]
        current = await self.probe.current(since=since)
        names = tuple(layer.id for layer in layers)
        versions = tuple(current.get(dep, 0) for layer in layers for dep in layer.depends_on)
        scope = (plan, district, private and plan is not None)
        key = (names, tile.z, tile.x, tile.y, scope, self.max_features)
        hit = self.cache.get(key, versions)
        etag = _etag(key, versions) if hit is None else hit.etag  # the same string: no need to hash again
        if if_none_match is not None and not _etags(if_none_match).isdisjoint({etag, "*"}):
            return Tile(etag, None)
        if hit is not None:
            return Tile(etag, hit.body, cached=True)
        body = await self._render(names, layers, tile, scope)
        self.cache.put(key, CachedTile(versions, etag, body))
        return Tile(etag, body)

    async def _render(self, names: tuple[str, ...], layers: list[Layer], tile: morecantile.Tile, scope: tuple) -> bytes:
        plan, district, private = scope
        sql = self._statements.get(names)
        if sql is None:
            sql = self._statements[names] = statement(layers)
        wanted = {"plan": plan, "district": district, "private": private}
        params = {"z": tile.z, "x": tile.x, "y": tile.y, **wanted, "limit": self.max_features}
        try:
            async with self.pool.connection() as conn:
                # binary: a text result would carry the tile hex-encoded, twice its size
                cur = await conn.execute(sql, params, binary=True)
                body = bytes((await cur.fetchone())[0])
                if (plan is not None or district is not None) and not body:
                    cur = await conn.execute(f"SELECT count(*) FROM ({VISIBLE_PLANS_SQL}) AS p", wanted)
                    if (await cur.fetchone())[0] == 0:
                        raise NotFoundError(
                            f"no plan named {plan!r}"
                            if plan is not None
                            else f"no published plan in district {district!r}"
                        )
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise DatabaseUnavailableError(f"the tile database cannot be reached: {exc}") from exc
        return body


def _etag(key: tuple, versions: tuple[int, ...]) -> str:
    digest = hashlib.blake2b(repr((key, versions)).encode(), digest_size=12).hexdigest()
    return f'"{digest}"'


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match header (weak ones compare equal, as RFC 9110 asks)."""
    if header.strip() == "*":
        return {"*"}
    return {tag.strip().removeprefix("W/") for tag in header.split(",")}

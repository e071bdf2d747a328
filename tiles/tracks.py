"""Patrol tracks as vector tiles, for supervisors only.

PERSONAL DATA. The layer is not in :data:`tiles.layers.LAYERS`, so no public tile,
style or TileJSON ever names it; only the patrol routes serve it, after checking the
caller (:mod:`api.routes.patrols`). Its tiles depend on a day and on which grids the
caller may see, which the shared tile statement has no parameters for, so this module
renders them itself, with the same envelope, cache, data versions and ETags as every
other tile (:class:`tiles.service.TileService`).

Lines are simplified to a tenth of a tile pixel before ``ST_AsMVTGeom`` snaps them to
the tile grid, so low zooms carry a few vertices per patrol, not every fix.
"""

from __future__ import annotations

import hashlib
from datetime import date

import morecantile
import psycopg
from psycopg_pool import PoolTimeout

from gis.errors import DatabaseUnavailableError
from tiles.cache import CachedTile
from tiles.layers import BUFFER, EXTENT, Layer
from tiles.service import Tile, TileService

__all__ = ["TRACKS", "track_tile"]

_WORLD_M = 40_075_016.685578488  # Web Mercator's width

TRACKS = Layer(
    id="patrol_tracks",
    title="Patrol tracks (supervisors only)",
    geometry="line",
    depends_on=("patrols", "workers"),
    fields={
        "worker_id": "Number",
        "worker": "String",
        "grid_code": "String",
        "started_at": "Number",
        "ended_at": "Number",
        "length_m": "Number",
    },
    rows=f"""
        SELECT t.worker_id, gw.name AS worker, gw.grid_code,
               extract(epoch FROM t.started_at)::bigint AS started_at,
               extract(epoch FROM t.ended_at)::bigint AS ended_at, round(t.length_m)::int AS length_m,
               ST_AsMVTGeom(ST_Simplify(t.geom_3857, %(tolerance)s), env.box, {EXTENT}, {BUFFER}, true) AS geom
        FROM env
        JOIN patrol_track AS t ON t.geom_3857 && env.wide
        JOIN grid_worker AS gw ON gw.id = t.worker_id
        WHERE t.day = %(day)s
          AND (%(district)s::int IS NULL OR gw.district_id = %(district)s::int)
          AND (%(scope)s::text[] IS NULL OR (gw.district_id::text || ':' || gw.grid_code) = ANY(%(scope)s::text[]))
    """,
)

_STATEMENT = f"""
    WITH env AS (
        SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS box,
               ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => {BUFFER / EXTENT}) AS wide
    )
    SELECT {TRACKS.aggregate()}
"""


async def track_tile(
    service: TileService,
    tile: morecantile.Tile,
    *,
    day: date,
    district_id: int | None = None,
    scope: frozenset[tuple[int, str]] | None = None,
    if_none_match: str | None = None,
) -> Tile:
    """The tracks tile at ``tile`` for ``day``, limited to the grids in ``scope`` (``None``: all).

    Parameters
    ----------
    service
        The app's tile service: its pool, data-version probe and cache are used.
    tile
        The tile address.
    day
        Local date of the tracks.
    district_id
        Only this district's workers.
    scope
        ``(district_id, grid_code)`` pairs the caller may see; part of the cache key and ETag.
    if_none_match
        The request's ``If-None-Match``; a match returns the ETag without a body.

    Raises
    ------
    DatabaseUnavailableError
        When the database cannot be reached.
    """
    current = await service.probe.current()
    versions = tuple(current.get(dep, 0) for dep in TRACKS.depends_on)
    pairs = None if scope is None else sorted(f"{d}:{c}" for d, c in scope)
    key = (TRACKS.id, tile.z, tile.x, tile.y, day.isoformat(), district_id, None if pairs is None else tuple(pairs))
    etag = f'"{hashlib.blake2b(repr((key, versions)).encode(), digest_size=12).hexdigest()}"'
    if if_none_match is not None and etag in {t.strip().removeprefix("W/") for t in if_none_match.split(",")}:
        return Tile(etag, None)
    hit = service.cache.get(key, versions)
    if hit is not None:
        return Tile(etag, hit.body, cached=True)
    params = {
        "z": tile.z,
        "x": tile.x,
        "y": tile.y,
        "day": day,
        "district": district_id,
        "scope": pairs,
        "tolerance": _WORLD_M / (EXTENT * 2**tile.z) / 10,
    }
    try:
        async with service.pool.connection() as conn:
            cur = await conn.execute(_STATEMENT, params, binary=True)
            body = bytes((await cur.fetchone())[0])
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DatabaseUnavailableError(f"the tile database cannot be reached: {exc}") from exc
    service.cache.put(key, CachedTile(versions, etag, body))
    return Tile(etag, body)

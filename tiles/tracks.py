"""Patrol tracks as vector tiles, for supervisors only.

PERSONAL DATA. The layer is in no collection of :data:`tiles.catalogue.CATALOGUE`, so no public tile,
style or TileJSON ever names it; only the patrol routes serve it, after checking the
caller (:mod:`api.routes.patrols`). Its tiles depend on a day and on which grids the
caller may see, which the shared tile statement has no parameters for, so this module
has its own statement, served through the envelope every tile shares (ETag, cache, data
versions: :meth:`tiles.service.TileService.serve`).

Lines are simplified to a tenth of a tile pixel before ``ST_AsMVTGeom`` snaps them to
the tile grid, so low zooms carry a few vertices per patrol, not every fix.
"""

from __future__ import annotations

from datetime import date

import morecantile
from psycopg import AsyncConnection

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
          AND (%(worker)s::int IS NULL OR gw.id = %(worker)s::int)
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
    worker_id: int | None = None,
    if_none_match: str | None = None,
) -> Tile:
    """The tracks tile at ``tile`` for ``day`` (local date), limited to the grids in ``scope``.

    ``district_id`` keeps one district's workers; ``scope`` holds the ``(district_id,
    grid_code)`` pairs the caller may see (``None``: all), ``worker_id`` the one worker a
    grid worker sees; both are part of the cache key and ETag. ``service`` serves the tile
    through :meth:`~tiles.service.TileService.serve`, so
    ``if_none_match`` and the errors are its.
    """
    pairs = None if scope is None else sorted(f"{d}:{c}" for d, c in scope)
    scoped = None if pairs is None else tuple(pairs)
    key = (TRACKS.id, tile.z, tile.x, tile.y, day.isoformat(), district_id, scoped, worker_id)
    params = {
        "z": tile.z,
        "x": tile.x,
        "y": tile.y,
        "day": day,
        "district": district_id,
        "scope": pairs,
        "worker": worker_id,
        "tolerance": _WORLD_M / (EXTENT * 2**tile.z) / 10,
    }

    async def render(conn: AsyncConnection) -> bytes:
        cur = await conn.execute(_STATEMENT, params, binary=True)
        return bytes((await cur.fetchone())[0])

    return await service.serve(key, TRACKS.depends_on, render, if_none_match=if_none_match)

"""Bins: hexagons in a projected CRS (cells of points, polygons, covers), incident density tiles, heat maps.

Pointy-top hexagons of circumradius ``size`` (metres in the CRS given), addressed by
axial coordinates ``(q, r)``; cell ``(0, 0)`` is centred on the CRS origin, so the same
point always falls in the same cell and counts from different queries line up.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

import morecantile
import numpy as np
import psycopg
import shapely
from psycopg_pool import PoolTimeout

from gis.errors import DatabaseUnavailableError, InputError
from tiles.cache import CachedTile
from tiles.layers import BUFFER, EXTENT
from tiles.service import Tile, TileService

if TYPE_CHECKING:
    import folium

__all__ = ["density_tile", "heat_map", "hex_cells", "hex_cover", "hex_polygons"]

_SQRT3 = np.sqrt(3.0)


def hex_cells(x: np.ndarray, y: np.ndarray, *, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Axial ``(q, r)`` of the cells holding the points ``(x, y)``.

    Examples
    --------
    >>> q, r = hex_cells(np.array([0.0, 100.0]), np.array([0.0, 0.0]), size=50.0)
    >>> q.tolist(), r.tolist()
    ([0, 1], [0, 0])
    """
    fq = (_SQRT3 / 3.0 * np.asarray(x, dtype=float) - np.asarray(y, dtype=float) / 3.0) / size
    fr = (2.0 / 3.0 * np.asarray(y, dtype=float)) / size
    fs = -fq - fr
    q, r, s = np.round(fq), np.round(fr), np.round(fs)
    dq, dr, ds = np.abs(q - fq), np.abs(r - fr), np.abs(s - fs)
    # cube rounding: fix the coordinate that moved most so q + r + s stays 0
    fix_q = (dq > dr) & (dq > ds)
    fix_r = ~fix_q & (dr > ds)
    q = np.where(fix_q, -r - s, q)
    r = np.where(fix_r, -q - s, r)
    return q.astype(np.int64), r.astype(np.int64)


def hex_polygons(q: np.ndarray, r: np.ndarray, *, size: float) -> np.ndarray:
    """The hexagons of cells ``(q, r)`` as shapely polygons."""
    cx = size * _SQRT3 * (np.asarray(q) + np.asarray(r) / 2.0)
    cy = size * 1.5 * np.asarray(r)
    angles = np.radians(30.0 + 60.0 * np.arange(7))  # the first vertex again closes the ring
    xs = cx[:, None] + size * np.cos(angles)[None, :]
    ys = cy[:, None] + size * np.sin(angles)[None, :]
    return shapely.polygons(np.stack([xs, ys], axis=-1))


def hex_cover(area: shapely.Geometry, *, size: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cell whose hexagon intersects ``area``: ``(q, r, polygons)``."""
    minx, miny, maxx, maxy = area.bounds
    r_range = np.arange(np.floor(miny / (1.5 * size)) - 1, np.ceil(maxy / (1.5 * size)) + 2)
    q_lo = np.floor(minx / (size * _SQRT3) - r_range.max() / 2.0) - 1
    q_hi = np.ceil(maxx / (size * _SQRT3) - r_range.min() / 2.0) + 2
    q, r = np.meshgrid(np.arange(q_lo, q_hi), r_range)
    q, r = q.ravel().astype(np.int64), r.ravel().astype(np.int64)
    cx = size * _SQRT3 * (q + r / 2.0)
    near = (cx >= minx - 2 * size) & (cx <= maxx + 2 * size)
    q, r = q[near], r[near]
    polygons = hex_polygons(q, r, size=size)
    shapely.prepare(area)
    inside = shapely.intersects(area, polygons)
    return q[inside], r[inside], polygons[inside]


# Counts per bin of the incidents in and around a tile. Bins come from one global lattice
# (PostGIS' grids start at the CRS origin), so a bin cut by a tile edge has the same count
# in both tiles: points are taken from the tile grown by two bins.
_DENSITY = f"""
    WITH env AS (
        SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS box,
               ST_Expand(ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 2 * %(size)s) AS wide
    ), pts AS (
        SELECT i.id, i.geom_3857 AS geom FROM env JOIN incident AS i ON i.geom_3857 && env.wide
        WHERE (%(category)s::text IS NULL OR i.category = %(category)s OR i.category LIKE %(sub)s)
          AND (%(statuses)s::text[] IS NULL OR i.status = ANY(%(statuses)s::text[]))
          AND (%(start)s::timestamptz IS NULL OR i.reported_at >= %(start)s)
          AND (%(end)s::timestamptz IS NULL OR i.reported_at < %(end)s)
          AND (%(public)s::text[] IS NULL OR (i.public AND i.category = ANY(%(public)s::text[])))
    ), placed AS (
        -- a point on the edge between bins goes to one of them only
        SELECT DISTINCT ON (pts.id) c.i, c.j, c.geom
        FROM env CROSS JOIN LATERAL {{grid}}(%(size)s, env.wide) AS c
        JOIN pts ON ST_Intersects(pts.geom, c.geom)
        ORDER BY pts.id, c.i, c.j
    ), bins AS (
        -- bins overlapping the tile, not those only touching its edge (the box shrunk by a millimetre;
        -- not &&, whose single-precision boxes are a metre off at these coordinates)
        SELECT p.geom, count(*) AS n FROM placed AS p CROSS JOIN env
        WHERE ST_Intersects(p.geom, ST_Expand(env.box, -0.001))
        GROUP BY p.i, p.j, p.geom
        HAVING count(*) >= %(k)s
    )
    SELECT coalesce(ST_AsMVT(t, 'incident_density', {EXTENT}, 'geom'), ''::bytea)
    FROM (SELECT n::int AS count, ST_AsMVTGeom(b.geom, env.box, {EXTENT}, {BUFFER}, true) AS geom
          FROM bins AS b CROSS JOIN env) AS t
"""
_GRIDS = {"hex": "ST_HexagonGrid", "square": "ST_SquareGrid"}
_WORLD_M = 40_075_016.685578488


async def density_tile(
    service: TileService,
    tile: morecantile.Tile,
    *,
    shape: str = "hex",
    cells: int = 16,
    category: str | None = None,
    statuses: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    public: list[str] | None = None,
    min_count: int = 1,
    if_none_match: str | None = None,
) -> Tile:
    """The incident density tile: hexagon or square bins with their incident counts (layer ``incident_density``).

    Parameters
    ----------
    service
        The app's tile service: its pool, data-version probe and cache are used.
    tile
        The tile address.
    shape
        ``hex`` or ``square``.
    cells
        Bins across a tile; squares then line up with tile edges.
    category, statuses, start, end
        Only incidents of this category (and its sub-categories), in these states,
        reported in ``[start, end)``.
    public
        When given, only incidents flagged public of these categories (the public view).
    min_count
        Bins holding fewer incidents are left out (the public view's k).
    if_none_match
        The request's ``If-None-Match``; a match returns the ETag without a body.

    Raises
    ------
    DatabaseUnavailableError
        When the database cannot be reached.
    """
    current = await service.probe.current()
    versions = (current.get("incidents", 0),)
    filters = (shape, cells, category, tuple(statuses or ()), start, end, tuple(public or ()), min_count)
    key = ("incident_density", tile.z, tile.x, tile.y, repr(filters))
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
        "size": _WORLD_M / 2**tile.z / cells,
        "category": category,
        "sub": None if category is None else category.replace("_", r"\_") + ".%",
        "statuses": statuses,
        "start": start,
        "end": end,
        "public": public,
        "k": min_count,
    }
    try:
        async with service.pool.connection() as conn:
            cur = await conn.execute(_DENSITY.replace("{grid}", _GRIDS[shape]), params, binary=True)
            body = bytes((await cur.fetchone())[0])
    except (psycopg.OperationalError, PoolTimeout) as exc:
        raise DatabaseUnavailableError(f"the tile database cannot be reached: {exc}") from exc
    service.cache.put(key, CachedTile(versions, etag, body))
    return Tile(etag, body)


def heat_map(lon: np.ndarray, lat: np.ndarray, *, radius: int = 12, cell_deg: float = 0.0005) -> folium.Map:
    """A folium heat map of points, for export as one HTML file (``.save(path)``).

    Points are first summed in cells of ``cell_deg`` degrees (about 50 m), so a million
    incidents make a file of at most a few megabytes; each cell weighs its count.

    Raises
    ------
    InputError
        When there are no points.
    """
    import folium  # only here: the app need not load it to start
    from folium.plugins import HeatMap

    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    if lon.size == 0:
        raise InputError("no incidents match: there is nothing to draw; widen the time window or the category")
    cells = np.round(np.c_[lat, lon] / cell_deg).astype(np.int64)
    unique, counts = np.unique(cells, axis=0, return_counts=True)
    centres = unique * cell_deg
    weights = counts / counts.max()
    heat = folium.Map(location=[float(np.median(lat)), float(np.median(lon))], zoom_start=12, tiles="OpenStreetMap")
    HeatMap(np.c_[centres, weights].tolist(), radius=radius, min_opacity=0.3).add_to(heat)
    heat.fit_bounds([[float(lat.min()), float(lon.min())], [float(lat.max()), float(lon.max())]])
    return heat

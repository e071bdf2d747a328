"""The public layers of the published plans as one PMTiles archive, for static hosting.

The public map changes only when a plan is published, so it can be cut once into a
single file any static host or CDN serves by byte ranges: grids (with their posted
contact's name and work phone, as the public tiles carry), communities and streets, and
their label points. Tiles are the same SQL as the served ones (:mod:`tiles.layers`),
gzip-compressed as the PMTiles readers expect.
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass
from pathlib import Path

from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from gis.errors import NotFoundError
from gis.store.models import Barrier, Grid, GridPlan, PlanStatus
from tiles.layers import COMMUNITIES, COMMUNITY_LABELS, GRID_LABELS, GRIDS, STREETS, statement

__all__ = ["PUBLIC_LAYERS", "ArchiveSummary", "public_bounds", "tiles_in", "write_public_archive"]

PUBLIC_LAYERS = (COMMUNITIES, GRIDS, STREETS, GRID_LABELS, COMMUNITY_LABELS)
_MAX_LAT = 85.0511287798066


@dataclass(frozen=True)
class ArchiveSummary:
    """What :func:`write_public_archive` wrote."""

    path: Path
    tiles: int  # tiles holding something
    bytes: int
    bounds: tuple[float, float, float, float]  # lon/lat
    minzoom: int
    maxzoom: int


def public_bounds(conn: Connection) -> tuple[float, float, float, float]:
    """West, south, east, north of the published grids and their districts' streets.

    Raises
    ------
    NotFoundError
        When no plan is published.
    """
    published = select(GridPlan.id, GridPlan.district_id).where(GridPlan.status == PlanStatus.PUBLISHED).subquery()
    grids = conn.execute(select(func.ST_Extent(Grid.geom)).join(published, published.c.id == Grid.plan_id)).scalar()
    if grids is None:
        raise NotFoundError(
            "no plan is published: publish one (`commgrid plans publish`) before exporting the public map"
        )
    streets = conn.execute(
        select(func.ST_Extent(Barrier.geom)).where(Barrier.district_id.in_(select(published.c.district_id)))
    ).scalar()
    boxes = [_box(b) for b in (grids, streets) if b is not None]
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def _box(text: str) -> tuple[float, float, float, float]:
    # "BOX(west south,east north)"
    low, high = text[text.index("(") + 1 : text.index(")")].split(",")
    w, s = (float(v) for v in low.split())
    e, n = (float(v) for v in high.split())
    return w, s, e, n


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    lat = max(-_MAX_LAT, min(_MAX_LAT, lat))
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_in(bounds: tuple[float, float, float, float], minzoom: int, maxzoom: int) -> list[tuple[int, int, int]]:
    """Every (z, x, y) of the zooms touching ``bounds``, in PMTiles order (by tile id)."""
    west, south, east, north = bounds
    out = []
    for z in range(minzoom, maxzoom + 1):
        x0, y0 = _tile_xy(west, north, z)
        x1, y1 = _tile_xy(east, south, z)
        out += [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
    return sorted(out, key=lambda t: zxy_to_tileid(*t))


def write_public_archive(conn: Connection, path: Path, *, minzoom: int = 10, maxzoom: int = 16) -> ArchiveSummary:
    """Cut the public layers of every published plan into the PMTiles archive ``path``.

    Raises
    ------
    NotFoundError
        When no plan is published.
    """
    bounds = public_bounds(conn)
    written = 0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        writer = Writer(f)
        for z, x, y in tiles_in(bounds, minzoom, maxzoom):
            layers = [layer for layer in PUBLIC_LAYERS if layer.minzoom <= z <= layer.maxzoom]
            # every published plan of the city, as the public sees it
            scope = {"plan": None, "district": None, "private": False, "limit": 0}
            body = conn.exec_driver_sql(statement(layers), {"z": z, "x": x, "y": y, **scope}).scalar()
            if not body:
                continue
            writer.write_tile(zxy_to_tileid(z, x, y), gzip.compress(bytes(body), mtime=0))
            written += 1
        if written == 0:
            raise NotFoundError("the published plans' area holds no tiles to export")
        west, south, east, north = bounds
        header = {
            "tile_type": TileType.MVT,
            "tile_compression": Compression.GZIP,
            "min_lon_e7": int(west * 1e7),
            "min_lat_e7": int(south * 1e7),
            "max_lon_e7": int(east * 1e7),
            "max_lat_e7": int(north * 1e7),
            "center_zoom": min(maxzoom, 13),
            "center_lon_e7": int((west + east) / 2 * 1e7),
            "center_lat_e7": int((south + north) / 2 * 1e7),
        }
        metadata = {
            "name": "commgrid public map",
            "vector_layers": [
                {"id": layer.id, "fields": layer.fields, "minzoom": max(minzoom, layer.minzoom), "maxzoom": maxzoom}
                for layer in PUBLIC_LAYERS
            ],
        }
        writer.finalize(header, metadata)
    tmp.replace(path)
    return ArchiveSummary(path, written, path.stat().st_size, bounds, minzoom, maxzoom)

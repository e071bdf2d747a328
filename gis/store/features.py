"""Paged, bbox-filtered reads of public grid features, for the web service.

Only the columns a resident may see leave this module: code, name, community,
counts and status. Filtering and paging happen in PostGIS so a page costs the same
however large the plan.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from gis import columns as C
from gis.errors import NotFoundError
from gis.store.models import SRID, Community, Grid
from gis.store.queries import _resolve_plan

__all__ = [
    "PUBLIC_COMMUNITY_FIELDS",
    "PUBLIC_GRID_FIELDS",
    "FeaturePage",
    "community_feature",
    "community_features",
    "grid_feature",
    "grid_features",
    "plan_extent",
]

PUBLIC_COMMUNITY_FIELDS = ("community_id", "name", "admin_code")
PUBLIC_GRID_FIELDS = ("code", "name", "community", "community_name", "households", "population", "status")


@dataclass(frozen=True)
class FeaturePage:
    """One page of features as GeoJSON-ready dicts, with the total that matched."""

    plan: str
    plan_status: str
    features: list[dict]
    number_matched: int


def _public_grids() -> Select:
    """The public columns of grids with their community, geometry as GeoJSON text."""
    return (
        select(
            Grid.code,
            Grid.name,
            Community.community_id.label(C.COMMUNITY),
            Community.name.label("community_name"),
            Grid.households,
            Grid.population,
            Grid.status,
            func.ST_AsGeoJSON(Grid.geom, 7).label("geometry"),
        )
        .select_from(Grid)
        .outerjoin(Community, Grid.community_id == Community.id)
    )


def _public_communities() -> Select:
    """The public columns of communities, geometry as GeoJSON text."""
    return select(
        Community.community_id,
        Community.name,
        Community.admin_code,
        func.ST_AsGeoJSON(Community.geom, 7).label("geometry"),
    )


def _feature(r) -> dict:
    """A GeoJSON feature from a row of _public_grids or _public_communities (geometry still text)."""
    if "code" in r:
        fid, fields = r["code"], PUBLIC_GRID_FIELDS
    else:
        fid, fields = r["community_id"], PUBLIC_COMMUNITY_FIELDS
    return {"type": "Feature", "id": fid, "geometry": r["geometry"], "properties": {k: r[k] for k in fields}}


def _page(conn: Connection, row, query: Select, table, where: list, bbox, limit: int, offset: int) -> FeaturePage:
    """Count what matches, then fetch one page ordered by the feature id, filtered in PostGIS."""
    if bbox is not None:
        where = [*where, func.ST_Intersects(table.geom, func.ST_MakeEnvelope(*bbox, SRID))]
    matched = conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    order = Grid.code if table is Grid else Community.community_id
    rows = conn.execute(query.where(*where).order_by(order).limit(limit).offset(offset)).mappings()
    return FeaturePage(row.name, row.status, [_feature(r) for r in rows], int(matched))


def grid_features(
    conn: Connection,
    *,
    plan: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> FeaturePage:
    """Grids of a plan (the published one by default) as GeoJSON features.

    Parameters
    ----------
    conn
        An open connection.
    plan
        Plan name; ``None`` for the published plan.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)`` in EPSG:4326; only grids intersecting it.
    limit, offset
        The page.
    """
    row = _resolve_plan(conn, plan, None)
    return _page(conn, row, _public_grids(), Grid, [Grid.plan_id == row.id], bbox, limit, offset)


def community_features(
    conn: Connection,
    *,
    plan: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> FeaturePage:
    """Communities of the district a plan (the published one by default) belongs to, as GeoJSON features."""
    row = _resolve_plan(conn, plan, None)
    where = [Community.district_id == row.district_id]
    return _page(conn, row, _public_communities(), Community, where, bbox, limit, offset)


def grid_feature(conn: Connection, code: str, *, plan: str | None = None) -> dict:
    """One grid of a plan (the published one by default) as a GeoJSON feature.

    Raises
    ------
    NotFoundError
        When the plan has no grid with that code.
    """
    row = _resolve_plan(conn, plan, None)
    query = _public_grids().where(Grid.plan_id == row.id, Grid.code == code)
    r = conn.execute(query).mappings().first()
    if r is None:
        raise NotFoundError(f"plan {row.name!r} has no grid with code {code!r}")
    return _feature(r)


def community_feature(conn: Connection, community_id: str, *, plan: str | None = None) -> dict:
    """One community of the plan's district as a GeoJSON feature.

    Raises
    ------
    NotFoundError
        When the district has no community with that id.
    """
    row = _resolve_plan(conn, plan, None)
    query = _public_communities().where(
        Community.district_id == row.district_id, Community.community_id == community_id
    )
    r = conn.execute(query).mappings().first()
    if r is None:
        raise NotFoundError(f"the district of plan {row.name!r} has no community {community_id!r}")
    return _feature(r)


def plan_extent(conn: Connection, *, plan: str | None = None) -> tuple[str, list[float] | None]:
    """The plan's name and the lon/lat bounding box of its grids (``None`` when it has none)."""
    row = _resolve_plan(conn, plan, None)
    box = conn.execute(
        select(
            func.ST_XMin(func.ST_Extent(Grid.geom)),
            func.ST_YMin(func.ST_Extent(Grid.geom)),
            func.ST_XMax(func.ST_Extent(Grid.geom)),
            func.ST_YMax(func.ST_Extent(Grid.geom)),
        ).where(Grid.plan_id == row.id)
    ).first()
    if box is None or box[0] is None:
        return row.name, None
    return row.name, [float(v) for v in box]

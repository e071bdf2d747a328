"""Reading a stored district back as frames the partition engine takes."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Select, func, select
from sqlalchemy.engine import Connection

from gis import columns as C
from gis.store import lookup
from gis.store.models import SRID, Barrier, Community, Grid, GridAssignment, Unit

__all__ = ["read_assignment", "read_district_barriers", "read_district_communities", "read_district_units"]


def _frame(conn: Connection, query) -> gpd.GeoDataFrame:
    result = conn.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    geometry = shapely.from_wkb(frame.pop("wkb").to_numpy(dtype=object)) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=f"EPSG:{SRID}")


def read_district_units(conn: Connection, district_id: int, community: str | None = None) -> gpd.GeoDataFrame:
    """The district's units with ``unit_id``, counts, ``compound`` and ``community`` (its id), in EPSG:4326.

    With ``community`` (a community id), only that community's units.
    """
    columns = {
        C.UNIT_ID: Unit.unit_id,
        C.HOUSEHOLDS: Unit.households,
        C.POPULATION: Unit.population,
        C.COMPOUND: Unit.compound,
        C.COMMUNITY: Community.community_id,
    }
    query = _select(columns, Unit.geom).outerjoin(Community, Community.id == Unit.community_id)
    query = query.where(Unit.district_id == district_id).order_by(Unit.unit_id)
    if community is not None:
        query = query.where(Community.community_id == community)
    return _frame(conn, query)


def read_district_communities(conn: Connection, district_id: int) -> gpd.GeoDataFrame:
    """The district's communities with ``community_id``, ``name`` and ``admin_code``, in EPSG:4326."""
    columns = {
        C.COMMUNITY_ID: Community.community_id,
        C.COMMUNITY_NAME: Community.name,
        C.ADMIN_CODE: Community.admin_code,
    }
    query = _select(columns, Community.geom).where(Community.district_id == district_id)
    return _frame(conn, query.order_by(Community.community_id))


def read_district_barriers(conn: Connection, district_id: int, community: str | None = None) -> gpd.GeoDataFrame:
    """The district's stored barriers (streets, rivers, railways) with ``barrier_class`` and ``hard``, in EPSG:4326.

    With ``community`` (a community id), only those that meet the extent of its units:
    the ones a re-division of that community can follow or must not cross.
    """
    columns = {C.BARRIER_CLASS: Barrier.barrier_class, C.HARD: Barrier.hard}
    query = _select(columns, Barrier.geom).where(Barrier.district_id == district_id)
    if community is not None:
        extent = (
            select(func.ST_Envelope(func.ST_Collect(Unit.geom)))
            .join(Community, Community.id == Unit.community_id)
            .where(Unit.district_id == district_id, Community.community_id == community)
            .scalar_subquery()
        )
        query = query.where(func.ST_Intersects(Barrier.geom, extent))
    return _frame(conn, query.order_by(Barrier.id))


def _select(columns: dict[str, Any], geom: Any) -> Select:
    """The labelled columns and the geometry as WKB, as :func:`_frame` reads them."""
    return select(*(column.label(name) for name, column in columns.items()), func.ST_AsBinary(geom).label("wkb"))


def read_assignment(conn: Connection, plan: str) -> pd.DataFrame:
    """A stored plan's assignment: ``unit_id`` and grid ``code``, as the engine's ``previous`` takes it.

    Raises
    ------
    NotFoundError
        For an unknown plan (the message lists the plans).
    """
    row = lookup.plan(conn, plan, None)
    result = conn.execute(
        select(Unit.unit_id.label(C.UNIT_ID), Grid.code.label(C.GRID_CODE))
        .join(GridAssignment, GridAssignment.unit_id == Unit.id)
        .join(Grid, Grid.id == GridAssignment.grid_id)
        .where(GridAssignment.plan_id == row.id)
        .order_by(Unit.unit_id)
    )
    return pd.DataFrame(result.all(), columns=[C.UNIT_ID, C.GRID_CODE])

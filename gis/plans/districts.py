"""Reading a stored district back as frames the partition engine takes."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from gis import columns as C
from gis.errors import NotFoundError
from gis.plans.store import _resolve_plan
from gis.store.models import SRID, Community, District, Grid, GridAssignment, Unit

__all__ = ["read_assignment", "read_district", "read_district_communities", "read_district_units"]


def read_district(conn: Connection, name: str) -> Any:
    """The district row (id, name, working_crs).

    Raises
    ------
    NotFoundError
        For an unknown name (the message lists the stored districts).
    """
    row = conn.execute(select(District.id, District.name, District.working_crs).where(District.name == name)).first()
    if row is None:
        known = ", ".join(repr(n) for n in conn.execute(select(District.name).order_by(District.name)).scalars())
        raise NotFoundError(f"no district {name!r}; stored districts: {known or 'none yet'}")
    return row


def _frame(conn: Connection, query) -> gpd.GeoDataFrame:
    result = conn.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    geometry = shapely.from_wkb(frame.pop("wkb").to_numpy(dtype=object)) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=f"EPSG:{SRID}")


def read_district_units(conn: Connection, district_id: int, community: str | None = None) -> gpd.GeoDataFrame:
    """The district's units with ``unit_id``, counts, ``compound`` and ``community`` (its id), in EPSG:4326.

    With ``community`` (a community id), only that community's units.
    """
    query = (
        select(
            Unit.unit_id.label(C.UNIT_ID),
            Unit.households.label(C.HOUSEHOLDS),
            Unit.population.label(C.POPULATION),
            Unit.compound.label(C.COMPOUND),
            Community.community_id.label(C.COMMUNITY),
            func.ST_AsBinary(Unit.geom).label("wkb"),
        )
        .outerjoin(Community, Community.id == Unit.community_id)
        .where(Unit.district_id == district_id)
        .order_by(Unit.unit_id)
    )
    if community is not None:
        query = query.where(Community.community_id == community)
    return _frame(conn, query)


def read_district_communities(conn: Connection, district_id: int) -> gpd.GeoDataFrame:
    """The district's communities with ``community_id``, ``name`` and ``admin_code``, in EPSG:4326."""
    return _frame(
        conn,
        select(
            Community.community_id.label(C.COMMUNITY_ID),
            Community.name.label(C.COMMUNITY_NAME),
            Community.admin_code.label(C.ADMIN_CODE),
            func.ST_AsBinary(Community.geom).label("wkb"),
        )
        .where(Community.district_id == district_id)
        .order_by(Community.community_id),
    )


def read_assignment(conn: Connection, plan: str) -> pd.DataFrame:
    """A stored plan's assignment: ``unit_id`` and grid ``code``, as the engine's ``previous`` takes it.

    Raises
    ------
    NotFoundError
        For an unknown plan (the message lists the plans).
    """
    row = _resolve_plan(conn, plan, None)
    result = conn.execute(
        select(Unit.unit_id.label(C.UNIT_ID), Grid.code.label(C.GRID_CODE))
        .join(GridAssignment, GridAssignment.unit_id == Unit.id)
        .join(Grid, Grid.id == GridAssignment.grid_id)
        .where(GridAssignment.plan_id == row.id)
        .order_by(Unit.unit_id)
    )
    return pd.DataFrame(result.all(), columns=[C.UNIT_ID, C.GRID_CODE])

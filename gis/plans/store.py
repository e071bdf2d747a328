"""Reading and writing districts, communities, units and grid plans.

Every function receives a :class:`sqlalchemy.engine.Connection` and uses 2.0-style
statements. Writers are atomic: they run in a savepoint of the caller's transaction
(or in a transaction of their own when none is open, committed on success), so a
failure leaves nothing half-written. Geometries arrive in any CRS and are stored in
EPSG:4326; frames read back are in EPSG:4326.

Examples
--------
>>> with begin(engine) as conn:  # doctest: +SKIP
...     district = write_district(conn, name="Daan", working_crs="EPSG:3826", boundary_geom=boundary)
...     pks = write_communities(conn, district, communities)
...     write_units(conn, district, units, pks)
...     write_plan(conn, district_id=district, name="2025-v1", grids=grids, assignment=assignment,
...                params={}, report={}, publish=True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError
from shapely.geometry.base import BaseGeometry
from sqlalchemy import ARRAY, Integer, Text, any_, bindparam, func, insert, literal, select, update
from sqlalchemy.engine import Connection

from gis import clock
from gis import columns as C
from gis.errors import (
    ConflictError,
    DuplicateIdError,
    GeometryError,
    InputError,
    MissingCRSError,
)
from gis.store import lookup
from gis.store.audit import cli_actor, record
from gis.store.engine import atomic
from gis.store.models import SRID, Barrier, Community, District, Grid, GridAssignment, GridPlan, PlanStatus, Unit
from gis.validate import validate_admin_codes, validate_counts, validate_unique_ids

__all__ = [
    "ACTOR_OPTION",
    "GRID_COLUMNS",
    "DistrictSummary",
    "PlanSummary",
    "acting_user",
    "archive_plan",
    "delete_plan",
    "list_districts",
    "list_plans",
    "publish_plan",
    "read_grids",
    "remove_district",
    "write_barriers",
    "write_communities",
    "write_district",
    "write_plan",
    "write_units",
]

# Columns of a grid frame, as the partition engine writes them and read_grids returns them.
GRID_COLUMNS = (
    C.GRID_CODE,
    C.COMMUNITY,
    C.HOUSEHOLDS,
    C.POPULATION,
    C.GRID_UNITS,
    C.POLSBY_POPPER,
    C.STATUS,
    C.REASON,
)
_GRID_NAME = "name"  # optional display name of a grid

# Execution option of a connection naming the user it acts for (the API sets it per request).
ACTOR_OPTION = "commgrid_actor"

_district = District.__table__
_community = Community.__table__
_unit = Unit.__table__
_plan = GridPlan.__table__
_grid = Grid.__table__
_assignment = GridAssignment.__table__
_barrier = Barrier.__table__


@dataclass(frozen=True)
class PlanSummary:
    """One stored plan, as :func:`list_plans` reports it."""

    id: int
    district_id: int
    district: str
    name: str
    status: str
    created_at: datetime
    valid_from: datetime | None
    valid_to: datetime | None
    version: int
    n_grids: int


def acting_user(conn: Connection, actor: str | None = None) -> str:
    """Who an audited change is recorded for: ``actor``, else the connection's user, else the shell user.

    Parameters
    ----------
    conn
        The connection making the change; the API names its caller in the execution
        option :data:`ACTOR_OPTION`.
    actor
        An explicit user name, which wins.

    Returns
    -------
    str
        A user name, or ``cli:<os user>`` (:func:`gis.store.audit.cli_actor`) for code run
        from a shell.
    """
    if actor is not None:
        return actor
    return conn.get_execution_options().get(ACTOR_OPTION) or cli_actor()


# -- districts, communities, units -------------------------------------------------------


def write_district(
    conn: Connection, *, name: str, working_crs: str, boundary_geom: BaseGeometry | gpd.GeoSeries
) -> int:
    """Store a district and return its id.

    Parameters
    ----------
    name
        The district's name, unique among stored districts.
    working_crs
        The projected CRS used to measure the district, e.g. ``"EPSG:3826"``.
    boundary_geom
        The boundary: a GeoSeries with a CRS (its parts are merged), or a shapely
        (Multi)Polygon in longitude/latitude (EPSG:4326).

    Returns
    -------
    int
        The new district's id.

    Raises
    ------
    InputError
        When the CRS is unknown or geographic, or the boundary is not an areal geometry.
    MissingCRSError
        When the boundary has no CRS, or a bare geometry is not in longitude/latitude.
    ConflictError
        When a district of that name exists.
    """
    crs = _projected_crs(working_crs)
    boundary = _boundary_4326(boundary_geom)
    with atomic(conn):
        existing = conn.execute(select(_district.c.id).where(_district.c.name == name)).scalar()
        if existing is not None:
            raise ConflictError(
                f"A district named {name!r} is already stored (id {existing}). Choose another name, "
                "or add communities, units and plans to the stored one."
            )
        return conn.execute(
            insert(_district)
            .values(name=name, working_crs=crs, boundary=_ewkb_hex([boundary])[0])
            .returning(_district.c.id)
        ).scalar_one()


@dataclass(frozen=True)
class DistrictSummary:
    """One stored district, as :func:`list_districts` reports it."""

    id: int
    name: str
    working_crs: str
    communities: int
    units: int
    plans: int
    published: str | None  # the published plan's name


def list_districts(conn: Connection) -> list[DistrictSummary]:
    """The stored districts by id, with what each holds and its published plan."""
    rows = conn.execute(
        select(
            _district.c.id,
            _district.c.name,
            _district.c.working_crs,
            select(func.count())
            .where(_community.c.district_id == _district.c.id)
            .scalar_subquery()
            .label("communities"),
            select(func.count()).where(_unit.c.district_id == _district.c.id).scalar_subquery().label("units"),
            select(func.count()).where(_plan.c.district_id == _district.c.id).scalar_subquery().label("plans"),
            select(_plan.c.name)
            .where(_plan.c.district_id == _district.c.id, _plan.c.status == PlanStatus.PUBLISHED)
            .scalar_subquery()
            .label("published"),
        ).order_by(_district.c.id)
    ).mappings()
    return [DistrictSummary(**row) for row in rows]


def remove_district(conn: Connection, district: str | int, *, actor: str | None = None) -> int:
    """Remove a district that holds no plans, incidents or grid workers, with its communities and units.

    Audited as ``district.remove``.

    Raises
    ------
    NotFoundError
        For an unknown district.
    ConflictError
        While it holds plans (delete drafts; published and archived plans are history),
        incidents or grid workers.
    """
    from gis.store.models import GridWorker, Incident  # only this writer needs them

    with atomic(conn):
        district_id = lookup.district_id(conn, district)
        _lock_district(conn, district_id)
        held = {
            "plans": conn.execute(select(func.count()).where(_plan.c.district_id == district_id)).scalar_one(),
            "incidents": conn.execute(
                select(func.count()).where(Incident.__table__.c.district_id == district_id)
            ).scalar_one(),
            "grid workers": conn.execute(
                select(func.count()).where(GridWorker.__table__.c.district_id == district_id)
            ).scalar_one(),
        }
        holding = ", ".join(f"{n} {what}" for what, n in held.items() if n)
        if holding:
            raise ConflictError(
                f"District {str(district)!r} holds {holding}; it is removed only when it holds none "
                "(delete its draft plans; published and archived plans are kept as history)."
            )
        name = conn.execute(
            _district.delete().where(_district.c.id == district_id).returning(_district.c.name)
        ).scalar_one()
        record(
            conn,
            actor=acting_user(conn, actor),
            action="district.remove",
            target=f"district:{district_id}",
            detail={"district": name},
        )
    return district_id


def write_communities(conn: Connection, district_id: int, gdf: gpd.GeoDataFrame) -> dict[str, int]:
    """Store the communities of a district.

    Parameters
    ----------
    district_id
        The district they belong to.
    gdf
        Columns ``community_id``, ``name``, optional ``admin_code`` (12 digits) and
        (Multi)Polygon geometries in any CRS.

    Returns
    -------
    dict of str to int
        Each community id mapped to its stored primary key, for :func:`write_units`.

    Raises
    ------
    InputError
        Missing columns, missing ids or names, or admin codes that are not 12 digits.
    DuplicateIdError
        When a community id repeats, in the frame or among the district's stored communities.
    MissingCRSError, GeometryError
        When the frame has no CRS or a geometry is not a polygon.
    NotFoundError
        When the district does not exist.
    """
    what = "communities"
    _require_columns(gdf, [C.COMMUNITY_ID, C.COMMUNITY_NAME], what)
    ids = _ids(gdf, C.COMMUNITY_ID, what)
    names = _texts(gdf, C.COMMUNITY_NAME, what, ids, required=True)
    admin_codes = _admin_codes(gdf, what)
    geoms = _multipolygons(_in_4326(gdf, what), what, ids)
    with atomic(conn):
        _lock_district(conn, district_id)
        stored = set(
            conn.execute(
                select(_community.c.community_id).where(
                    _community.c.district_id == district_id, _community.c.community_id == _any_text(ids)
                )
            ).scalars()
        )
        if stored:
            positions = [i for i, cid in enumerate(ids) if cid in stored]
            raise DuplicateIdError(
                f"these communities are already stored for district {district_id}; remove them from "
                "the frame or store the district again under a new name",
                **_at(what, positions, ids, C.COMMUNITY_ID),
            )
        if not ids:
            return {}
        rows = [
            {"district_id": district_id, "community_id": i, "name": n, "admin_code": a, "geom": g}
            for i, n, a, g in zip(ids, names, admin_codes, geoms, strict=True)
        ]
        result = conn.execute(
            insert(_community).returning(_community.c.community_id, _community.c.id, sort_by_parameter_order=True),
            rows,
        )
        return {cid: pk for cid, pk in result}


def write_barriers(conn: Connection, district_id: int, gdf: gpd.GeoDataFrame, *, name_field: str | None = None) -> int:
    """Replace the district's barriers (streets, rivers, railways) with ``gdf``.

    Parameters
    ----------
    district_id
        The district.
    gdf
        Lines (or polygons) with ``barrier_class`` and ``hard`` as ``gis.io.read_barriers``
        returns them, in any CRS.
    name_field
        Optional column with street or river names, kept for maps and posters.

    Returns
    -------
    int
        How many barriers are stored.
    """
    what = "barriers"
    if len(gdf) == 0:
        return 0
    _require_columns(gdf, [C.BARRIER_CLASS, C.HARD], what)
    geoms = _in_4326(gdf, what)
    ids = [str(i) for i in range(len(gdf))]
    rows = [
        {
            "district_id": district_id,
            "barrier_class": str(cls) if cls is not None and not pd.isna(cls) else "unknown",
            "hard": bool(hard),
            "name": None if name_field is None or pd.isna(nm) else str(nm),
            "geom": g,
        }
        for cls, hard, nm, g in zip(
            gdf[C.BARRIER_CLASS],
            gdf[C.HARD],
            gdf[name_field] if name_field in gdf.columns else [None] * len(gdf),
            _geometries(geoms, what, ids),
            strict=True,
        )
    ]
    with atomic(conn):
        conn.execute(_barrier.delete().where(_barrier.c.district_id == district_id))
        conn.execute(insert(_barrier), rows)
    return len(rows)


def write_units(conn: Connection, district_id: int, gdf: gpd.GeoDataFrame, community_pks: dict[str, int]) -> int:
    """Store the units of a district.

    Parameters
    ----------
    district_id
        The district they belong to.
    gdf
        Columns ``unit_id``, ``households``, ``population``, optional ``community``
        (community id), ``compound`` and ``building``; geometries (polygons or points) in any CRS.
    community_pks
        From :func:`write_communities`: community id to primary key.

    Returns
    -------
    int
        The number of units stored.

    Raises
    ------
    InputError
        Missing columns or ids, or a community id not in ``community_pks``.
    CountError
        Households or residents that are missing, fractional or negative.
    DuplicateIdError
        When a unit id repeats, in the frame or among the district's stored units.
    MissingCRSError, GeometryError
        When the frame has no CRS or geometries are missing or empty.
    NotFoundError
        When the district does not exist.
    """
    what = "units"
    _require_columns(gdf, [C.UNIT_ID, C.HOUSEHOLDS, C.POPULATION], what)
    ids = _ids(gdf, C.UNIT_ID, what)
    households = _counts(gdf, C.HOUSEHOLDS, what, C.UNIT_ID)
    population = _counts(gdf, C.POPULATION, what, C.UNIT_ID)
    communities = _community_keys(gdf, C.COMMUNITY, community_pks, what, ids)
    compounds = _texts(gdf, C.COMPOUND, what, ids)
    buildings = _texts(gdf, C.BUILDING, what, ids)
    geoms = _geometries(_in_4326(gdf, what), what, ids)
    if not ids:
        return 0
    rows = [
        {
            "district_id": district_id,
            "unit_id": u,
            "community_id": c,
            "households": h,
            "population": p,
            "compound": cp,
            "building": b,
            "geom": g,
        }
        for u, c, h, p, cp, b, g in zip(
            ids, communities, households, population, compounds, buildings, geoms, strict=True
        )
    ]
    with atomic(conn):
        _lock_district(conn, district_id)
        stored = set(
            conn.execute(
                select(_unit.c.unit_id).where(_unit.c.district_id == district_id, _unit.c.unit_id == _any_text(ids))
            ).scalars()
        )
        if stored:
            positions = [i for i, uid in enumerate(ids) if uid in stored]
            raise DuplicateIdError(
                f"these units are already stored for district {district_id}; remove them from the frame",
                **_at(what, positions, ids, C.UNIT_ID),
            )
        # executemany: SQLAlchemy sends batches of multi-row INSERTs ("insertmanyvalues").
        conn.execute(insert(_unit), rows)
    return len(rows)


# -- plans -----------------------------------------------------------------------------------


def write_plan(
    conn: Connection,
    *,
    district_id: int,
    name: str,
    grids: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    params: dict[str, Any],
    report: dict[str, Any],
    publish: bool,
    actor: str | None = None,
) -> int:
    """Store a plan: its grids and which grid each unit belongs to.

    Parameters
    ----------
    district_id
        The partitioned district.
    name
        The plan's name, unique among all plans.
    grids
        The partition engine's grids: columns ``code``, ``community``, ``households``,
        ``population``, ``units``, ``polsby_popper``, ``status``, ``reason``, optional
        ``name``, and (Multi)Polygon geometries in any CRS.
    assignment
        Columns ``unit_id`` and ``code``: the grid of each unit; optional ``households``
        and ``population``: the unit's counts as this plan has them (by default the
        district's stored counts). The plan keeps them, whatever later plans load.
    params
        The parameters the plan was made with (stored as JSON).
    report
        The partition report (stored as JSON).
    publish
        Publish the plan: the district's published plan, if any, is archived and its
        validity closed at the same instant, in the same transaction.
    actor
        Who publishes, for the audit log (see :func:`acting_user` for the default).

    Returns
    -------
    int
        The new plan's id.

    Raises
    ------
    InputError
        Missing columns, unknown community ids, unit ids or grid codes, an empty plan.
    DuplicateIdError
        When a grid code or a unit id of the assignment repeats.
    ConflictError
        When a plan of that name exists.
    NotFoundError
        When the district does not exist.
    """
    what = "grids"
    _require_columns(grids, list(GRID_COLUMNS), what)
    _require_columns(assignment, [C.UNIT_ID, C.GRID_CODE], "assignment")
    codes = _ids(grids, C.GRID_CODE, what)
    if not codes:
        raise InputError("the plan has no grids; partition the district first", file=what)
    geoms = _multipolygons(_in_4326(grids, what), what, codes)
    unit_ids = _ids(assignment, C.UNIT_ID, "assignment")
    unit_codes = _texts(assignment, C.GRID_CODE, "assignment", unit_ids, required=True)
    unknown = sorted(set(unit_codes) - set(codes))
    if unknown:
        positions = [i for i, code in enumerate(unit_codes) if code in set(unknown)]
        raise InputError(
            f"units are assigned to grid codes that are not among the plan's grids: {unknown[:10]}",
            file="assignment",
            index=positions,
            feature_id=[unit_ids[i] for i in positions],
            field=C.GRID_CODE,
        )
    counts = None
    if C.HOUSEHOLDS in assignment.columns and C.POPULATION in assignment.columns:
        counts = (
            _counts(assignment, C.HOUSEHOLDS, "assignment", C.UNIT_ID),
            _counts(assignment, C.POPULATION, "assignment", C.UNIT_ID),
        )
    with atomic(conn):
        _lock_district(conn, district_id)
        community_pks = dict(
            conn.execute(
                select(_community.c.community_id, _community.c.id).where(_community.c.district_id == district_id)
            ).all()
        )
        grid_rows = _grid_rows(grids, codes, geoms, community_pks, what)
        existing = conn.execute(select(_plan.c.district_id).where(_plan.c.name == name)).first()
        if existing is not None:
            raise ConflictError(
                f"A plan named {name!r} already exists (district {existing.district_id}); plan names "
                "are unique. Choose another name."
            )
        plan_id = conn.execute(
            insert(_plan)
            .values(
                district_id=district_id,
                name=name,
                status=PlanStatus.DRAFT,
                params=params,
                report=report,
            )
            .returning(_plan.c.id)
        ).scalar_one()
        conn.execute(insert(_grid), [{**row, "plan_id": plan_id} for row in grid_rows])
        _write_assignment(conn, district_id, plan_id, unit_ids, unit_codes, counts)
        if publish:
            _publish(conn, plan_id, district_id, acting_user(conn, actor))
    return plan_id


def publish_plan(conn: Connection, *, plan: str, actor: str | None = None, check: bool = True) -> int:
    """Publish a draft, or publish an archived plan again (a roll-back), archiving the district's published plan.

    Both happen in one transaction at one instant, so the old plan ends exactly when the
    new one starts. The whole plan is checked first (:func:`gis.plans.edits.check_plan`):
    an invalid plan is refused with the report and nothing changes. The audit log gets a
    ``plan.publish`` entry in the same transaction.

    Parameters
    ----------
    plan
        The plan's name.
    actor
        Who publishes: a user name; by default the connection's user or the shell user
        (:func:`acting_user`).
    check
        Check the plan before publishing (only loaders of plans the engine has just
        checked skip it).

    Returns
    -------
    int
        The plan's id.

    Raises
    ------
    NotFoundError
        When no plan has that name.
    ConflictError
        When the plan is already published.
    PlanCheckError
        When the plan fails a check; its ``report`` lists the offending grids and units.
    """
    with atomic(conn):
        row = _locked_plan(conn, plan)
        if check:
            from gis.plans.edits import check_plan  # edits builds on this module

            check_plan(conn, row.id, raise_invalid=True)
        _publish(conn, row.id, row.district_id, acting_user(conn, actor))
    return row.id


def _locked_plan(conn: Connection, plan: str) -> Any:
    """The plan a life-cycle change acts on (id, district_id, status), its district locked against other writers."""
    row = lookup.plan(conn, plan)
    _lock_district(conn, row.district_id)
    return row


def archive_plan(conn: Connection, *, plan: str, actor: str | None = None) -> int:
    """Take a published plan off the public map: archived, its validity closed now.

    The district then has no published plan until another is published (or this one
    again). Audited as ``plan.archive``.

    Raises
    ------
    NotFoundError
        When no plan has that name.
    ConflictError
        When the plan is not published (a draft is deleted instead, an archived one stays).
    """
    with atomic(conn):
        row = _locked_plan(conn, plan)
        if row.status != PlanStatus.PUBLISHED:
            hint = "delete a draft instead" if row.status == PlanStatus.DRAFT else "it is archived already"
            raise ConflictError(f"Plan {plan!r} is {row.status}; only the published plan can be archived ({hint}).")
        conn.execute(
            update(_plan)
            .where(_plan.c.id == row.id)
            .values(status=PlanStatus.ARCHIVED, valid_to=clock.now(), version=_plan.c.version + 1)
        )
        _record_plan_change(conn, "plan.archive", row, plan, actor)
    return row.id


def _record_plan_change(conn: Connection, action: str, row: Any, plan: str, actor: str | None) -> None:
    """Audit ``action`` on the plan of ``row`` (named ``plan``) for ``actor``."""
    record(
        conn,
        actor=acting_user(conn, actor),
        action=action,
        target=f"plan:{row.id}",
        detail={"plan": plan, "district_id": row.district_id},
    )


def delete_plan(conn: Connection, *, plan: str, actor: str | None = None) -> int:
    """Delete a draft with its grids and assignment. Published and archived plans are history and stay.

    Audited as ``plan.delete``.

    Raises
    ------
    NotFoundError
        When no plan has that name.
    ConflictError
        When the plan is not a draft.
    """
    with atomic(conn):
        row = _locked_plan(conn, plan)
        if row.status != PlanStatus.DRAFT:
            raise ConflictError(
                f"Plan {plan!r} is {row.status}; only a draft can be deleted (archive a published plan instead)."
            )
        conn.execute(_plan.delete().where(_plan.c.id == row.id))
        _record_plan_change(conn, "plan.delete", row, plan, actor)
    return row.id


def read_grids(conn: Connection, *, plan: str | None = None, district_id: int | None = None) -> gpd.GeoDataFrame:
    """The grids of a plan, in EPSG:4326, ordered by code.

    Parameters
    ----------
    plan
        The plan's name; ``None`` for the published plan.
    district_id
        With ``plan=None``: whose published plan. Needed only when several districts
        have one.

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``community``, ``households``, ``population``, ``units``,
        ``polsby_popper``, ``status``, ``reason``, ``name`` and ``geometry``;
        ``attrs`` holds the plan's ``plan``, ``plan_id``, ``district_id`` and ``plan_status``.

    Raises
    ------
    NotFoundError
        When the plan does not exist or no plan is published (the message lists the plans).
    InputError
        When ``plan`` is ``None`` and several districts have a published plan.
    """
    plan_row = lookup.plan(conn, plan, district_id)
    query = (
        select(
            _grid.c.code,
            _community.c.community_id.label(C.COMMUNITY),
            _grid.c.households,
            _grid.c.population,
            _grid.c.n_units.label(C.GRID_UNITS),
            _grid.c.polsby_popper,
            _grid.c.status,
            _grid.c.reason,
            _grid.c.name.label(_GRID_NAME),
            func.ST_AsBinary(_grid.c.geom).label("wkb"),
        )
        .select_from(_grid.outerjoin(_community, _grid.c.community_id == _community.c.id))
        .where(_grid.c.plan_id == plan_row.id)
        .order_by(_grid.c.code)
    )
    result = conn.execute(query)
    frame = pd.DataFrame(result.all(), columns=list(result.keys()))
    geometry = shapely.from_wkb(frame.pop("wkb").to_numpy(dtype=object))
    out = gpd.GeoDataFrame(frame, geometry=geometry, crs=f"EPSG:{SRID}")
    out.attrs.update(
        plan=plan_row.name, plan_id=plan_row.id, district_id=plan_row.district_id, plan_status=plan_row.status
    )
    return out


def list_plans(conn: Connection, district_id: int | None = None) -> list[PlanSummary]:
    """The stored plans, by district and age.

    Parameters
    ----------
    district_id
        Only this district's plans; ``None`` for all.

    Returns
    -------
    list of PlanSummary
    """
    n_grids = select(func.count()).select_from(_grid).where(_grid.c.plan_id == _plan.c.id).scalar_subquery()
    query = (
        select(
            _plan.c.id,
            _plan.c.district_id,
            _district.c.name.label("district"),
            _plan.c.name,
            _plan.c.status,
            _plan.c.created_at,
            _plan.c.valid_from,
            _plan.c.valid_to,
            _plan.c.version,
            n_grids.label("n_grids"),
        )
        .join_from(_plan, _district, _plan.c.district_id == _district.c.id)
        .order_by(_plan.c.district_id, _plan.c.created_at, _plan.c.id)
    )
    if district_id is not None:
        query = query.where(_plan.c.district_id == district_id)
    return [PlanSummary(**row) for row in conn.execute(query).mappings()]


# -- plan internals --------------------------------------------------------------------------


def _publish(conn: Connection, plan_id: int, district_id: int, actor: str) -> None:
    """Archive the district's published plan, publish ``plan_id`` and audit it; the caller holds the district lock.

    An archived plan published again starts a new validity (a roll-back): ``valid_from``
    moves to now, so ``?datetime=`` before it reads the plans that were public then.
    """
    plan = conn.execute(select(_plan.c.name, _plan.c.status).where(_plan.c.id == plan_id)).one()
    if plan.status == PlanStatus.PUBLISHED:
        raise ConflictError(f"Plan {plan.name!r} (id {plan_id}) is published already.")
    # one instant for both, so the old plan ends exactly when the new one starts
    instant = clock.now()
    archived = conn.execute(
        update(_plan)
        .where(_plan.c.district_id == district_id, _plan.c.status == PlanStatus.PUBLISHED)
        .values(status=PlanStatus.ARCHIVED, valid_to=instant, version=_plan.c.version + 1)
        .returning(_plan.c.name)
    ).scalars()
    replaced = sorted(archived)
    conn.execute(
        update(_plan)
        .where(_plan.c.id == plan_id)
        .values(status=PlanStatus.PUBLISHED, valid_from=instant, valid_to=None, version=_plan.c.version + 1)
    )
    record(
        conn,
        actor=actor,
        action="plan.publish",
        target=f"plan:{plan_id}",
        detail={"plan": plan.name, "district_id": district_id, "archived": replaced}
        | ({"rolled_back": True} if plan.status == PlanStatus.ARCHIVED else {}),
    )


def _grid_rows(
    grids: gpd.GeoDataFrame,
    codes: list[str],
    geoms: list[str],
    community_pks: dict[str, int],
    what: str,
) -> list[dict[str, Any]]:
    households = _counts(grids, C.HOUSEHOLDS, what, C.GRID_CODE)
    population = _counts(grids, C.POPULATION, what, C.GRID_CODE)
    n_units = _counts(grids, C.GRID_UNITS, what, C.GRID_CODE)
    community = _community_keys(grids, C.COMMUNITY, community_pks, what, codes)
    status = _texts(grids, C.STATUS, what, codes, required=True)
    reason = _texts(grids, C.REASON, what, codes)
    names = _texts(grids, _GRID_NAME, what, codes)
    polsby = pd.to_numeric(grids[C.POLSBY_POPPER], errors="coerce").astype(float)
    polsby_values = [None if np.isnan(v) else float(v) for v in polsby]
    return [
        {
            "code": code,
            "name": name,
            "community_id": comm,
            "households": h,
            "population": p,
            "n_units": n,
            "polsby_popper": pp,
            "status": st,
            "reason": rs,
            "geom": g,
        }
        for code, name, comm, h, p, n, pp, st, rs, g in zip(
            codes,
            names,
            community,
            households,
            population,
            n_units,
            polsby_values,
            status,
            reason,
            geoms,
            strict=True,
        )
    ]


def _write_assignment(
    conn: Connection,
    district_id: int,
    plan_id: int,
    unit_ids: list[str],
    codes: list[str],
    counts: tuple[list[int], list[int]] | None = None,
) -> None:
    # One INSERT ... SELECT over arrays: the database maps unit ids and grid codes to keys
    # itself, so 12,000 rows cost one round trip. Counts come with the plan when it has
    # its own, else from the district's units as they stand.
    arrays = [bindparam("unit_ids", unit_ids, type_=ARRAY(Text)), bindparam("codes", codes, type_=ARRAY(Text))]
    names = ["unit_id", "code"]
    if counts is not None:
        arrays += [bindparam("hh", counts[0], type_=ARRAY(Integer)), bindparam("pop", counts[1], type_=ARRAY(Integer))]
        names += ["households", "population"]
    pairs = func.unnest(*arrays).table_valued(*names).render_derived(name="pairs")
    households = pairs.c.households if counts is not None else _unit.c.households
    population = pairs.c.population if counts is not None else _unit.c.population
    query = (
        select(literal(plan_id), _unit.c.id, _grid.c.id, households, population)
        .select_from(pairs)
        .join(_unit, (_unit.c.district_id == district_id) & (_unit.c.unit_id == pairs.c.unit_id))
        .join(_grid, (_grid.c.plan_id == plan_id) & (_grid.c.code == pairs.c.code))
    )
    statement = insert(_assignment).from_select(["plan_id", "unit_id", "grid_id", "households", "population"], query)
    # SQLAlchemy reports rowcount for INSERT only when asked to keep it.
    inserted = conn.execute(statement.execution_options(preserve_rowcount=True)).rowcount
    if inserted == len(unit_ids):
        return
    stored = set(
        conn.execute(
            select(_unit.c.unit_id).where(_unit.c.district_id == district_id, _unit.c.unit_id == _any_text(unit_ids))
        ).scalars()
    )
    positions = [i for i, uid in enumerate(unit_ids) if uid not in stored]
    raise InputError(
        f"the assignment names units that are not stored for district {district_id}; store the "
        "units first (write_units) or drop them from the assignment",
        file="assignment",
        index=positions,
        feature_id=[unit_ids[i] for i in positions],
        field=C.UNIT_ID,
    )


# -- shared helpers --------------------------------------------------------------------------


def _lock_district(conn: Connection, district_id: int) -> None:
    # Serialises writers of one district: two publishes never both see "no published plan".
    found = conn.execute(select(_district.c.id).where(_district.c.id == district_id).with_for_update()).scalar()
    if found is None:
        lookup.district(conn, district_id)  # raises NotFoundError for an unknown district


def _require_columns(frame: pd.DataFrame, required: Sequence[str], what: str) -> None:
    missing = [col for col in required if col not in frame.columns]
    if missing:
        raise InputError(
            f"missing column(s) {missing}; the frame has {list(frame.columns)}. Rename the columns "
            "(gis.columns names them) or add them.",
            file=what,
            field=missing[0],
        )


def _ids(frame: pd.DataFrame, column: str, what: str) -> list[str]:
    """Ids as text, required and unique (as text: 1 and "1" are one id in the store)."""
    values = frame[column]
    texts = values.where(values.isna(), values.astype(str))
    validate_unique_ids(pd.DataFrame({column: texts}), id_field=column, file=what)
    return texts.tolist()


def _texts(frame: pd.DataFrame, column: str, what: str, ids: list[str], *, required: bool = False) -> list:
    if column not in frame.columns:
        return [None] * len(frame)
    values = frame[column]
    missing = values.isna().to_numpy()
    if required and missing.any():
        pos = _positions(missing)
        raise InputError("values are missing", **_at(what, pos, ids, column))
    return [None if m else str(v) for v, m in zip(values, missing, strict=True)]


def _counts(frame: pd.DataFrame, column: str, what: str, id_column: str) -> list[int]:
    checked, _ = validate_counts(frame[[column, id_column]], fields=[column], file=what, id_field=id_column)
    return checked[column].tolist()


def _admin_codes(frame: pd.DataFrame, what: str) -> list[str | None]:
    if C.ADMIN_CODE not in frame.columns:
        return [None] * len(frame)
    return validate_admin_codes(frame, field=C.ADMIN_CODE, file=what, id_field=C.COMMUNITY_ID).tolist()


def _community_keys(
    frame: pd.DataFrame, column: str, community_pks: dict[str, int], what: str, ids: list[str]
) -> list[int | None]:
    names = _texts(frame, column, what, ids)
    unknown = [i for i, name in enumerate(names) if name is not None and name not in community_pks]
    if unknown:
        raise InputError(
            f"community ids not among the district's stored communities: "
            f"{sorted({names[i] for i in unknown})[:10]}; known: {sorted(community_pks)[:10]}. "
            "Store the communities first (write_communities) or fix the ids",
            **_at(what, unknown, ids, column),
        )
    return [None if name is None else community_pks[name] for name in names]


def _in_4326(frame: gpd.GeoDataFrame, what: str) -> gpd.GeoSeries:
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InputError(f"expected a GeoDataFrame with geometries, got {type(frame).__name__}", file=what)
    if frame.crs is None:
        raise MissingCRSError(
            "the frame has no CRS, so its coordinates cannot be placed on the map; set the CRS the "
            "data was made in (GeoDataFrame.set_crs) — commgrid does not guess one",
            file=what,
            field="geometry",
        )
    return frame.geometry.to_crs(SRID)


def _geometries(geoms: gpd.GeoSeries, what: str, ids: list[str]) -> list[str]:
    values = geoms.to_numpy()
    bad = shapely.is_missing(values) | shapely.is_empty(values)
    if bad.any():
        pos = _positions(bad)
        raise GeometryError(
            "geometries are missing or empty; draw them or drop these features",
            **_at(what, pos, ids, "geometry"),
        )
    return _ewkb_hex(values)


def _multipolygons(geoms: gpd.GeoSeries, what: str, ids: list[str]) -> list[str]:
    values = geoms.to_numpy()
    kinds = shapely.get_type_id(values)
    polygon, multipolygon = 3, 6
    bad = ~np.isin(kinds, [polygon, multipolygon]) | shapely.is_empty(values)
    if bad.any():
        pos = _positions(bad)
        found = sorted({str(shapely.get_type_id(values[i])) for i in pos})
        raise GeometryError(
            f"expected polygons; found empty, missing or other geometries (type ids {found}). Fix "
            "or drop these features",
            **_at(what, pos, ids, "geometry"),
        )
    single = kinds == polygon
    values = values.copy()
    if single.any():
        values[single] = shapely.multipolygons(values[single][:, np.newaxis])
    return _ewkb_hex(values)


def _ewkb_hex(values: Sequence[BaseGeometry] | np.ndarray) -> list[str]:
    """Hex EWKB with SRID 4326: GeoAlchemy2 binds it through ST_GeomFromEWKT, which reads it as is."""
    with_srid = shapely.set_srid(np.asarray(values, dtype=object), SRID)
    return shapely.to_wkb(with_srid, hex=True, include_srid=True).tolist()


def _boundary_4326(geom: BaseGeometry | gpd.GeoSeries) -> BaseGeometry:
    what = "district boundary"
    if isinstance(geom, gpd.GeoSeries | gpd.GeoDataFrame):
        series = geom.geometry if isinstance(geom, gpd.GeoDataFrame) else geom
        if series.crs is None:
            raise MissingCRSError(
                "the boundary has no CRS; set it (GeoSeries.set_crs) — commgrid does not guess one",
                file=what,
            )
        geom = series.to_crs(SRID).union_all()
    elif isinstance(geom, BaseGeometry):
        minx, miny, maxx, maxy = geom.bounds if not geom.is_empty else (0, 0, 0, 0)
        if not (-180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90):
            raise MissingCRSError(
                f"a boundary without a CRS must be in longitude/latitude (EPSG:4326), but its bounds "
                f"are {geom.bounds}; pass a GeoSeries with its CRS instead",
                file=what,
            )
    else:
        raise InputError(f"expected a shapely geometry or a GeoSeries, got {type(geom).__name__}", file=what)
    if geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise GeometryError(
            f"the boundary must be a non-empty polygon or multipolygon, got {geom.geom_type}"
            f"{' (empty)' if geom.is_empty else ''}",
            file=what,
        )
    return shapely.multipolygons([geom]) if geom.geom_type == "Polygon" else geom


def _projected_crs(value: str) -> str:
    try:
        crs = CRS.from_user_input(value)
    except CRSError:
        raise InputError(
            f"working_crs {value!r} is not a CRS pyproj knows; give an EPSG code such as 'EPSG:3826'",
            field="working_crs",
        ) from None
    if not crs.is_projected:
        raise InputError(
            f"working_crs {value!r} is not projected, so areas and lengths cannot be measured in it; "
            "give a projected CRS in metres such as 'EPSG:3826' or a UTM zone",
            field="working_crs",
        )
    authority = crs.to_authority()
    return f"{authority[0]}:{authority[1]}" if authority else crs.to_wkt()


def _any_text(values: list[str]) -> Any:
    # "= ANY(array)" sends one parameter; IN (...) would send one per value and hit
    # PostgreSQL's limit of 65,535 parameters on large districts.
    return any_(bindparam(None, values, type_=ARRAY(Text)))


def _at(what: str, positions: list[int], ids: list[str], field: str) -> dict[str, Any]:
    """Where an error is, as the error classes take it: the source, the features and their ids, the field."""
    return {"file": what, "index": positions, "feature_id": [ids[i] for i in positions], "field": field}


def _positions(mask: np.ndarray) -> list[int]:
    return np.flatnonzero(mask).tolist()

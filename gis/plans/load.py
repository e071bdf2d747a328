"""Putting a whole partition output (plan file) into the store in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import bindparam, select, update
from sqlalchemy.engine import Connection

from gis import columns as C
from gis.errors import InputError, MissingCRSError
from gis.plans.files import PlanFiles
from gis.plans.store import write_barriers, write_communities, write_district, write_plan, write_units
from gis.store.models import Community, District, Unit
from gis.validate import refuse_invalid_geometries, validate_counts, validate_vertex_counts

__all__ = ["StoredPlan", "check_plan_files", "store_plan"]


@dataclass(frozen=True)
class StoredPlan:
    """What :func:`store_plan` wrote."""

    district_id: int
    plan_id: int
    plan: str
    new_communities: int
    new_units: int
    grids: int
    published: bool
    removed_units: int = 0  # stored for the district, not in this plan
    changed_units: int = 0  # stored with other counts; the district now holds this plan's


def store_plan(
    conn: Connection,
    files: PlanFiles,
    *,
    plan: str,
    district: str,
    publish: bool,
    params: dict[str, Any] | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    source: str | None = None,
) -> StoredPlan:
    """Store a plan with its district, communities and units, creating what is missing.

    The district is found by name (created when absent, with the grids' union as its
    boundary and the report's metric CRS); communities and units already stored for it
    are kept, new ones are added. The plan keeps the counts of its own units layer, so
    a re-counted district loaded as a new plan leaves earlier plans as they were; the
    district's units take the new counts (what the next re-division starts from). The layers are checked first
    (:func:`check_plan_files`), and everything happens in the caller's transaction, so a
    failure stores nothing.

    Parameters
    ----------
    source
        The plan file, named in errors (with the layer at fault) instead of the layer alone.

    Raises
    ------
    InputError
        When the plan file has no units layer and the district does not hold its units yet,
        and every error of :func:`check_plan_files` and of the store's writers.
    """
    with _named(source):
        check_plan_files(files)
        return _store(conn, files, plan=plan, district=district, publish=publish, params=params, barriers=barriers)


def check_plan_files(files: PlanFiles) -> None:
    """Refuse plan layers the store would choke on, before anything is written.

    The store's writers check ids, codes and geometries; this adds what they would only
    find at the database (counts beyond its integers) or after long work (shapes of
    millions of vertices), and a CRS on every spatial layer.

    Raises
    ------
    MissingCRSError
        For a spatial layer without a CRS.
    GeometryError
        For features over :data:`gis.validate.MAX_VERTICES` vertices, and invalid grids.
    CountError
        For counts that are blank, not whole numbers, negative or beyond 32-bit integers.
    """
    layers = {"grids": (files.grids, C.GRID_CODE), "units": (files.units, C.UNIT_ID)}
    layers["communities"] = (files.communities, C.COMMUNITY_ID)
    for layer, (frame, id_field) in layers.items():
        if frame is None:
            continue
        if frame.crs is None:
            raise MissingCRSError(
                "the layer has no CRS; write the plan again with a partition run",
                file=layer,
                field="geometry",
                see="partition",
            )
        validate_vertex_counts(frame, file=layer, id_field=id_field)
        if layer == "grids":  # the engine's own output: an invalid grid was edited by hand
            refuse_invalid_geometries(frame, file=layer, id_field=id_field)
        counts = [c for c in (C.HOUSEHOLDS, C.POPULATION) if c in frame.columns and layer != "communities"]
        validate_counts(frame, fields=counts, file=layer, id_field=id_field)


@contextmanager
def _named(source: str | None) -> Iterator[None]:
    """Re-raise input errors naming ``source`` (the plan file) and the layer they came from."""
    try:
        yield
    except InputError as exc:
        if source is None or exc.file == source:
            raise
        where = dict(index=exc.index, feature_id=exc.feature_id, field=exc.field)
        prefix = str(InputError("", file=exc.file, **where))
        layer = f"layer {exc.file!r}: " if exc.file is not None else ""
        raise type(exc)(layer + exc.message[len(prefix) :], file=source, **where) from None


def _store(
    conn: Connection,
    files: PlanFiles,
    *,
    plan: str,
    district: str,
    publish: bool,
    params: dict[str, Any] | None,
    barriers: gpd.GeoDataFrame | None,
) -> StoredPlan:
    working_crs = files.report.get("metric_crs") or "EPSG:3857"
    district_id = conn.execute(select(District.id).where(District.name == district)).scalar()
    if district_id is None:
        outline = gpd.GeoSeries([shapely.union_all(files.grids.geometry.values)], crs=files.grids.crs)
        district_id = write_district(conn, name=district, working_crs=working_crs, boundary_geom=outline)
    stored_comm = dict(
        conn.execute(select(Community.community_id, Community.id).where(Community.district_id == district_id)).all()
    )
    communities = _communities(files)
    fresh = communities[~communities[C.COMMUNITY_ID].isin(list(stored_comm))]
    new_pks = write_communities(conn, district_id, fresh) if len(fresh) else {}
    pks = {**stored_comm, **new_pks}
    stored_units = set(conn.execute(select(Unit.unit_id).where(Unit.district_id == district_id)).scalars())
    needed = set(files.assignment[C.UNIT_ID].astype(str))
    new_units = 0
    if needed - stored_units:
        if files.units is None:
            raise InputError(
                f"the plan file has no 'units' layer and district {district!r} lacks {len(needed - stored_units)} "
                "of its units; write the plan with a partition run (which includes them)",
                file="plan",
                see="partition",
                field=C.UNIT_ID,
            )
        units = files.units.copy()
        units[C.UNIT_ID] = units[C.UNIT_ID].astype(str)
        units = units[~units[C.UNIT_ID].isin(stored_units)]
        new_units = write_units(conn, district_id, units, pks)
    if barriers is not None:
        # streets and rivers for maps and posters; the newest set replaces the district's
        write_barriers(conn, district_id, barriers, name_field="name" if "name" in barriers.columns else None)
    assignment, changed = _plan_counts(conn, district_id, files)
    removed = len(stored_units - needed)
    plan_id = write_plan(
        conn,
        district_id=district_id,
        name=plan,
        grids=files.grids,
        assignment=assignment,
        params=params or {},
        report=files.report,
        publish=publish,
    )
    return StoredPlan(district_id, plan_id, plan, len(new_pks), new_units, len(files.grids), publish, removed, changed)


def _plan_counts(conn: Connection, district_id: int, files: PlanFiles) -> tuple[pd.DataFrame, int]:
    """The assignment with the file's own unit counts, and how many stored units it re-counts.

    Stored units whose counts differ take the file's: the district holds the latest counts,
    each plan the ones it was made from.
    """
    assignment = files.assignment.copy()
    assignment[C.UNIT_ID] = assignment[C.UNIT_ID].astype(str)
    if files.units is None or not {C.HOUSEHOLDS, C.POPULATION} <= set(files.units.columns):
        return assignment, 0
    counts = pd.DataFrame(files.units[[C.UNIT_ID, C.HOUSEHOLDS, C.POPULATION]])
    counts[C.UNIT_ID] = counts[C.UNIT_ID].astype(str)
    counts = counts.drop_duplicates(C.UNIT_ID)
    merged = assignment.drop(columns=[C.HOUSEHOLDS, C.POPULATION], errors="ignore").merge(
        counts, on=C.UNIT_ID, how="left"
    )
    if merged[[C.HOUSEHOLDS, C.POPULATION]].isna().any().any():
        return assignment, 0  # the units layer lacks some: the plan takes the stored counts
    stored = conn.execute(
        select(Unit.id, Unit.unit_id, Unit.households, Unit.population).where(Unit.district_id == district_id)
    ).all()
    file_counts = {r[0]: (int(r[1]), int(r[2])) for r in counts.itertuples(index=False)}
    changed = [
        {"pk": row.id, "h": file_counts[row.unit_id][0], "p": file_counts[row.unit_id][1]}
        for row in stored
        if row.unit_id in file_counts and file_counts[row.unit_id] != (row.households, row.population)
    ]
    if changed:
        conn.execute(
            update(Unit.__table__)
            .where(Unit.__table__.c.id == bindparam("pk"))
            .values(households=bindparam("h"), population=bindparam("p")),
            changed,
        )
    return merged, len(changed)


def _communities(files: PlanFiles) -> gpd.GeoDataFrame:
    """The plan's communities; outlines dissolved from grids when the file has none."""
    if files.communities is not None and len(files.communities):
        comm = files.communities.copy()
    else:
        dissolved = files.grids.dissolve(by=C.COMMUNITY).reset_index()
        comm = gpd.GeoDataFrame(
            {C.COMMUNITY_ID: dissolved[C.COMMUNITY].astype(str), C.COMMUNITY_NAME: None, C.ADMIN_CODE: None},
            geometry=dissolved.geometry.values,
            crs=files.grids.crs,
        )
    comm[C.COMMUNITY_ID] = comm[C.COMMUNITY_ID].astype(str)
    if C.COMMUNITY_NAME not in comm.columns:
        comm[C.COMMUNITY_NAME] = None
    names = comm[C.COMMUNITY_NAME]
    comm[C.COMMUNITY_NAME] = names.where(names.notna() & (names.astype(str) != ""), comm[C.COMMUNITY_ID])
    if C.ADMIN_CODE in comm.columns:
        comm[C.ADMIN_CODE] = comm[C.ADMIN_CODE].where(pd.notna(comm[C.ADMIN_CODE]), None)
    comm = comm[comm[C.COMMUNITY_ID].isin(set(files.grids[C.COMMUNITY].astype(str)))]
    comm = comm.set_geometry(shapely.force_2d(comm.geometry.values))
    return comm.reset_index(drop=True)

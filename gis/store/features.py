"""Paged, filtered reads of the served collections as GeoJSON-ready features.

Each collection is a :class:`FeatureSource`: which columns leave the store (only
those its readers may see; grids carry the grid worker's *posted* name and work
phone, nothing else about them), which properties can filter it and which timestamp
``datetime`` applies to. Filtering and paging happen in PostGIS, so a page costs the
same however large the table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, and_, false, func, select, true
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from gis import columns as C
from gis.errors import InputError, NotFoundError
from gis.store import lookup
from gis.store.models import SRID, Barrier, Community, Grid, GridAssignment, GridPlan, GridWorker, Incident, Unit

__all__ = [
    "COMMUNITY_SOURCE",
    "GRID_SOURCE",
    "INCIDENT_SOURCE",
    "PUBLIC_COMMUNITY_FIELDS",
    "PUBLIC_GRID_FIELDS",
    "STREET_SOURCE",
    "UNIT_SOURCE",
    "FeaturePage",
    "FeatureSource",
    "TimeFilter",
    "community_feature",
    "community_features",
    "feature",
    "features",
    "grid_feature",
    "grid_features",
    "plan_extent",
]

PUBLIC_COMMUNITY_FIELDS = ("community_id", "name", "admin_code")
PUBLIC_GRID_FIELDS = (
    "code",
    "name",
    "community",
    "community_name",
    "households",
    "population",
    "status",
    "worker",
    "worker_phone",
)

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class TimeFilter:
    """An instant (``start == end``) or an interval; ``None`` ends are open."""

    start: datetime | None
    end: datetime | None

    @property
    def instant(self) -> bool:
        return self.start is not None and self.start == self.end


@dataclass(frozen=True)
class FeaturePage:
    """One page of features as GeoJSON-ready dicts (geometry still JSON text), with the total.

    ``plans`` names the plans read (one per district); ``plan`` is the name when there is one.
    """

    plans: list[str]
    plan_status: str
    features: list[dict]
    number_matched: int

    @property
    def plan(self) -> str | None:
        return self.plans[0] if len(self.plans) == 1 else None


@dataclass(frozen=True)
class FeatureSource:
    """How one collection is read: ``fields`` are the properties its query selects, the id first."""

    fields: tuple[str, ...]
    query: Callable[[list[Any]], Select]  # plan rows -> SELECT of fields + geometry (GeoJSON text)
    geom: Any  # the geometry column, for bbox
    filters: tuple[str, ...] = ()  # the fields a request may filter on (each the query's selected column)
    time: ColumnElement | None = None  # what datetime= filters; None: no time
    time_is_plan: bool = False  # datetime= picks the plan valid at that instant

    @property
    def id_field(self) -> str:
        return self.fields[0]


def _ids(plans: list[Any]) -> list[int]:
    return [p.id for p in plans]


def _districts(plans: list[Any]) -> list[int]:
    return sorted({p.district_id for p in plans})


def _grids(plans: list[Any]) -> Select:
    worker = (
        select(GridWorker.name, GridWorker.work_phone)
        .where(
            GridWorker.district_id == GridPlan.district_id,
            GridWorker.grid_code == Grid.code,
            GridWorker.active,
        )
        .order_by(GridWorker.id)
        .limit(1)
        .lateral("w")
    )
    return (
        select(
            Grid.code,
            Grid.name,
            Community.community_id.label(C.COMMUNITY),
            Community.name.label("community_name"),
            Grid.households,
            Grid.population,
            Grid.status,
            worker.c.name.label("worker"),
            worker.c.work_phone.label("worker_phone"),
            func.ST_AsGeoJSON(Grid.geom, 7).label("geometry"),
        )
        .select_from(Grid)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .outerjoin(Community, Grid.community_id == Community.id)
        .outerjoin(worker, true())
        .where(Grid.plan_id.in_(_ids(plans)))
    )


def _communities(plans: list[Any]) -> Select:
    return select(
        Community.community_id,
        Community.name,
        Community.admin_code,
        func.ST_AsGeoJSON(Community.geom, 7).label("geometry"),
    ).where(Community.district_id.in_(_districts(plans)))


def _streets(plans: list[Any]) -> Select:
    return select(
        Barrier.id,
        Barrier.name,
        Barrier.barrier_class.label("class"),
        func.ST_AsGeoJSON(Barrier.geom, 7).label("geometry"),
    ).where(Barrier.district_id.in_(_districts(plans)))


def _units(plans: list[Any]) -> Select:
    # a unit's counts as the plan has them (each plan keeps its own); the district's otherwise
    return (
        select(
            Unit.unit_id,
            func.coalesce(GridAssignment.households, Unit.households).label("households"),
            func.coalesce(GridAssignment.population, Unit.population).label("population"),
            Unit.compound,
            Community.community_id.label(C.COMMUNITY),
            Grid.code.label("grid"),
            func.ST_AsGeoJSON(Unit.geom, 7).label("geometry"),
        )
        .select_from(Unit)
        .outerjoin(Community, Unit.community_id == Community.id)
        .outerjoin(GridAssignment, and_(GridAssignment.unit_id == Unit.id, GridAssignment.plan_id.in_(_ids(plans))))
        .outerjoin(Grid, Grid.id == GridAssignment.grid_id)
        .where(Unit.district_id.in_(_districts(plans)))
    )


def _incidents(plans: list[Any]) -> Select:
    # reporter columns are personal data: not served as features (issue of incidents decides who may).
    # An incident's grid is the one of the plans read that covers its point (the lowest id,
    # as at intake): it follows the plan in force rather than the plan it came in under.
    placed = (
        select(Grid.code)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(
            Grid.plan_id.in_(_ids(plans)),
            GridPlan.district_id == Incident.district_id,
            func.ST_Covers(Grid.geom, Incident.geom),
        )
        .order_by(Grid.id)
        .limit(1)
        .lateral("placed")
    )
    return (
        select(
            Incident.id,
            Incident.category,
            Incident.handling_class,
            Incident.status,
            Incident.reported_at,
            placed.c.code.label("grid"),
            func.ST_AsGeoJSON(Incident.geom, 7).label("geometry"),
        )
        .select_from(Incident)
        .outerjoin(placed, true())
        .where(Incident.district_id.in_(_districts(plans)))
    )


GRID_SOURCE = FeatureSource(
    fields=PUBLIC_GRID_FIELDS,
    query=_grids,
    geom=Grid.geom,
    filters=("code", "name", "community", "status"),
    time_is_plan=True,
)
COMMUNITY_SOURCE = FeatureSource(
    fields=PUBLIC_COMMUNITY_FIELDS,
    query=_communities,
    geom=Community.geom,
    filters=("community_id", "name", "admin_code"),
)
# streets, rivers and railways the store keeps for maps and posters (public: they are on every map)
STREET_SOURCE = FeatureSource(
    fields=("id", "name", "class"), query=_streets, geom=Barrier.geom, filters=("id", "name", "class")
)
UNIT_SOURCE = FeatureSource(
    fields=("unit_id", "households", "population", "compound", "community", "grid"),
    query=_units,
    geom=Unit.geom,
    filters=("unit_id", "compound", "community", "grid"),
)
INCIDENT_SOURCE = FeatureSource(
    fields=("id", "category", "handling_class", "status", "reported_at", "grid"),
    query=_incidents,
    geom=Incident.geom,
    filters=("id", "category", "handling_class", "status", "grid"),
    time=Incident.reported_at,
)


def _feature(source: FeatureSource, r: Any) -> dict:
    props = {}
    for k in source.fields:
        v = r[k]
        props[k] = v.isoformat() if isinstance(v, datetime) else v
    return {"type": "Feature", "id": r[source.id_field], "geometry": r["geometry"], "properties": props}


def _conditions(source: FeatureSource, filters: dict[str, str], query: Select) -> list[ColumnElement]:
    out = []
    for name, value in filters.items():
        if name not in source.filters:
            known = ", ".join(source.filters) or "none"
            raise InputError(f"unknown property filter {name!r}; this collection filters on: {known}", field=name)
        column = query.selected_columns[name]
        if isinstance(column.type, Integer):
            try:
                number = int(value)
            except ValueError:
                raise InputError(f"{name} must be a whole number, got {value!r}", field=name) from None
            # beyond the column's range nothing can match; asking PostgreSQL would be an error
            out.append(column == number if -(2**31) <= number < 2**31 else false())
        else:
            out.append(column == value)
    return out


def features(
    conn: Connection,
    source: FeatureSource,
    *,
    plan: str | None = None,
    district: str | None = None,
    private: bool = False,
    bbox: BBox | None = None,
    filters: dict[str, str] | None = None,
    time: TimeFilter | None = None,
    limit: int = 1000,
    offset: int = 0,
) -> FeaturePage:
    """One page of a collection's features.

    Parameters
    ----------
    source
        The collection (the ``source`` of one in :data:`tiles.catalogue.CATALOGUE`).
    plan
        Plan name; ``None`` for every published plan (or, with ``time`` on grids, the plans
        published at that instant).
    district
        Only this district (name or id).
    private
        The reader may name drafts and archived plans (planners); see
        :func:`gis.store.lookup.plans`.
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)`` in EPSG:4326; only features intersecting it.
    filters
        Property name → exact value; names must be among the source's filters.
    time
        An instant or interval matched against the source's timestamp.
    limit, offset
        The page.

    Raises
    ------
    InputError
        For an unknown filter, a value of the wrong type, or a time filter on a
        collection without time.
    NotFoundError
        For an unknown plan or district, or no plan published (at that time).
    """
    plans = _plans_for(conn, source, time, plan=plan, district=district, private=private)
    query = source.query(plans)
    where = _conditions(source, filters or {}, query)
    if bbox is not None:
        where.append(func.ST_Intersects(source.geom, func.ST_MakeEnvelope(*bbox, SRID)))
    if time is not None and source.time is not None:
        if time.start is not None:
            where.append(source.time >= time.start)
        if time.end is not None:
            where.append(source.time <= time.end)
    query = query.where(*where)
    matched = conn.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = conn.execute(query.order_by(query.selected_columns[source.id_field]).limit(limit).offset(offset)).mappings()
    status = ",".join(sorted({p.status for p in plans}))
    return FeaturePage([p.name for p in plans], status, [_feature(source, r) for r in rows], int(matched))


def feature(
    conn: Connection,
    source: FeatureSource,
    feature_id: str,
    *,
    plan: str | None = None,
    district: str | None = None,
    private: bool = False,
) -> dict:
    """One feature by id, among the plans :func:`features` would read given ``plan``, ``district`` and ``private``.

    Raises
    ------
    NotFoundError
        When there is no such feature.
    """
    query = source.query(_plans_for(conn, source, None, plan=plan, district=district, private=private))
    where = _conditions(source, {source.id_field: feature_id}, query) if source.id_field in source.filters else []
    r = conn.execute(query.where(*where).order_by(query.selected_columns[source.id_field])).mappings().first()
    if r is None:
        raise NotFoundError(f"no feature {feature_id!r} in this collection")
    return _feature(source, r)


def _plans_for(
    conn: Connection,
    source: FeatureSource,
    time: TimeFilter | None,
    *,
    plan: str | None = None,
    district: str | None = None,
    private: bool = False,
) -> list[Any]:
    at = None
    if time is not None and source.time is None:
        if not source.time_is_plan:
            raise InputError("this collection has no time; drop the datetime parameter", field="datetime")
        if not time.instant:
            raise InputError(
                "for grids, datetime must be one instant (the plans published then), not an interval",
                field="datetime",
            )
        at = time.start
    return lookup.plans(conn, plan=plan, district=district, at=None if plan is not None else at, private=private)


def grid_features(conn: Connection, **kwargs: Any) -> FeaturePage:
    """Grids of a plan (the published one by default); see :func:`features`."""
    return features(conn, GRID_SOURCE, **kwargs)


def community_features(conn: Connection, **kwargs: Any) -> FeaturePage:
    """Communities of a plan's district; see :func:`features`."""
    return features(conn, COMMUNITY_SOURCE, **kwargs)


def grid_feature(conn: Connection, code: str, **kwargs: Any) -> dict:
    """One grid by code; see :func:`feature`."""
    return feature(conn, GRID_SOURCE, code, **kwargs)


def community_feature(conn: Connection, community_id: str, **kwargs: Any) -> dict:
    """One community by id; see :func:`feature`."""
    return feature(conn, COMMUNITY_SOURCE, community_id, **kwargs)


def plan_extent(
    conn: Connection, *, plan: str | None = None, district: str | None = None, private: bool = False
) -> tuple[list[str], list[float] | None]:
    """The names of the plans read and the lon/lat bounding box of their grids (``None`` when none)."""
    plans = lookup.plans(conn, plan=plan, district=district, private=private)
    box = conn.execute(
        select(
            func.ST_XMin(func.ST_Extent(Grid.geom)),
            func.ST_YMin(func.ST_Extent(Grid.geom)),
            func.ST_XMax(func.ST_Extent(Grid.geom)),
            func.ST_YMax(func.ST_Extent(Grid.geom)),
        ).where(Grid.plan_id.in_([p.id for p in plans]))
    ).first()
    names = [p.name for p in plans]
    if box is None or box[0] is None:
        return names, None
    return names, [float(v) for v in box]

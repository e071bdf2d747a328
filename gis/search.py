"""What a resident types into the public page's search box: part of a grid code, a community or a street name.

:func:`search_public` looks through the published plans only and returns nothing a
poster does not already print: grid codes and names, community names and ids, street
names, each with the box to show on the map. Matching is by substring, case-insensitive,
best first: exact, then prefix, then anywhere, shorter before longer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import Select, case, func, select
from sqlalchemy.engine import Connection

from gis.errors import InputError
from gis.store.models import Barrier, Community, District, Grid, GridPlan, PlanStatus

__all__ = ["MAX_QUERY_CHARS", "SearchHit", "search_public"]

MAX_QUERY_CHARS = 100


@dataclass(frozen=True)
class SearchHit:
    """One thing the search found."""

    kind: str  # "grid" | "community" | "street"
    id: str  # grid code, community id, or street name
    label: str  # what the list shows
    detail: str  # the community (grids), the district (communities, streets)
    bbox: list[float]  # lon/lat: west, south, east, north

    def as_dict(self) -> dict:
        return asdict(self)


def _like(q: str) -> str:
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _rank(column, q: str):
    lowered = func.lower(column)
    return case(
        (lowered == q.lower(), 0),
        (lowered.startswith(q.lower(), autoescape=True), 1),
        else_=2,
    )


def _box(geom) -> list:
    return [func.ST_XMin(geom), func.ST_YMin(geom), func.ST_XMax(geom), func.ST_YMax(geom)]


def _published(district: str | None) -> Select:
    query = select(GridPlan.id, GridPlan.district_id).where(GridPlan.status == PlanStatus.PUBLISHED)
    if district is not None:
        query = query.join(District, District.id == GridPlan.district_id).where(District.name == district)
    return query


def search_public(conn: Connection, q: str, *, limit: int = 10, district: str | None = None) -> list[SearchHit]:
    """Grids, communities and streets of the published plans matching ``q``, at most ``limit`` of each kind.

    Raises
    ------
    InputError
        For an empty query or one longer than :data:`MAX_QUERY_CHARS`.
    """
    text = " ".join((q or "").split())
    if not text:
        raise InputError("type part of a grid code, a community or a street name", field="q")
    if len(text) > MAX_QUERY_CHARS:
        raise InputError(f"the query has {len(text)} characters; at most {MAX_QUERY_CHARS}", field="q")
    like = _like(text)
    plans = _published(district).subquery()
    grid_name = func.coalesce(Grid.name, "")
    grids = conn.execute(
        select(Grid.code, Grid.name, Community.name.label("community"), *_box(Grid.geom))
        .join(plans, plans.c.id == Grid.plan_id)
        .outerjoin(Community, Community.id == Grid.community_id)
        .where(Grid.code.ilike(like, escape="\\") | grid_name.ilike(like, escape="\\"))
        .order_by(func.least(_rank(Grid.code, text), _rank(grid_name, text)), func.length(Grid.code), Grid.code)
        .limit(limit)
    ).all()
    communities = conn.execute(
        select(Community.community_id, Community.name, District.name.label("district"), *_box(Community.geom))
        .join(District, District.id == Community.district_id)
        .where(
            Community.district_id.in_(select(plans.c.district_id)),
            Community.name.ilike(like, escape="\\")
            | Community.community_id.ilike(like, escape="\\")
            | func.coalesce(Community.admin_code, "").ilike(like, escape="\\"),
        )
        .order_by(_rank(Community.name, text), func.length(Community.name), Community.name)
        .limit(limit)
    ).all()
    extent = func.ST_Extent(Barrier.geom)
    streets = conn.execute(
        select(
            Barrier.name,
            func.min(District.name).label("district"),
            func.ST_XMin(extent),
            func.ST_YMin(extent),
            func.ST_XMax(extent),
            func.ST_YMax(extent),
        )
        .join(District, District.id == Barrier.district_id)
        .where(Barrier.district_id.in_(select(plans.c.district_id)), Barrier.name.ilike(like, escape="\\"))
        .group_by(Barrier.name, Barrier.district_id)
        .order_by(_rank(Barrier.name, text), func.length(Barrier.name), Barrier.name)
        .limit(limit)
    ).all()
    hits = [
        SearchHit("grid", r.code, f"{r.name} · {r.code}" if r.name else r.code, r.community or "", _floats(r[3:]))
        for r in grids
    ]
    hits += [SearchHit("community", r.community_id, r.name, r.district, _floats(r[3:])) for r in communities]
    hits += [SearchHit("street", r.name, r.name, r.district, _floats(r[2:])) for r in streets]
    return hits


def _floats(values) -> list[float]:
    return [round(float(v), 7) for v in values]

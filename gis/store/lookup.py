"""Which district, plan or grid a request means: one set of rules and one wording for every domain.

A caller names a district by its name or id, a plan by its name, or leaves either out
when the store holds only one that fits; a point resolves to the published grid covering
it. Every function takes an open connection and raises typed errors that carry the field
the caller should fill in (:class:`AmbiguousError`), never a command-line flag or a URL:
the edge that catches the error (``api/errors.py``, the CLI's ``handle_errors``) says how
to give that field in its own language.

Examples
--------
>>> with connect(engine) as conn:  # doctest: +SKIP
...     row = district(conn, "Daan")
...     published = plan(conn, None, row.id)
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.engine import Connection

from gis.errors import AmbiguousError, NotFoundError
from gis.store.models import SRID, District, Grid, GridPlan, PlanStatus

__all__ = [
    "VISIBLE_PLANS_SQL",
    "AmbiguousError",
    "district",
    "district_id",
    "grid_code_at",
    "grid_communities_sql",
    "plan",
    "plan_at",
    "plans",
    "unknown_grid_codes",
]

_SHOWN_PLANS = 20  # enough to spot the one meant; the rest are counted


def district(conn: Connection, name: str | int | None = None) -> Any:
    """The district with this name or id (a number or its text), or the only one stored when ``name`` is ``None``.

    Returns
    -------
    Row
        ``id``, ``name``, ``working_crs``.

    Raises
    ------
    NotFoundError
        For an unknown name or id (naming no other district), or when none is stored.
    AmbiguousError
        When ``name`` is ``None`` and several districts are stored (field ``district``).
    """
    rows = conn.execute(select(District.id, District.name, District.working_crs).order_by(District.id)).all()
    if name is not None:
        # a name first; then an id, given as a number or as its text (a query parameter)
        for row in rows:
            if row.name == name:
                return row
        for row in rows:
            if str(row.id) == str(name):
                return row
        what = f"with id {name}" if isinstance(name, int) else repr(name)
        raise NotFoundError(f"no district {what}")  # names no other: a 404 tells nothing not asked for
    if not rows:
        raise NotFoundError("no district is stored yet; load a plan first")
    if len(rows) > 1:
        raise AmbiguousError(f"{len(rows)} districts are stored ({_districts(rows)}); name one", field="district")
    return rows[0]


def district_id(conn: Connection, name: str | int | None = None) -> int:
    """The id of :func:`district`'s answer; the same rules and errors."""
    return district(conn, name).id


def plan(conn: Connection, name: str | None = None, district_id: int | None = None) -> Any:
    """One plan for planners' work: the plan named ``name`` (drafts and archived plans too), or
    the published one when ``name`` is ``None``; see :func:`plans` for the rules.

    Parameters
    ----------
    district_id
        Only this district's plans; needed with ``name=None`` when several districts have
        a published plan.

    Returns
    -------
    Row
        ``id``, ``name``, ``district_id``, ``status``.

    Raises
    ------
    NotFoundError
        For an unknown name, or when no plan is published. The message names no other plan.
    AmbiguousError
        When ``name`` is ``None`` and several districts have a published plan (field ``district``).
    """
    rows = plans(conn, plan=name, district=district_id, private=True)
    if len(rows) > 1:
        raise AmbiguousError(f"several districts have a published plan: {_plans(rows)}; name one", field="district")
    return rows[0]


# Which plans a read is about. Every rule of plan visibility lives here, once in Python (plans) and once in SQL
# (VISIBLE_PLANS_SQL, for the tile statement), side by side so they cannot drift apart:
# - by default a read is about every published plan: the city is the union of its districts;
# - ``district`` (a name, or an id as text) narrows to one district;
# - ``plan`` names one plan; drafts and archived plans are visible to planners only, and to
#   anyone else a plan they may not see is as unknown as a plan that does not exist;
# - ``at`` picks the plans that were published at that instant (public history);
# - a 404 names nothing but what was asked for.

VISIBLE_PLANS_SQL = """
    SELECT p.id, p.district_id FROM grid_plan AS p
    WHERE CASE WHEN %(plan)s::text IS NULL THEN p.status = 'published'
               ELSE p.name = %(plan)s::text AND (%(private)s::boolean OR p.status = 'published') END
      AND (%(district)s::text IS NULL OR p.district_id IN (
            SELECT d.id FROM district AS d WHERE d.name = %(district)s::text OR d.id::text = %(district)s::text))
"""


def grid_communities_sql(where: str) -> str:
    """A ``SELECT`` of each grid code with its community, one row per ``(district_id, code)`` that ``where`` keeps.

    The one rule of which community a grid (and a worker posted to it) belongs to: the grid
    of the district's published plan, else of the plan that had the code most recently (a
    worker's grid may have been dropped by a later plan), ties going to the newest plan.

    Parameters
    ----------
    where
        A SQL condition on ``p`` (``grid_plan``) and ``g`` (``grid``), e.g.
        ``"p.district_id = :d"``; it may name columns of an enclosing ``LATERAL`` query.

    Returns
    -------
    str
        SQL selecting ``district_id``, ``code``, ``community_district`` and ``community_id``
        (the community's id in the source data; both ``NULL`` for a grid without a community),
        to be used as a subquery or a ``WITH`` query.
    """
    return f"""
        SELECT DISTINCT ON (p.district_id, g.code)
               p.district_id, g.code, c.district_id AS community_district, c.community_id
        FROM grid AS g JOIN grid_plan AS p ON p.id = g.plan_id
        LEFT JOIN community AS c ON c.id = g.community_id
        WHERE {where}
        ORDER BY p.district_id, g.code, (p.status = 'published') DESC, p.valid_from DESC NULLS LAST, p.id DESC
    """


def plans(
    conn: Connection,
    *,
    plan: str | None = None,
    district: str | int | None = None,
    at: datetime | None = None,
    private: bool = False,
) -> list[Any]:
    """The plans a read is about (rows with ``id``, ``name``, ``district_id``, ``status``), by district.

    Parameters
    ----------
    plan
        One plan by name; ``None`` for the published plans (of every district).
    district
        Only this district (name or id).
    at
        With ``plan=None``: the plans that were published at this instant.
    private
        The reader may see drafts and archived plans by name (planners).

    Raises
    ------
    NotFoundError
        When nothing matches: an unknown district, a plan that does not exist or that the
        reader may not see, or no published plan. The message names no other plan.
    """
    did = None if district is None else district_id(conn, district)
    query = select(GridPlan.id, GridPlan.name, GridPlan.district_id, GridPlan.status).order_by(
        GridPlan.district_id, GridPlan.id
    )
    if did is not None:
        query = query.where(GridPlan.district_id == did)
    where = "" if district is None else f" in district {str(district)!r}"
    if plan is not None:
        query = query.where(GridPlan.name == plan)
        if not private:
            query = query.where(GridPlan.status == PlanStatus.PUBLISHED)
        rows = conn.execute(query).all()
        if not rows:
            raise NotFoundError(f"no plan named {plan!r}{where}")
        return rows
    if at is not None:
        query = query.where(
            GridPlan.status.in_((PlanStatus.PUBLISHED, PlanStatus.ARCHIVED)),
            GridPlan.valid_from <= at,
            (GridPlan.valid_to.is_(None)) | (GridPlan.valid_to > at),
        )
        rows = conn.execute(query).all()
        if not rows:
            raise NotFoundError(f"no plan was published{where} at {at.isoformat()}")
        return rows
    rows = conn.execute(query.where(GridPlan.status == PlanStatus.PUBLISHED)).all()
    if not rows:
        raise NotFoundError(f"no plan is published{where}")
    return rows


def plan_at(conn: Connection, at: datetime, district_id: int | None = None) -> Any:
    """The plan that was in force (published) at instant ``at``: a row as :func:`plan` returns.

    Raises :class:`NotFoundError` when no plan was published then, :class:`AmbiguousError`
    when ``district_id`` is ``None`` and several districts had a published plan then.
    """
    query = select(GridPlan.id, GridPlan.name, GridPlan.district_id, GridPlan.status).where(
        GridPlan.status.in_((PlanStatus.PUBLISHED, PlanStatus.ARCHIVED)),
        GridPlan.valid_from <= at,
        or_(GridPlan.valid_to.is_(None), GridPlan.valid_to > at),
    )
    if district_id is not None:
        query = query.where(GridPlan.district_id == district_id)
    rows = conn.execute(query.order_by(GridPlan.valid_from.desc())).all()
    if not rows:
        where = "" if district_id is None else f" in district {district_id}"
        raise NotFoundError(f"no plan was published at {at.isoformat()}{where}")
    if district_id is None and len(rows) > 1:
        raise AmbiguousError(
            f"several districts had a published plan at {at.isoformat()}: {_plans(rows)}; name one",
            field="plan",
        )
    return rows[0]


def grid_code_at(conn: Connection, lon: float, lat: float) -> str:
    """The code of the published grid at a point (longitude, latitude in EPSG:4326).

    Raises
    ------
    NotFoundError
        When no grid of a published plan covers the point.
    """
    point = func.ST_SetSRID(func.ST_MakePoint(lon, lat), SRID)
    code = conn.execute(
        select(Grid.code)
        .join(GridPlan, GridPlan.id == Grid.plan_id)
        .where(GridPlan.status == PlanStatus.PUBLISHED, func.ST_Intersects(Grid.geom, point))
        .order_by(Grid.code)
        .limit(1)
    ).scalar()
    if code is None:
        raise NotFoundError(f"no grid of a published plan covers longitude {lon}, latitude {lat}")
    return code


def _districts(rows: list[Any]) -> str:
    return ", ".join(repr(r.name) for r in rows) or "none yet"


def _plans(rows: list[Any]) -> str:
    return ", ".join(f"{r.name!r} (district {r.district_id})" for r in rows)


def _available_plans(conn: Connection, district_id: int | None = None) -> str:
    query = (
        select(GridPlan.name, GridPlan.status, District.name.label("district"))
        .join(District, District.id == GridPlan.district_id)
        .order_by(GridPlan.district_id, GridPlan.created_at, GridPlan.id)
    )
    if district_id is not None:
        query = query.where(GridPlan.district_id == district_id)
    plans = conn.execute(query).all()
    if not plans:
        return "No plans are stored yet."
    shown = ", ".join(f"{p.name!r} ({p.status}, district {p.district!r})" for p in plans[:_SHOWN_PLANS])
    more = f" and {len(plans) - _SHOWN_PLANS} more" if len(plans) > _SHOWN_PLANS else ""
    return f"Available plans: {shown}{more}."


def unknown_grid_codes(conn: Connection, district_id: int, codes: Collection[str]) -> list[str]:
    """The ``codes`` that name no grid of any plan of the district, in order (codes outlive plans)."""
    known = set(
        conn.execute(
            text(
                "SELECT DISTINCT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id "
                "WHERE p.district_id = :d AND g.code = ANY(:codes)"
            ),
            {"d": district_id, "codes": list(codes)},
        ).scalars()
    )
    return [c for c in codes if c not in known]

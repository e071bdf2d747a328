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

from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.engine import Connection

from gis.errors import AmbiguousError, NotFoundError
from gis.store.models import SRID, District, Grid, GridPlan, PlanStatus

__all__ = ["AmbiguousError", "district", "district_id", "grid_code_at", "plan", "plan_at"]

_SHOWN_PLANS = 20  # enough to spot the one meant; the rest are counted


def district(conn: Connection, name: str | int | None = None) -> Any:
    """The district with this name or id, or the only one stored when ``name`` is ``None``.

    Returns
    -------
    Row
        ``id``, ``name``, ``working_crs``.

    Raises
    ------
    NotFoundError
        For an unknown name or id (the message lists the stored districts), or when none is stored.
    AmbiguousError
        When ``name`` is ``None`` and several districts are stored (field ``district``).
    """
    rows = conn.execute(select(District.id, District.name, District.working_crs).order_by(District.id)).all()
    if name is not None:
        for row in rows:
            if row.name == name or (isinstance(name, int) and row.id == name):
                return row
        what = f"with id {name}" if isinstance(name, int) else repr(name)
        raise NotFoundError(f"no district {what}; stored districts: {_districts(rows)}")
    if not rows:
        raise NotFoundError("no district is stored yet; load a plan first")
    if len(rows) > 1:
        raise AmbiguousError(f"{len(rows)} districts are stored ({_districts(rows)}); name one", field="district")
    return rows[0]


def district_id(conn: Connection, name: str | int | None = None) -> int:
    """The id of :func:`district`'s answer; the same rules and errors."""
    return district(conn, name).id


def plan(conn: Connection, name: str | None = None, district_id: int | None = None) -> Any:
    """The plan named ``name``, or the published one when ``name`` is ``None``.

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
        For an unknown name, or when no plan is published (the message lists the plans).
    AmbiguousError
        When ``name`` is ``None`` and several districts have a published plan (field ``plan``).
    """
    query = select(GridPlan.id, GridPlan.name, GridPlan.district_id, GridPlan.status)
    if district_id is not None:
        query = query.where(GridPlan.district_id == district_id)
    if name is not None:
        row = conn.execute(query.where(GridPlan.name == name)).first()
        if row is None:
            where = "" if district_id is None else f" in district {district_id}"
            raise NotFoundError(f"no plan named {name!r}{where}. {_available_plans(conn, district_id)}")
        return row
    rows = conn.execute(query.where(GridPlan.status == PlanStatus.PUBLISHED)).all()
    if not rows:
        where = "" if district_id is None else f" for district {district_id}"
        raise NotFoundError(
            f"no plan is published{where}. {_available_plans(conn, district_id)} Name a plan, or publish one."
        )
    if len(rows) > 1:
        raise AmbiguousError(f"several districts have a published plan: {_plans(rows)}; name one", field="plan")
    return rows[0]


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

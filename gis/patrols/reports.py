"""What supervisors read about patrols: compliance, tracks, calendars, weekly reports.

PERSONAL DATA. Every reader takes a ``scope``: ``None`` for planners and admins, who
see every grid, or a team member's :class:`gis.store.scope.Reach` (a grid worker's own
record, a grid leader's led grids, a community's grids), outside which nothing is
returned; the condition is part of each query. A grid leader's led grids are the
supervisor links kept here (:func:`add_supervisor`).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection

from gis import clock
from gis.errors import InputError, NotFoundError
from gis.incidents.store import GRID_IN_FORCE
from gis.patrols.analysis import COMPLIANCE_COLUMNS
from gis.patrols.columns import DAY, WORKER_ID
from gis.store import lookup
from gis.store.models import AppUser, PatrolSupervisor
from gis.store.scope import Reach, worker_condition
from gis.store.users import link_grids
from gis.worklog.store import SUMMARY_FIELDS, add_log_summary

__all__ = [
    "COMPLIANCE_FIELDS",
    "WEEKLY_FIELDS",
    "Scope",
    "WeeklyReport",
    "add_supervisor",
    "list_supervisors",
    "parse_month",
    "parse_week",
    "read_calendar",
    "read_compliance",
    "read_tracks",
    "remove_supervisor",
    "supervised_grids",
    "weekly_report",
]

# None: every worker (planners, admins); a Reach (gis.store.scope): a team member's; a bare
# set of (district_id, grid_code) pairs: those grids' workers
Scope = Reach | frozenset[tuple[int, str]] | None

# Each grid code of the district with its community (gis.store.lookup's rule): a worker's
# grid may have been dropped by a later plan.
_GRID_COMMUNITIES = f"grids AS ({lookup.grid_communities_sql('p.district_id = :d')})"

# who and where, then the measures of one day as the analysis stores them
_MEASURES = [c for c in COMPLIANCE_COLUMNS if c not in (WORKER_ID, DAY, "grid_code", "compliant")]
COMPLIANCE_FIELDS = ["day", "worker_id", "worker", "grid_code", "community", "analysed", "compliant", *_MEASURES]

WEEKLY_FIELDS = [
    "community",
    "grid_code",
    "worker_id",
    "worker",
    "days_compliant",
    "days_with_tracks",
    "patrols",
    "visits",
    "long_visits",
    "visit_hours",
    "distance_km",
    "coverage_mean",
    "incidents_reported",
    "incidents_handled",
    *SUMMARY_FIELDS,  # each worker's work log (gis.worklog): entries per kind, days with a log, reviewed
]

_supervisor = PatrolSupervisor.__table__
_user = AppUser.__table__


# -- supervisors ------------------------------------------------------------------------------


def _user_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(_user.c.id).where(_user.c.name == name)).scalar()
    if found is None:
        raise NotFoundError(f"no user named {name!r}; add them as a grid leader", see="add_grid_leader")
    return found


def add_supervisor(conn: Connection, user: str, *, district_id: int, grid_codes: Collection[str]) -> int:
    """Let the grid leader ``user`` lead these grids too (see their workers' tracks, compliance, incidents).

    Returns the links added. Only grid leaders lead grids: planners and admins see every
    grid already, analysts see no worker's personal data, other team roles have their own
    scope.

    Raises
    ------
    NotFoundError
        For an unknown user or a grid code in no plan of the district.
    InputError
        For a user who is not a grid leader.
    """
    uid = _user_id(conn, user)
    role = conn.execute(select(_user.c.role).where(_user.c.id == uid)).scalar_one()
    if role != "grid_leader":
        raise InputError(
            f"user {user!r} is {role}: only a grid_leader leads grids (planners and admins see every grid already, "
            "analysts no worker's personal data); add one",
            field="user",
            see="add_grid_leader",
        )
    return link_grids(conn, uid, district_id, grid_codes)


def remove_supervisor(
    conn: Connection, user: str, *, district_id: int, grid_codes: Collection[str] | None = None
) -> int:
    """Remove ``user``'s links to these grids (all of the district's when ``None``); returns links removed."""
    uid = _user_id(conn, user)
    query = delete(_supervisor).where(_supervisor.c.user_id == uid, _supervisor.c.district_id == district_id)
    if grid_codes is not None:
        query = query.where(_supervisor.c.grid_code.in_(list(grid_codes)))
    return conn.execute(query).rowcount


def list_supervisors(conn: Connection, *, district_id: int | None = None) -> list[tuple[str, int, str]]:
    """``(user, district_id, grid_code)`` links, by user and grid."""
    query = (
        select(_user.c.name, _supervisor.c.district_id, _supervisor.c.grid_code)
        .join(_user, _user.c.id == _supervisor.c.user_id)
        .order_by(_user.c.name, _supervisor.c.district_id, _supervisor.c.grid_code)
    )
    if district_id is not None:
        query = query.where(_supervisor.c.district_id == district_id)
    return [tuple(r) for r in conn.execute(query)]


def supervised_grids(conn: Connection, user: str) -> frozenset[tuple[int, str]]:
    """The ``(district_id, grid_code)`` pairs ``user`` supervises (empty when none or unknown)."""
    rows = conn.execute(
        select(_supervisor.c.district_id, _supervisor.c.grid_code)
        .join(_user, _user.c.id == _supervisor.c.user_id)
        .where(_user.c.name == user)
    )
    return frozenset((int(d), str(c)) for d, c in rows)


def _filters(conn: Connection, district_id: int, community: str | None, scope: Scope) -> tuple[str, dict[str, Any]]:
    """The condition keeping workers of ``scope``, after checking that the district has ``community``."""
    if community is not None:
        _check_community(conn, district_id, community)
    return _scope_sql(scope)


def _scope_sql(scope: Scope, alias: str = "gw") -> tuple[str, dict[str, Any]]:
    """A condition keeping workers within ``scope`` (always true for ``None``)."""
    return worker_condition(scope, alias)


# -- compliance -------------------------------------------------------------------------------


def read_compliance(
    conn: Connection,
    *,
    district_id: int,
    day: date,
    community: str | None = None,
    scope: Scope = None,
) -> pd.DataFrame:
    """Compliance of a district's workers on ``day``, one row per worker.

    Workers without a stored result (no tracks, or the day not analysed yet) are listed
    with ``analysed`` false and ``compliant`` false: a day without patrols breaks the rule.

    Parameters
    ----------
    district_id
        The district.
    day
        The local date.
    community
        Only workers whose grid lies in this community (its id, e.g. ``"SQ01"``).
    scope
        Grids the caller may see (``None``: all).

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`COMPLIANCE_FIELDS`, ordered by community and grid.

    Raises
    ------
    NotFoundError
        For a community the district does not have.
    """
    where, params = _filters(conn, district_id, community, scope)
    rows = conn.execute(
        text(
            f"""
            WITH {_GRID_COMMUNITIES}
            SELECT :day AS day, gw.id AS worker_id, gw.name AS worker, gw.grid_code, gr.community_id AS community,
                   pc.worker_id IS NOT NULL AS analysed, coalesce(pc.compliant, false) AS compliant,
                   coalesce(pc.patrols, 0) AS patrols, coalesce(pc.visits, 0) AS visits,
                   coalesce(pc.long_visits, 0) AS long_visits, coalesce(pc.visit_minutes, 0) AS visit_minutes,
                   coalesce(pc.stops, 0) AS stops, coalesce(pc.distance_m, 0) AS distance_m,
                   pc.coverage, pc.coverage_basis, pc.longest_unvisited_minutes
            FROM grid_worker gw
            LEFT JOIN patrol_compliance pc ON pc.worker_id = gw.id AND pc.day = :day
            LEFT JOIN grids gr ON gr.code = gw.grid_code
            WHERE gw.district_id = :d AND (gw.active OR pc.worker_id IS NOT NULL) AND {where}
              AND (CAST(:community AS text) IS NULL OR gr.community_id = :community)
            ORDER BY gr.community_id NULLS LAST, gw.grid_code NULLS LAST, gw.id
            """
        ),
        {"d": district_id, "day": day, "community": community, **params},
    )
    return pd.DataFrame(rows.all(), columns=COMPLIANCE_FIELDS)


def _check_community(conn: Connection, district_id: int, community: str) -> None:
    found = conn.execute(
        text("SELECT 1 FROM community WHERE district_id = :d AND community_id = :c"),
        {"d": district_id, "c": community},
    ).first()
    if found is None:
        known = conn.execute(
            text("SELECT community_id FROM community WHERE district_id = :d ORDER BY community_id"), {"d": district_id}
        ).scalars()
        raise NotFoundError(f"no community {community!r} in the district; its communities are {list(known)}")


def read_calendar(conn: Connection, *, worker_id: int, start: date, end: date, scope: Scope = None) -> pd.DataFrame:
    """A worker's compliance per day from ``start`` to ``end`` (inclusive), days without results included.

    Returns
    -------
    pandas.DataFrame
        ``day``, ``analysed``, ``compliant``, ``long_visits``, ``visit_minutes``, ``coverage``;
        ``attrs`` holds ``worker``, ``grid_code`` and ``min_visits`` (of the latest result).

    Raises
    ------
    NotFoundError
        For an unknown worker, or one outside ``scope``.
    InputError
        For ``end`` before ``start`` or a span over 366 days.
    """
    if end < start or (end - start).days > 366:
        raise InputError(f"from {start} to {end}: expected a start before the end, at most a year apart", field="end")
    where, params = _scope_sql(scope)
    who = conn.execute(
        text(f"SELECT gw.name, gw.grid_code FROM grid_worker gw WHERE gw.id = :w AND {where}"),
        {"w": worker_id, **params},
    ).first()
    if who is None:
        raise NotFoundError(f"no grid worker with id {worker_id} among those you may see")
    rows = conn.execute(
        text(
            """
            SELECT d::date AS day, pc.worker_id IS NOT NULL AS analysed, coalesce(pc.compliant, false) AS compliant,
                   coalesce(pc.long_visits, 0) AS long_visits, coalesce(pc.visit_minutes, 0) AS visit_minutes,
                   pc.coverage, (pc.rule ->> 'min_visits')::int AS min_visits
            FROM generate_series(CAST(:s AS date), CAST(:e AS date), interval '1 day') AS d
            LEFT JOIN patrol_compliance pc ON pc.worker_id = :w AND pc.day = d::date
            ORDER BY d
            """
        ),
        {"w": worker_id, "s": start, "e": end},
    )
    frame = pd.DataFrame(
        rows.all(), columns=["day", "analysed", "compliant", "long_visits", "visit_minutes", "coverage", "min_visits"]
    )
    rules = frame["min_visits"].dropna()
    frame.attrs.update(worker=who.name, grid_code=who.grid_code, min_visits=int(rules.iloc[-1]) if len(rules) else 2)
    return frame.drop(columns="min_visits")


# -- tracks -----------------------------------------------------------------------------------


def read_tracks(
    conn: Connection,
    *,
    district_id: int,
    day: date,
    worker_ids: Collection[int] | None = None,
    community: str | None = None,
    simplify_m: float = 0.0,
    scope: Scope = None,
) -> dict[str, Any]:
    """A day's patrol tracks as a GeoJSON FeatureCollection (EPSG:4326).

    Parameters
    ----------
    simplify_m
        Tolerance in (Web Mercator) metres for a lighter line; 0 keeps every stored vertex.

    Returns
    -------
    dict
        Features with ``worker_id``, ``worker``, ``grid_code``, ``started_at``, ``ended_at``,
        ``points``, ``length_m``, ``mean_speed_kmh``.
    """
    where, params = _filters(conn, district_id, community, scope)
    rows = conn.execute(
        text(
            f"""
            SELECT t.id, t.worker_id, gw.name AS worker, gw.grid_code, t.started_at, t.ended_at, t.points,
                   t.length_m,
                   t.length_m / greatest(extract(epoch FROM t.ended_at - t.started_at), 1) * 3.6 AS speed_kmh,
                   ST_AsGeoJSON(
                       CASE WHEN :tol > 0 THEN ST_Transform(ST_Simplify(t.geom_3857, :tol), 4326) ELSE t.geom END, 6
                   ) AS geometry
            FROM patrol_track t
            JOIN grid_worker gw ON gw.id = t.worker_id
            WHERE gw.district_id = :d AND t.day = :day AND {where}
              AND (CAST(:ids AS int[]) IS NULL OR t.worker_id = ANY(CAST(:ids AS int[])))
              AND (CAST(:community AS text) IS NULL OR gw.grid_code IN (
                  SELECT g.code FROM grid g JOIN grid_plan p ON p.id = g.plan_id
                  JOIN community c ON c.id = g.community_id
                  WHERE p.district_id = :d AND c.community_id = :community))
            ORDER BY t.worker_id, t.started_at
            """
        ),
        {
            "d": district_id,
            "day": day,
            "tol": float(simplify_m),
            "ids": None if worker_ids is None else [int(w) for w in worker_ids],
            "community": community,
            **params,
        },
    )
    features = [
        {
            "type": "Feature",
            "id": r.id,
            "geometry": json.loads(r.geometry),
            "properties": {
                "worker_id": r.worker_id,
                "worker": r.worker,
                "grid_code": r.grid_code,
                "started_at": r.started_at.isoformat(),
                "ended_at": r.ended_at.isoformat(),
                "points": r.points,
                "length_m": round(float(r.length_m), 1),
                "mean_speed_kmh": round(float(r.speed_kmh), 2),
            },
        }
        for r in rows
    ]
    return {"type": "FeatureCollection", "day": day.isoformat(), "numberReturned": len(features), "features": features}


# -- weekly report ----------------------------------------------------------------------------


def parse_week(week: str) -> tuple[date, date]:
    """Monday and Sunday of an ISO week written ``YYYY-Www``.

    Raises
    ------
    InputError
        For another spelling or a week the year does not have.

    Examples
    --------
    >>> parse_week("2026-W45")
    (datetime.date(2026, 11, 2), datetime.date(2026, 11, 8))
    """
    parts = week.strip().upper().split("-W")
    try:
        year, number = int(parts[0]), int(parts[1])
        monday = date.fromisocalendar(year, number, 1)
    except (ValueError, IndexError):
        raise InputError(f"week {week!r} is not an ISO week; write it as 2026-W45", field="week") from None
    return monday, monday + timedelta(days=6)


def parse_month(month: str | None, *, today: date | None = None) -> tuple[date, date]:
    """First and last day of a month written ``YYYY-MM`` (the current month for ``None``).

    Raises
    ------
    InputError
        For another spelling.

    Examples
    --------
    >>> parse_month("2026-02")
    (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28))
    """
    if month is None:
        today = today or clock.today()
        year, number = today.year, today.month
    else:
        try:
            year, number = (int(p) for p in month.strip().split("-"))
            date(year, number, 1)
        except ValueError:
            raise InputError(f"month {month!r} is not a month; write it as 2026-11", field="month") from None
    following = date(year + number // 12, number % 12 + 1, 1)
    return date(year, number, 1), following - timedelta(days=1)


@dataclass(frozen=True)
class WeeklyReport:
    """The grid workers' weekly report of a district or community."""

    week: str
    start: date
    end: date
    district: str
    community: str | None
    community_name: str | None
    rows: pd.DataFrame  # the columns of WEEKLY_FIELDS
    min_visits: int
    min_visit_minutes: float
    coverage_m: float
    created_at: datetime


def weekly_report(
    conn: Connection,
    *,
    week: str,
    district_id: int,
    community: str | None = None,
    scope: Scope = None,
    now: datetime | None = None,
) -> WeeklyReport:
    """Per grid and worker: compliant days, patrols and visits, coverage, incidents reported and handled.

    Incidents count when reported in the grid (any plan's grid of that code) during the
    week; those of them with status ``closed`` count as handled.

    Raises
    ------
    InputError
        For a badly written week.
    NotFoundError
        For an unknown community.
    """
    start, end = parse_week(week)
    where, params = _filters(conn, district_id, community, scope)
    district = conn.execute(text("SELECT name FROM district WHERE id = :d"), {"d": district_id}).scalar_one()
    rule = conn.execute(text("SELECT params FROM patrol_rule WHERE district_id = :d"), {"d": district_id}).scalar()
    zone = conn.execute(text("SELECT timezone FROM patrol_rule WHERE district_id = :d"), {"d": district_id}).scalar()
    rows = conn.execute(
        text(
            f"""
            WITH {_GRID_COMMUNITIES},
            week AS (
                SELECT pc.worker_id, count(*) FILTER (WHERE pc.compliant) AS days_compliant,
                       count(*) FILTER (WHERE pc.patrols > 0) AS days_with_tracks,
                       sum(pc.patrols) AS patrols, sum(pc.visits) AS visits, sum(pc.long_visits) AS long_visits,
                       sum(pc.visit_minutes) / 60.0 AS visit_hours, sum(pc.distance_m) / 1000.0 AS distance_km,
                       avg(pc.coverage) FILTER (WHERE pc.patrols > 0) AS coverage_mean
                FROM patrol_compliance pc
                WHERE pc.district_id = :d AND pc.day BETWEEN :s AND :e
                GROUP BY pc.worker_id
            ),
            incidents AS (
                SELECT g.code, count(*) AS reported, count(*) FILTER (WHERE i.status = 'closed') AS handled
                FROM incident AS i {GRID_IN_FORCE}
                WHERE i.district_id = :d
                  AND i.reported_at >= CAST(:s AS date)::timestamp AT TIME ZONE :zone
                  AND i.reported_at < (CAST(:e AS date) + 1)::timestamp AT TIME ZONE :zone
                GROUP BY g.code
            )
            SELECT gr.community_id AS community, gw.grid_code, gw.id AS worker_id, gw.name AS worker,
                   coalesce(w.days_compliant, 0) AS days_compliant, coalesce(w.days_with_tracks, 0) AS days_with_tracks,
                   coalesce(w.patrols, 0) AS patrols, coalesce(w.visits, 0) AS visits,
                   coalesce(w.long_visits, 0) AS long_visits, coalesce(w.visit_hours, 0) AS visit_hours,
                   coalesce(w.distance_km, 0) AS distance_km, w.coverage_mean,
                   coalesce(i.reported, 0) AS incidents_reported, coalesce(i.handled, 0) AS incidents_handled
            FROM grid_worker gw
            LEFT JOIN week w ON w.worker_id = gw.id
            LEFT JOIN grids gr ON gr.code = gw.grid_code
            LEFT JOIN incidents i ON i.code = gw.grid_code
            WHERE gw.district_id = :d AND (gw.active OR w.worker_id IS NOT NULL) AND {where}
              AND (CAST(:community AS text) IS NULL OR gr.community_id = :community)
            ORDER BY gr.community_id NULLS LAST, gw.grid_code NULLS LAST, gw.id
            """
        ),
        {"d": district_id, "s": start, "e": end, "community": community, "zone": zone or "UTC", **params},
    )
    frame = pd.DataFrame(rows.all(), columns=[c for c in WEEKLY_FIELDS if c not in SUMMARY_FIELDS])
    frame = add_log_summary(conn, frame, district_id=district_id, start=start, end=end)
    for name in ("visit_hours", "distance_km", "coverage_mean"):
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
    name = None
    if community is not None:
        name = conn.execute(
            text("SELECT name FROM community WHERE district_id = :d AND community_id = :c"),
            {"d": district_id, "c": community},
        ).scalar()
    params_rule = rule or {}
    return WeeklyReport(
        week=f"{start.isocalendar().year}-W{start.isocalendar().week:02d}",
        start=start,
        end=end,
        district=district,
        community=community,
        community_name=name,
        rows=frame,
        min_visits=int(params_rule.get("min_visits", 2)),
        min_visit_minutes=float(params_rule.get("min_visit_minutes", 60.0)),
        coverage_m=float(params_rule.get("coverage_m", 30.0)),
        created_at=now or clock.now(),
    )

"""Incidents in the store: intake with the grid found by spatial join, transitions, bulk import by COPY.

An incident's district is the stored district whose boundary covers its point, its
grid the grid of that district's published plan covering it: neither is ever typed
in. Every change of status is kept in ``incident_event`` with its actor, time and note;
the first event (``None`` → ``reported``) records the intake.
"""

from __future__ import annotations

import io
import math
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import shapely
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis import clock
from gis.errors import ConflictError, InputError, NotFoundError, OutsideBoundaryError
from gis.incidents.deadlines import WorkingCalendar, due_at, flag, is_continuous
from gis.incidents.placement import place_points
from gis.incidents.routing import routing_of
from gis.incidents.taxonomy import DEFAULT, HANDLING_CLASSES, Taxonomy
from gis.incidents.workflow import FINAL, allowed, check_transition
from gis.store.audit import record
from gis.store.scope import Reach, incident_condition

__all__ = [
    "OVERDUE",
    "Acting",
    "ImportResult",
    "IncidentFilter",
    "IncidentWindow",
    "copy_incidents",
    "create_incident",
    "grid_counts",
    "handling_class",
    "in_reach",
    "incident_points",
    "list_incidents",
    "list_overdue",
    "public_requests",
    "read_incident",
    "reporter_of",
    "transition",
]

# the district covering a point, then the published grid of that district covering it
_PLACE = """
    SELECT d.id AS district_id, g.id AS grid_id
    FROM district AS d
    LEFT JOIN LATERAL (
        SELECT g.id FROM grid AS g JOIN grid_plan AS p ON p.id = g.plan_id
        WHERE p.district_id = d.id AND p.status = 'published' AND ST_Covers(g.geom, {pt})
        ORDER BY g.id LIMIT 1
    ) AS g ON true
    WHERE ST_Covers(d.boundary, {pt})
    ORDER BY d.id LIMIT 1
"""


# An incident belongs to a place, not to a plan's row: its grid is the published grid of
# its district covering its point (the lowest id, as at intake), found when it is read, so
# counts follow every publish and incidents taken in before any plan get their grid too.
GRID_IN_FORCE = """
    LEFT JOIN LATERAL (
        SELECT pg.id, pg.code, pg.community_id FROM grid AS pg JOIN grid_plan AS pp ON pp.id = pg.plan_id
        WHERE pp.district_id = i.district_id AND pp.status = 'published' AND ST_Covers(pg.geom, i.geom)
        ORDER BY pg.id LIMIT 1
    ) AS g ON true
"""


# The nearest earlier incident of the same category within the distance and time window that is
# not itself written off. Web Mercator stretches lengths by 1 / cos(latitude), hence the division.
_MARK_DUPLICATE = """
    UPDATE incident AS n SET duplicate_of = (
        SELECT o.id FROM incident AS o
        WHERE o.id <> n.id AND o.district_id = n.district_id AND o.category = n.category
          AND o.status NOT IN ('invalid', 'duplicate')
          AND o.reported_at BETWEEN n.reported_at - make_interval(secs => :hours * 3600) AND n.reported_at
          AND ST_DWithin(o.geom_3857, n.geom_3857, :metres / cos(radians(ST_Y(n.geom))))
        ORDER BY ST_Distance(o.geom_3857, n.geom_3857), o.reported_at DESC, o.id LIMIT 1
    )
    WHERE n.id = :i
    RETURNING n.duplicate_of
"""


def create_incident(
    conn: Connection,
    *,
    category: str,
    lon: float,
    lat: float,
    actor: str,
    taxonomy: Taxonomy = DEFAULT,
    handling_class: str | None = None,
    description: str | None = None,
    reporter_name: str | None = None,
    reporter_phone: str | None = None,
    public: bool | None = None,
    reported_at: datetime | None = None,
    source: str = "api",
    reporter_user_id: int | None = None,
    duplicate_metres: float = 50.0,
    duplicate_hours: float = 24.0,
) -> int:
    """Store a reported incident, placed in its district and grid by its point; return its id.

    An earlier incident of the same category at most ``duplicate_metres`` away and
    ``duplicate_hours`` older is recorded as the one it may repeat (``duplicate_of``, the
    nearest such); someone then decides, moving it to ``duplicate`` or not.

    Parameters
    ----------
    conn
        An open connection; the caller commits.
    category
        A code of ``taxonomy``; its handling class and public flag are the defaults.
    lon, lat
        The point in EPSG:4326.
    actor
        Who reported it (a user name, or the intake's reserved identity), stored on the
        first event for people to read; it decides nothing.
    source
        How it came in (``api``, ``open311``, ``import:<file>``).
    reporter_user_id
        The reporting account's id: the incident is theirs (grid workers read and move
        their own). ``None`` for intake without an account (Open311, imports, commands).
    duplicate_metres, duplicate_hours
        The near-duplicate window; ``0`` for either turns the check off.

    Raises
    ------
    InputError
        For an unknown category or handling class.
    OutsideBoundaryError
        When no stored district covers the point.
    """
    kind = taxonomy.find(category)
    klass = handling_class or kind.handling_class
    if klass not in HANDLING_CLASSES:
        raise InputError(
            f"unknown handling class {klass!r}: expected one of {list(HANDLING_CLASSES)}", field="handling_class"
        )
    place = conn.execute(
        text(_PLACE.format(pt="ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)")), {"lon": lon, "lat": lat}
    ).first()
    if place is None:
        raise OutsideBoundaryError(
            f"the point ({lon}, {lat}) lies in no stored district; give lon/lat in EPSG:4326 inside a district",
            field="lon/lat",
            see="add_district",
        )
    row = conn.execute(
        text(
            "INSERT INTO incident (district_id, grid_id, category, handling_class, status, reported_at, status_at, "
            "description, reporter_name, reporter_phone, public, source, reporter_user_id, geom) "
            "VALUES (:d, :g, :c, :h, 'reported', coalesce(:t, now()), coalesce(:t, now()), :desc, :rn, :rp, :pub, "
            ":src, :uid, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id, reported_at"
        ),
        {
            "d": place.district_id,
            "g": place.grid_id,
            "c": kind.code,
            "h": klass,
            "t": reported_at or clock.now(),
            "desc": description,
            "rn": reporter_name,
            "rp": reporter_phone,
            "pub": kind.public if public is None else public,
            "src": source,
            "uid": reporter_user_id,
            "lon": lon,
            "lat": lat,
        },
    ).one()
    conn.execute(
        text("INSERT INTO incident_event (incident_id, to_status, actor, at) VALUES (:i, 'reported', :a, :t)"),
        {"i": row.id, "a": actor, "t": row.reported_at},
    )
    if duplicate_metres > 0 and duplicate_hours > 0:
        conn.execute(text(_MARK_DUPLICATE), {"i": row.id, "metres": duplicate_metres, "hours": duplicate_hours})
    return int(row.id)


def handling_class(conn: Connection, incident_id: int) -> str | None:
    """The incident's handling class, without reading the rest of it (``None`` for an unknown id)."""
    return conn.execute(text("SELECT handling_class FROM incident WHERE id = :i"), {"i": incident_id}).scalar()


def read_incident(
    conn: Connection,
    incident_id: int,
    *,
    taxonomy: Taxonomy = DEFAULT,
    calendar: WorkingCalendar | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """One incident with its place, reporter, history, time limit and the states it may move to next.

    ``timestamps`` gives, per state, when the incident last entered it; ``due_at`` when
    its category's time limit ends (working time by ``calendar``, the default one when
    ``None``) and ``flag`` whether it is overdue at ``now`` (``yellow``, ``red``) or not
    (``none``; finished incidents never are).

    Raises
    ------
    NotFoundError
        When no incident has this id.
    """
    row = (
        conn.execute(
            text(
                "SELECT i.id, d.name AS district, i.category, i.handling_class, i.status, i.reported_at, "
                "i.status_at, g.code AS grid_code, g.id AS grid_id, i.description, i.reporter_name, i.reporter_phone, "
                "i.public, i.source, i.reporter_user_id, i.duplicate_of, ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat "
                "FROM incident AS i JOIN district AS d ON d.id = i.district_id " + GRID_IN_FORCE + " WHERE i.id = :i"
            ),
            {"i": incident_id},
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    events = [
        dict(e)
        for e in conn.execute(
            text(
                "SELECT from_status, to_status, actor, at, note FROM incident_event "
                "WHERE incident_id = :i ORDER BY at, id"
            ),
            {"i": incident_id},
        ).mappings()
    ]
    out = dict(row)
    kind = taxonomy.find(row["category"]) if row["category"] in taxonomy else None
    out["category_label"] = None if kind is None else {"zh": kind.zh, "en": kind.en}
    out["reporter"] = {"name": out.pop("reporter_name"), "phone": out.pop("reporter_phone")}
    out["events"] = events
    out["timestamps"] = {e["to_status"]: e["at"] for e in events}
    out["next"] = allowed(row["status"], handling_class=row["handling_class"], parked_from=_parked_from(events))
    calendar = calendar or WorkingCalendar()
    limit = None if kind is None or kind.limit is None else dict([kind.limit])
    out["limit"] = limit
    continuous = is_continuous(row["handling_class"])  # emergencies: no working-hours pause
    try:
        out["due_at"] = None if limit is None else due_at(row["reported_at"], limit, calendar, continuous=continuous)
        out["flag"] = flag(
            row["reported_at"],
            limit,
            now=now or clock.now(),
            calendar=calendar,
            finished=row["status"] in FINAL,
            continuous=continuous,
        )
    except OverflowError:  # a row stored before reports were checked (year 9999): no deadline, still readable
        out["due_at"], out["flag"] = None, "none"
    out["routing"] = routing_of(conn, incident_id)  # hand-offs, feedback, approval steps, notifications
    return out


def _parked_from(events: list[dict[str, Any]]) -> str | None:
    for event in reversed(events):
        if event["to_status"] == "parked":
            return event["from_status"]
    return None


def transition(
    conn: Connection,
    incident_id: int,
    *,
    to: str,
    actor: str,
    note: str | None = None,
    at: datetime | None = None,
    allowed_from: Collection[str] | None = None,
) -> str:
    """Move an incident to state ``to``, record the event and an audit entry; return the state it left.

    The row is locked first, so two concurrent transitions cannot both start from the
    same state. The event (``incident_event``) and the audit entry (``audit_log``, action
    ``incident.transition``, detail ``{"from", "to"}``) are written in the caller's
    transaction: both stay only if the move does.

    Parameters
    ----------
    allowed_from
        When given, the move is made only from one of these states (a role that may do
        some steps only, e.g. grid workers); from any other, 409.

    Raises
    ------
    NotFoundError
        When no incident has this id.
    InputError
        For a state that does not exist.
    ConflictError
        When the workflow (or ``allowed_from``) does not allow the move (409), naming the moves it allows.
    """
    row = conn.execute(
        text("SELECT status, handling_class FROM incident WHERE id = :i FOR UPDATE"), {"i": incident_id}
    ).first()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    parked_from = None
    if row.status == "parked":
        parked_from = conn.execute(
            text(
                "SELECT from_status FROM incident_event WHERE incident_id = :i AND to_status = 'parked' "
                "ORDER BY at DESC, id DESC LIMIT 1"
            ),
            {"i": incident_id},
        ).scalar()
    check_transition(row.status, to, handling_class=row.handling_class, parked_from=parked_from)
    if allowed_from is not None and row.status not in allowed_from:
        raise ConflictError(
            f"incident {incident_id} is {row.status}: this move to {to!r} may be made only from "
            f"{sorted(allowed_from)} by {actor!r}'s role"
        )
    when = conn.execute(
        text("UPDATE incident SET status = :s, status_at = coalesce(:t, now()) WHERE id = :i RETURNING status_at"),
        {"s": to, "t": at or clock.now(), "i": incident_id},
    ).scalar_one()
    conn.execute(
        text(
            "INSERT INTO incident_event (incident_id, from_status, to_status, actor, at, note) "
            "VALUES (:i, :f, :s, :a, :t, :n)"
        ),
        {"i": incident_id, "f": row.status, "s": to, "a": actor, "t": when, "n": note},
    )
    record(
        conn, actor=actor, action="incident.transition", target=f"incident:{incident_id}",
        detail={"from": row.status, "to": to},
    )  # fmt: skip
    return str(row.status)


def in_reach(conn: Connection, incident_id: int, reach: Reach | None) -> bool:
    """Whether an incident lies within ``reach`` (:mod:`gis.store.scope`; ``None``: always).

    Raises
    ------
    NotFoundError
        When no incident has this id.
    """
    where, params = incident_condition(reach)
    found = conn.execute(
        text(f"SELECT {where} FROM incident AS i {GRID_IN_FORCE} WHERE i.id = :i"), {"i": incident_id, **params}
    ).first()
    if found is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    return bool(found[0])


def reporter_of(conn: Connection, incident_id: int) -> str:
    """The name recorded on an incident's first event, for people to read (ownership is :func:`in_reach`'s).

    Raises
    ------
    NotFoundError
        When no incident has this id.
    """
    actor = conn.execute(
        text(
            "SELECT e.actor FROM incident AS i JOIN incident_event AS e ON e.incident_id = i.id "
            "WHERE i.id = :i ORDER BY e.at, e.id LIMIT 1"
        ),
        {"i": incident_id},
    ).scalar()
    if actor is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    return str(actor)


@dataclass(frozen=True)
class ImportResult:
    """What a bulk import stored, what it left out, and how many it marked as possible duplicates."""

    stored: int
    outside: int
    duplicates: int = 0

    def summary(self) -> str:
        return (
            f"{self.stored} incidents stored; {self.outside} outside every stored district left out; "
            f"{self.duplicates} marked as possible duplicates"
        )


_COLUMNS = ("category", "handling_class", "status", "reported_at", "lon", "lat", "description", "public")
_STAGED = ("district_id", "grid_id", *_COLUMNS)

# Near-duplicates of a whole batch at once, by the rule of create_incident: for each new
# incident, the nearest earlier one (in reported_at, then id) of the same district and
# category within the distance and time window, not itself written off, from the batch or
# the store. Distances are Web Mercator metres divided by cos(latitude), as there.
# Candidates meet by equality (a hash join): cells of twice the largest such distance in
# the batch, of which a new incident looks in the 2 x 2 nearest to it (they hold its whole
# circle), and time buckets of the window, each earlier incident filed in its own and the next.
_DUPLICATES = (
    """
    CREATE TEMP TABLE incident_dup_new ON COMMIT DROP AS
    SELECT c.*, floor(c.fx)::bigint AS cx, floor(c.fy)::bigint AS cy,
           CASE WHEN c.fx - floor(c.fx) < 0.5 THEN -1 ELSE 1 END AS sx,
           CASE WHEN c.fy - floor(c.fy) < 0.5 THEN -1 ELSE 1 END AS sy
    FROM (
        SELECT s.id, s.district_id, s.category, s.reported_at, ST_X(p.g) AS x, ST_Y(p.g) AS y,
               ST_X(p.g) / :cell AS fx, ST_Y(p.g) / :cell AS fy, (:metres / cos(radians(s.lat))) ^ 2 AS reach,
               floor(extract(epoch FROM s.reported_at) / (:hours * 3600.0))::bigint AS tb
        FROM incident_staging AS s
        CROSS JOIN LATERAL (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(s.lon, s.lat), 4326), 3857) AS g) AS p
    ) AS c
    """,
    """
    CREATE TEMP TABLE incident_dup_old ON COMMIT DROP AS
    SELECT o.*, floor(o.x / :cell)::bigint AS cx, floor(o.y / :cell)::bigint AS cy,
           floor(extract(epoch FROM o.reported_at) / (:hours * 3600.0))::bigint AS tb
    FROM (
        SELECT n.id, n.district_id, n.category, n.reported_at, n.x, n.y
        FROM incident_dup_new AS n JOIN incident_staging AS s USING (id)
        WHERE s.status NOT IN ('invalid', 'duplicate')
        UNION ALL
        SELECT i.id, i.district_id, i.category, i.reported_at, ST_X(i.geom_3857), ST_Y(i.geom_3857) FROM incident AS i
        WHERE i.district_id IN (SELECT DISTINCT district_id FROM incident_staging)
          AND i.reported_at >= (SELECT min(reported_at) FROM incident_staging) - make_interval(secs => :hours * 3600)
          AND i.reported_at <= (SELECT max(reported_at) FROM incident_staging)
          AND i.status NOT IN ('invalid', 'duplicate')
    ) AS o
    """,
    "ANALYZE incident_dup_new, incident_dup_old",
    # OFFSET 0: every key of a row is made before the join, so the join is on all of them
    """
    WITH nearest AS (
        SELECT DISTINCT ON (n.id) n.id, o.id AS duplicate_of
        FROM (
            SELECT n.id, n.district_id, n.category, n.reported_at, n.x, n.y, n.reach, n.tb,
                   n.cx + k.dx AS cx, n.cy + k.dy AS cy
            FROM incident_dup_new AS n
            CROSS JOIN LATERAL unnest(ARRAY[0, n.sx, 0, n.sx], ARRAY[0, 0, n.sy, n.sy]) AS k(dx, dy) OFFSET 0
        ) AS n
        JOIN (
            SELECT o.id, o.district_id, o.category, o.reported_at, o.x, o.y, o.cx, o.cy, o.tb + t.dt AS tb
            FROM incident_dup_old AS o CROSS JOIN (VALUES (0), (1)) AS t(dt) OFFSET 0
        ) AS o ON o.district_id = n.district_id AND o.category = n.category
              AND o.cx = n.cx AND o.cy = n.cy AND o.tb = n.tb
        WHERE (o.reported_at, o.id) < (n.reported_at, n.id)
          AND o.reported_at >= n.reported_at - make_interval(secs => :hours * 3600)
          AND (o.x - n.x) ^ 2 + (o.y - n.y) ^ 2 <= n.reach
        ORDER BY n.id, (o.x - n.x) ^ 2 + (o.y - n.y) ^ 2, o.reported_at DESC, o.id
    )
    UPDATE incident_staging AS s SET duplicate_of = nearest.duplicate_of FROM nearest WHERE s.id = nearest.id
    """,
)


def _places(conn: Connection, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """District and grid ids of the points (``-1`` for none), by :func:`gis.incidents.placement.place_points`."""
    districts = conn.execute(text("SELECT id, ST_AsBinary(boundary) FROM district ORDER BY id")).all()
    grids = conn.execute(
        text(
            "SELECT g.id, p.district_id, ST_AsBinary(g.geom) FROM grid AS g JOIN grid_plan AS p ON p.id = g.plan_id "
            "WHERE p.status = 'published' ORDER BY g.id"
        )
    ).all()
    return place_points(
        lon,
        lat,
        districts=(np.array([r[0] for r in districts]), shapely.from_wkb([bytes(r[1]) for r in districts])),
        grids=(
            np.array([r[0] for r in grids]),
            np.array([r[1] for r in grids]),
            shapely.from_wkb([bytes(r[2]) for r in grids]),
        ),
    )


def _csv(frame: pd.DataFrame) -> bytes:
    """``frame`` as CSV for ``COPY`` (no header; nulls empty)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    at = table.schema.get_field_index("reported_at")
    table = table.set_column(at, "reported_at", table.column(at).cast(pa.timestamp("us", tz="UTC"), safe=False))
    out = io.BytesIO()
    pacsv.write_csv(table, out, pacsv.WriteOptions(include_header=False))
    return out.getvalue()


def copy_incidents(
    conn: Connection,
    incidents: pd.DataFrame,
    *,
    actor: str,
    source: str,
    duplicate_metres: float = 50.0,
    duplicate_hours: float = 24.0,
) -> ImportResult:
    """Append incidents with one ``COPY``, each placed in its district and grid, near-duplicates marked.

    The points are placed in Python (:func:`gis.incidents.placement.place_points`, the
    rule of :func:`create_incident`), copied into a staging table in time order with their
    ids drawn from the incident sequence, checked for near-duplicates set-wise in SQL
    (the rule of :func:`create_incident`, against the batch itself and the stored
    incidents), then inserted with their first events. The density bins follow through
    the triggers on ``incident``.

    Parameters
    ----------
    conn
        An open connection (its transaction is used; the caller commits).
    incidents
        Checked records: ``category``, ``handling_class``, ``status``, ``reported_at``
        (tz-aware), ``lon``, ``lat``, ``description``, ``public``, as
        :func:`gis.incidents.imports.map_incidents` returns them (not changed).
    actor, source
        Stored on each incident's first event and in ``incident.source``.
    duplicate_metres, duplicate_hours
        The near-duplicate window (the settings ``incident_duplicate_metres`` and
        ``_hours``); ``0`` for either turns the check off.

    Returns
    -------
    ImportResult
        Incidents stored, those outside every stored district (left out), and those
        marked as possible duplicates (``duplicate_of`` set; nobody decided yet).
    """
    if incidents.empty:
        return ImportResult(0, 0)
    frame = incidents.loc[:, list(_COLUMNS)]
    district, grid = _places(conn, frame["lon"].to_numpy(dtype=float), frame["lat"].to_numpy(dtype=float))
    inside = district >= 0
    frame = frame.loc[inside].assign(
        district_id=district[inside],
        grid_id=pd.array(np.where(grid[inside] >= 0, grid[inside], None), dtype="Int64"),
        reported_at=pd.to_datetime(frame.loc[inside, "reported_at"], utc=True),
    )
    # time order: the (district_id, reported_at) index and the events then grow at their ends
    frame = frame.sort_values("reported_at", kind="stable").loc[:, list(_STAGED)]
    outside = int((~inside).sum())
    if frame.empty:
        return ImportResult(0, outside)
    # compiling these big statements costs a second each and saves less; work memory keeps the joins in memory
    jit, work_mem, merge = conn.execute(
        text("SELECT current_setting('jit'), current_setting('work_mem'), current_setting('enable_mergejoin')")
    ).one()
    conn.execute(text("SELECT set_config('jit', 'off', true), set_config('work_mem', '128MB', true)"))
    sequence = conn.execute(text("SELECT pg_get_serial_sequence('incident', 'id')")).scalar_one()
    conn.execute(text("DROP TABLE IF EXISTS pg_temp.incident_staging"))  # a second import in one transaction
    conn.execute(
        text(
            "CREATE TEMP TABLE incident_staging (district_id int, grid_id int, category text, handling_class text, "
            "status text, reported_at timestamptz, lon float8, lat float8, description text, public bool, "
            f"id int DEFAULT nextval('{sequence}'::regclass), duplicate_of int) ON COMMIT DROP"
        )
    )
    raw = conn.connection.driver_connection
    data = _csv(frame)
    with raw.cursor() as cur, cur.copy(f"COPY incident_staging ({', '.join(_STAGED)}) FROM STDIN (FORMAT csv)") as copy:
        for start in range(0, len(data), 1 << 22):
            copy.write(data[start : start + (1 << 22)])
    duplicates = 0
    if duplicate_metres > 0 and duplicate_hours > 0:
        # cells of twice the largest reach in Web Mercator metres: at the batch's widest latitude
        widest = float(frame["lat"].abs().max())
        window = {
            "metres": duplicate_metres,
            "hours": duplicate_hours,
            "cell": 2 * duplicate_metres / math.cos(math.radians(min(widest, 89.0))),
        }
        conn.execute(text("DROP TABLE IF EXISTS pg_temp.incident_dup_new, pg_temp.incident_dup_old"))
        conn.execute(text("SELECT set_config('enable_mergejoin', 'off', true)"))  # the sorts would spill to disk
        for statement in _DUPLICATES:
            duplicates = conn.execute(text(statement), window).rowcount
        conn.execute(text("SELECT set_config('enable_mergejoin', :m, true)"), {"m": merge})
    stored = conn.execute(
        text(
            """
            INSERT INTO incident (id, district_id, grid_id, category, handling_class, status, reported_at, status_at,
                                  description, public, source, duplicate_of, geom)
            SELECT id, district_id, grid_id, category, handling_class, status, reported_at, reported_at,
                   description, public, :src, duplicate_of, ST_SetSRID(ST_MakePoint(lon, lat), 4326)
            FROM incident_staging ORDER BY id
            """
        ),
        {"src": source},
    ).rowcount
    conn.execute(
        text(
            "INSERT INTO incident_event (incident_id, to_status, actor, at, note) "
            "SELECT id, status, :a, reported_at, :note FROM incident_staging ORDER BY id"
        ),
        {"a": actor, "note": f"imported ({source})"},
    )
    conn.execute(
        text("SELECT set_config('jit', :j, true), set_config('work_mem', :w, true)"), {"j": jit, "w": work_mem}
    )
    return ImportResult(stored=stored, outside=outside, duplicates=duplicates)


# the incident is in district :d, or :d is NULL (every district)
_IN_DISTRICT = "(CAST(:d AS integer) IS NULL OR i.district_id = CAST(:d AS integer))"


@dataclass(frozen=True)
class Acting:
    """Who acts on an incident and when (approval steps, department hand-offs and their feedback).

    Attributes
    ----------
    actor
        The name written on the incident's events and in the audit log.
    user_id
        The acting account, kept on the step's own row (``None`` for commands and the service).
    at
        When (default: now, by :mod:`gis.clock`).
    """

    actor: str
    user_id: int | None
    at: datetime | None = None

    def time(self) -> datetime:
        """``at``, or now."""
        return self.at or clock.now()


@dataclass(frozen=True)
class IncidentWindow:
    """Which incidents an analysis counts (:func:`grid_counts`, :func:`incident_points`).

    Attributes
    ----------
    district_id
        The district; ``None`` for every district.
    category
        A taxonomy code; its sub-categories count too.
    start, end
        Only incidents reported in ``[start, end)``.
    """

    district_id: int | None
    category: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """The conditions on ``i`` (the incident) and their parameters."""
        parts = [_IN_DISTRICT]
        params: dict[str, Any] = {"d": self.district_id}
        if self.category:
            parts.append("(i.category = :cat OR i.category LIKE :sub)")
            params |= {"cat": self.category, "sub": self.category.replace("%", r"\%").replace("_", r"\_") + ".%"}
        if self.start is not None:
            parts.append("i.reported_at >= :start")
            params["start"] = self.start
        if self.end is not None:
            parts.append("i.reported_at < :end")
            params["end"] = self.end
        return " AND ".join(parts), params


def grid_counts(conn: Connection, window: IncidentWindow) -> gpd.GeoDataFrame:
    """Every grid of the district's published plan with its incidents, open ones and rate per 1,000 residents.

    Parameters
    ----------
    window
        Which incidents count: the district, category and reporting time.

    Returns
    -------
    geopandas.GeoDataFrame
        ``grid_id``, ``code``, ``name``, ``households``, ``population``, ``incidents``,
        ``open`` (not closed, invalid or duplicate), ``per_1000``; EPSG:4326.

    Raises
    ------
    NotFoundError
        When the district has no published plan.
    """
    where, params = window.sql()
    frame = gpd.read_postgis(
        text(
            f"""
            WITH placed AS (
                SELECT i.id, i.status, g.id AS grid_id FROM incident AS i {GRID_IN_FORCE}
                WHERE {where}
            )
            SELECT g.id AS grid_id, g.code, g.name, g.households, g.population,
                   count(i.id) AS incidents,
                   count(i.id) FILTER (WHERE i.status NOT IN ('closed', 'invalid', 'duplicate')) AS open,
                   g.geom
            FROM grid AS g JOIN grid_plan AS p ON p.id = g.plan_id
            LEFT JOIN placed AS i ON i.grid_id = g.id
            WHERE (CAST(:d AS integer) IS NULL OR p.district_id = CAST(:d AS integer)) AND p.status = 'published'
            GROUP BY g.id ORDER BY g.code
            """
        ),
        conn,
        params=params,
        geom_col="geom",
    )
    if frame.empty:
        where = "" if window.district_id is None else f" in district {window.district_id}"
        raise NotFoundError(f"no plan is published{where}; publish one", see="publish_plan")
    rate = frame["incidents"] * 1000.0 / frame["population"].where(frame["population"] > 0)
    return frame.assign(per_1000=rate.round(2))


def incident_points(conn: Connection, window: IncidentWindow) -> tuple[np.ndarray, np.ndarray]:
    """Longitudes and latitudes of the incidents in ``window``."""
    where, params = window.sql()
    rows = conn.execute(text(f"SELECT ST_X(i.geom), ST_Y(i.geom) FROM incident AS i WHERE {where}"), params).all()
    xy = np.asarray(rows, dtype=float).reshape(-1, 2)
    return xy[:, 0], xy[:, 1]


def public_requests(
    conn: Connection,
    *,
    categories: list[str],
    cutoff: datetime,
    min_count: int = 3,
    request_ids: list[int] | None = None,
    category: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    closed: bool | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Incidents the public may see, newest first, placed at their grid instead of their point.

    ``request_ids`` keeps only those ids, in one query however many there are.

    Only incidents flagged public, of one of ``categories``, reported before ``cutoff``
    (the publication delay), in a grid, and in grids holding at least ``min_count`` of
    them (smaller groups are suppressed, so no one stands out). No reporter fields, no
    description (free text may name people), no raw point.

    Returns
    -------
    list of dict
        ``id``, ``category``, ``status``, ``reported_at``, ``status_at``, ``grid_code``,
        ``lon``, ``lat`` (a point inside the grid).
    """
    where, params = IncidentWindow(None, category, start, end).sql()
    if closed is not None:
        where += " AND i.status {} ('closed', 'invalid', 'duplicate')".format("IN" if closed else "NOT IN")
    rows = conn.execute(
        text(
            f"""
            WITH seen AS (
                SELECT i.id, i.category, i.status, i.reported_at, i.status_at, g.code AS grid_code, g.id AS grid_id
                FROM incident AS i {GRID_IN_FORCE}
                WHERE g.id IS NOT NULL AND i.public AND i.category = ANY(:codes) AND i.reported_at <= :cutoff
                  AND {where}
            ), shown AS (
                SELECT grid_id FROM seen GROUP BY grid_id HAVING count(*) >= :k
            )
            SELECT s.id, s.category, s.status, s.reported_at, s.status_at, s.grid_code,
                   ST_X(ST_PointOnSurface(g.geom)) AS lon, ST_Y(ST_PointOnSurface(g.geom)) AS lat
            FROM seen AS s JOIN shown USING (grid_id) JOIN grid AS g ON g.id = s.grid_id
            WHERE CAST(:rids AS integer[]) IS NULL OR s.id = ANY(CAST(:rids AS integer[]))
            ORDER BY s.reported_at DESC, s.id DESC LIMIT :limit
            """
        ),
        {"codes": categories, "cutoff": cutoff, "k": min_count, "rids": request_ids, "limit": limit, **params},
    ).mappings()
    return [dict(r) for r in rows]


OVERDUE = ("yellow", "red")


@dataclass(frozen=True)
class IncidentFilter:
    """Which incidents a list reads (:func:`list_incidents`, :func:`list_overdue`); the default: every incident.

    Attributes
    ----------
    reach
        A team member's reach (:mod:`gis.store.scope`); ``None``: every incident.
    district_id
        Only this district's incidents.
    reported_by
        Only those reported by this user id.
    status
        Only those in this state (before a list's ``limit`` is applied).
    """

    reach: Reach | None = None
    district_id: int | None = None
    reported_by: int | None = None
    status: str | None = None

    def sql(self) -> tuple[str, dict[str, Any]]:
        """The conditions on ``i`` (the incident) and their parameters."""
        scoped, params = incident_condition(self.reach)
        return (
            f"{_IN_DISTRICT} AND "
            "(CAST(:u AS integer) IS NULL OR i.reporter_user_id = CAST(:u AS integer)) AND "
            f"(CAST(:s AS text) IS NULL OR i.status = CAST(:s AS text)) AND {scoped}",
            {"d": self.district_id, "u": self.reported_by, "s": self.status, **params},
        )


def _listed(
    conn: Connection,
    filters: IncidentFilter,
    *,
    columns: str = "",
    where: str = "TRUE",
    order: str,
    limit: int | None = None,
    **params: Any,
) -> list[dict[str, Any]]:
    """Incidents as the lists show them (never with reporter fields) and ``columns``, where ``where`` holds too."""
    condition, filter_params = filters.sql()
    rows = conn.execute(
        text(
            f"""
            SELECT i.id, d.name AS district, g.code AS grid_code, i.category, i.handling_class, i.status,
                   i.reported_at, i.status_at{columns}
            FROM incident AS i JOIN district AS d ON d.id = i.district_id {GRID_IN_FORCE}
            WHERE {condition} AND {where}
            ORDER BY {order} LIMIT CAST(:limit AS integer)
            """
        ),
        {**params, **filter_params, "limit": limit},
    ).mappings()
    return [dict(r) for r in rows]


def list_overdue(
    conn: Connection,
    which: IncidentFilter | None = None,
    *,
    level: str = "yellow",
    taxonomy: Taxonomy = DEFAULT,
    calendar: WorkingCalendar | None = None,
    now: datetime | None = None,
    limit: int = 1000,
) -> list[dict[str, Any]]:
    """Unfinished incidents past their category's time limit, the longest overdue first.

    Parameters
    ----------
    level
        ``yellow``: every incident past its limit (flagged yellow or red); ``red``: only
        those past twice their limit (see :func:`gis.incidents.deadlines.flag`).
    calendar
        The working calendar of the limits (the default one when ``None``).
    now
        The moment to judge at (default: now).
    which
        Which incidents are looked at (default: all); ``status`` narrows them before ``limit``.

    Returns
    -------
    list of dict
        The fields of :func:`list_incidents` without ``source``, with ``due_at`` and ``flag``.

    Raises
    ------
    InputError
        For a level other than ``yellow`` or ``red``.
    """
    if level not in OVERDUE:
        raise InputError(f"unknown overdue level {level!r}: expected one of {list(OVERDUE)}", field="overdue")
    chosen = which or IncidentFilter()
    calendar = calendar or WorkingCalendar()
    now = now or clock.now()
    limits = {c.code: dict([c.limit]) for c in taxonomy if c.limit is not None}
    if not limits:
        return []
    # no limit passes sooner than its length in continuous hours: incidents younger than the
    # shortest one cannot be overdue, and need not be read
    shortest = min(
        amount * (calendar.hours_per_day if kind == "working_days" else 1.0)
        for kind, amount in (next(iter(lim.items())) for lim in limits.values())
    )
    rows = _listed(
        conn,
        chosen,
        where="i.status <> ALL(:final) AND i.category = ANY(:codes) "
        "AND i.reported_at <= :now - make_interval(secs => :hours * 3600)",
        order="i.reported_at, i.id",
        final=sorted(FINAL),
        codes=sorted(limits),
        now=now,
        hours=shortest,
    )
    wanted = set(OVERDUE[OVERDUE.index(level) :])
    out = []
    for row in rows:
        limit_ = limits[row["category"]]
        continuous = is_continuous(row["handling_class"])
        found = flag(row["reported_at"], limit_, now=now, calendar=calendar, continuous=continuous)
        if found in wanted:
            due = due_at(row["reported_at"], limit_, calendar, continuous=continuous)
            out.append({**row, "due_at": due, "flag": found})
    out.sort(key=lambda r: (r["due_at"], r["id"]))
    return out[:limit]


def list_incidents(conn: Connection, which: IncidentFilter | None = None, *, limit: int = 1000) -> list[dict[str, Any]]:
    """Incidents, the newest first (a worker's "my incidents", a leader's grids).

    Parameters
    ----------
    which
        Whose and which incidents: a team member's reach, a district, a reporter, a state
        (default: every incident).

    Returns
    -------
    list of dict
        ``id``, ``district``, ``grid_code``, ``category``, ``handling_class``, ``status``,
        ``reported_at``, ``status_at``, ``source``; no reporter fields.
    """
    return _listed(
        conn,
        which or IncidentFilter(),
        columns=", i.source",
        order="i.reported_at DESC, i.id DESC",
        limit=limit,
    )

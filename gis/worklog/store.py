"""Reads and writes of the work log, narrowed in the queries to whose entries a caller may touch.

Every function takes ids: a worker's entries by ``worker_id``, a community's by
``(district_id, community)`` (the community's id in the source data), a reviewer by user
id. The community of a worker is that of their grid code in the plan in force (the
published one, else the latest), as the patrol reports count it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis import clock
from gis.errors import CommgridError, ConflictError, InputError, NotFoundError
from gis.incidents.store import GRID_IN_FORCE
from gis.store.lookup import grid_communities_sql
from gis.store.scope import Reach, incident_condition
from gis.worklog.entries import COMMENT_CHARS, KINDS, EntryIn, check_day, check_incidents, check_kind, check_text

__all__ = [
    "SUMMARY_FIELDS",
    "OutOfScopeError",
    "WorkerHome",
    "add_entry",
    "add_log_summary",
    "change_entry",
    "day_entries",
    "local_today",
    "read_entry",
    "review_entry",
    "weekly_summary",
    "worker_entries",
    "worker_home",
]

# The weekly report's columns of the log summary (gis.patrols.reports adds them beside patrols).
SUMMARY_FIELDS = [*(f"log_{k}" for k in KINDS), "log_days", "log_reviewed"]


class OutOfScopeError(CommgridError):
    """An entry outside what the caller answers for (another worker's, another community's)."""

    http_status = 403


@dataclass(frozen=True)
class WorkerHome:
    """Where a worker belongs: district, grid code, its community, and the district's time zone."""

    worker_id: int
    district_id: int
    grid_code: str | None
    community: str | None
    timezone: str | None

    def today(self) -> date:
        """The worker's local day by :mod:`gis.clock`, in the district's patrol time zone."""
        return _today(self.district_id, self.timezone)


def _today(district_id: int, timezone: str | None) -> date:
    if timezone is None:
        raise InputError(
            f"district {district_id} has no patrol rule, so its local day is unknown; set its time zone "
            "(e.g. Asia/Shanghai)",
            field="date",
            see="patrol_rule",
        )
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(f"the district's time zone {timezone!r} is unknown", field="timezone") from None
    return clock.today(zone)


def local_today(conn: Connection, district_id: int) -> date:
    """Today in the district's patrol time zone (the days its workers log and patrol)."""
    zone = conn.execute(text("SELECT timezone FROM patrol_rule WHERE district_id = :d"), {"d": district_id}).scalar()
    return _today(district_id, zone)


# A worker's grid's community in the plan in force (gis.store.lookup's rule).
_HOME = f"""
    SELECT gw.id AS worker_id, gw.district_id, gw.grid_code, gg.community_id AS community, r.timezone
    FROM grid_worker gw
    LEFT JOIN patrol_rule r ON r.district_id = gw.district_id
    LEFT JOIN LATERAL ({grid_communities_sql("p.district_id = gw.district_id AND g.code = gw.grid_code")}) gg ON true
"""

_ENTRY = """
    SELECT e.id, e.worker_id, gw.name AS worker, gw.grid_code, e.district_id, e.day, e.kind, e.body AS text,
           e.incident_ids, e.created_at, e.updated_at, e.reviewed_at, e.reviewed_by, e.review_comment
    FROM work_log_entry e JOIN grid_worker gw ON gw.id = e.worker_id
"""


def worker_home(conn: Connection, worker_id: int) -> WorkerHome:
    """The worker's district, grid, community and time zone.

    Raises
    ------
    NotFoundError
        For an unknown worker id.
    """
    row = conn.execute(text(_HOME + " WHERE gw.id = :w"), {"w": worker_id}).mappings().first()
    if row is None:
        raise NotFoundError(f"no grid worker with id {worker_id}")
    return WorkerHome(**row)


def _entry(row: Any) -> dict[str, Any]:
    out = dict(row)
    out["day"] = out["day"].isoformat()
    out["incident_ids"] = list(out["incident_ids"] or [])
    for key in ("created_at", "updated_at", "reviewed_at"):
        out[key] = out[key].isoformat() if isinstance(out[key], datetime) else None
    out["reviewed"] = out["reviewed_at"] is not None
    return out


def read_entry(conn: Connection, entry_id: int) -> dict[str, Any]:
    """One entry as the API shows it. Raises :class:`NotFoundError` for an unknown id."""
    row = conn.execute(text(_ENTRY + " WHERE e.id = :id"), {"id": entry_id}).mappings().first()
    if row is None:
        raise NotFoundError(f"no work log entry with id {entry_id}")
    return _entry(row)


def _check_links(conn: Connection, home: WorkerHome, ids: Sequence[int], user_id: int | None) -> None:
    """Each linked incident exists and is the worker's: reported by their account, or in their grid."""
    if not ids:
        return
    # the worker's reach over incidents: their own grid and their own reports (gis.store.scope)
    grids = frozenset({(home.district_id, home.grid_code)}) if home.grid_code else frozenset()
    mine, params = incident_condition(Reach(grids=grids, user_id=user_id))
    rows = conn.execute(
        text(f"SELECT i.id, {mine} AS ok FROM incident AS i {GRID_IN_FORCE} WHERE i.id = ANY(:ids)"),
        {"ids": list(ids), **params},
    ).all()
    found = {r.id for r in rows}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InputError(f"no incident with id {', '.join(map(str, missing))}", field="incident_ids")
    foreign = sorted(r.id for r in rows if not r.ok)
    if foreign:
        raise InputError(
            f"incident {', '.join(map(str, foreign))} is neither reported by you nor in your grid "
            f"{home.grid_code or '(none)'}; link only your own incidents",
            field="incident_ids",
        )


def add_entry(conn: Connection, home: WorkerHome, entry: EntryIn, *, user_id: int | None) -> dict[str, Any]:
    """Store a new entry of the worker ``home`` describes; its day may not be after their today.

    Raises
    ------
    InputError
        For a future day or a linked incident that does not exist or is not theirs.
    """
    check_day(entry.day, home.today())
    _check_links(conn, home, entry.incident_ids, user_id)
    new_id = conn.execute(
        text(
            """
            INSERT INTO work_log_entry (worker_id, district_id, day, kind, body, incident_ids, created_at, created_by)
            VALUES (:w, :d, :day, :kind, :body, :ids, :at, :u) RETURNING id
            """
        ),
        {
            "w": home.worker_id,
            "d": home.district_id,
            "day": entry.day,
            "kind": entry.kind,
            "body": entry.text,
            "ids": list(entry.incident_ids),
            "at": clock.now(),
            "u": user_id,
        },
    ).scalar_one()
    return read_entry(conn, new_id)


def change_entry(
    conn: Connection,
    entry_id: int,
    home: WorkerHome,
    *,
    user_id: int | None,
    kind: str | None = None,
    body: str | None = None,
    incident_ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Change the worker's own entry while it is not reviewed (a review freezes what was checked).

    Raises
    ------
    NotFoundError
        For an unknown entry.
    OutOfScopeError
        For another worker's entry.
    ConflictError
        For a reviewed entry.
    """
    row = conn.execute(
        text("SELECT worker_id, reviewed_at FROM work_log_entry WHERE id = :id FOR UPDATE"), {"id": entry_id}
    ).first()
    if row is None:
        raise NotFoundError(f"no work log entry with id {entry_id}")
    if row.worker_id != home.worker_id:
        raise OutOfScopeError(f"work log entry {entry_id} is another worker's; a worker changes only their own")
    if row.reviewed_at is not None:
        raise ConflictError(
            f"work log entry {entry_id} was reviewed at {row.reviewed_at.isoformat()}; a reviewed entry is kept "
            "as checked. Add a new entry instead"
        )
    if kind is not None:
        check_kind(kind)
    if body is not None:
        check_text(body)
    if incident_ids is not None:
        check_incidents(incident_ids)
        _check_links(conn, home, incident_ids, user_id)
    conn.execute(
        text(
            """
            UPDATE work_log_entry SET kind = coalesce(:kind, kind), body = coalesce(:body, body),
                   incident_ids = coalesce(:ids, incident_ids), updated_at = :at
            WHERE id = :id
            """
        ),
        {
            "id": entry_id,
            "kind": kind,
            "body": body,
            "ids": None if incident_ids is None else list(incident_ids),
            "at": clock.now(),
        },
    )
    return read_entry(conn, entry_id)


def worker_entries(conn: Connection, worker_id: int, *, start: date, end: date) -> list[dict[str, Any]]:
    """The worker's own entries from ``start`` to ``end`` (inclusive), newest day first."""
    rows = conn.execute(
        text(_ENTRY + " WHERE e.worker_id = :w AND e.day BETWEEN :s AND :e ORDER BY e.day DESC, e.id DESC"),
        {"w": worker_id, "s": start, "e": end},
    ).mappings()
    return [_entry(r) for r in rows]


def day_entries(
    conn: Connection,
    *,
    district_id: int,
    day: date,
    community: str | None = None,
    grid_codes: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """Entries of a day by the workers of a community, or of some grids (by code), by grid and worker.

    Raises
    ------
    NotFoundError
        For a community the district does not have.
    """
    if community is not None:
        known = conn.execute(
            text("SELECT 1 FROM community WHERE district_id = :d AND community_id = :c"),
            {"d": district_id, "c": community},
        ).first()
        if known is None:
            raise NotFoundError(f"no community {community!r} in district {district_id}")
    rows = conn.execute(
        text(
            f"""
            WITH home AS ({_HOME} WHERE gw.district_id = :d)
            {_ENTRY} JOIN home h ON h.worker_id = e.worker_id
            WHERE e.district_id = :d AND e.day = :day
              AND (CAST(:c AS text) IS NULL OR h.community = :c)
              AND (CAST(:codes AS text[]) IS NULL OR h.grid_code = ANY(:codes))
            ORDER BY gw.grid_code NULLS LAST, e.worker_id, e.id
            """
        ),
        {"d": district_id, "c": community, "day": day, "codes": None if grid_codes is None else sorted(grid_codes)},
    ).mappings()
    return [_entry(r) for r in rows]


def review_entry(
    conn: Connection,
    entry_id: int,
    *,
    user_id: int,
    comment: str | None,
    communities: Collection[tuple[int, str]] | None,
) -> dict[str, Any]:
    """Mark an entry reviewed by ``user_id`` now, with a comment; again replaces the earlier review.

    ``communities`` is the reviewer's scope as ``(district_id, community)`` pairs, ``None``
    for no limit.

    Raises
    ------
    NotFoundError
        For an unknown entry.
    OutOfScopeError
        For an entry of a worker outside ``communities``.
    """
    row = conn.execute(text("SELECT worker_id FROM work_log_entry WHERE id = :id FOR UPDATE"), {"id": entry_id}).first()
    if row is None:
        raise NotFoundError(f"no work log entry with id {entry_id}")
    home = worker_home(conn, row.worker_id)
    if communities is not None and (home.district_id, home.community) not in set(communities):
        raise OutOfScopeError(
            f"work log entry {entry_id} is of a worker outside your community; a station master reviews "
            "their own community's logs"
        )
    if comment is not None and len(comment) > COMMENT_CHARS:
        raise InputError(f"the comment has {len(comment)} characters; at most {COMMENT_CHARS}", field="comment")
    conn.execute(
        text("UPDATE work_log_entry SET reviewed_at = :at, reviewed_by = :u, review_comment = :comment WHERE id = :id"),
        {"id": entry_id, "at": clock.now(), "u": user_id, "comment": comment},
    )
    return read_entry(conn, entry_id)


def weekly_summary(conn: Connection, *, district_id: int, start: date, end: date) -> pd.DataFrame:
    """Per worker of the district with entries from ``start`` to ``end``: entries per kind, days, reviewed.

    Indexed by ``worker_id``, with the columns of :data:`SUMMARY_FIELDS`.
    """
    kinds = ", ".join(f"count(*) FILTER (WHERE kind = '{k}') AS log_{k}" for k in KINDS)
    rows = conn.execute(
        text(
            f"""
            SELECT worker_id, {kinds}, count(DISTINCT day) AS log_days,
                   count(*) FILTER (WHERE reviewed_at IS NOT NULL) AS log_reviewed
            FROM work_log_entry WHERE district_id = :d AND day BETWEEN :s AND :e GROUP BY worker_id
            """
        ),
        {"d": district_id, "s": start, "e": end},
    ).all()
    return pd.DataFrame(rows, columns=["worker_id", *SUMMARY_FIELDS]).set_index("worker_id")


def add_log_summary(conn: Connection, frame: pd.DataFrame, *, district_id: int, start: date, end: date) -> pd.DataFrame:
    """``frame`` (one row per ``worker_id``) with the log summary's columns beside its own, 0 for no entries."""
    summary = weekly_summary(conn, district_id=district_id, start=start, end=end)
    out = frame.join(summary, on="worker_id")
    out[SUMMARY_FIELDS] = out[SUMMARY_FIELDS].fillna(0).astype(int)
    return out

"""The work log: a grid worker writes their day, the station master reads and reviews the community's.

Who may do what (the store narrows every query by ids, :mod:`gis.worklog.store`):

* A grid worker whose account is linked to a worker record (``commgrid users add NAME
  --role grid_worker --worker ID``) writes entries for their local day or an earlier one,
  lists their own, and changes one until it is reviewed (then 409: what the station
  master checked stays as checked).
* A station master reads a day of their community's entries (``?day=&community=``) and
  marks entries reviewed, with a comment; the store records their user id and the time.
* A grid leader reads a day of the workers of the grids they lead; a community director
  their community's days; analysts, planners and admins any community's. Nobody reads
  beyond that: another worker, a grid leader or another community's station master asking
  for a community's logs gets 403, never its entries.

Entries are personal data (they may name residents): answers are ``private, no-store``
and every read is audited (:data:`api.audit.PERSONAL_READS`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from api.access import AuthenticationError, Caller, PermissionDeniedError, Role, Who
from api.dependencies import Conn, Day
from api.routes.common import MAX_ID, DistrictNameParam, IdPath
from api.scope import LINK_WORKER
from api.text import Note
from gis.errors import InputError
from gis.store import lookup
from gis.worklog import (
    KINDS,
    TEXT_CHARS,
    EntryIn,
    add_entry,
    change_entry,
    day_entries,
    local_today,
    review_entry,
    worker_home,
)
from gis.worklog.entries import MAX_INCIDENTS
from gis.worklog.store import WorkerHome, worker_entries

__all__ = ["router"]

router = APIRouter(tags=["work log"])

_PRIVATE = {"Cache-Control": "private, no-store"}
_OWN_DAYS = 31  # a worker's list without a day: the last month
Kind = Literal[KINDS]  # type: ignore[valid-type]  # the store's list, so the schema never drifts from it
IncidentIds = Annotated[list[Annotated[int, Field(ge=1, le=MAX_ID)]], Field(max_length=MAX_INCIDENTS)]


_ANONYMOUS = "the work log is personal data: send 'Authorization: Bearer <token>'"


class EntryBody(BaseModel):
    """A work log entry as the worker writes it."""

    date: Day = Field(description="the worker's local day (the district's patrol time zone); not in the future")
    kind: Kind = Field(description="what kind of work")
    text: str = Field(min_length=1, max_length=TEXT_CHARS, description="what was done (personal data)")
    incident_ids: IncidentIds = Field(
        default_factory=list, description="incidents this work was about: reported by the worker or in their grid"
    )


class EntryChange(BaseModel):
    """Fields to change in an entry not yet reviewed; those left out stay."""

    kind: Kind | None = None
    text: str | None = Field(default=None, min_length=1, max_length=TEXT_CHARS)
    incident_ids: IncidentIds | None = None


class ReviewBody(BaseModel):
    """The station master's check of an entry."""

    comment: Note | None = Field(default=None, description="what the station master says about it")


def _home(conn: Conn, who: Caller) -> WorkerHome:
    """The caller's own worker record, or 401/403: only a linked grid worker keeps a log."""
    if who.name is None:
        raise AuthenticationError(_ANONYMOUS)
    if who.worker_id is None:
        raise PermissionDeniedError(
            f"the work log is written by grid workers linked to their worker record; user {who.name!r} is not "
            f"(`{LINK_WORKER.format(name=who.name)}`)"
        )
    return worker_home(conn, who.worker_id)


def _readable_community(conn: Conn, who: Caller, community: str, district: str | None) -> tuple[int, str]:
    """The ``(district_id, community)`` whose logs the caller asks for, if theirs to read; else 403."""
    if who.role < Role.STATION_MASTER:
        raise PermissionDeniedError(
            f"a {who.role.label} reads only their own work log (GET /worklog without community); a community's "
            "logs are for its station master, its community director and the office"
        )
    district_id = lookup.district_id(conn, district)
    if who.role.is_team and (district_id, community) not in who.communities:
        raise PermissionDeniedError(
            f"community {community!r} is not yours; a {who.role.label} reads the logs of their own community"
        )
    return district_id, community


@router.post(
    "/worklog",
    status_code=201,
    operation_id="worklog_create",
    summary="Add an entry to the caller's work log (grid workers linked to a worker record)",
)
def worklog_create(conn: Conn, who: Who, body: EntryBody) -> JSONResponse:
    home = _home(conn, who)
    entry = add_entry(
        conn, home, EntryIn(body.date, body.kind, body.text, tuple(body.incident_ids)), user_id=who.user_id
    )
    conn.commit()
    return JSONResponse(entry, status_code=201, headers=_PRIVATE)


@router.get(
    "/worklog",
    operation_id="worklog_list",
    summary="The logs the caller may read: their own, their led grids' or community's day, or a named community's",
)
def worklog_list(
    conn: Conn,
    who: Who,
    day: Annotated[Day | None, Query(description="the local day; today in the district by default")] = None,
    community: Annotated[str | None, Query(description="a community's id (e.g. SQ01): its workers' entries")] = None,
    district: DistrictNameParam = None,
) -> JSONResponse:
    if who.name is None:
        raise AuthenticationError(_ANONYMOUS)
    if community is not None:
        district_id, community = _readable_community(conn, who, community, district)
        return _day(conn, district_id, day, community=community)
    if who.worker_id is not None:
        return _own(conn, who.worker_id, day)
    if who.role == Role.GRID_WORKER:
        # an account not linked to a worker record has written nothing, and reads no one else's
        return JSONResponse({"worker_id": None, "entries": []}, headers=_PRIVATE)
    if who.role == Role.GRID_LEADER:
        districts = sorted({d for d, _ in who.grids})
        days = [_entries(conn, d, day, grid_codes={c for e, c in who.grids if e == d}) for d in districts]
        return JSONResponse(
            {
                "grids": [{"district_id": d, "grid_code": c} for d, c in sorted(who.grids)],
                "days": {str(d): on.isoformat() for d, (on, _) in zip(districts, days, strict=True)},
                "entries": [e for _, found in days for e in found],
            },
            headers=_PRIVATE,
        )
    if who.role.is_team and len(who.communities) == 1:
        district_id, community = next(iter(who.communities))
        return _day(conn, district_id, day, community=community)
    raise InputError(
        "name the community whose logs to read: add ?community=ID (and ?day=YYYY-MM-DD)", field="community"
    )


def _own(conn: Conn, worker_id: int, day: date | None) -> JSONResponse:
    """A worker's own entries: of ``day``, else of the last month up to their today."""
    home = worker_home(conn, worker_id)
    end = day or home.today()
    start: date = day or end - timedelta(days=_OWN_DAYS - 1)
    return JSONResponse(
        {
            # where the worker belongs, so their page can draw their grid and date their day
            "worker_id": home.worker_id,
            "district_id": home.district_id,
            "grid_code": home.grid_code,
            "community": home.community,
            "today": home.today().isoformat(),
            "start": start.isoformat(),
            "end": end.isoformat(),
            "entries": worker_entries(conn, home.worker_id, start=start, end=end),
        },
        headers=_PRIVATE,
    )


def _entries(conn: Conn, district_id: int, day: date | None, **where) -> tuple[date, list[dict]]:
    on = day or local_today(conn, district_id)
    return on, day_entries(conn, district_id=district_id, day=on, **where)


def _day(conn: Conn, district_id: int, day: date | None, *, community: str) -> JSONResponse:
    """A community's entries of a day, with how many of them are reviewed."""
    on, entries = _entries(conn, district_id, day, community=community)
    return JSONResponse(
        {
            "district_id": district_id,
            "community": community,
            "day": on.isoformat(),
            "summary": {"entries": len(entries), "reviewed": sum(e["reviewed"] for e in entries)},
            "entries": entries,
        },
        headers=_PRIVATE,
    )


@router.patch(
    "/worklog/{entry_id}",
    operation_id="worklog_change",
    summary="Change one's own entry until the station master has reviewed it",
    responses={409: {"description": "the entry is reviewed"}},
)
def worklog_change(conn: Conn, who: Who, entry_id: IdPath, body: EntryChange) -> JSONResponse:
    home = _home(conn, who)
    entry = change_entry(
        conn,
        entry_id,
        home,
        user_id=who.user_id,
        kind=body.kind,
        body=body.text,
        incident_ids=None if body.incident_ids is None else tuple(body.incident_ids),
    )
    conn.commit()
    return JSONResponse(entry, headers=_PRIVATE)


@router.post(
    "/worklog/{entry_id}/review",
    operation_id="worklog_review",
    summary="Mark an entry of the community reviewed, with a comment (station masters)",
)
def worklog_review(conn: Conn, who: Who, entry_id: IdPath, body: ReviewBody) -> JSONResponse:
    if who.role != Role.STATION_MASTER or who.user_id is None:
        raise PermissionDeniedError(
            f"the work log is reviewed by the station master of the worker's community, not a {who.role.label}"
        )
    entry = review_entry(conn, entry_id, user_id=who.user_id, comment=body.comment, communities=who.communities)
    conn.commit()
    return JSONResponse(entry, headers=_PRIVATE)

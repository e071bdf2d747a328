"""Incident intake and the handling workflow: report, look up, list, move through states.

Who may do what (scope by ids, :mod:`api.scope`; never by user names):

* Grid team roles (grid worker, grid leader, station master, community director) report
  incidents and read those in their scope: a grid worker the incidents they reported (the
  account's id is stored on the incident) or that lie in their own grid; a grid leader
  those of the grids they lead; a station master or community director those of their
  community's grids. They take the on-site steps of on-site incidents in their scope
  (:data:`gis.incidents.ON_SITE_STEPS`: reported → verifying, rework → handling →
  verifying). Anything else is 403: incidents out of scope, the centre's steps
  (accepting, dispatching, closing, writing off), raw incident points (the ``incidents``
  collection) and hot spots stay with analysts. Reporter fields (personal data) reach a
  team member only on their own reports.
* Analysts and up read every incident, take every step, and list every incident.

Intake without an account (Open311, bulk imports) is nobody's: it carries its source
(``open311``, ``import:<file>``) and the reserved actor names no user may take
(:data:`gis.store.users.RESERVED_NAMES`).

The taxonomy is public. Responses of single incidents carry reporter data (personal
data) and are marked ``private, no-store``.

Photos (personal data, :mod:`gis.incidents.photos`): whoever may read and move an
incident (its reporter, the team members in whose scope it lies, analysts and up) adds
photos as the raw request body (``image/jpeg``, ``image/png`` or ``image/webp``; stored
re-encoded without EXIF or GPS) and reads them; the detail lists them. No public route
serves them.

The taxonomy is the shipped default unless the setting ``incident_taxonomy`` (when
present) names a JSON file (:func:`gis.incidents.read_taxonomy`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request, Response, status
from pydantic import BaseModel, Field

from api import incident_classes
from api.access import Caller, PermissionDeniedError, Role, Who
from api.bodies import BINARY_KINDS
from api.dependencies import Conn, Instant
from api.routes.common import CONFLICT, MAX_ID, answering
from api.scope import reach
from api.text import Code, Description, Name, Note, Phone
from gis import clock
from gis.errors import InputError
from gis.incidents import DEFAULT, ON_SITE_STEPS, Taxonomy, read_taxonomy
from gis.incidents.deadlines import WorkingCalendar, read_calendar
from gis.incidents.photos import MAX_PHOTOS, add_photo, list_photos, read_photo
from gis.incidents.store import (
    OVERDUE,
    IncidentFilter,
    create_incident,
    handling_class,
    in_reach,
    list_incidents,
    list_overdue,
    read_incident,
    transition,
)
from gis.store import lookup

__all__ = ["duplicate_window", "router", "taxonomy"]

router = APIRouter(tags=["incidents"])

_PRIVATE = {"Cache-Control": "private, no-store"}
_CLOCK_SKEW = timedelta(minutes=5)  # a reporting device's clock a little ahead is no lie
HandlingClass = Literal["on_site", "coordinated", "emergency", "approval"]


def taxonomy(request: Request) -> Taxonomy:
    """The app's incident taxonomy, read once per app."""
    state = request.app.state
    if getattr(state, "incident_taxonomy", None) is None:
        path = state.settings.incident_taxonomy
        state.incident_taxonomy = read_taxonomy(path) if path else DEFAULT
    return state.incident_taxonomy


def duplicate_window(request: Request) -> dict[str, float]:
    """The near-duplicate window from the settings ``incident_duplicate_metres`` and ``_hours`` (50 m, 24 h)."""
    settings = request.app.state.settings
    return {
        "duplicate_metres": float(settings.incident_duplicate_metres),
        "duplicate_hours": float(settings.incident_duplicate_hours),
    }


def calendar(request: Request) -> WorkingCalendar:
    """The app's working calendar for time limits, read once per app (setting ``incident_calendar``)."""
    state = request.app.state
    if getattr(state, "incident_calendar", None) is None:
        path = state.settings.incident_calendar
        state.incident_calendar = read_calendar(path) if path else WorkingCalendar()
    return state.incident_calendar


Tax = Annotated[Taxonomy, Depends(taxonomy)]
Cal = Annotated[WorkingCalendar, Depends(calendar)]
IncidentId = Annotated[int, Path(alias="incident_id", description="the incident's id")]
PhotoId = Annotated[int, Path(alias="photo_id", ge=1, le=MAX_ID, description="the photo's id")]


class IncidentIn(BaseModel):
    """A reported incident; its district and grid come from the point."""

    category: Code = Field(description="a taxonomy code, e.g. sanitation.garbage", examples=["sanitation.garbage"])
    lon: float = Field(ge=-180, le=180, description="longitude, EPSG:4326")
    lat: float = Field(ge=-90, le=90, description="latitude, EPSG:4326")
    description: Description | None = None
    reporter_name: Name | None = Field(default=None, description="personal data")
    reporter_phone: Phone | None = Field(default=None, description="personal data")
    public: bool | None = Field(default=None, description="default: the category's public flag")
    handling_class: HandlingClass | None = Field(default=None, description="default: the category's class")
    reported_at: Instant | None = Field(
        default=None, description="default: now; not in the future, and only analysts and up may set it"
    )


class TransitionIn(BaseModel):
    """A move to another state, with an optional note."""

    to: Code = Field(description="the target state, e.g. accepted", examples=["accepted"])
    note: Note | None = None


def _detail(conn: Any, incident_id: int, tax: Taxonomy, cal: WorkingCalendar, who: Caller) -> dict[str, Any]:
    """The incident; reporter fields only for office roles and for the account that reported it."""
    out = read_incident(conn, incident_id, taxonomy=tax, calendar=cal)
    mine = who.user_id is not None and out.pop("reporter_user_id") == who.user_id
    if who.role < Role.ANALYST and not mine:
        out["reporter"] = {"name": None, "phone": None}
    out["photos"] = list_photos(conn, incident_id)
    return out


def _check_reported_at(reported_at: datetime, who: Caller) -> None:
    """Only analysts and up back-date a report (the public delay counts from it); nobody dates one ahead."""
    if who.role < Role.ANALYST:
        raise PermissionDeniedError(
            f"reported_at is set by the service for {who.role.label}s (the public delay counts from it); "
            "leave it out, or ask an analyst to record a report of an earlier time"
        )
    if reported_at.tzinfo is None:
        raise InputError(f"reported_at {reported_at.isoformat()} has no time zone; add one, e.g. +08:00",
                         field="reported_at")  # fmt: skip
    if reported_at > clock.now() + _CLOCK_SKEW:
        raise InputError(
            f"reported_at {reported_at.isoformat()} is in the future; a report cannot come before its incident",
            field="reported_at",
        )


def _own(conn: Any, incident_id: int, who: Caller) -> None:
    """Below analysts, only incidents in the caller's scope (403 otherwise, without saying whose they are)."""
    if who.role >= Role.ANALYST:
        return
    if not in_reach(conn, incident_id, reach(conn, who)):
        raise PermissionDeniedError(
            f"incident {incident_id} is outside your scope: {_SCOPES[who.role]} (user {who.name!r} is "
            f"{who.role.label}; analysts see every incident)"
        )


_SCOPES = {
    Role.PUBLIC: "the public reads no single incident",
    Role.GRID_WORKER: "a grid worker reads and moves those they reported and those in their own grid",
    Role.GRID_LEADER: "a grid leader reads and moves those in the grids they lead",
    Role.STATION_MASTER: "a station master reads and moves those in their community's grids",
    Role.COMMUNITY_DIRECTOR: "a community director reads and moves those in their community's grids",
}


def _on_site(conn: Any, incident_id: int, to: str, who: Caller) -> frozenset[str] | None:
    """The states a caller below analysts may move ``to`` from (403 for steps that are not theirs)."""
    if who.role >= Role.ANALYST:
        return None
    _own(conn, incident_id, who)
    klass = handling_class(conn, incident_id)  # _own has answered 404 for an unknown one
    if to not in ON_SITE_STEPS or klass != "on_site":
        steps = ", ".join(f"{sorted(f)} → {t}" for t, f in ON_SITE_STEPS.items())
        raise PermissionDeniedError(
            f"the grid team takes only the on-site steps of on-site incidents ({steps}); incident {incident_id} is "
            f"{klass} and the move to {to!r} is the centre's (an analyst's)"
        )
    return ON_SITE_STEPS[to]


@router.get(
    "/incidents/taxonomy",
    operation_id="incident_taxonomy",
    summary="Incident categories with Chinese and English labels, handling classes and public flags",
)
def incident_taxonomy(tax: Tax) -> list[dict[str, Any]]:
    return tax.to_dicts()


@router.post(
    "/incidents",
    operation_id="incident_create",
    summary="Report an incident; its district and grid are found from its point (grid worker)",
    status_code=status.HTTP_201_CREATED,
)
def incident_create(
    request: Request, conn: Conn, body: IncidentIn, who: Who, tax: Tax, cal: Cal, response: Response,
    background: BackgroundTasks,
) -> dict[str, Any]:  # fmt: skip
    if body.reported_at is not None:
        _check_reported_at(body.reported_at, who)
    new = create_incident(
        conn,
        actor=who.name or "public",
        reporter_user_id=who.user_id,
        taxonomy=tax,
        source="api",
        **duplicate_window(request),
        **body.model_dump(),
    )
    incident_classes.notify_after_intake(request, conn, new, background, taxonomy=tax, calendar=cal)  # emergencies
    detail = _detail(conn, new, tax, cal, who)  # its deadline is computed before anything is kept
    conn.commit()
    response.headers.update(_PRIVATE)
    response.headers["Location"] = f"/incidents/{new}"
    return detail


@router.get(
    "/incidents",
    operation_id="incident_list",
    summary="Incidents in the caller's scope, newest first; or the overdue ones, longest overdue first "
    "(grid team: their scope; analysts: all)",
)
def incident_list(
    conn: Conn,
    who: Who,
    tax: Tax,
    cal: Cal,
    response: Response,
    overdue: Annotated[
        Literal["yellow", "red"] | None,
        Query(description="yellow: incidents past their limit; red: past twice their limit; default: every incident"),
    ] = None,
    district: Annotated[str | None, Query(description="district name; default: every district")] = None,
    mine: Annotated[bool, Query(description="only the incidents the caller reported")] = False,
    state: Annotated[Code | None, Query(alias="status", description="only incidents in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="most incidents returned")] = 1000,
) -> dict[str, Any]:
    place = None if district is None else lookup.district(conn, district)
    district_id = None if place is None else place.id
    scope = reach(conn, who)
    if mine and who.user_id is None:
        raise PermissionDeniedError("mine=true lists the caller's own reports: send 'Authorization: Bearer <token>'")
    which = IncidentFilter(scope, district_id, who.user_id if mine else None, state)
    if overdue is None:
        rows = list_incidents(conn, which, limit=limit)
    else:
        rows = list_overdue(conn, which, level=overdue, taxonomy=tax, calendar=cal, limit=limit)
    response.headers.update(_PRIVATE)
    return {"overdue": overdue, "levels": list(OVERDUE), "count": len(rows), "incidents": rows}


@router.get(
    "/incidents/{incident_id}",
    operation_id="incident_detail",
    summary="One incident with its reporter, history and next allowed states (grid workers: their own)",
)
def incident_detail(
    conn: Conn, incident_id: IncidentId, who: Who, tax: Tax, cal: Cal, response: Response
) -> dict[str, Any]:
    _own(conn, incident_id, who)
    response.headers.update(_PRIVATE)
    return _detail(conn, incident_id, tax, cal, who)


@router.post(
    "/incidents/{incident_id}/transitions",
    operation_id="incident_transition",
    summary="Move an incident to another state; 409 when the workflow does not allow it "
    "(grid workers: on-site steps of their own reports)",
    responses={409: {"description": "the workflow does not allow this move from the current state"}},
)
def incident_transition(
    conn: Conn, incident_id: IncidentId, body: TransitionIn, who: Who, tax: Tax, cal: Cal, response: Response
) -> dict[str, Any]:
    # approval steps by their roles, coordinated dispatch by hand-off only (api/incident_classes.py)
    if not incident_classes.routed_move(conn, incident_id, body.to, who, body.note):
        steps = _on_site(conn, incident_id, body.to, who)
        transition(conn, incident_id, to=body.to, actor=who.name or "public", note=body.note, allowed_from=steps)
    detail = _detail(conn, incident_id, tax, cal, who)
    conn.commit()
    response.headers.update(_PRIVATE)
    return detail


_PHOTO_TYPES = tuple(sorted(BINARY_KINDS))


async def _raw_body(request: Request) -> bytes:
    return await request.body()


@router.post(
    "/incidents/{incident_id}/photos",
    operation_id="incident_photo_add",
    summary=f"Add a photo to an incident: the image file as the body, at most {MAX_PHOTOS} per incident "
    "(whoever may move it: its reporter, the team in whose scope it lies, analysts)",
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {kind: {"schema": {"type": "string", "format": "binary"}} for kind in _PHOTO_TYPES},
        }
    },
)
def incident_photo_add(
    request: Request,
    conn: Conn,
    incident_id: IncidentId,
    who: Who,
    body: Annotated[bytes, Depends(_raw_body)],
    response: Response,
) -> dict[str, Any]:
    _own(conn, incident_id, who)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _PHOTO_TYPES:
        raise InputError(
            f"Content-Type {kind or 'missing'!r}: send the photo file itself as the body with Content-Type "
            f"{', '.join(_PHOTO_TYPES)}",
            field="photo",
        )
    if not body:
        raise InputError("the request body is empty; send the photo file itself as the body", field="photo")
    photo = add_photo(conn, incident_id, body, user_id=who.user_id)
    conn.commit()
    response.headers.update(_PRIVATE)
    response.headers["Location"] = photo["url"]
    return photo


@router.get(
    "/incidents/{incident_id}/photos/{photo_id}",
    operation_id="incident_photo",
    summary="One photo of an incident, a JPEG without metadata (those who may read the incident)",
    **answering("image/jpeg"),
)
def incident_photo(conn: Conn, incident_id: IncidentId, photo_id: PhotoId, who: Who) -> Response:
    _own(conn, incident_id, who)
    return Response(read_photo(conn, incident_id, photo_id), media_type="image/jpeg", headers=_PRIVATE)

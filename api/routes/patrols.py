"""Patrol tracks: import, compliance, tracks (GeoJSON, tiles), calendars, weekly reports.

PERSONAL DATA: never the public (401) nor analysts (403, they work with incident
statistics). Planners and admins see every worker; the grid team its scope, applied in
the store queries (:func:`api.scope.personal_reach`): a grid worker their own record, a
grid leader the workers of the grids they lead, a station master or community director
those of their community. A grid worker uploads their own fixes (``POST /patrols``):
they are attributed to the worker record the account is linked to, and a file naming
another worker or another worker's device is refused. Responses are marked
``Cache-Control: private, no-store`` (tiles: ``private, no-cache`` with ETags).

While the service runs, tracks older than the retention period are purged once a day
(the settings ``patrol_retention_days`` and ``patrol_purge_hours``, when present;
else 180 days and every 24 hours).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, FastAPI, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from api.access import Caller, PermissionDeniedError, Role, Who
from api.dependencies import Conn, Day
from api.routes.common import MAX_ID, NOT_MODIFIED, DistrictNameParam, IdPath, answering
from api.routes.tiles import tile_response
from api.scope import not_linked, personal_reach, reach_needs_store
from gis.csv_safety import frame_to_csv
from gis.errors import CommgridError, InputError
from gis.patrols.readers import read_json, read_tracks
from gis.patrols.reports import (
    Scope,
    parse_month,
    read_calendar,
    read_compliance,
    weekly_report,
)
from gis.patrols.reports import (
    read_tracks as read_track_features,
)
from gis.patrols.store import foreign_claim, import_fixes, purge, read_rule
from gis.store import begin, lookup
from tiles.matrix import MAX_ZOOM, TMS_ID, check_tile
from tiles.paper.patrol_sheets import calendar_png, weekly_csv, weekly_pdf
from tiles.tracks import track_tile

__all__ = ["router"]

log = logging.getLogger("commgrid.patrols")

MAX_UPLOAD_BYTES = 64 << 20
_PRIVATE = {"Cache-Control": "private, no-store"}
_WORLD_M = 40_075_016.685578488
_FORMATS = {
    "application/gpx+xml": "gpx",
    "application/xml": "gpx",
    "text/xml": "gpx",
    "text/csv": "csv",
    "application/geo+json": "geojson",
}

DayParam = Annotated[Day, Query(alias="date", description="local date in the district's patrol time zone")]
CommunityParam = Annotated[str | None, Query(description="only grids of this community (its id, e.g. SQ01)")]


@contextlib.asynccontextmanager
async def _purge_schedule(app: FastAPI) -> AsyncIterator[None]:
    """Purge old tracks once a day while the service runs (merged into the app's lifespan)."""
    settings = app.state.settings
    hours = float(settings.patrol_purge_hours)
    days = float(settings.patrol_retention_days)
    task = asyncio.create_task(_purge_loop(app, hours, days)) if hours > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def _purge_loop(app: FastAPI, hours: float, days: float) -> None:
    await asyncio.sleep(min(300.0, hours * 3600))  # not at startup: let the service settle first
    while True:
        try:
            done = await asyncio.to_thread(_purge_once, app.state.engine, days)
            log.info("purged patrol tracks before %s: %d fixes, %d lines", done.cutoff, done.points, done.tracks)
        except Exception:  # the store may be down; try again next time, never stop the loop
            log.exception("purging patrol tracks failed")
        await asyncio.sleep(hours * 3600)


def _purge_once(engine: Any, days: float):
    with begin(engine) as conn:
        return purge(conn, older_than_days=days, actor="service:purge")


router = APIRouter(tags=["patrols"], lifespan=_purge_schedule)


def _scope(conn: Any, who: Caller) -> Scope:
    """``None`` for planners and admins; a team member's reach; else 401/403."""
    return personal_reach(conn, who, "patrol tracks")


async def _scope_async(request: Request, who: Caller) -> Scope:
    if not reach_needs_store(who):
        return _scope(None, who)  # every tile asks: planners and grid workers need no connection for it

    def work() -> Scope:
        with request.app.state.engine.connect() as conn:
            return _scope(conn, who)

    return await run_in_threadpool(work)


def _uploader(who: Caller) -> int | None:
    """The worker a caller's upload is attributed to: ``None`` for planners and admins (the file says), else 403."""
    if who.role >= Role.PLANNER:
        return None
    if who.role == Role.GRID_WORKER:
        if who.worker_id is None:
            raise PermissionDeniedError(not_linked(who))
        return who.worker_id
    raise PermissionDeniedError(
        f"POST /patrols takes a grid worker's own tracks, or any worker's from a planner; user {who.name!r} is "
        f"{who.role.label} (each worker uploads their own, or a planner imports them)"
    )


def _records(frame) -> list[dict]:
    out = []
    for row in frame.to_dict(orient="records"):
        out.append(
            {k: (v.isoformat() if isinstance(v, date) else None if v is None or v != v else v) for k, v in row.items()}
        )
    return out


@router.post(
    "/patrols",
    operation_id="patrols_import",
    summary="Import GPS fixes: a GPX, CSV or GeoJSON file as the body, or JSON points "
    "(planner; a linked grid worker: their own)",
    status_code=201,
    responses={400: {"description": "bad input: the body names the file, row and field"}},
)
async def patrols_import(
    request: Request,
    who: Who,
    worker: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="the worker every fix belongs to (e.g. a GPX file); a grid worker: self"),
    ] = None,
    timezone: Annotated[str | None, Query(description="zone of times written without an offset")] = None,
    name: Annotated[str | None, Query(description="the file's name, for messages")] = None,
) -> dict:
    own = _uploader(who)
    if own is not None and worker not in (None, own):
        raise PermissionDeniedError(
            f"a grid worker uploads only their own tracks: worker={worker} is not your worker record ({own})"
        )
    body = await request.body()
    if not body:
        raise InputError("the request body is empty; send a GPX, CSV or GeoJSON file, or JSON points")
    if len(body) > MAX_UPLOAD_BYTES:
        raise InputError(
            f"the body has {len(body) >> 20} MiB; at most {MAX_UPLOAD_BYTES >> 20} MiB per request. Split the "
            "file by day, or import it with `commgrid patrols import`"
        )
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    source = name or "request body"

    def work() -> dict:
        if kind == "application/json":
            try:
                parsed = json.loads(body)
            except ValueError as exc:
                raise InputError(f"the body is not JSON: {exc}", file=source) from None
            fixes = read_json(parsed, source=source, timezone=timezone)
        elif kind in _FORMATS:
            fixes = read_tracks(source, data=body, fmt=_FORMATS[kind], timezone=timezone)
        else:
            raise InputError(
                f"Content-Type {kind or 'missing'!r}: send application/gpx+xml, text/csv, application/geo+json "
                "or application/json",
                file=source,
            )
        with begin(request.app.state.engine) as conn:
            if own is not None:
                claim = foreign_claim(conn, fixes, own)
                if claim is not None:
                    raise PermissionDeniedError(
                        f"{source}: {claim}; a grid worker uploads only their own tracks (worker record {own})"
                    )
            return import_fixes(conn, fixes, file=source, worker=own or worker).to_dict()

    return await run_in_threadpool(work)


@router.get(
    "/patrols/compliance",
    operation_id="patrols_compliance",
    summary="Whether each worker kept the patrol rule on a day (supervisors; JSON or CSV)",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}}},
)
def patrols_compliance(
    conn: Conn,
    who: Who,
    day: DayParam,
    community: CommunityParam = None,
    district: DistrictNameParam = None,
    f: Annotated[Literal["json", "csv"], Query(description="response format")] = "json",
) -> Response:
    scope = _scope(conn, who)
    found = lookup.district(conn, district)
    frame = read_compliance(conn, district_id=found.id, day=day, community=community, scope=scope)
    if f == "csv":
        return Response(
            frame_to_csv(frame, index=False, float_format="%.3f"),
            media_type="text/csv; charset=utf-8",
            headers={**_PRIVATE, "Content-Disposition": f'attachment; filename="compliance-{day}.csv"'},
        )
    try:
        rule = read_rule(conn, found.id)
        rule_info = {"timezone": rule.timezone, **rule.rule.to_dict()}
    except CommgridError:
        rule_info = None
    return JSONResponse(
        {
            "date": day.isoformat(),
            "district": found.name,
            "community": community,
            "rule": rule_info,
            "summary": {
                "workers": len(frame),
                "analysed": int(frame["analysed"].sum()),
                "compliant": int(frame["compliant"].sum()),
            },
            "workers": _records(frame),
        },
        headers=_PRIVATE,
    )


@router.get(
    "/patrols/tracks",
    operation_id="patrols_tracks",
    summary="A day's patrol tracks as GeoJSON, simplified for a zoom level (supervisors)",
    **answering("application/geo+json", response_class=JSONResponse),
)
def patrols_tracks(
    conn: Conn,
    who: Who,
    day: DayParam,
    district: DistrictNameParam = None,
    community: CommunityParam = None,
    worker: Annotated[
        list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None, Query(description="only these workers (repeatable)")
    ] = None,
    zoom: Annotated[int | None, Query(ge=0, le=MAX_ZOOM, description="simplify for this zoom level")] = None,
) -> JSONResponse:
    scope = _scope(conn, who)
    found = lookup.district(conn, district)
    tolerance = 0.0 if zoom is None else _WORLD_M / (256 * 2**zoom) / 2  # half a screen pixel
    doc = read_track_features(
        conn,
        district_id=found.id,
        day=day,
        worker_ids=worker,
        community=community,
        simplify_m=tolerance,
        scope=scope,
    )
    return JSONResponse(doc, media_type="application/geo+json", headers=_PRIVATE)


@router.get(
    "/patrols/tiles/{tms_id}/{z}/{y}/{x}",
    operation_id="patrols_tile",
    summary="Patrol tracks of a day as a vector tile, layer patrol_tracks (supervisors)",
    **answering("application/vnd.mapbox-vector-tile", others={204: {"description": "no tracks"}, **NOT_MODIFIED}),
)
async def patrols_tile(
    request: Request,
    who: Who,
    tms_id: Annotated[str, Path(examples=[TMS_ID])],
    z: Annotated[int, Path(ge=0, le=MAX_ZOOM)],
    y: Annotated[int, Path(ge=0)],
    x: Annotated[int, Path(ge=0)],
    day: DayParam,
    district_id: Annotated[
        int | None, Query(alias="district_id", ge=1, le=MAX_ID, description="only this district's workers")
    ] = None,
) -> Response:
    scope = await _scope_async(request, who)
    tile = check_tile(tms_id, z, x, y)
    own = None if scope is None else scope.worker_id
    result = await track_tile(
        request.app.state.tiles,
        tile,
        day=day,
        district_id=district_id,
        scope=None if scope is None or own is not None else scope.grids,
        worker_id=own,
        if_none_match=request.headers.get("if-none-match"),
    )
    return tile_response(result, private=True)


@router.get(
    "/patrols/workers/{worker_id}/calendar.png",
    operation_id="patrols_calendar",
    summary="A worker's month as a calendar coloured by compliance (supervisors)",
    **answering("image/png"),
)
def patrols_calendar(
    conn: Conn,
    who: Who,
    worker_id: IdPath,
    month: Annotated[str | None, Query(description="YYYY-MM; the current month by default")] = None,
) -> Response:
    scope = _scope(conn, who)
    try:
        start, end = parse_month(month)
    except ValueError:  # 9999-12: its last day is computed from a month the calendar does not have
        raise InputError(
            f"month {month!r} is beyond the calendar; write a month such as 2026-11", field="month"
        ) from None
    days = read_calendar(conn, worker_id=worker_id, start=start, end=end, scope=scope)
    title = f"{days.attrs['worker']} · 网格 grid {days.attrs['grid_code'] or '—'} · {start:%Y-%m}"
    png = calendar_png(days, title=title, min_visits=days.attrs["min_visits"])
    return Response(png, media_type="image/png", headers=_PRIVATE)


@router.get(
    "/patrols/weekly",
    operation_id="patrols_weekly",
    summary="The grid workers' weekly report: patrols, compliance, incidents (supervisors; PDF, CSV or JSON)",
    **answering("application/pdf", "text/csv", "application/json"),
)
def patrols_weekly(
    conn: Conn,
    who: Who,
    week: Annotated[str, Query(description="ISO week, e.g. 2026-W45")],
    community: CommunityParam = None,
    district: DistrictNameParam = None,
    f: Annotated[Literal["pdf", "csv", "json"], Query(description="response format")] = "pdf",
) -> Response:
    scope = _scope(conn, who)
    found = lookup.district(conn, district)
    report = weekly_report(conn, week=week, district_id=found.id, community=community, scope=scope)
    name = f"weekly-{report.week}{'-' + community if community else ''}"
    if f == "csv":
        return Response(
            weekly_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={**_PRIVATE, "Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if f == "json":
        return JSONResponse(
            {
                "week": report.week,
                "start": report.start.isoformat(),
                "end": report.end.isoformat(),
                "district": report.district,
                "community": report.community,
                "rows": _records(report.rows),
            },
            headers=_PRIVATE,
        )
    return Response(
        weekly_pdf(report),
        media_type="application/pdf",
        headers={**_PRIVATE, "Content-Disposition": f'inline; filename="{name}.pdf"'},
    )

"""Incident classes that route: department hand-offs and feedback, approval steps, emergency notifications.

* ``coordinated``: the centre (analysts and up) hands an incident to a department of the
  configured list (``GET /departments``; setting ``incident_departments``) with
  ``POST /incidents/{id}/handoff``, prints or sends its work sheet
  (``GET /incidents/{id}/worksheet``, JSON or printable HTML, no reporter data) and
  records the department's answer on its behalf (``POST /incidents/{id}/feedback``).
  The answer shows with the incident (``routing``), to the worker who reported it too.
* ``approval``: the steps ``line_checked`` (a station master of the incident's
  community), ``director_reviewed`` (its community director) and ``approved`` (the
  street office: analysts and up) are moves of ``POST /incidents/{id}/transitions``,
  which hands them to :func:`api.incident_classes.take_approval_step`. The wrong role, or a team user of
  another community, is 403; a step out of order is 409 naming the allowed moves.
* ``emergency``: intake calls :func:`api.incident_classes.notify_after_intake`, which queues a notification
  per configured contact in the intake's transaction and delivers them after the
  answer is sent (:mod:`gis.incidents.notify`); ``commgrid incidents notify`` retries.
"""

from __future__ import annotations

import html
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from api.access import Who
from api.dependencies import Conn
from api.incident_classes import acting, departments
from api.routes.incidents import Cal, IncidentId, Tax
from api.text import Code, Description, Note
from gis.incidents.departments import add_feedback, find_department, hand_off, work_sheet

__all__ = ["router"]

router = APIRouter(tags=["incidents"])


class HandoffIn(BaseModel):
    """A hand-off of a coordinated incident to a department."""

    department: Code = Field(description="a department id of GET /departments", examples=["housing"])
    note: Note | None = Field(default=None, description="what the department should know or do")


class FeedbackIn(BaseModel):
    """The answer of the department an incident was handed to, entered on its behalf."""

    text: Description = Field(min_length=1, description="what the department did or answered")


@router.get(
    "/departments",
    operation_id="incident_departments",
    summary="Departments coordinated incidents are handed to (analyst)",
)
def incident_departments(request: Request) -> list[dict[str, str]]:
    return [{"id": d.id, "name": d.name} for d in departments(request.app.state.settings)]


@router.post(
    "/incidents/{incident_id}/handoff",
    operation_id="incident_handoff",
    summary="Hand a coordinated incident to a department; answers its work sheet (analyst)",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the incident is not coordinated, or not at a state it can be handed off from"}},
)
def incident_handoff(
    request: Request, conn: Conn, incident_id: IncidentId, body: HandoffIn, who: Who, tax: Tax, cal: Cal,
    response: Response,
) -> dict[str, Any]:  # fmt: skip
    department = find_department(departments(request.app.state.settings), body.department)
    hand_off(conn, incident_id, department, acting(who), note=body.note)
    sheet = work_sheet(conn, incident_id, taxonomy=tax, calendar=cal)
    conn.commit()
    response.headers["Location"] = f"/incidents/{incident_id}/worksheet"
    return sheet


@router.get(
    "/incidents/{incident_id}/worksheet",
    operation_id="incident_worksheet",
    summary="The work sheet the department an incident was handed to receives: JSON or printable HTML (analyst)",
    responses={200: {"content": {"application/json": {}, "text/html": {}}}},
)
def incident_worksheet(
    conn: Conn,
    incident_id: IncidentId,
    tax: Tax,
    cal: Cal,
    fmt: Annotated[Literal["json", "html"], Query(alias="format", description="json or printable html")] = "json",
) -> Any:
    sheet = work_sheet(conn, incident_id, taxonomy=tax, calendar=cal)
    if fmt == "html":
        return HTMLResponse(_sheet_html(sheet))
    return sheet


@router.post(
    "/incidents/{incident_id}/feedback",
    operation_id="incident_feedback",
    summary="Record the feedback of the department an incident was handed to, on its behalf (analyst)",
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "the incident was never handed to a department"}},
)
def incident_feedback(conn: Conn, incident_id: IncidentId, body: FeedbackIn, who: Who) -> dict[str, Any]:
    saved = add_feedback(conn, incident_id, body.text, acting(who))
    conn.commit()
    return saved


def _sheet_html(sheet: dict[str, Any]) -> str:
    incident = sheet["incident"]
    label = incident["category_label"] or {}
    rows = [
        ("Incident 事件", incident["id"]),
        ("Category 类别", f"{label.get('zh', '')} {label.get('en', '')} ({incident['category']})"),
        ("Place 位置", f"{incident['district']}, grid {incident['grid_code'] or '-'}, "
                       f"{incident['lon']:.6f}, {incident['lat']:.6f}"),
        ("Reported 上报", incident["reported_at"]),
        ("Deadline 时限", incident["due_at"] or "-"),
        ("Description 描述", incident["description"] or "-"),
        ("Handed off 派遣", f"{sheet['handed_off_at']} by {sheet['handed_off_by'] or '-'}"),
        ("Note 备注", sheet["note"] or "-"),
    ]  # fmt: skip
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in rows)
    department = html.escape(sheet["department"]["name"])
    return (
        "<!doctype html><html lang='zh'><head><meta charset='utf-8'>"
        f"<title>Work sheet {incident['id']}</title><style>"
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;width:100%}"
        "th,td{border:1px solid #444;padding:.4em;text-align:left;vertical-align:top}th{width:12em}"
        "@media print{body{margin:0}}</style></head><body>"
        f"<h1>工作单 Work sheet — {department}</h1><table>{cells}</table>"
        "<p>Feedback 反馈: ______________________________________________</p></body></html>"
    )

"""Coordinated incidents: the hand-off to a department, its work sheet, and the department's feedback.

A ``coordinated`` incident is handled by a department of the city (housing, urban
management, fire brigade …) from a configured list (the setting
``incident_departments``). Handing it off dispatches it (``filed`` → ``dispatched``)
and records the department; while it is dispatched or being handled it may be handed
on to another. The work sheet is what the department receives: the incident's id,
category, place, description and deadline, never its reporter. The department's
feedback is entered on its behalf by an office user and shown with the incident, to
the worker who reported it too (:func:`gis.incidents.routing.routing_of`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis.errors import ConflictError, InputError, NotFoundError
from gis.incidents.deadlines import WorkingCalendar
from gis.incidents.routing import outside_view
from gis.incidents.store import Acting, read_incident, transition
from gis.incidents.taxonomy import DEFAULT, Taxonomy
from gis.store.audit import record

__all__ = ["Department", "add_feedback", "check_dispatch", "find_department", "hand_off", "work_sheet"]

# a hand-off on from one department to another keeps the incident where it is
_HANDED_ON = ("dispatched", "handling")


@dataclass(frozen=True)
class Department:
    """A department incidents are handed to: a stable id and the name people read."""

    id: str
    name: str


def find_department(departments: Sequence[Department], department_id: str) -> Department:
    """The department of ``department_id``.

    Raises
    ------
    InputError
        For an id not in the list (field ``department``), naming the ids it holds.
    """
    for department in departments:
        if department.id == department_id:
            return department
    known = [d.id for d in departments]
    raise InputError(
        f"unknown department {department_id!r}: expected one of {known} (the setting incident_departments "
        "configures them)"
        if known
        else f"no departments are configured, so {department_id!r} is unknown: set incident_departments",
        field="department",
    )


def check_dispatch(conn: Connection, incident_id: int) -> None:
    """Raise when the incident is coordinated and filed: it is dispatched by a hand-off, which names the department.

    Raises
    ------
    ConflictError
        For a filed coordinated incident (409), saying how to hand it off.
    """
    row = conn.execute(text("SELECT status, handling_class FROM incident WHERE id = :i"), {"i": incident_id}).first()
    if row is not None and row.handling_class == "coordinated" and row.status == "filed":
        raise ConflictError(
            f"coordinated incident {incident_id} is dispatched by handing it to a department, with the department's id",
            see="handoff",
        )


def hand_off(
    conn: Connection, incident_id: int, department: Department, who: Acting, *, note: str | None = None
) -> int:
    """Hand a coordinated incident to ``department``; return the hand-off's id.

    A filed incident is dispatched by it (the workflow's check, the event and the audit
    entry of :func:`gis.incidents.store.transition`); one already dispatched or being
    handled is handed on without a change of state. ``who`` is the account handing it on.

    Raises
    ------
    NotFoundError
        When no incident has this id.
    ConflictError
        For an incident that is not coordinated, or not at a state it can be handed off from.
    """
    row = conn.execute(
        text("SELECT status, handling_class FROM incident WHERE id = :i FOR UPDATE"), {"i": incident_id}
    ).first()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    if row.handling_class != "coordinated":
        raise ConflictError(
            f"incident {incident_id} is {row.handling_class}: only coordinated incidents are handed to a department"
        )
    when = who.time()
    if row.status not in _HANDED_ON:
        transition(conn, incident_id, to="dispatched", actor=who.actor, note=f"handed to {department.name}", at=when)
    new = conn.execute(
        text(
            "INSERT INTO incident_handoff (incident_id, department_id, department_name, note, by_user_id, at) "
            "VALUES (:i, :d, :n, :note, :u, :t) RETURNING id"
        ),
        {"i": incident_id, "d": department.id, "n": department.name, "note": note, "u": who.user_id, "t": when},
    ).scalar_one()
    record(
        conn, actor=who.actor, action="incident.handoff", target=f"incident:{incident_id}",
        detail={"department": department.id, "handoff": new},
    )  # fmt: skip
    return int(new)


def add_feedback(conn: Connection, incident_id: int, feedback: str, who: Acting) -> dict[str, Any]:
    """Record the feedback of the department the incident was last handed to; return it.

    ``who`` is the account entering it.

    Raises
    ------
    NotFoundError
        When no incident has this id.
    ConflictError
        When the incident was never handed to a department.
    InputError
        For empty feedback.
    """
    if not feedback.strip():
        raise InputError("the feedback is empty: write what the department answered", field="text")
    if conn.execute(text("SELECT 1 FROM incident WHERE id = :i"), {"i": incident_id}).first() is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    handoff = conn.execute(
        text(
            "SELECT id, department_id, department_name FROM incident_handoff WHERE incident_id = :i "
            "ORDER BY at DESC, id DESC LIMIT 1"
        ),
        {"i": incident_id},
    ).first()
    if handoff is None:
        raise ConflictError(
            f"incident {incident_id} was never handed to a department; hand it off first",
            see="handoff",
        )
    when = conn.execute(
        text("INSERT INTO incident_feedback (handoff_id, text, by_user_id, at) VALUES (:h, :x, :u, :t) RETURNING at"),
        {"h": handoff.id, "x": feedback, "u": who.user_id, "t": who.time()},
    ).scalar_one()
    record(
        conn, actor=who.actor, action="incident.feedback", target=f"incident:{incident_id}",
        detail={"department": handoff.department_id, "handoff": handoff.id},
    )  # fmt: skip
    return {
        "incident": incident_id,
        "department_id": handoff.department_id,
        "department_name": handoff.department_name,
        "text": feedback,
        "at": when,
        "by_user_id": who.user_id,
    }


def work_sheet(
    conn: Connection,
    incident_id: int,
    *,
    taxonomy: Taxonomy = DEFAULT,
    calendar: WorkingCalendar | None = None,
) -> dict[str, Any]:
    """What the department the incident was last handed to receives; no reporter data.

    Raises
    ------
    NotFoundError
        When no incident has this id, or it was never handed off.
    """
    incident = read_incident(conn, incident_id, taxonomy=taxonomy, calendar=calendar)
    handoffs = incident["routing"]["handoffs"]
    if not handoffs:
        raise NotFoundError(
            f"incident {incident_id} was never handed to a department, so it has no work sheet",
            see="handoff",
        )
    last = handoffs[-1]
    return {
        "incident": outside_view(incident),
        "department": {"id": last["department_id"], "name": last["department_name"]},
        "handed_off_at": last["at"],
        "handed_off_by": last["by"],
        "note": last["note"],
        "feedback": last["feedback"],
    }

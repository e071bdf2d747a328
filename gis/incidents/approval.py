"""Approval incidents: the chain of line check, director review and street office approval.

The steps are workflow states (:data:`gis.incidents.workflow.APPROVAL_STEPS`), so the
workflow refuses one taken out of order (409). Each step taken is kept three ways in
one transaction: the incident's event, the audit entry (both by
:func:`gis.incidents.store.transition`) and a row of ``incident_approval`` naming the
user by id, with the time and comment. Who may take which step is the API's check
(:mod:`api.routes.incident_routing`): team steps need the role *and* the incident's
community, found here.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

from gis.errors import InputError, NotFoundError
from gis.incidents.store import GRID_IN_FORCE, Acting, transition
from gis.incidents.workflow import APPROVAL_STEPS

__all__ = ["community_of", "take_step"]


def community_of(conn: Connection, incident_id: int) -> tuple[int, str] | None:
    """``(district_id, community_id)`` of the community of the incident's grid in force; ``None`` outside any.

    Raises
    ------
    NotFoundError
        When no incident has this id.
    """
    row = conn.execute(
        text(
            "SELECT i.id, c.district_id, c.community_id FROM incident AS i "
            + GRID_IN_FORCE
            + " LEFT JOIN community AS c ON c.id = g.community_id "
            "WHERE i.id = :i"
        ),
        {"i": incident_id},
    ).first()
    if row is None:
        raise NotFoundError(f"no incident {incident_id}", see="list_incidents")
    return None if row.community_id is None else (int(row.district_id), str(row.community_id))


def take_step(conn: Connection, incident_id: int, step: str, who: Acting, *, comment: str | None = None) -> None:
    """Take approval ``step`` and record who (user id), when and why.

    ``who`` is the account taking it (:class:`~gis.incidents.store.Acting`).

    Raises
    ------
    InputError
        For a state that is no approval step.
    NotFoundError
        When no incident has this id.
    ConflictError
        When the workflow does not allow the step now (an earlier one is missing, it was
        taken already, or the incident is of another class), naming the moves it allows.
    """
    if step not in APPROVAL_STEPS:
        raise InputError(f"{step!r} is no approval step: expected one of {list(APPROVAL_STEPS)}", field="to")
    when = who.time()
    transition(conn, incident_id, to=step, actor=who.actor, note=comment, at=when)
    conn.execute(
        text("INSERT INTO incident_approval (incident_id, step, by_user_id, at, comment) VALUES (:i, :s, :u, :t, :c)"),
        {"i": incident_id, "s": step, "u": who.user_id, "t": when, "c": comment},
    )

"""What an incident's handling class did with it: hand-offs and feedback, approval steps, notifications.

Read with every incident (:func:`gis.incidents.store.read_incident`), so the worker who
reported a coordinated incident sees what the department answered. The writers live
with their routes: :mod:`gis.incidents.departments` (coordinated),
:mod:`gis.incidents.approval` (approval) and :mod:`gis.incidents.notify` (emergency).
Users are named by id (and their current name, for people to read); notification
targets (webhook addresses, mailboxes) are not shown.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection

__all__ = ["OUTSIDE_FIELDS", "outside_view", "routing_of"]

# What an incident shows to those outside the service (departments, emergency contacts): no
# reporter, none of the centre's notes; the description says what happened.
OUTSIDE_FIELDS = (
    "id", "category", "category_label", "handling_class", "status", "district", "grid_code",
    "lon", "lat", "description", "reported_at", "limit", "due_at",
)  # fmt: skip


def outside_view(incident: dict[str, Any]) -> dict[str, Any]:
    """The fields of :data:`OUTSIDE_FIELDS` of an incident as :func:`gis.incidents.store.read_incident` reads it."""
    return {k: incident[k] for k in OUTSIDE_FIELDS}


def routing_of(conn: Connection, incident_id: int) -> dict[str, list[dict[str, Any]]]:
    """The incident's hand-offs (each with its feedback), approval steps and notification attempts, oldest first."""
    handoffs = [
        dict(r)
        for r in conn.execute(
            text(
                "SELECT h.id, h.department_id, h.department_name, h.note, h.at, h.by_user_id, u.name AS by "
                "FROM incident_handoff AS h LEFT JOIN app_user AS u ON u.id = h.by_user_id "
                "WHERE h.incident_id = :i ORDER BY h.at, h.id"
            ),
            {"i": incident_id},
        ).mappings()
    ]
    feedback: dict[int, list[dict[str, Any]]] = {h["id"]: [] for h in handoffs}
    for row in conn.execute(
        text(
            "SELECT f.handoff_id, f.text, f.at, f.by_user_id, u.name AS by "
            "FROM incident_feedback AS f JOIN incident_handoff AS h ON h.id = f.handoff_id "
            "LEFT JOIN app_user AS u ON u.id = f.by_user_id WHERE h.incident_id = :i ORDER BY f.at, f.id"
        ),
        {"i": incident_id},
    ).mappings():
        feedback[row["handoff_id"]].append({k: row[k] for k in ("text", "at", "by_user_id", "by")})
    approvals = conn.execute(
        text(
            "SELECT a.step, a.at, a.by_user_id, u.name AS by, a.comment "
            "FROM incident_approval AS a LEFT JOIN app_user AS u ON u.id = a.by_user_id "
            "WHERE a.incident_id = :i ORDER BY a.at, a.id"
        ),
        {"i": incident_id},
    ).mappings()
    notifications = conn.execute(
        text(
            "SELECT channel, status, attempts, error, created_at, attempted_at, sent_at "
            "FROM incident_notification WHERE incident_id = :i ORDER BY id"
        ),
        {"i": incident_id},
    ).mappings()
    return {
        "handoffs": [{**h, "feedback": feedback[h["id"]]} for h in handoffs],
        "approvals": [dict(a) for a in approvals],
        "notifications": [dict(n) for n in notifications],
    }

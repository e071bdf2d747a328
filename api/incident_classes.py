"""What the incident routes call for the handling classes that route (see api/routes/incident_routing.py).

The settings' departments and emergency contacts, the queueing of emergency
notifications at intake, and who may take an approval step. Kept apart from the routes
so that the intake and transition routes (api/routes/incidents.py) can call them.
"""

from __future__ import annotations

from fastapi import BackgroundTasks, Request
from sqlalchemy.engine import Connection

from api.access import Caller, PermissionDeniedError, Role
from api.settings import Settings
from gis.incidents.approval import community_of, take_step
from gis.incidents.deadlines import WorkingCalendar
from gis.incidents.departments import Department, check_dispatch
from gis.incidents.notify import Contacts, deliver, queue
from gis.incidents.store import Acting
from gis.incidents.taxonomy import Taxonomy
from gis.incidents.workflow import APPROVAL_STEPS

__all__ = ["acting", "contacts", "departments", "notify_after_intake", "routed_move", "take_approval_step"]


def acting(who: Caller) -> Acting:
    """The caller as the store records an incident's actor: the account's name and id."""
    return Acting(who.name or "public", who.user_id)


def departments(settings: Settings) -> list[Department]:
    """The departments of the settings' list."""
    return [Department(d.id, d.name) for d in settings.incident_departments]


def contacts(settings: Settings) -> Contacts:
    """The emergency contacts of the settings."""
    password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
    return Contacts(
        webhook_url=settings.emergency_webhook_url,
        smtp_host=settings.smtp_host,
        smtp_port=settings.smtp_port,
        smtp_from=settings.smtp_from,
        email_to=tuple(settings.emergency_email_to),
        smtp_starttls=settings.smtp_starttls,
        smtp_user=settings.smtp_user,
        smtp_password=password,
        timeout=settings.notify_timeout,
    )


def notify_after_intake(
    request: Request,
    conn: Connection,
    incident_id: int,
    background: BackgroundTasks,
    *,
    taxonomy: Taxonomy,
    calendar: WorkingCalendar,
) -> None:
    """For an emergency: queue its notifications (caller commits) and deliver them once the answer is sent."""
    settings: Settings = request.app.state.settings
    reach = contacts(settings)
    ids = queue(conn, incident_id, reach)
    if ids:
        engine = request.app.state.engine
        background.add_task(deliver, engine, reach, ids=ids, taxonomy=taxonomy, calendar=calendar)


def routed_move(conn: Connection, incident_id: int, to: str, who: Caller, note: str | None) -> bool:
    """Take a move of ``POST /incidents/{id}/transitions`` that a handling class routes; ``False`` for the others.

    Approval steps are taken here (:func:`take_approval_step`). A filed coordinated incident
    is dispatched only by a hand-off naming the department (409 here, pointing to it).
    """
    if to in APPROVAL_STEPS:
        take_approval_step(conn, incident_id, to, who, note)
        return True
    if to == "dispatched" and who.role >= Role.ANALYST:  # below, the on-site check answers 403
        check_dispatch(conn, incident_id)
    return False


def take_approval_step(conn: Connection, incident_id: int, step: str, who: Caller, comment: str | None) -> None:
    """Take an approval step for ``who``: 403 for the wrong role or community, 409 out of order."""
    needed = Role[APPROVAL_STEPS[step].upper()]
    if needed >= Role.ANALYST:  # the street office
        if who.role < needed:
            raise PermissionDeniedError(
                f"the step {step!r} is the street office's approval: it needs the {needed.label} role or above; "
                f"user {who.name!r} is {who.role.label}"
            )
    elif who.role != needed:
        raise PermissionDeniedError(
            f"the step {step!r} is taken by a {needed.label} of the incident's community; "
            f"user {who.name!r} is {who.role.label}"
        )
    elif community_of(conn, incident_id) not in who.communities:
        raise PermissionDeniedError(
            f"incident {incident_id} lies outside the communities user {who.name!r} answers for; the step {step!r} "
            "is taken by the station master or community director of its own community"
        )
    take_step(conn, incident_id, step, acting(who), comment=comment)

"""Emergency incidents: telling the configured contacts at once, by webhook and e-mail, with retries.

When an ``emergency`` incident comes in, one notification per configured channel is
queued in the intake's transaction (:func:`queue`): a JSON ``POST`` to a webhook and an
e-mail through an SMTP server (settings ``emergency_webhook_url``, ``smtp_*`` and
``emergency_email_to``). Delivery (:func:`deliver`) runs after the report is stored and
answered, so a contact that is down never blocks or fails a report: every attempt is
recorded on its row (sent or failed, the error, when), and failed ones are tried again
by ``commgrid incidents notify`` (run it from a timer).

The message holds what a responder needs (id, category, place, description, deadline)
and never the reporter (:data:`gis.incidents.routing.OUTSIDE_FIELDS`).
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from gis import clock
from gis.incidents.deadlines import WorkingCalendar
from gis.incidents.routing import outside_view
from gis.incidents.store import handling_class, read_incident
from gis.incidents.taxonomy import DEFAULT, Taxonomy
from gis.store import begin

__all__ = ["Contacts", "Delivery", "deliver", "message", "queue"]

_ERROR_CHARS = 500


@dataclass(frozen=True)
class Contacts:
    """Where emergencies are reported: a webhook, and/or e-mail recipients through an SMTP server."""

    webhook_url: str | None = None
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    email_to: tuple[str, ...] = ()
    smtp_starttls: bool = False
    smtp_user: str | None = None
    smtp_password: str | None = None
    timeout: float = 10.0

    def channels(self) -> list[tuple[str, str]]:
        """``(channel, target)`` for each configured channel."""
        out = []
        if self.webhook_url:
            out.append(("webhook", self.webhook_url))
        if self.smtp_host and self.smtp_from and self.email_to:
            out.append(("email", ", ".join(self.email_to)))
        return out


@dataclass(frozen=True)
class Delivery:
    """One attempt: which notification, its incident and channel, and whether it went out."""

    id: int
    incident_id: int
    channel: str
    sent: bool
    error: str | None


def queue(conn: Connection, incident_id: int, contacts: Contacts) -> list[int]:
    """Queue a notification per configured channel when the incident is an emergency; return their ids.

    In the caller's transaction: the notifications exist exactly when the incident does.
    """
    klass = handling_class(conn, incident_id)
    if klass != "emergency":
        return []
    return [
        int(
            conn.execute(
                text(
                    "INSERT INTO incident_notification (incident_id, channel, target, created_at) "
                    "VALUES (:i, :c, :t, :at) RETURNING id"
                ),
                {"i": incident_id, "c": channel, "t": target, "at": clock.now()},
            ).scalar_one()
        )
        for channel, target in contacts.channels()
    ]


def message(
    conn: Connection, incident_id: int, *, taxonomy: Taxonomy = DEFAULT, calendar: WorkingCalendar | None = None
) -> dict[str, Any]:
    """The notification's JSON body: the event and the incident's outside view (no reporter)."""
    incident = read_incident(conn, incident_id, taxonomy=taxonomy, calendar=calendar)
    return {"event": "incident.emergency", "incident": outside_view(incident)}


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _post(url: str, body: dict[str, Any], timeout: float) -> None:
    data = json.dumps(body, default=_json, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(
        url, data=data, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        answer.read()  # urlopen raises for 4xx/5xx; reading lets the server finish its side


def _mail(contacts: Contacts, recipients: str, body: dict[str, Any]) -> None:
    if not (contacts.smtp_host and contacts.smtp_from):
        raise RuntimeError("no SMTP server is configured (settings smtp_host and smtp_from)")
    incident = body["incident"]
    label = (incident.get("category_label") or {}).get("en") or incident["category"]
    mail = EmailMessage()
    mail["Subject"] = f"[commgrid] Emergency {incident['id']}: {label} in {incident['district']}"
    mail["From"] = contacts.smtp_from
    mail["To"] = recipients
    lines = [f"{key}: {value}" for key, value in incident.items() if key != "category_label"]
    mail.set_content(
        "An emergency incident was reported.\n\n" + "\n".join(lines) + "\n\n"
        + json.dumps(body, default=_json, ensure_ascii=False, indent=1)
    )  # fmt: skip
    with smtplib.SMTP(contacts.smtp_host, contacts.smtp_port, timeout=contacts.timeout) as smtp:
        if contacts.smtp_starttls:
            smtp.starttls(context=ssl.create_default_context())
        if contacts.smtp_user:
            smtp.login(contacts.smtp_user, contacts.smtp_password or "")
        smtp.send_message(mail)


def deliver(
    engine: Engine,
    contacts: Contacts,
    *,
    ids: Collection[int] | None = None,
    taxonomy: Taxonomy = DEFAULT,
    calendar: WorkingCalendar | None = None,
) -> list[Delivery]:
    """Send the notifications not sent yet (only ``ids`` when given), each in a transaction of its own.

    A notification being sent by another process at the same moment is skipped (its row
    is locked), so none goes out twice from two retries. Failures are recorded, never raised.
    """
    with begin(engine) as conn:
        todo = conn.execute(
            text(
                "SELECT id FROM incident_notification WHERE status <> 'sent' "
                "AND (CAST(:ids AS integer[]) IS NULL OR id = ANY(CAST(:ids AS integer[]))) ORDER BY id"
            ),
            {"ids": None if ids is None else list(ids)},
        ).scalars()
        todo = list(todo)
    out = []
    for nid in todo:
        with begin(engine) as conn:
            row = conn.execute(
                text(
                    "SELECT id, incident_id, channel, target FROM incident_notification "
                    "WHERE id = :n AND status <> 'sent' FOR UPDATE SKIP LOCKED"
                ),
                {"n": nid},
            ).first()
            if row is None:
                continue
            error = None
            try:
                body = message(conn, row.incident_id, taxonomy=taxonomy, calendar=calendar)
                if row.channel == "webhook":
                    _post(row.target, body, contacts.timeout)
                else:
                    _mail(contacts, row.target, body)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
            now = clock.now()
            conn.execute(
                text(
                    "UPDATE incident_notification SET status = :s, attempts = attempts + 1, error = :e, "
                    "attempted_at = :t, sent_at = CASE WHEN :s = 'sent' THEN :t END WHERE id = :n"
                ),
                {"s": "failed" if error else "sent", "e": error, "t": now, "n": row.id},
            )
            out.append(Delivery(row.id, row.incident_id, row.channel, error is None, error))
    return out

"""The audit log: who did what to which plan or incident, and who read personal data.

Writers call :func:`record` with the connection of the change they audit, so the entry
commits or rolls back with it. Entries are only ever inserted.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection

from gis.store.models import AuditEntry

__all__ = ["ACTIONS", "AuditRecord", "cli_actor", "list_entries", "record"]

# The actions written today; list_entries accepts any string so old logs stay readable.
ACTIONS = (
    "plan.publish",
    "plan.edit",
    "incident.transition",
    "personal.read",
    "backup.dump",
    "backup.restore",
    "patrol.purge",
)


@dataclass(frozen=True)
class AuditRecord:
    """One stored entry."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] = field(default_factory=dict)


def cli_actor() -> str:
    """The actor recorded for a command run from a shell: ``cli:<os user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no passwd entry, e.g. in some containers
        return "cli:unknown"


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add one entry in the caller's transaction.

    Parameters
    ----------
    conn
        The connection that makes the audited change; the entry shares its fate.
    actor
        A user name, or :func:`cli_actor` for commands.
    action
        One of :data:`ACTIONS` (``plan.publish``, ``personal.read``, ...).
    target
        What was acted on: ``plan:<id>``, ``incident:<id>`` or a route path.
    detail
        JSON-serialisable facts about the action (never the personal data itself).
    """
    conn.execute(insert(AuditEntry).values(actor=actor, action=action, target=target, detail=detail or {}))


def list_entries(
    conn: Connection,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[AuditRecord]:
    """Entries, newest first, optionally narrowed by action, actor and time."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return [AuditRecord(**row._mapping) for row in conn.execute(query)]

"""The audit log for administrators: publishes, plan edits, incident transitions, reads of personal data."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.dependencies import Conn, Instant
from gis.store.audit import list_entries

__all__ = ["OPERATION", "AuditEntryOut", "router"]

router = APIRouter(tags=["audit"])

OPERATION = "audit_list"

MAX_LIMIT = 10_000


class AuditEntryOut(BaseModel):
    """One entry of the audit log."""

    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any]


@router.get(
    "/audit",
    operation_id=OPERATION,
    summary="The audit log, newest first: who published, edited, moved incidents, read personal data (admin)",
    response_model=list[AuditEntryOut],
)
def audit_list(
    conn: Conn,
    action: Annotated[str | None, Query(description="only this action, e.g. plan.publish or personal.read")] = None,
    actor: Annotated[str | None, Query(description="only this user (cli:<os user> for commands)")] = None,
    since: Annotated[Instant | None, Query(description="only entries at or after this time (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="most entries returned")] = 1000,
) -> list[AuditEntryOut]:
    entries = list_entries(conn, action=action, actor=actor, since=since, limit=limit)
    return [AuditEntryOut(**entry.__dict__) for entry in entries]

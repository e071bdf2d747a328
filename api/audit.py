"""Recording every read of personal data through the API in the audit log.

:class:`AuditReads` is pure-ASGI middleware around the router. When a route in
:data:`PERSONAL_READS` is about to answer with success, it records who asked (the
caller's user name), when, and what (method, path, query, status) with
:func:`gis.store.audit.record`, *before* the response leaves: if the entry cannot be
written the caller gets 503 instead of the data, so no personal data goes out
unrecorded. The entry holds the request, never the data itself.

Writes (publishes, plan edits, incident transitions) are recorded by the store
functions that make them, in their own transaction; see :mod:`gis.store.audit`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import anyio.to_thread
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.access import route_id
from api.errors import RETRY_AFTER_S
from gis.errors import DatabaseUnavailableError
from gis.store import begin
from gis.store.audit import record

__all__ = ["PERSONAL_READ", "PERSONAL_READS", "AuditReads", "record_read"]

log = logging.getLogger("commgrid.api")

PERSONAL_READ = "personal.read"

# Operations whose success answer holds personal data, and what they hold.
PERSONAL_READS: Mapping[str, str] = {
    "incident_detail": "the reporter's name and phone",
    "workers_list": "grid workers' names, phones and duties",
    "worker": "a grid worker's name, phone and duties",
    "worker_photo": "a grid worker's photo",
    "incident_photo": "a photo of an incident",
    "patrols_tracks": "grid workers' GPS tracks",
    "patrols_tile": "grid workers' GPS tracks",
    "patrols_compliance": "each grid worker's patrol record",
    "patrols_calendar": "a grid worker's patrol record",
    "patrols_weekly": "each grid worker's patrol record",
    "audit_list": "who read personal data, and when",
    "worklog_list": "grid workers' work logs",
}


def record_read(engine: Engine, *, actor: str, operation: str, method: str, path: str, query: str, status: int) -> None:
    """Write one ``personal.read`` entry in a transaction of its own.

    Parameters
    ----------
    engine
        The store.
    actor
        The caller's user name.
    operation
        The route's operation id, a key of :data:`PERSONAL_READS`.
    method, path, query
        The request (the query string as sent, without the leading ``?``).
    status
        The status of the answer.

    Raises
    ------
    DatabaseUnavailableError
        When the store cannot be reached.
    """
    detail = {"operation": operation, "method": method, "query": query, "status": status}
    with begin(engine) as conn:
        record(conn, actor=actor, action=PERSONAL_READ, target=path, detail=detail)


@dataclass(frozen=True)
class AuditReads:
    """Pure-ASGI middleware recording successful reads of the routes in :data:`PERSONAL_READS`.

    Parameters
    ----------
    app
        The ASGI app inside (the router).
    """

    app: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = False

        async def audited_send(message: Message) -> None:
            nonlocal refused
            if refused:
                return  # the body of an answer replaced by the 503
            # 204 (nothing found) and 304 (client has it) carry no data, so they are no read
            if message["type"] == "http.response.start" and 200 <= message["status"] < 300 and message["status"] != 204:
                operation = route_id(scope.get("route"))
                if operation in PERSONAL_READS and not await self._recorded(scope, operation, message["status"]):
                    refused = True
                    await _unavailable(send)
                    return
            await send(message)

        await self.app(scope, receive, audited_send)

    async def _recorded(self, scope: Scope, operation: str, status: int) -> bool:
        who = _state(scope).get("caller")
        name = getattr(who, "name", None)
        if name is None:  # personal routes need a role, so this means a wrong ROUTE_ROLES entry
            log.error("refused %s %s: personal data for a caller without a name", scope["method"], scope["path"])
            return False
        try:
            await anyio.to_thread.run_sync(
                lambda: record_read(
                    scope["app"].state.engine,
                    actor=name,
                    operation=operation,
                    method=scope["method"],
                    path=scope["path"],
                    query=scope.get("query_string", b"").decode("latin-1"),
                    status=status,
                )
            )
        except Exception as exc:  # a database error of any kind: never answer unrecorded
            log.error("refused %s %s: the audit entry could not be written: %r", scope["method"], scope["path"], exc)
            return False
        return True


def _state(scope: Scope) -> dict[str, Any]:
    # Starlette keeps request.state in scope["state"], so what authorize stored is here.
    return scope.get("state") or {}


async def _unavailable(send: Send) -> None:
    body = json.dumps(
        {"code": DatabaseUnavailableError.__name__, "description": "The service cannot answer right now."}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(RETRY_AFTER_S).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})

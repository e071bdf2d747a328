"""``commgrid audit``: reading the audit log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from api.cli._common import DbOpt, console, handle_errors, store_connection

app = typer.Typer(
    help="The audit log: publishes, plan edits, incident transitions, reads of personal data, backups.",
    no_args_is_help=True,
)


@app.command(name="list")
@handle_errors
def list_(
    action: Annotated[
        str | None, typer.Option(help="Only this action: plan.publish, plan.edit, incident.transition, personal.read.")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Only this user (cli:<os user> for commands).")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only entries at or after this time, e.g. 2026-11-01 or 2026-11-01T08:00.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="Most entries shown, newest first.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line instead of a table.")] = False,
    db: DbOpt = None,
) -> None:
    """The newest audit entries: when, who, what, on which target.

    Reading the log is itself recorded (personal.read), as it is through the API.
    """
    from gis.store.audit import cli_actor, list_entries, record

    with store_connection(db) as conn:
        entries = list_entries(conn, action=action, actor=actor, since=since, limit=limit)
        detail = {"operation": "audit list", "filters": {"action": action, "actor": actor, "limit": limit}}
        record(conn, actor=cli_actor(), action="personal.read", target="audit_log", detail=detail)
    if as_json:
        for e in entries:
            line = {"id": e.id, "at": e.at.isoformat(), "actor": e.actor, "action": e.action, "target": e.target}
            console.print_json(json.dumps({**line, "detail": e.detail}, ensure_ascii=False), indent=None)
        return
    table = Table("at (UTC)", "actor", "action", "target", "detail")
    for e in entries:
        table.add_row(
            f"{e.at:%Y-%m-%d %H:%M:%S}", e.actor, e.action, e.target or "", json.dumps(e.detail, ensure_ascii=False)
        )
    console.print(table)

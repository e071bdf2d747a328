"""``commgrid communities``: the office phone and service hours residents see, per community."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli._common import DbOpt, console, handle_errors, store_connection

app = typer.Typer(
    help="Communities (社区): the office phone and service hours printed on posters, cards and the public page.",
    no_args_is_help=True,
)

DistrictOpt = Annotated[
    str | None, typer.Option("--district", help="District name; needed only when several hold the community id.")
]


def _show(rows) -> None:
    table = Table("district", "community", "admin code", "name", "office phone", "service hours")
    for c in rows:
        table.add_row(
            c.district, c.community_id, c.admin_code or "", c.name, c.office_phone or "", c.service_hours or ""
        )
    console.print(table)


@app.command(name="list")
@handle_errors
def list_(district: DistrictOpt = None, db: DbOpt = None) -> None:
    """List the stored communities with their office phone and service hours."""
    from gis.communities import list_communities

    with store_connection(db) as conn:
        _show(list_communities(conn, district=district))


@app.command(name="set")
@handle_errors
def set_(
    community: Annotated[str, typer.Argument(help="Community id (or 12-digit admin code).")],
    office_phone: Annotated[
        str | None, typer.Option("--office-phone", help="Community office phone ('' clears it).")
    ] = None,
    service_hours: Annotated[
        str | None, typer.Option("--service-hours", help="Office service hours, as printed ('' clears them).")
    ] = None,
    district: DistrictOpt = None,
    db: DbOpt = None,
) -> None:
    """Store a community's office phone and/or service hours; options left out stay as they are."""
    from gis.communities import set_community_settings
    from gis.errors import InputError

    if office_phone is None and service_hours is None:
        raise InputError("give --office-phone and/or --service-hours", field="office_phone")
    changes = {k: v for k, v in (("office_phone", office_phone), ("service_hours", service_hours)) if v is not None}
    with store_connection(db) as conn:
        stored = set_community_settings(conn, community, district=district, **changes)
    _show([stored])

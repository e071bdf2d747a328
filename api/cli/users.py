"""``commgrid users``: who may use the API beyond the public view."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from api.cli._common import DbOpt, console, handle_errors, store_connection

app = typer.Typer(
    help="API users, their bearer tokens and their scope: the grid team (grid_worker, grid_leader, "
    "station_master, community_director) and the office (analyst, planner, admin).",
    no_args_is_help=True,
)

RoleOpt = Annotated[
    str,
    typer.Option(
        "--role",
        help="grid_worker (with --worker), grid_leader (with --grid), station_master or community_director "
        "(with --community): they see their scope only; analyst, planner or admin see the whole city.",
    ),
]


def _print_token(name: str, token: str) -> None:
    console.print(f"token for [bold]{name}[/] (shown once; the store keeps only its hash):", highlight=False)
    # plain print: the token must be copyable as one line, without rich wrapping it
    print(token)


@app.command()
@handle_errors
def add(
    name: Annotated[str, typer.Argument(help="User name.")],
    role: RoleOpt,
    worker: Annotated[
        int | None, typer.Option("--worker", help="A grid_worker's worker record id (see `commgrid workers list`).")
    ] = None,
    community: Annotated[
        str | None,
        typer.Option("--community", help="The community a station_master or community_director answers for."),
    ] = None,
    grid: Annotated[
        list[str] | None, typer.Option("--grid", help="A grid a grid_leader leads (repeat for several).")
    ] = None,
    district: Annotated[
        str | None, typer.Option("--district", help="District of --community/--grid; needed when several are stored.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Add a user and print their API token (send it as `Authorization: Bearer TOKEN`).

    Names of the service's own identities (open311, import, cli:..., system:...) are refused.
    """
    from gis.store import lookup
    from gis.store.users import add_user

    with store_connection(db) as conn:
        district_id = lookup.district_id(conn, district) if community is not None or grid else None
        token = add_user(
            conn, name, role=role, worker_id=worker, district_id=district_id, community=community, grids=grid or ()
        )
    _print_token(name, token)


@app.command()
@handle_errors
def link(
    name: Annotated[str, typer.Argument(help="User name of a grid_worker account.")],
    worker: Annotated[int, typer.Option("--worker", help="The worker record id (see `commgrid workers list`).")],
    db: DbOpt = None,
) -> None:
    """Link a grid_worker account to the worker record it acts for (own patrols, incidents, compliance)."""
    from gis.store.users import link_worker

    with store_connection(db) as conn:
        link_worker(conn, name, worker)
    console.print(f"linked {name} to grid worker {worker}")


@app.command()
@handle_errors
def token(name: Annotated[str, typer.Argument(help="User name.")], db: DbOpt = None) -> None:
    """Give a user a new token; the old one stops working at once."""
    from gis.store.users import renew_token

    with store_connection(db) as conn:
        new = renew_token(conn, name)
    _print_token(name, new)


@app.command()
@handle_errors
def remove(name: Annotated[str, typer.Argument(help="User name.")], db: DbOpt = None) -> None:
    """Remove a user; their token stops working at once."""
    from gis.store.users import remove_user

    with store_connection(db) as conn:
        remove_user(conn, name)
    console.print(f"removed {name}")


@app.command(name="list")
@handle_errors
def list_(db: DbOpt = None) -> None:
    """List users and roles (never tokens)."""
    from gis.store.users import list_users

    with store_connection(db) as conn:
        users = list_users(conn)
    table = Table("name", "role", "worker", "created")
    for u in users:
        created = f"{u.created_at:%Y-%m-%d %H:%M}" if u.created_at else ""
        table.add_row(u.name, u.role, "" if u.worker_id is None else str(u.worker_id), created)
    console.print(table)

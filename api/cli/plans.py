"""``commgrid plans``: the history of plans, their differences, publishing."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli._common import DbOpt, console, handle_errors, settings_from, store_connection

app = typer.Typer(help="Stored plans: list them, compare two, publish, archive or delete one.", no_args_is_help=True)


def _engine(db: str | None):
    from api.database import open_store

    return open_store(settings_from(db))


@app.command(name="list")
@handle_errors
def list_(db: DbOpt = None) -> None:
    """Every stored plan with its status and validity."""
    from gis.plans import list_plans
    from gis.store import connect

    engine = _engine(db)
    try:
        with connect(engine) as conn:
            plans = list_plans(conn)
    finally:
        engine.dispose()
    table = Table("district", "plan", "status", "grids", "valid from", "valid to", "version")
    for p in plans:
        table.add_row(
            p.district,
            p.name,
            p.status,
            str(p.n_grids),
            f"{p.valid_from:%Y-%m-%d %H:%M}" if p.valid_from else "",
            f"{p.valid_to:%Y-%m-%d %H:%M}" if p.valid_to else "",
            str(p.version),
        )
    console.print(table)


@app.command()
@handle_errors
def diff(
    a: Annotated[str, typer.Argument(help="The older plan.")],
    b: Annotated[str, typer.Argument(help="The newer plan.")],
    map_out: Annotated[Path | None, typer.Option("--map", help="Write a folium map of the changes.")] = None,
    db: DbOpt = None,
) -> None:
    """What changed from plan A to plan B: grids added, removed, changed; households moved."""
    from gis.plans import read_grids
    from gis.plans.edits import diff_plans
    from gis.store import connect

    engine = _engine(db)
    try:
        with connect(engine) as conn:
            d = diff_plans(conn, a, b)
            grids = (read_grids(conn, plan=a), read_grids(conn, plan=b)) if map_out else None
    finally:
        engine.dispose()
    console.print(
        f"{a} → {b}: {len(d.kept)} grids kept, {len(d.changed)} changed, {len(d.added)} added, "
        f"{len(d.removed)} removed; {d.units_moved:,} units and {d.households_moved:,} of "
        f"{d.households_total:,} households ({d.households_moved_share:.1%}) changed grid"
    )
    if map_out is not None and grids is not None:
        from tiles.webmaps import diff_map

        map_out.parent.mkdir(parents=True, exist_ok=True)
        diff_map(grids[0], grids[1], changed=set(d.changed), added=set(d.added)).save(str(map_out))
        console.print(f"wrote {map_out}")


@app.command()
@handle_errors
def publish(
    name: Annotated[str, typer.Argument(help="The draft (or archived plan, to roll back) to publish.")],
    db: DbOpt = None,
) -> None:
    """Publish a plan after checking it whole; the district's published plan is archived in the same transaction.

    An invalid plan (not contiguous, not nested, overlapping, with gaps, a unit twice) is
    refused with the report. The audit log records the publish for the shell user (``cli:<user>``).
    """
    from gis.plans import publish_plan
    from gis.store import begin
    from gis.store.audit import cli_actor

    engine = _engine(db)
    try:
        with begin(engine) as conn:
            publish_plan(conn, plan=name, actor=cli_actor())
    finally:
        engine.dispose()
    console.print(f"published {name}")


def _change(name: str, db: str | None, verb: str) -> None:
    """Archive or delete a plan for the shell user (``cli:<user>`` in the audit log)."""
    from gis.plans.store import archive_plan, delete_plan
    from gis.store.audit import cli_actor

    change = {"archived": archive_plan, "deleted": delete_plan}[verb]
    with store_connection(db) as conn:
        change(conn, plan=name, actor=cli_actor())
    console.print(f"{verb} {name}")


@app.command()
@handle_errors
def archive(name: Annotated[str, typer.Argument(help="The published plan to archive.")], db: DbOpt = None) -> None:
    """Archive the published plan: its district leaves the public map until a plan is published again."""
    _change(name, db, "archived")


@app.command()
@handle_errors
def delete(name: Annotated[str, typer.Argument(help="The draft to delete.")], db: DbOpt = None) -> None:
    """Delete a draft plan with its grids (published and archived plans are history and stay)."""
    _change(name, db, "deleted")

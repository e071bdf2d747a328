"""``commgrid workers``: grid workers from a CSV file, and who is posted where."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from api.cli._common import DbOpt, console, handle_errors, store_connection

app = typer.Typer(help="Grid workers (网格员): import them from CSV, list them.", no_args_is_help=True)

DistrictOpt = Annotated[
    str | None, typer.Option("--district", help="District name; needed only when several have a published plan.")
]


@app.command(name="import")
@handle_errors
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="CSV with columns grid_code, name, work_phone, photo (image file, relative to the CSV), duties."
        ),
    ],
    district: DistrictOpt = None,
    db: DbOpt = None,
) -> None:
    """Post the workers of a CSV file as their grids' contacts (all rows or none).

    A grid's previous worker is retired (kept for history); a row naming the grid's
    current worker updates their phone, photo and duties.
    """
    from gis.workers.roster import read_workers_csv
    from gis.workers.store import import_workers

    rows = read_workers_csv(file)  # every row checked, photos read, before the store is touched
    with store_connection(db) as conn:
        done = import_workers(conn, rows, district=district, file=str(file))
    console.print(
        f"imported {len(rows)} workers from {file}: {done.assigned} newly assigned, {done.updated} updated, "
        f"{done.retired} previous workers retired"
    )


@app.command(name="list")
@handle_errors
def list_(
    grid: Annotated[str | None, typer.Option("--grid", help="Only this grid's workers.")] = None,
    retired: Annotated[bool, typer.Option("--retired/--active", help="Show retired workers instead.")] = False,
    district: DistrictOpt = None,
    db: DbOpt = None,
) -> None:
    """List posted (or retired) workers with their grids and work phones."""
    from gis.workers.store import list_workers

    with store_connection(db) as conn:
        workers = list_workers(conn, district=district, grid_code=grid, active=not retired)
    table = Table(
        Column("id"),
        Column("grid", no_wrap=True),
        Column("name"),
        Column("work phone", no_wrap=True),
        Column("photo"),
        Column("duties", max_width=34),
    )
    for w in workers:
        duties = (w.duties or "")[:16] + ("…" if w.duties and len(w.duties) > 16 else "")
        table.add_row(str(w.id), w.grid_code or "", w.name, w.work_phone or "", "yes" if w.has_photo else "", duties)
    console.print(table)

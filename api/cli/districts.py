"""``commgrid districts``: the districts of a city, on their own (before, between and after plans)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli._common import DbOpt, console, handle_errors, store_connection

app = typer.Typer(
    help="Districts of the city: add one (with no plan yet), list them, remove one.", no_args_is_help=True
)


@app.command()
@handle_errors
def add(
    name: Annotated[str, typer.Argument(help="The district's name, unique in the city.")],
    boundary: Annotated[Path, typer.Option("--boundary", help="Polygon file of the district's boundary.")],
    crs: Annotated[
        str | None, typer.Option("--crs", help="CRS of the boundary file, when the file does not say.")
    ] = None,
    working_crs: Annotated[
        str | None,
        typer.Option("--working-crs", help="Projected CRS to measure in (default: the UTM zone of the boundary)."),
    ] = None,
    select: Annotated[
        str | None,
        typer.Option(
            "--select", help="FIELD=VALUE: only the features of the file with this value (e.g. TNAME=大安區)."
        ),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Add a district with its boundary and no plan, so its incidents can come in before it is divided."""
    from gis.errors import InputError
    from gis.io import read_boundary, read_vector
    from gis.plans.store import write_district

    if select is None:
        outline = read_boundary(boundary, crs=crs)
    else:
        field, sep, value = select.partition("=")
        if not sep:
            raise InputError(f"--select must be FIELD=VALUE, got {select!r}", field="select")
        frame = read_vector(boundary, crs=crs)
        if field not in frame.columns:
            raise InputError(f"no field {field!r}; the file has {sorted(map(str, frame.columns))}", file=boundary)
        chosen = frame[frame[field].astype(str) == value]
        if chosen.empty:
            raise InputError(f"no feature has {field} = {value!r}", file=boundary, field=field)
        outline = chosen.dissolve()
    crs_used = working_crs or str(outline.estimate_utm_crs())
    with store_connection(db) as conn:
        district_id = write_district(conn, name=name, working_crs=crs_used, boundary_geom=outline.geometry)
    console.print(f"added district {name!r} (id {district_id}), measured in {crs_used}")


@app.command(name="list")
@handle_errors
def list_(db: DbOpt = None) -> None:
    """Every district with its communities, units, plans and published plan."""
    from gis.plans.store import list_districts

    with store_connection(db) as conn:
        found = list_districts(conn)
    table = Table("id", "district", "working CRS", "communities", "units", "plans", "published")
    for d in found:
        table.add_row(
            str(d.id), d.name, d.working_crs, str(d.communities), str(d.units), str(d.plans), d.published or ""
        )
    console.print(table)


@app.command()
@handle_errors
def remove(
    district: Annotated[str, typer.Argument(help="The district's name or id.")],
    db: DbOpt = None,
) -> None:
    """Remove a district; refused while it holds plans, incidents or grid workers."""
    from gis.plans.store import remove_district
    from gis.store.audit import cli_actor

    with store_connection(db) as conn:
        district_id = remove_district(conn, district, actor=cli_actor())
    console.print(f"removed district {district!r} (id {district_id})")

"""``commgrid sample``: the deterministic sample district."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import console, handle_errors

app = typer.Typer(help="Generate the synthetic sample district used by the demo and tests.", no_args_is_help=True)


@app.command()
@handle_errors
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder for the GeoPackages.")] = Path("out/sample"),
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives the same district.")] = 0,
    households: Annotated[int, typer.Option(help="About how many households.")] = 25_000,
) -> None:
    """Write a sample district (units, communities, roads and river, incidents, tracks)."""
    from data.sample import generate_district, write_district

    district = generate_district(seed=seed, households=households)
    paths = write_district(district, out)
    units = district.units
    console.print(
        f"sample district: {len(units):,} units, {int(units['households'].sum()):,} households, "
        f"{int(units['population'].sum()):,} residents, {len(district.communities)} communities"
    )
    for name, path in paths.items():
        console.print(f"  {name:<12} {path}")

"""``commgrid export-public DIR``: the public map of the published plans as a static site."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import DbOpt, console, handle_errors, store_connection


@handle_errors
def export_public(
    folder: Annotated[Path, typer.Argument(help="Folder to write the site into (created if missing).")],
    minzoom: Annotated[int, typer.Option("--minzoom", min=0, max=18, help="Lowest zoom of the tiles.")] = 10,
    maxzoom: Annotated[
        int, typer.Option("--maxzoom", min=0, max=18, help="Highest zoom of the tiles (the map zooms on past it).")
    ] = 16,
    db: DbOpt = None,
) -> None:
    """Write the public map of every published plan as a static site any web host or CDN can serve.

    DIR gets index.html, assets/, tiles.pmtiles (grids, communities, streets), style.json and
    data/ (the grids' posted contacts and the search index): no Python or database behind it.
    Run it again after publishing a plan.
    """
    from api.public_site import export_public_site

    with store_connection(db) as conn:
        done = export_public_site(conn, folder, minzoom=minzoom, maxzoom=maxzoom)
    a = done.archive
    console.print(
        f"wrote {folder}/: {done.grids} grids, {done.photos} photos, {a.tiles} tiles of zoom {a.minzoom}–{a.maxzoom} "
        f"in tiles.pmtiles ({a.bytes / 1e6:.1f} MB); serve the folder as it is"
    )

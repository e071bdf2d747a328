"""``commgrid load`` and ``commgrid map``: plans into the store, and out as maps."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import DbOpt, console, handle_errors, settings_from, store_connection


def load_plan_file(
    path: Path,
    *,
    plan: str,
    district: str,
    publish: bool,
    settings,
    barriers: Path | None = None,
    barrier_class: str | None = None,
    barrier_name: str | None = None,
) -> object:
    """Store a plan file (with its units and communities, and optionally the streets) in one transaction."""
    from api.database import open_store
    from gis.io import read_barriers
    from gis.plans.files import read_plan_file
    from gis.plans.load import store_plan
    from gis.store import begin

    files = read_plan_file(path)
    lines = None
    if barriers is not None:
        lines = read_barriers(barriers, class_field=barrier_class, name_field=barrier_name)
    engine = open_store(settings)
    try:
        with begin(engine) as conn:
            return store_plan(
                conn,
                files,
                plan=plan,
                district=district,
                publish=publish,
                params={"source": str(path)},
                barriers=lines,
                source=str(path),
            )
    finally:
        engine.dispose()


@handle_errors
def load(
    grids: Annotated[Path, typer.Argument(help="Plan GeoPackage written by `commgrid partition`.")],
    plan: Annotated[str, typer.Option("--plan", help="Name for the stored plan (unique).")],
    district: Annotated[str, typer.Option(help="District the plan belongs to (created if new).")] = "default",
    publish: Annotated[bool, typer.Option("--publish/--draft", help="Make it the published plan.")] = False,
    barriers: Annotated[
        Path | None, typer.Option(help="Streets, rivers, railways to keep for maps and posters (lines).")
    ] = None,
    barrier_class: Annotated[str | None, typer.Option(help="Field of the barriers holding their class.")] = None,
    barrier_name: Annotated[
        str | None, typer.Option(help="Field of the barriers holding street or river names.")
    ] = None,
    db: DbOpt = None,
) -> None:
    """Put a partition output into the store, with its units and communities (and streets, if given)."""
    stored = load_plan_file(
        grids,
        plan=plan,
        district=district,
        publish=publish,
        settings=settings_from(db),
        barriers=barriers,
        barrier_class=barrier_class,
        barrier_name=barrier_name,
    )
    console.print(
        f"stored plan {stored.plan!r} (id {stored.plan_id}): {stored.grids} grids, "
        f"units {stored.new_units:,} added, {stored.removed_units:,} removed, {stored.changed_units:,} changed "
        f"(counts); {stored.new_communities} new communities"
        + (" — [green]published[/]" if stored.published else " — draft")
    )


@handle_errors
def export_map(
    plan: Annotated[
        str | None, typer.Argument(help="Stored plan name, or a plan .gpkg file; default the published plan.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("map.html"),
    db: DbOpt = None,
) -> None:
    """Write a folium HTML map of a plan (for notebooks and e-mail)."""
    from tiles.webmaps import plan_map

    if plan is not None and plan.lower().endswith(".gpkg"):
        from gis.plans.files import read_plan_file

        grids = read_plan_file(Path(plan)).grids
    else:
        from gis.plans import read_grids

        with store_connection(db, transaction=False) as conn:
            grids = read_grids(conn, plan=plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    plan_map(grids, title=str(plan or "published plan")).save(str(out))
    console.print(f"wrote {out} ({len(grids)} grids)")

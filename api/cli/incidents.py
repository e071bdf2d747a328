"""``commgrid incidents``: bulk import of incident files (CSV, GeoJSON) with a field mapping; notification retries."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import DbOpt, NaiveTimesZoneOpt, console, handle_errors, pairs, settings_from, store_connection

app = typer.Typer(
    help="Incidents (事件): bulk import with a field mapping; emergency notification retries.", no_args_is_help=True
)


@app.command(name="import")
@handle_errors
def import_(
    file: Annotated[Path, typer.Argument(help="A CSV or GeoJSON file of incidents.")],
    map_: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            help="FIELD=COLUMN: category, x, y, reported_at (or year, month, day, hour, minute), "
            "description, handling_class, status, public.",
        ),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option("--category", help="VALUE=CODE: a category value of the file → a taxonomy code."),
    ] = None,
    crs: Annotated[
        str | None, typer.Option("--crs", help="CRS of x/y, e.g. EPSG:4326 (GeoJSON: from the file).")
    ] = None,
    timezone: NaiveTimesZoneOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv or geojson (default: from the suffix).")] = None,
    taxonomy: Annotated[
        Path | None, typer.Option("--taxonomy", help="A JSON taxonomy instead of the default one.")
    ] = None,
    actor: Annotated[
        str,
        typer.Option(
            "--actor",
            help="Recorded on every incident's first event, for people to read; imported incidents belong to no "
            "account (the default is the reserved identity of bulk imports).",
        ),
    ] = "import",
    db: DbOpt = None,
) -> None:
    """Import incidents with one COPY, each placed in its district and grid by its point (all or nothing).

    Rows without coordinates and points outside every stored district are left out and counted.
    Near-duplicates are marked as at intake (same category, within the settings'
    incident_duplicate_metres and _hours of an earlier incident, in the file or stored)
    and counted; nobody has decided on them yet.

    Example (Vancouver crimes, UTM 10N metres, local times)::

        commgrid incidents import vancouver_crimes_2020.csv --map category=TYPE --map x=X --map y=Y
          --map year=YEAR --map month=MONTH --map day=DAY --map hour=HOUR --map minute=MINUTE
          --crs EPSG:26910 --timezone America/Vancouver --category "Mischief=public_security.vandalism" ...
    """
    from gis.incidents import DEFAULT, read_taxonomy
    from gis.incidents.imports import map_incidents, read_incident_table
    from gis.incidents.store import copy_incidents

    mapping = pairs(map_, option="--map", example="FIELD=COLUMN, e.g. category=TYPE")
    values = pairs(category, option="--category", example="VALUE=CODE, e.g. 'Mischief=public_security.vandalism'")
    table, file_crs = read_incident_table(file, fmt=fmt)
    mapped = map_incidents(
        table,
        mapping,
        file=str(file),
        crs=crs or file_crs,
        timezone=timezone,
        categories=values,
        taxonomy=read_taxonomy(taxonomy) if taxonomy else DEFAULT,
    )
    settings = settings_from(db)
    with store_connection(db) as conn:
        result = copy_incidents(
            conn,
            mapped.frame,
            actor=actor,
            source=f"import:{file.name}",
            duplicate_metres=float(settings.incident_duplicate_metres),
            duplicate_hours=float(settings.incident_duplicate_hours),
        )
    console.print(f"{mapped.summary()}; {result.summary()}", highlight=False)


@app.command(name="notify")
@handle_errors
def notify(db: DbOpt = None) -> None:
    """Send the emergency notifications not sent yet: those that failed, and any left pending.

    Each attempt is recorded on its notification (sent or failed, the error, when), so
    running this again only retries what still failed. Run it from a timer (cron, a
    systemd timer) every few minutes; it exits 1 when some notification still failed.
    Contacts come from the settings (emergency_webhook_url, smtp_*, emergency_email_to).
    """
    from api.database import open_store
    from api.incident_classes import contacts
    from gis.incidents import DEFAULT, read_taxonomy
    from gis.incidents.deadlines import WorkingCalendar, read_calendar
    from gis.incidents.notify import deliver

    settings = settings_from(db)
    taxonomy = read_taxonomy(settings.incident_taxonomy) if settings.incident_taxonomy else DEFAULT
    calendar = read_calendar(settings.incident_calendar) if settings.incident_calendar else WorkingCalendar()
    engine = open_store(settings)
    try:
        done = deliver(engine, contacts(settings), taxonomy=taxonomy, calendar=calendar)
    finally:
        engine.dispose()
    for d in done:
        outcome = "sent" if d.sent else f"failed: {d.error}"
        console.print(f"incident {d.incident_id} {d.channel} (notification {d.id}): {outcome}", highlight=False)
    failed = sum(not d.sent for d in done)
    console.print(f"{len(done) - failed} sent, {failed} failed", highlight=False)
    if failed:
        raise typer.Exit(1)

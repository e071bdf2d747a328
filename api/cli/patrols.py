"""``commgrid patrols``: import GPS tracks, set the patrol rule, check compliance, purge old tracks.

Tracks are personal data: they are kept for the retention period (180 days unless
told otherwise) and then purged; compliance results stay.
"""

from __future__ import annotations

from dataclasses import asdict, make_dataclass
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Column, Table

from api.cli._common import (
    DbOpt,
    NaiveTimesZoneOpt,
    console,
    handle_errors,
    option_groups,
    pairs,
    settings_from,
    store_connection,
)
from gis.csv_safety import frame_to_csv

app = typer.Typer(
    help="Patrol GPS tracks (巡查轨迹): import, the twice-a-day rule, compliance, retention.", no_args_is_help=True
)
devices_app = typer.Typer(help="GPS devices and the workers who carry them.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")

DistrictOpt = Annotated[
    str | None, typer.Option("--district", help="District name; needed only when several are stored.")
]


# The settings of the patrol rule that `patrols rule` changes: PatrolRule field, its type, flag, what it means
# (with PatrolRule's default; gis.patrols is not imported here, as it would load the track analysis with every command).
RULE_FLAGS = (
    ("min_visits", int, "--min-visits", "Visits a day needs (2)."),
    ("min_visit_minutes", float, "--min-minutes", "Shortest visit that counts, minutes (60)."),
    ("gap_minutes", float, "--gap-minutes", "A pause longer than this ends a patrol (10)."),
    ("max_speed_kmh", float, "--max-speed", "Faster jumps are dropped as impossible, km/h (50)."),
    ("stop_minutes", float, "--stop-minutes", "Staying put this long is a stop, not patrol (30)."),
    ("coverage_m", float, "--coverage-m", "Streets passed this close count as covered (30)."),
)
RuleChanges = make_dataclass(
    "RuleChanges",
    [
        (field, Annotated[kind | None, typer.Option(flag, help=meaning)], None)
        for field, kind, flag, meaning in RULE_FLAGS
    ],
    frozen=True,
)


def _shown(value: object) -> str:
    """Text for a table cell: ``—`` for missing values (pandas may hold them as NaN)."""
    return "—" if value is None or value != value else str(value)


@app.command(name="import")
@handle_errors
def import_(
    file: Annotated[Path, typer.Argument(help="A GPX, CSV or GeoJSON file of GPS fixes.")],
    worker: Annotated[
        int | None, typer.Option("--worker", help="The grid worker (id) every fix belongs to, e.g. for GPX files.")
    ] = None,
    timezone: NaiveTimesZoneOpt = None,
    fmt: Annotated[str | None, typer.Option("--format", help="gpx, csv or geojson (default: from the suffix).")] = None,
    column: Annotated[
        list[str] | None,
        typer.Option("--column", help="CSV column for a field: FIELD=HEADER (lon, lat, recorded_at, device, worker)."),
    ] = None,
    analyse: Annotated[
        bool, typer.Option("--analyse/--no-analyse", help="Recompute tracks and compliance of the days touched.")
    ] = True,
    db: DbOpt = None,
) -> None:
    """Import GPS fixes: matched to workers, cleaned, stored with COPY, their days analysed (all or nothing).

    Fixes are matched to workers by --worker, a worker_id column, or their device
    (`commgrid patrols devices add`). Duplicates and impossible jumps are dropped,
    fixes far outside the district flagged; the report says how many of each.
    """
    from gis.patrols.readers import read_tracks
    from gis.patrols.store import import_fixes

    columns = pairs(column, option="--column", example="FIELD=HEADER, e.g. worker=tracker")
    fixes = read_tracks(file, fmt=fmt, timezone=timezone, columns=columns)  # checked before the store opens
    with store_connection(db) as conn:
        result = import_fixes(conn, fixes, file=str(file), worker=worker, analyse_days_after=analyse)
    console.print(result.report.summary(), highlight=False)
    for kind, rows in result.report.examples.items():
        if rows:
            console.print(f"  {kind.replace('_', ' ')}: rows {', '.join(map(str, rows))}", highlight=False)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    days = f"{result.days[0]} … {result.days[-1]}" if len(result.days) > 1 else "".join(result.days)
    console.print(
        f"stored {result.stored} fixes of {len(result.workers)} workers ({days}); "
        + (f"{result.compliant} of {result.analysed} worker-days kept the rule" if analyse else "not analysed"),
        highlight=False,
    )


@app.command()
@handle_errors
@option_groups
def rule(
    district: DistrictOpt = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="Zone the district's days are counted in, e.g. Asia/Shanghai.")
    ] = None,
    changes: RuleChanges = RuleChanges(),
    db: DbOpt = None,
) -> None:
    """Show the district's patrol rule, or change the settings given."""
    from gis.patrols.store import read_rule, set_rule
    from gis.store import lookup

    given = {name: value for name, value in asdict(changes).items() if value is not None}
    with store_connection(db) as conn:
        found = lookup.district(conn, district)
        if timezone is not None or given:
            current = set_rule(conn, found.id, timezone=timezone, **given)
        else:
            current = read_rule(conn, found.id)
    table = Table(Column("setting"), Column("value", justify="right"), title=f"patrol rule of {current.district}")
    table.add_row("timezone", current.timezone)
    for key, value in current.rule.to_dict().items():
        table.add_row(key, f"{value:g}")
    console.print(table)


@app.command()
@handle_errors
def compliance(
    day: Annotated[str, typer.Option("--date", help="Local date, e.g. 2026-11-02.")],
    community: Annotated[str | None, typer.Option("--community", help="Only this community's grids (id).")] = None,
    district: DistrictOpt = None,
    recompute: Annotated[
        bool, typer.Option("--recompute", help="Analyse the day again first (e.g. after changing the rule).")
    ] = False,
    csv: Annotated[Path | None, typer.Option("--csv", help="Also write the rows to this CSV file.")] = None,
    db: DbOpt = None,
) -> None:
    """Which workers kept the patrol rule on a day, with their visits and coverage."""
    from gis.errors import InputError
    from gis.patrols.reports import read_compliance
    from gis.patrols.store import analyse_days
    from gis.store import lookup

    try:
        when = date.fromisoformat(day)
    except ValueError:
        raise InputError(f"--date {day!r} is not a date; write it as 2026-11-02", field="date") from None
    with store_connection(db) as conn:
        found = lookup.district(conn, district)
        if recompute:
            analyse_days(conn, district_id=found.id, days=[when])
        frame = read_compliance(conn, district_id=found.id, day=when, community=community)
    if csv is not None:
        Path(csv).write_text(frame_to_csv(frame, index=False, float_format="%.3f"), encoding="utf-8")
    table = Table(
        Column("grid", no_wrap=True),
        Column("worker"),
        Column("kept", justify="center"),
        Column("long/all visits", justify="right"),
        Column("visit min", justify="right"),
        Column("km", justify="right"),
        Column("coverage", justify="right"),
        title=f"patrol compliance {when} ({found.name}{', ' + community if community else ''})",
    )
    for r in frame.itertuples(index=False):
        kept = "[green]yes[/]" if r.compliant else ("[red]no[/]" if r.analysed else "[dim]no data[/]")
        cover = "" if r.coverage is None or r.coverage != r.coverage else f"{100 * r.coverage:.0f} %"
        table.add_row(
            _shown(r.grid_code),
            _shown(r.worker),
            kept,
            f"{r.long_visits}/{r.visits}",
            f"{r.visit_minutes:.0f}",
            f"{r.distance_m / 1000:.1f}",
            cover,
        )
    console.print(table)
    console.print(f"{int(frame['compliant'].sum())} of {len(frame)} workers kept the rule", highlight=False)


@app.command()
@handle_errors
def calendar(
    worker: Annotated[int, typer.Argument(help="The grid worker (id).")],
    month: Annotated[str | None, typer.Option("--month", help="YYYY-MM; the current month by default.")] = None,
    out: Annotated[Path, typer.Option("--out", help="PNG file to write.")] = Path("calendar.png"),
    db: DbOpt = None,
) -> None:
    """Draw a worker's month as a calendar coloured by compliance (PNG)."""
    from gis.patrols.reports import parse_month, read_calendar
    from tiles.paper.patrol_sheets import calendar_png

    start, end = parse_month(month)
    with store_connection(db) as conn:
        days = read_calendar(conn, worker_id=worker, start=start, end=end)
    title = f"{days.attrs['worker']} · 网格 grid {days.attrs['grid_code'] or '—'} · {start:%Y-%m}"
    out.write_bytes(calendar_png(days, title=title, min_visits=days.attrs["min_visits"]))
    console.print(f"wrote {out}: {int(days['compliant'].sum())} of {len(days)} days kept the rule", highlight=False)


@app.command()
@handle_errors
def purge(
    older_than: Annotated[
        float | None,
        typer.Option("--older-than", help="Delete tracks older than this many days (default: the retention, 180)."),
    ] = None,
    db: DbOpt = None,
) -> None:
    """Delete GPS fixes and track lines past the retention period; compliance results and visits stay."""
    from gis.patrols.store import purge as purge_tracks
    from gis.store.audit import cli_actor

    days = older_than or float(settings_from(db).patrol_retention_days)
    with store_connection(db) as conn:
        done = purge_tracks(conn, older_than_days=days, actor=cli_actor())
    console.print(
        f"deleted {done.points} fixes and {done.tracks} track lines recorded before {done.cutoff:%Y-%m-%d %H:%M %Z}",
        highlight=False,
    )


@app.command()
@handle_errors
def supervise(
    user: Annotated[
        str, typer.Argument(help="A grid_leader account (`commgrid users add NAME --role grid_leader --grid CODE`).")
    ],
    grid: Annotated[list[str] | None, typer.Option("--grid", help="Grid code (repeatable).")] = None,
    remove: Annotated[bool, typer.Option("--remove", help="Remove the links instead (all when no --grid).")] = False,
    district: DistrictOpt = None,
    db: DbOpt = None,
) -> None:
    """Change the grids a grid leader leads (or list them): they see those grids' workers, patrols and incidents."""
    from gis.errors import InputError
    from gis.patrols.reports import add_supervisor, list_supervisors, remove_supervisor
    from gis.store import lookup

    with store_connection(db) as conn:
        found = lookup.district(conn, district)
        if remove:
            done = remove_supervisor(conn, user, district_id=found.id, grid_codes=grid)
            console.print(f"removed {done} supervisor links of {user}", highlight=False)
        elif grid:
            done = add_supervisor(conn, user, district_id=found.id, grid_codes=grid)
            console.print(f"{user} now leads {len(grid)} more grids ({done} new links)", highlight=False)
        elif user:
            links = [code for name, _, code in list_supervisors(conn, district_id=found.id) if name == user]
            if not links:
                raise InputError(f"{user} leads no grid; add some with --grid CODE", field="grid")
            console.print(f"{user} leads: {', '.join(links)}", highlight=False)


@devices_app.command(name="add")
@handle_errors
def devices_add(
    device: Annotated[str, typer.Argument(help="The device id as the GPS files name it.")],
    worker: Annotated[int, typer.Option("--worker", help="The grid worker (id) who carries it.")],
    db: DbOpt = None,
) -> None:
    """Register a device to a worker (moving it from a previous one)."""
    from gis.patrols.store import add_device

    with store_connection(db) as conn:
        add_device(conn, device, worker)
    console.print(f"device {device} → worker {worker}", highlight=False)


@devices_app.command(name="remove")
@handle_errors
def devices_remove(device: Annotated[str, typer.Argument(help="The device id.")], db: DbOpt = None) -> None:
    """Forget a device (fixes already imported keep their worker)."""
    from gis.patrols.store import remove_device

    with store_connection(db) as conn:
        remove_device(conn, device)
    console.print(f"removed device {device}", highlight=False)


@devices_app.command(name="list")
@handle_errors
def devices_list(db: DbOpt = None) -> None:
    """List registered devices and their workers."""
    from gis.patrols.store import list_devices

    with store_connection(db) as conn:
        rows = list_devices(conn)
    table = Table(Column("device"), Column("worker", justify="right"))
    for device, worker in rows:
        table.add_row(device, str(worker))
    console.print(table)

"""``commgrid report``: the grid workers' weekly report (patrols, compliance, incidents) as CSV and PDF."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import console, handle_errors, store_connection

app = typer.Typer(help="Reports the practice asks for.", no_args_is_help=True)


@app.command()
@handle_errors
def weekly(
    week: Annotated[str, typer.Option("--week", help="ISO week, e.g. 2026-W45.")],
    community: Annotated[str | None, typer.Option("--community", help="Community id (all when absent).")] = None,
    district: Annotated[
        str | None, typer.Option("--district", help="District name; needed only when several are stored.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the CSV and PDF files.")] = Path("."),
    db: Annotated[
        str | None, typer.Option("--db", help="URL of an existing PostGIS database instead of the embedded one.")
    ] = None,
) -> None:
    """Write the weekly report per grid and worker: patrols and compliance, incidents reported and handled.

    Writes weekly-WEEK[-COMMUNITY].csv and .pdf (one A4 page for a community) into --out.
    """
    from gis.patrols.reports import parse_week, weekly_report
    from gis.store import lookup
    from tiles.paper.patrol_sheets import weekly_csv, weekly_pdf

    parse_week(week)  # a bad week fails before the store opens
    with store_connection(db) as conn:
        found = lookup.district(conn, district)
        report = weekly_report(conn, week=week, district_id=found.id, community=community)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"weekly-{report.week}{'-' + community if community else ''}"
    csv_path, pdf_path = stem.with_suffix(".csv"), stem.with_suffix(".pdf")
    csv_path.write_text(weekly_csv(report), encoding="utf-8")
    pdf_path.write_bytes(weekly_pdf(report))
    rows = report.rows
    console.print(
        f"{report.week} ({report.start} – {report.end}), {report.district}"
        f"{', ' + (report.community_name or community) if community else ''}: {len(rows)} workers, "
        f"{int(rows['days_compliant'].sum())} worker-days kept the rule, "
        f"{int(rows['incidents_reported'].sum())} incidents reported, {int(rows['incidents_handled'].sum())} handled",
        highlight=False,
    )
    console.print(f"wrote {csv_path} and {pdf_path}", highlight=False)

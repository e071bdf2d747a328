"""``commgrid partition``: files in, grids out (GeoPackage, GeoJSON, report, map)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from api.cli._common import console, err_console, handle_errors, progress_bar
from gis.columns import HARD_BARRIER_CLASSES
from gis.errors import InputError
from gis.partition_inputs import PartitionInputs, PartitionOutputs, run_partition

__all__ = ["draw_plan_map", "partition", "print_summary"]


# PartitionInputs fields that check() may name, each given by the option of the same name
_OPTIONS = ("workers", "scheduler", "communities", "community_field", "community_id")


def draw_plan_map(grids: Any, title: str, path: Path) -> None:
    """The folium map of a plan's grids, written to ``path`` (see :func:`gis.partition_inputs.run_partition`)."""
    from tiles.webmaps import plan_map

    plan_map(grids, title=title).save(str(path))


def _range(text: str, option: str) -> tuple[int, int]:
    from partition import parse_range

    try:
        return parse_range(text, option=option)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def print_summary(report: dict) -> None:
    """The report as a person reads it: totals, statuses, and the communities that fell short."""
    by = report["grids_by_status"]
    share = report.get("share_in_range_where_feasible")
    pp = report.get("polsby_popper") or {}
    table = Table(title="partition", show_header=False, box=None)
    table.add_row("units", f"{report['units']:,}" + (" (tessellated points)" if report.get("tessellated") else ""))
    table.add_row(
        "communities",
        f"{report['communities']} ({report['communities_feasible_by_counts']} feasible by counts)",
    )
    table.add_row("grids", f"{report['grids']:,}")
    table.add_row("  in both ranges", f"{by.get('ok', 0):,} ({report['share_in_range']:.1%})")
    table.add_row("  out of range", f"{by.get('out_of_range', 0):,}")
    table.add_row("  oversized unit", f"{by.get('oversized_unit', 0):,}")
    if share is not None:
        table.add_row("in range where counts allow", f"{share:.1%}")
    if pp:
        table.add_row("Polsby–Popper", f"mean {pp['mean']:.3f}, min {pp['min']:.3f}")
    table.add_row("soft-barrier crossings", f"{report['soft_barrier_crossings']:,}")
    failed = report.get("failed_containers") or []
    if failed:
        table.add_row("failed communities", f"[red]{len(failed)}[/] (their units have no grid)")
    failing = _failing_checks(report)
    table.add_row("checks", f"[red]{len(failing)} fail[/] (see below)" if failing else "[green]all pass[/]")
    if "redivision" in report:
        r = report["redivision"]
        table.add_row(
            "re-division",
            f"{r['grids_kept']} kept, {r['grids_changed']} changed, {r['grids_created']} created, "
            f"{r['grids_retired']} retired; {r['households_moved']:,} households changed grid "
            f"({r['households_moved_share']:.1%})",
        )
    table.add_row("time", f"{report['seconds']:.1f} s")
    console.print(table)
    left_out = report.get("left_out_units") or []
    if left_out:
        console.print(
            f"\n[bold]{len(left_out)} unit(s) left out[/]: no households and no residents, outside every community "
            "polygon (nobody's home, so no grid needs them):"
        )
        _print_units(left_out)
    snapped = report.get("snapped_units") or []
    if snapped:
        console.print(
            f"\n[bold]{len(snapped)} unit(s) joined the nearest community[/] from outside every community polygon "
            f"(within --snap {report.get('snap_m', 100):g} m):"
        )
        _print_units(snapped, joined=True)
    short = [c for c in report["per_community"] if c["explanation"]]
    if short:
        console.print(f"\n[bold]{len(short)} communit{'y' if len(short) == 1 else 'ies'} with grids off range:[/]")
        for c in short[:15]:
            label = c["community_id"] + (f" {c['name']}" if c.get("name") else "")
            console.print(f"  [bold]{label}[/]: {c['explanation']}", highlight=False)
        if len(short) > 15:
            console.print(f"  … and {len(short) - 15} more (see the report)")


def _print_units(entries: list[dict], *, joined: bool = False) -> None:
    for e in entries[:20]:
        where = f" → {e['nearest_community']}" if joined else f" (nearest community {e['nearest_community']})"
        console.print(
            f"  {e['unit_id']}: {e['distance_m']:,.0f} m outside{where}, {e['households']:,} households, "
            f"{e['population']:,} residents",
            highlight=False,
        )
    if len(entries) > 20:
        console.print(f"  … and {len(entries) - 20} more (see the report)")


def _print_error_list(heading: str, lines: list[str]) -> None:
    """An error line on stderr and, indented below it, what it is about."""
    err_console.print(f"[bold red]error:[/] {heading}", highlight=False)
    for line in lines:
        err_console.print(f"  {line}", highlight=False, soft_wrap=True)


def _failing_checks(report: dict) -> list[str]:
    """The report's failing checks in words; units of a failed community are counted there, not here."""
    from partition.constraints import check_failures

    failed = report.get("failed_containers") or []
    checks = {k: v for k, v in report["checks"].items() if not (failed and k == "unassigned_units")}
    return check_failures(checks, hard_crossings=report.get("hard_barrier_crossings", 0))


@handle_errors
def partition(
    units: Annotated[
        Path,
        typer.Argument(help="Units: polygons (small areas) or address points, any OGR format, CSV or GeoParquet."),
    ],
    id_field: Annotated[str, typer.Option("--id", help="Field with the unit id.")],
    households_field: Annotated[str, typer.Option("--households", help="Field with households.")],
    population_field: Annotated[str, typer.Option("--population", help="Field with residents.")],
    out: Annotated[Path, typer.Option("--out", help="Output GeoPackage (layers grids, assignment, units, report).")],
    communities: Annotated[Path | None, typer.Option(help="Community polygons; grids nest inside them.")] = None,
    community_id: Annotated[str | None, typer.Option(help="Community id field in --communities.")] = None,
    community_name: Annotated[str | None, typer.Option(help="Community name field in --communities.")] = None,
    community_code: Annotated[
        str | None, typer.Option(help="12-digit admin code field (gives 15-digit grid codes).")
    ] = None,
    community_field: Annotated[str | None, typer.Option(help="Field of the units holding their community id.")] = None,
    boundary: Annotated[Path | None, typer.Option(help="District boundary: units must lie inside.")] = None,
    barriers: Annotated[Path | None, typer.Option(help="Roads, rivers, railways (lines).")] = None,
    barrier_class: Annotated[
        str | None, typer.Option(help="Field with the barrier class; without it every line is soft (a street).")
    ] = None,
    hard: Annotated[str, typer.Option(help="Comma-separated classes never crossed by a grid.")] = ",".join(
        sorted(HARD_BARRIER_CLASSES)
    ),
    compound: Annotated[str | None, typer.Option(help="Field with the residential compound id (never split).")] = None,
    households_range: Annotated[str, typer.Option(help="Households per grid, MIN:MAX.")] = "300:500",
    population_range: Annotated[str, typer.Option(help="Residents per grid, MIN:MAX.")] = "1000:1500",
    crs: Annotated[str | None, typer.Option(help="Metric working CRS, e.g. EPSG:3826 (default: local UTM).")] = None,
    input_crs: Annotated[
        str | None,
        typer.Option(
            help="CRS of inputs that carry none (CSV), e.g. EPSG:4326; GCJ02 (Amap, Tencent) or BD09 (Baidu) "
            "converts the units' coordinates to WGS 84."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed: the same inputs and seed give the same plan.")] = 0,
    time_budget: Annotated[
        float | None, typer.Option(help="Seconds for the search (default: none, fully reproducible).")
    ] = None,
    missing_counts: Annotated[str, typer.Option(help="Blank counts: 'error' or 'zero'.")] = "error",
    layer: Annotated[str | None, typer.Option(help="Layer of the units file.")] = None,
    geojson: Annotated[Path | None, typer.Option(help="Also write the grids as GeoJSON.")] = None,
    report: Annotated[Path | None, typer.Option(help="Write the JSON report here.")] = None,
    map: Annotated[Path | None, typer.Option("--map", help="Write a folium HTML map here.")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Partition on a local Dask cluster of N worker processes.", min=1)
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Partition on a running Dask cluster, e.g. tcp://HOST:8786.")
    ] = None,
    previous: Annotated[
        Path | None,
        typer.Option(help="Re-divide: the previous plan file; grids in range and away from trouble are kept."),
    ] = None,
    lock: Annotated[str, typer.Option(help="Re-divide: codes of grids that never change, comma-separated.")] = "",
    snap: Annotated[
        float,
        typer.Option(
            help="Metres a populated unit may lie outside every community polygon and still join the nearest.",
            min=0,
        ),
    ] = 100.0,
) -> None:
    """Split UNITS into grids of whole units: contiguous, compact, nested, in range where the counts allow."""
    if missing_counts not in ("error", "zero"):
        raise typer.BadParameter("must be 'error' or 'zero'", param_hint="--missing-counts")
    hh = _range(households_range, "--households-range")
    pop = _range(population_range, "--population-range")
    where = f" on {workers} Dask workers" if workers else f" on {scheduler}" if scheduler else ""
    inputs = PartitionInputs(
        units,
        id_field=id_field,
        households_field=households_field,
        population_field=population_field,
        communities=communities,
        community_id=community_id,
        community_name=community_name,
        community_code=community_code,
        community_field=community_field,
        boundary=boundary,
        barriers=barriers,
        barrier_class=barrier_class,
        hard_classes=frozenset(c.strip().lower() for c in hard.split(",") if c.strip()),
        compound=compound,
        households_range=hh,
        population_range=pop,
        crs=crs,
        input_crs=input_crs,
        seed=seed,
        time_budget=time_budget,
        missing_counts=missing_counts,
        layer=layer,
        workers=workers,
        scheduler=scheduler,
        previous=previous,
        lock=[c.strip() for c in lock.split(",") if c.strip()],
        snap=snap,
    )
    try:
        inputs.check()
    except InputError as exc:  # options that contradict each other: named as this command's options
        message = re.sub(r"\b(" + "|".join(_OPTIONS) + r")\b", lambda m: "--" + m[1].replace("_", "-"), exc.message)
        err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
        raise typer.Exit(exc.exit_code) from None
    outputs = PartitionOutputs(out, geojson=geojson, report=report, map=map)
    with progress_bar(f"partitioning communities{where}") as advance:
        files = run_partition(inputs, outputs, progress=advance, draw_map=draw_plan_map)
    for warning in files.load_warnings:
        console.print(f"[yellow]note:[/] {warning}", highlight=False)
    print_summary(files.report)
    console.print(
        f"\nwrote {files.gpkg}" + "".join(f", {p}" for p in (files.geojson, files.report_path, files.map_path) if p)
    )
    failed = files.report.get("failed_containers") or []
    if failed:
        _print_error_list(
            f"{len(failed)} communit{'y' if len(failed) == 1 else 'ies'} failed; "
            "the other communities' grids were written:",
            [f"[bold]{item['community_id']}[/]: {item['error']}" for item in failed],
        )
    failing = _failing_checks(files.report)
    if failing:
        _print_error_list(
            f"the plan fails {len(failing)} of its self-checks; it was written so that it can be "
            "inspected, but do not publish it:",
            failing,
        )
    if failed or failing:
        raise typer.Exit(1)

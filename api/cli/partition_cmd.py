"""``commgrid partition``: files in, grids out (GeoPackage, GeoJSON, report, map)."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli._common import console, err_console, handle_errors, progress_bar
from gis.columns import HARD_BARRIER_CLASSES
from gis.errors import OutputError

__all__ = ["PartitionFiles", "partition", "partition_files"]


@dataclass(frozen=True)
class PartitionFiles:
    """Paths written by :func:`partition_files` and the engine's report."""

    gpkg: Path
    geojson: Path | None
    report_path: Path | None
    map_path: Path | None
    report: dict
    load_warnings: list[str]


def partition_files(
    units: Path,
    *,
    id_field: str,
    households_field: str,
    population_field: str,
    out: Path,
    communities: Path | None = None,
    community_id: str | None = None,
    community_name: str | None = None,
    community_code: str | None = None,
    community_field: str | None = None,
    boundary: Path | None = None,
    barriers: Path | None = None,
    barrier_class: str | None = None,
    hard_classes: frozenset[str] = HARD_BARRIER_CLASSES,
    compound: str | None = None,
    households_range: tuple[int, int] = (300, 500),
    population_range: tuple[int, int] = (1000, 1500),
    crs: str | None = None,
    input_crs: str | None = None,
    seed: int = 0,
    time_budget: float | None = None,
    missing_counts: str = "error",
    layer: str | None = None,
    geojson: Path | None = None,
    report_path: Path | None = None,
    map_path: Path | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    previous: Path | None = None,
    lock: Collection[str] = (),
) -> PartitionFiles:
    """Read and validate the inputs, partition, write every requested output.

    Inputs are all read and validated before anything is computed, and outputs are
    written only after the engine succeeds, each atomically, so bad input never leaves
    partial files. With ``workers`` the communities are partitioned on a local Dask
    cluster of that many worker processes, with ``scheduler`` (``tcp://HOST:8786``) on a
    running one; the plan is the same as without either. A community that fails is
    listed in the report's ``failed_containers``; the others' grids are still written.
    With ``previous`` (a plan file written by this command) the plan is re-divided: grids
    in range and away from trouble keep their units and codes, ``lock`` names grids that
    never change.
    """
    from gis.io import read_barriers, read_boundary, read_communities, read_units
    from gis.plans.files import read_plan_file, write_geojson, write_plan_files
    from partition import Targets
    from partition import partition as run

    targets = Targets(households_range, population_range)
    if workers is not None and scheduler is not None:
        raise ValueError("give either --workers (a local Dask cluster) or --scheduler (a running one), not both")
    if workers is not None and workers < 1:
        raise ValueError(f"--workers must be 1 or more, got {workers}")
    if communities is not None and community_field is not None:
        raise ValueError("give either --communities (polygons) or --community-field, not both")
    if communities is not None and community_id is None:
        raise ValueError("--communities needs --community-id, the field holding each community's id")
    boundary_frame = read_boundary(boundary, crs=input_crs) if boundary is not None else None
    loaded = read_units(
        units,
        id_field=id_field,
        households_field=households_field,
        population_field=population_field,
        compound_field=compound,
        community_field=community_field,
        crs=input_crs,
        missing_counts=missing_counts,
        boundary=boundary_frame,
        layer=layer,
    )
    comm = None
    if communities is not None:
        comm = read_communities(
            communities,
            id_field=community_id,
            name_field=community_name,
            code_field=community_code,
            crs=input_crs,
        )
    bars = None
    if barriers is not None:
        bars = read_barriers(barriers, class_field=barrier_class, hard_classes=hard_classes, crs=input_crs)
    before = read_plan_file(previous).assignment if previous is not None else None
    options = {
        "previous": before,
        "locked": tuple(lock),
        "communities": comm,
        "barriers": bars,
        "boundary": boundary_frame,
        "targets": targets,
        "crs": crs,
        "seed": seed,
        "time_budget": time_budget,
        "progress": progress,
        "source": str(units),
    }
    if workers is None and scheduler is None:
        result = run(loaded.frame, **options)
    else:
        from partition.distributed import dask_client, dask_runner

        with dask_client(workers=workers, scheduler=scheduler) as client:
            result = run(loaded.frame, runner=dask_runner(client), **options)
    report = {
        **result.report,
        "inputs": {
            "units": str(units),
            "communities": None if communities is None else str(communities),
            "barriers": None if barriers is None else str(barriers),
            "repaired_geometries": loaded.report.n_repaired,
            "blank_counts_zeroed": loaded.report.n_blank_counts_zeroed,
            "warnings": list(loaded.report.warnings),
        },
    }
    with _writing(out):
        write_plan_files(
            out,
            grids=result.grids,
            assignment=result.assignment,
            report=report,
            units=result.units,
            communities=comm,
        )
    if geojson is not None:
        with _writing(geojson):
            write_geojson(result.grids, geojson)
    if report_path is not None:
        text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
        _replace(report_path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    if map_path is not None:
        from tiles.webmaps import plan_map

        _replace(map_path, lambda tmp: plan_map(result.grids, title=out.stem).save(str(tmp)))
    return PartitionFiles(out, geojson, report_path, map_path, report, list(loaded.report.warnings))


@contextlib.contextmanager
def _writing(path: Path) -> Iterator[None]:
    """Turn a failed write of ``path`` (disk full, no permission, GDAL's own errors) into an OutputError."""
    from pyogrio.errors import DataLayerError, DataSourceError, FeatureError, FieldError, GeometryError

    if path.exists() and not path.is_file():
        # renaming over it would replace a device or a folder's entry (as root, even /dev/full)
        raise OutputError(f"cannot write {path}: it exists and is not a regular file; give a file path")
    try:
        yield
    except (OSError, DataSourceError, DataLayerError, FeatureError, FieldError, GeometryError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc).strip().splitlines()[0]
        raise OutputError(
            f"cannot write {path}: {reason}. Nothing was left half-written; free some space or choose another "
            "folder, and run the command again"
        ) from None


def _replace(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through a temporary file renamed into place: never half a file."""
    with _writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.partial{path.suffix}")
        try:
            write(tmp)
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)


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
    failing = {k: v for k, v in report["checks"].items() if v and not (failed and k == "unassigned_units")}
    table.add_row(
        "checks", f"[red]{failing}[/]" if failing or report["hard_barrier_crossings"] else "[green]all pass[/]"
    )
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
    short = [c for c in report["per_community"] if c["explanation"]]
    if short:
        console.print(f"\n[bold]{len(short)} communit{'y' if len(short) == 1 else 'ies'} with grids off range:[/]")
        for c in short[:15]:
            label = c["community_id"] + (f" {c['name']}" if c.get("name") else "")
            console.print(f"  [bold]{label}[/]: {c['explanation']}", highlight=False)
        if len(short) > 15:
            console.print(f"  … and {len(short) - 15} more (see the report)")


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
    barrier_class: Annotated[str | None, typer.Option(help="Field with the barrier class.")] = None,
    hard: Annotated[str, typer.Option(help="Comma-separated classes never crossed by a grid.")] = ",".join(
        sorted(HARD_BARRIER_CLASSES)
    ),
    compound: Annotated[str | None, typer.Option(help="Field with the residential compound id (never split).")] = None,
    households_range: Annotated[str, typer.Option(help="Households per grid, MIN:MAX.")] = "300:500",
    population_range: Annotated[str, typer.Option(help="Residents per grid, MIN:MAX.")] = "1000:1500",
    crs: Annotated[str | None, typer.Option(help="Metric working CRS, e.g. EPSG:3826 (default: local UTM).")] = None,
    input_crs: Annotated[str | None, typer.Option(help="CRS of inputs that carry none (CSV), e.g. EPSG:4326.")] = None,
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
) -> None:
    """Split UNITS into grids of whole units: contiguous, compact, nested, in range where the counts allow."""
    if missing_counts not in ("error", "zero"):
        raise typer.BadParameter("must be 'error' or 'zero'", param_hint="--missing-counts")
    hh = _range(households_range, "--households-range")
    pop = _range(population_range, "--population-range")
    where = f" on {workers} Dask workers" if workers else f" on {scheduler}" if scheduler else ""
    with progress_bar(f"partitioning communities{where}") as advance:
        files = partition_files(
            units,
            id_field=id_field,
            households_field=households_field,
            population_field=population_field,
            out=out,
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
            geojson=geojson,
            report_path=report,
            map_path=map,
            progress=advance,
            workers=workers,
            scheduler=scheduler,
            previous=previous,
            lock=[c.strip() for c in lock.split(",") if c.strip()],
        )
    for warning in files.load_warnings:
        console.print(f"[yellow]note:[/] {warning}", highlight=False)
    print_summary(files.report)
    console.print(
        f"\nwrote {files.gpkg}" + "".join(f", {p}" for p in (files.geojson, files.report_path, files.map_path) if p)
    )
    failed = files.report.get("failed_containers") or []
    if failed:
        err_console.print(
            f"[bold red]error:[/] {len(failed)} communit{'y' if len(failed) == 1 else 'ies'} failed; "
            "the other communities' grids were written:",
            highlight=False,
        )
        for item in failed:
            err_console.print(f"  [bold]{item['community_id']}[/]: {item['error']}", highlight=False, soft_wrap=True)
        raise typer.Exit(1)

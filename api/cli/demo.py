"""``commgrid demo``: the whole main job on the generated sample district."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli._common import console, handle_errors, progress_bar, settings_from


@handle_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for inputs and outputs.")] = Path("out/demo"),
    seed: Annotated[int, typer.Option(help="Seed of the sample district and the partition.")] = 0,
    households: Annotated[int, typer.Option(help="Size of the sample district.")] = 25_000,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the map when done.")] = True,
    port: Annotated[int | None, typer.Option(help="Port for the map (default 8000).")] = None,
    db: Annotated[str | None, typer.Option("--db", help="URL of an existing PostGIS database.")] = None,
) -> None:
    """Generate the sample district, partition it, write GeoPackage/GeoJSON/HTML, store it and serve the map."""
    from api.cli.load import load_plan_file
    from api.cli.partition_cmd import draw_plan_map, print_summary
    from api.cli.serve import run_server
    from data.sample import generate_district, sample_partition_inputs, write_district
    from gis.partition_inputs import PartitionOutputs, run_partition

    console.rule("1 · sample district")
    district = generate_district(seed=seed, households=households)
    paths = write_district(district, out / "input")
    console.print(
        f"{len(district.units):,} units, {int(district.units['households'].sum()):,} households "
        f"in {len(district.communities)} communities → {out / 'input'}"
    )
    console.rule("2 · partition")
    with progress_bar("partitioning communities") as advance:
        inputs = sample_partition_inputs(paths, seed=seed)
        outputs = PartitionOutputs(
            out / "grids.gpkg", geojson=out / "grids.geojson", report=out / "report.json", map=out / "map.html"
        )
        files = run_partition(inputs, outputs, progress=advance, draw_map=draw_plan_map)
    print_summary(files.report)
    console.print(f"wrote {files.gpkg}, {files.geojson}, {files.report_path}, {files.map_path}")
    console.rule("3 · store")
    settings = settings_from(db)
    if port is not None:
        settings = settings.model_copy(update={"port": port})
    stored = load_plan_file(
        files.gpkg,
        plan=f"demo-seed{seed}-{_stamp()}",
        district=f"sample-seed{seed}",
        publish=True,
        settings=settings,
        barriers=paths["barriers"],
        barrier_class="barrier_class",
        barrier_name="name",
    )
    console.print(f"stored and published plan {stored.plan!r} ({stored.grids} grids)")
    if serve:
        console.rule("4 · serve")
        run_server(settings)


def _stamp() -> str:
    from datetime import datetime

    return datetime.now().strftime("%Y%m%d-%H%M%S")

"""One partition run from files: its inputs as one value, and the function that runs it.

:class:`PartitionInputs` holds what ``commgrid partition`` (and the demo, the tests, the
benches) give: the files, their field names, the targets and the engine's options.
:func:`run_partition` reads and validates every input before anything is computed,
partitions, and writes the requested outputs only after the engine succeeds, each
atomically (:func:`gis.atomic.write_atomically`), so bad input never leaves partial files.

The engine (:mod:`partition`) is imported when a run starts: it depends on
:mod:`gis.columns` only, and this module is the one place in ``gis`` that drives it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gis.atomic import write_atomically
from gis.columns import HARD, HARD_BARRIER_CLASSES
from gis.errors import InputError

__all__ = ["PartitionFiles", "PartitionInputs", "PartitionOutputs", "run_partition"]


@dataclass(frozen=True)
class PartitionInputs:
    """What a partition run reads and how: files, field names, targets, engine options.

    With ``workers`` the communities are partitioned on a local Dask cluster of that many
    worker processes, with ``scheduler`` (``tcp://HOST:8786``) on a running one; the plan is
    the same as without either. With ``previous`` (a plan file written by a partition run)
    the plan is re-divided: grids in range and away from trouble keep their units and
    codes, ``lock`` names grids that never change. ``snap`` is how far (metres) outside
    every community polygon a populated unit may lie and still join the nearest (default:
    the engine's, 100 m). With ``input_crs`` GCJ-02 or BD-09 the units are converted to
    WGS 84; the other files keep the CRS they declare.
    """

    units: Path
    id_field: str
    households_field: str
    population_field: str
    communities: Path | None = None
    community_id: str | None = None
    community_name: str | None = None
    community_code: str | None = None
    community_field: str | None = None
    boundary: Path | None = None
    barriers: Path | None = None
    barrier_class: str | None = None
    hard_classes: frozenset[str] = HARD_BARRIER_CLASSES
    compound: str | None = None
    households_range: tuple[int, int] = (300, 500)
    population_range: tuple[int, int] = (1000, 1500)
    crs: str | None = None
    input_crs: str | None = None
    seed: int = 0
    time_budget: float | None = None
    missing_counts: str = "error"
    layer: str | None = None
    workers: int | None = None
    scheduler: str | None = None
    previous: Path | None = None
    lock: Collection[str] = ()
    snap: float | None = None

    def check(self) -> None:
        """Refuse options that contradict each other, before any file is read.

        Raises
        ------
        InputError
            Naming the field to change; the message names the fields as this class does,
            so that an edge can word them as its own options.
        """
        if self.workers is not None and self.scheduler is not None:
            raise InputError(
                "give either workers (a local Dask cluster) or scheduler (a running one), not both", field="workers"
            )
        if self.workers is not None and self.workers < 1:
            raise InputError(f"workers must be 1 or more, got {self.workers}", field="workers")
        if self.communities is not None and self.community_field is not None:
            raise InputError("give either communities (polygons) or community_field, not both", field="communities")
        if self.communities is not None and self.community_id is None:
            raise InputError(
                "communities needs community_id, the field holding each community's id", field="community_id"
            )


@dataclass(frozen=True)
class PartitionOutputs:
    """Where a partition run writes: the plan GeoPackage, and optionally GeoJSON, report and map."""

    gpkg: Path
    geojson: Path | None = None
    report: Path | None = None
    map: Path | None = None


@dataclass(frozen=True)
class PartitionFiles:
    """Paths written by :func:`run_partition` and the engine's report."""

    gpkg: Path
    geojson: Path | None
    report_path: Path | None
    map_path: Path | None
    report: dict
    load_warnings: list[str] = field(default_factory=list)


def run_partition(
    inputs: PartitionInputs,
    outputs: PartitionOutputs,
    *,
    progress: Callable[[int, int, str], None] | None = None,
    draw_map: Callable[[Any, str, Path], object] | None = None,
) -> PartitionFiles:
    """Read and validate the inputs, partition, write every requested output.

    A community that fails is listed in the report's ``failed_containers``; the others'
    grids are still written.

    Parameters
    ----------
    inputs, outputs
        What to read and where to write.
    progress
        Called as communities finish: ``(done, total, label)``.
    draw_map
        Writes ``outputs.map``: called with the grids, a title and a path (the map is drawn
        by a layer above ``gis``, e.g. :func:`tiles.webmaps.plan_map`); needed when
        ``outputs.map`` is set.
    """
    from gis.crs import offset_datum
    from gis.io import read_barriers, read_boundary, read_communities, read_units
    from gis.plans.files import read_plan_file, write_geojson, write_plan_files
    from partition import Targets
    from partition import partition as run

    inputs.check()
    if outputs.map is not None and draw_map is None:
        raise TypeError("outputs.map needs draw_map, the function that draws the map")
    targets = Targets(inputs.households_range, inputs.population_range)
    # GCJ-02/BD-09 is what geocoders give address points; outlines carry a CRS of their own
    crs = None if offset_datum(inputs.input_crs) is not None else inputs.input_crs
    boundary_frame = read_boundary(inputs.boundary, crs=crs) if inputs.boundary is not None else None
    loaded = read_units(
        inputs.units,
        id_field=inputs.id_field,
        households_field=inputs.households_field,
        population_field=inputs.population_field,
        compound_field=inputs.compound,
        community_field=inputs.community_field,
        crs=inputs.input_crs,
        missing_counts=inputs.missing_counts,
        boundary=boundary_frame,
        layer=inputs.layer,
    )
    comm = None
    if inputs.communities is not None:
        comm = read_communities(
            inputs.communities,
            id_field=inputs.community_id,
            name_field=inputs.community_name,
            code_field=inputs.community_code,
            crs=crs,
        )
    bars = None
    notes = list(loaded.report.warnings)
    if inputs.barriers is not None:
        bars = read_barriers(
            inputs.barriers, class_field=inputs.barrier_class, hard_classes=inputs.hard_classes, crs=crs
        )
        notes.append(_barrier_note(bars, inputs.barrier_class, inputs.hard_classes))
    before = read_plan_file(inputs.previous).assignment if inputs.previous is not None else None
    options = {
        "previous": before,
        "locked": tuple(inputs.lock),
        "communities": comm,
        "barriers": bars,
        "boundary": boundary_frame,
        "targets": targets,
        "crs": inputs.crs,
        "seed": inputs.seed,
        "time_budget": inputs.time_budget,
        "progress": progress,
        "source": str(inputs.units),
        **({} if inputs.snap is None else {"snap": inputs.snap}),
    }
    if inputs.workers is None and inputs.scheduler is None:
        result = run(loaded.frame, **options)
    else:
        from partition.distributed import dask_client, dask_runner

        with dask_client(workers=inputs.workers, scheduler=inputs.scheduler) as client:
            result = run(loaded.frame, runner=dask_runner(client), **options)
    report = {
        **result.report,
        "inputs": {
            "units": str(inputs.units),
            "communities": None if inputs.communities is None else str(inputs.communities),
            "barriers": None if inputs.barriers is None else str(inputs.barriers),
            "repaired_geometries": loaded.report.n_repaired,
            "blank_counts_zeroed": loaded.report.n_blank_counts_zeroed,
            "warnings": notes,
            "barriers_hard": None if bars is None else int(bars[HARD].sum()),
            "barriers_soft": None if bars is None else int((~bars[HARD]).sum()),
        },
    }
    write_plan_files(
        outputs.gpkg,
        grids=result.grids,
        assignment=result.assignment,
        report=report,
        units=result.units,
        communities=comm,
    )
    if outputs.geojson is not None:
        write_geojson(result.grids, outputs.geojson)
    if outputs.report is not None:
        text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
        write_atomically(outputs.report, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    if outputs.map is not None:
        write_atomically(outputs.map, lambda tmp: draw_map(result.grids, outputs.gpkg.stem, tmp))
    return PartitionFiles(outputs.gpkg, outputs.geojson, outputs.report, outputs.map, report, notes)


def _barrier_note(bars: Any, barrier_class: str | None, hard_classes: Collection[str]) -> str:
    """What the barrier lines are taken as, in words: hard ones are never crossed, soft ones avoided."""
    n_hard = int(bars[HARD].sum())
    n_soft = len(bars) - n_hard
    if barrier_class is None:
        return (
            f"the {len(bars):,} barrier lines have no class (--barrier-class), so all are soft barriers (streets): "
            "grids may cross them, crossings are avoided and counted. To make rivers, railways or expressways "
            f"hard (never crossed), pass --barrier-class FIELD; hard classes: {', '.join(sorted(hard_classes))}"
        )
    return (
        f"barriers: {n_hard:,} hard line(s) (classes {', '.join(sorted(hard_classes))} in {barrier_class!r}, never "
        f"crossed) and {n_soft:,} soft line(s) (crossings avoided and counted)"
    )

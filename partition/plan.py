"""``partition()``: from units (and optional communities and barriers) to grids.

The work splits into independent containers (communities, or the whole district). This
process checks the input, finds each unit's container and cuts the input into one
:class:`~partition.container.ContainerJob` per container, holding that container's
units and nothing of the others. A *runner* maps :func:`~partition.container.run_container`
over the jobs (one after the other here by default; on a Dask cluster with
:func:`partition.distributed.dask_runner`) and the outputs are put together in container
order, so the plan does not depend on which runner made it, or in what order.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import pyproj
import shapely

from gis.columns import (
    ADMIN_CODE,
    COMMUNITY,
    COMMUNITY_ID,
    COMMUNITY_NAME,
    COMPOUND,
    GRID_CODE,
    GRID_UNITS,
    HARD,
    HOUSEHOLDS,
    POLSBY_POPPER,
    POPULATION,
    REASON,
    STATUS,
    STATUS_OK,
    STATUS_OVERSIZED,
    UNIT_ID,
)
from gis.crs import pick_metric_crs
from gis.errors import GeometryError, InputError, OutsideBoundaryError
from partition.constraints import (
    check_failures,
    invalid_grids,
    noncontiguous_grids,
    overlapping_grids,
    overlapping_pairs,
    split_compounds,
    unnested_grids,
)
from partition.container import (
    DISTRICT,
    HULL_MARGIN,
    ContainerJob,
    ContainerOutput,
    ContainerResult,
    ContainerTask,
    run_container,
    solve_container,
)
from partition.exact import EXACT_SECONDS
from partition.pool import default_runner
from partition.targets import Targets
from partition.units import gap_share, voronoi_cells

__all__ = [
    "ContainerResult",
    "ContainerTask",
    "PartitionResult",
    "Runner",
    "partition",
    "run_sequentially",
    "solve_container",
]

Progress = Callable[[int, int, str], None]
Runner = Callable[[Iterable[ContainerJob]], Iterable[ContainerOutput]]
"""Maps :func:`run_container` over jobs and yields each output as it is done, in any order."""

# Share of street space between polygon units above which they are replaced by the
# territories around them (parcels and footprints leave the streets out; small areas do not).
GAP_LIMIT = 0.01
# A unit outside every community polygon by at most this many metres sits on a border the
# two files draw differently: it joins the nearest community, whatever its counts.
BORDER_TOLERANCE = 5.0
# Default of ``snap``: how far (metres) outside every community polygon a populated unit may
# lie and still join the nearest community. Half a city block: farther than the border
# noise of two files digitised separately, nearer than the offsets of a wrong CRS or of
# GCJ-02/BD-09 coordinates read as WGS 84 (hundreds of metres), which must stop the run.
SNAP_DISTANCE = 100.0
# Unit polygons may overlap by this much (square metres) from digitising noise.
UNIT_OVERLAP_TOLERANCE = 1.0
GRID_COLUMNS = [COMMUNITY, HOUSEHOLDS, POPULATION, GRID_UNITS, "geometry", POLSBY_POPPER, STATUS, REASON, GRID_CODE]


@dataclass(frozen=True)
class PartitionResult:
    """What the engine returns.

    ``grids`` and ``units`` are in the input CRS; ``units`` are polygons (tessellated
    when the input was points) with the community each belongs to; ``assignment`` maps
    every unit id to its grid code (units of a container that failed have none, and the
    report's ``failed_containers`` says why); ``report`` is JSON-ready. Units left out
    (no households and no residents, outside every community) are in neither ``units``
    nor ``assignment``; the report's ``left_out_units`` lists them, ``snapped_units`` the
    populated ones that joined the nearest community from outside, ``checks`` what fails
    (measured on the geometry as returned) and ``check_failures`` the same in words.
    """

    grids: gpd.GeoDataFrame
    assignment: pd.DataFrame
    units: gpd.GeoDataFrame
    report: dict
    metric_crs: pyproj.CRS


def run_sequentially(jobs: Iterable[ContainerJob]) -> Iterator[ContainerOutput]:
    """The default runner: one container after the other, in this process."""
    for job in jobs:
        yield run_container(job)


def partition(
    units: gpd.GeoDataFrame,
    *,
    communities: gpd.GeoDataFrame | None = None,
    barriers: gpd.GeoDataFrame | None = None,
    boundary: gpd.GeoDataFrame | None = None,
    targets: Targets | None = None,
    crs: str | pyproj.CRS | None = None,
    seed: int = 0,
    time_budget: float | None = None,
    progress: Progress | None = None,
    source: str = "units",
    runner: Runner | None = None,
    previous: pd.DataFrame | None = None,
    locked: Collection[str] = (),
    exact_seconds: float = EXACT_SECONDS,
    snap: float = SNAP_DISTANCE,
) -> PartitionResult:
    """Split units into grids of whole units, nested in communities, in range where possible.

    Parameters
    ----------
    units
        Normalised units (``gis.io.read_units``): ``unit_id``, ``households``,
        ``population``, optional ``compound`` and ``community``; polygons or points.
    communities
        Optional containers with ``community_id`` (and ``name``, ``admin_code``). When
        ``units`` has no ``community`` column, each unit joins the community holding
        its representative point.
    barriers
        Optional lines with a boolean ``hard`` column.
    boundary
        Optional district outline, used to clip tessellated cells of communities that
        have no polygon.
    targets
        Household and resident ranges (default 300–500 and 1,000–1,500).
    crs
        Metric working CRS; chosen automatically (local UTM) when ``None``.
    seed
        Seed of every random choice: the same inputs and seed give the same plan, with
        any runner.
    time_budget
        Seconds for the whole run, shared among containers by size; ``None`` means no
        limit (and fully reproducible plans).
    progress
        Called as ``progress(done, total, container_id)`` after each container.
    source
        Name of the input, used in error messages.
    runner
        Where the containers are worked on (default :func:`partition.pool.default_runner`:
        both cores for a large run of many containers, else :func:`run_sequentially`, in
        this process); :func:`partition.distributed.dask_runner` spreads them over a Dask
        cluster.
    previous
        Re-division: the previous plan's assignment (``unit_id``, ``code``). Grids still in
        range and away from trouble are kept with their codes; only the region around
        the violations is re-solved (see :mod:`partition.redivide`). Units it lacks are
        new; the report's ``redivision`` says what changed.
    locked
        Re-division: codes of grids that never change.
    exact_seconds
        Work the exact search (:mod:`partition.exact`) may spend on each community whose
        totals allow every grid in range but whose heuristic plan leaves some off range,
        in counted work units (CP-SAT's deterministic time, and the cover search's sets
        and branches scaled alike: about seconds; the same plan on every machine and
        runner). It either finds a plan with every grid in range, which then
        replaces the heuristic's, or proves that none exists, which the community's
        explanation then says. ``0`` runs the heuristic only.
    snap
        Metres (default 100) a populated unit may lie outside every community polygon
        and still join the nearest one; the report's ``snapped_units`` lists each with
        its distance. Beyond it the unit stops the run (``OutsideBoundaryError`` naming
        each unit and its distance). Units with no households and no residents outside
        every community (by more than 5 m) are nobody's home: they are left out of the
        plan and listed in ``left_out_units``.

    Returns
    -------
    PartitionResult

    Raises
    ------
    InputError
        Missing columns, no CRS, unit polygons that overlap each other (each pair named
        with the area), or populated units farther than ``snap`` outside every
        community (``OutsideBoundaryError``). An error inside one
        container does not raise: the container is listed in the report's
        ``failed_containers`` and the other containers keep their grids.

    See Also
    --------
    partition.container.run_container : the work done for each container.
    """
    started = time.perf_counter()
    t = targets or Targets()
    _check_units(units, source)
    metric = pick_metric_crs(units, crs=crs)
    u = units.to_crs(metric).reset_index(drop=True)
    u[UNIT_ID] = u[UNIT_ID].astype(str)
    _check_unit_polygons(u, source)
    comm = _prepare_communities(communities, metric)
    container, strays = _containers(u, comm, source, snap)
    if strays["left_out_units"]:
        keep = container != None  # noqa: E711 (element-wise)
        u, container = u[keep].reset_index(drop=True), container[keep]
    u[COMMUNITY] = container
    bars = None
    if barriers is not None and len(barriers):
        bars = barriers.to_crs(metric).reset_index(drop=True)
        if HARD not in bars.columns:
            bars[HARD] = False
    outline = None
    if boundary is not None and len(boundary):
        outline = shapely.union_all(boundary.to_crs(metric).geometry.values)
    tessellated = bool(shapely.get_type_id(u.geometry.values).max() == 0) if len(u) else False
    # parcels leave the streets out, small areas tile: judged on the whole input, because
    # one community's units alone have a ragged edge that is no street
    fill_gaps = not tessellated and bool(len(u)) and gap_share(u.geometry.values) > GAP_LIMIT
    groups = _groups(container)
    before = _previous_codes(u, previous, locked, source)
    jobs = _jobs(
        u,
        groups,
        comm,
        bars,
        outline,
        t,
        seed,
        time_budget,
        tessellated=tessellated,
        fill_gaps=fill_gaps,
        previous=before,
        locked=frozenset(str(c) for c in locked),
        exact_seconds=exact_seconds,
    )
    outputs: dict[str, ContainerOutput] = {}
    for done, out in enumerate((runner or default_runner(len(u), len(groups)))(jobs), start=1):
        outputs[out.container_id] = out
        if progress is not None:
            progress(done, len(groups), out.container_id)
    result = assemble(u, units.crs, metric, comm, groups, outputs, t, seed, tessellated=tessellated, started=started)
    result.report.update({**strays, "snap_m": snap})
    return result


def _check_units(units: gpd.GeoDataFrame, source: str) -> None:
    if not isinstance(units, gpd.GeoDataFrame):
        raise InputError(f"units must be a GeoDataFrame, got {type(units).__name__}", file=source)
    missing = [c for c in (UNIT_ID, HOUSEHOLDS, POPULATION) if c not in units.columns]
    if missing:
        raise InputError(
            f"units lack the column(s) {missing}; read them with gis.io.read_units, which maps your field names",
            file=source,
        )
    if units.crs is None:
        raise InputError("units have no CRS; set one (GeoDataFrame.set_crs) or read them with --crs", file=source)
    for col in (HOUSEHOLDS, POPULATION):
        values = pd.to_numeric(units[col], errors="coerce")
        bad = values.isna().to_numpy() | (values < 0).to_numpy()
        if bad.any():
            raise InputError.of_features(
                units, bad, "a blank, negative or non-numeric count", file=source, id_field=UNIT_ID, field=col
            )
    dup = units[UNIT_ID].duplicated(keep=False).to_numpy()
    if dup.any():
        raise InputError.of_features(
            units,
            dup,
            "the id of another unit: unit ids must be unique",
            file=source,
            id_field=UNIT_ID,
            field=UNIT_ID,
        )
    empty = units.geometry.isna().to_numpy() | units.geometry.is_empty.to_numpy()
    if empty.any():
        raise InputError.of_features(units, empty, "no geometry", file=source, id_field=UNIT_ID, field="geometry")


def _prepare_communities(communities: gpd.GeoDataFrame | None, metric: pyproj.CRS) -> gpd.GeoDataFrame | None:
    if communities is None:
        return None
    comm = communities.to_crs(metric).copy()
    comm[COMMUNITY_ID] = comm[COMMUNITY_ID].astype(str)
    comm = comm.set_geometry(_disjoint(comm.geometry.values), crs=metric)
    for col in (COMMUNITY_NAME, ADMIN_CODE):
        if col not in comm.columns:
            comm[col] = None
    return comm.set_index(COMMUNITY_ID, drop=False)


def _disjoint(geoms: np.ndarray) -> np.ndarray:
    """Remove overlaps between community polygons (real boundary files overlap by slivers).

    The overlap stays with the first of the two polygons, so cells and grids clipped to
    communities cannot overlap either.
    """
    geoms = np.asarray(geoms, dtype=object).copy()
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="overlaps")
    for i, j in zip(left, right, strict=True):
        if i < j:
            geoms[j] = shapely.difference(geoms[j], geoms[i])
    return geoms


def _containers(
    u: gpd.GeoDataFrame, comm: gpd.GeoDataFrame | None, source: str, snap: float = SNAP_DISTANCE
) -> tuple[np.ndarray, dict[str, list[dict]]]:
    """Each unit's container id (``None`` for a unit left out), and the units snapped or left out.

    A unit joins the community polygon holding its representative point. One outside
    every polygon joins the nearest within :data:`BORDER_TOLERANCE`; beyond it, a unit with
    no households and no residents is left out, a populated one joins the nearest
    community within ``snap`` metres, and one farther away is an error naming each such
    unit with its distance.
    """
    strays: dict[str, list[dict]] = {"left_out_units": [], "snapped_units": []}
    if COMMUNITY in u.columns and u[COMMUNITY].notna().all():
        return u[COMMUNITY].astype(str).to_numpy().astype(object), strays
    if comm is None:
        return np.full(len(u), DISTRICT, dtype=object), strays
    anchors = shapely.point_on_surface(u.geometry.values)
    geoms = comm.geometry.values
    tree = shapely.STRtree(geoms)
    a_idx, c_idx = tree.query(anchors, predicate="within")
    owner = np.full(len(u), -1, dtype=np.int64)
    owner[a_idx[::-1]] = c_idx[::-1]
    ids = comm.index.to_numpy().astype(str)
    lost = np.flatnonzero(owner < 0)
    keep = np.ones(len(u), dtype=bool)
    if len(lost):
        (pos, near), dist = tree.query_nearest(anchors[lost], return_distance=True, all_matches=False)
        nearest = np.full(len(lost), -1, dtype=np.int64)
        distance = np.full(len(lost), np.inf)
        nearest[pos], distance[pos] = near, dist
        counts = u[HOUSEHOLDS].to_numpy()[lost].astype(np.int64), u[POPULATION].to_numpy()[lost].astype(np.int64)
        populated = (counts[0] > 0) | (counts[1] > 0)
        on_border = distance <= BORDER_TOLERANCE
        far = populated & ~on_border & (distance > snap)
        if far.any():
            names = np.array([str(ids[j]) if j >= 0 else "(none)" for j in nearest[far]], dtype=object)
            raise _too_far(u, lost[far], distance[far], names, snap, source)
        joins = (on_border | populated) & (nearest >= 0)
        owner[lost[joins]] = nearest[joins]
        keep[lost[~joins]] = False
        for k in np.flatnonzero(~on_border):
            entry = {
                "unit_id": str(u[UNIT_ID].iloc[lost[k]]),
                "distance_m": round(float(distance[k]), 1),
                "nearest_community": str(ids[nearest[k]]) if nearest[k] >= 0 else None,
                "households": int(counts[0][k]),
                "population": int(counts[1][k]),
            }
            strays["snapped_units" if joins[k] else "left_out_units"].append(entry)
    container = np.full(len(u), None, dtype=object)
    container[keep] = ids[owner[keep]]
    return container, strays


def _too_far(
    u: gpd.GeoDataFrame, where: np.ndarray, distance: np.ndarray, nearest: np.ndarray, snap: float, source: str
) -> OutsideBoundaryError:
    """The error for populated units farther than ``snap`` from every community, each with its distance."""
    shown = 20
    listed = "; ".join(
        f"{u[UNIT_ID].iloc[i]} ({int(u[HOUSEHOLDS].iloc[i]):,} households) {d:,.0f} m from community {c}"
        for i, d, c in zip(where[:shown], distance[:shown], nearest[:shown], strict=True)
    )
    more = f"; and {len(where) - shown} more" if len(where) > shown else ""
    return OutsideBoundaryError(
        f"{len(where)} populated unit(s) lie more than {snap:g} m outside every community polygon: {listed}{more}. "
        "If the distances are hundreds of metres or more, check the CRS of both files (GCJ-02 or BD-09 "
        "coordinates need --input-crs GCJ02 or BD09); if the community file lacks these places, add them; "
        f"to let them join the nearest community, raise --snap above {float(distance.max()):,.0f}",
        file=source,
        index=where[:10].tolist(),
        feature_id=u[UNIT_ID].iloc[where[:10]].tolist(),
    )


def _check_unit_polygons(u: gpd.GeoDataFrame, source: str) -> None:
    """Refuse unit polygons that overlap each other, or whose parts meet only at a point.

    Identical copies of one area under two ids put households in two places at once, and
    a plan made of them overlaps too; the planner must say which copy is right. A ring
    crossing itself (a bow-tie), which the reader repairs into parts that touch at one
    point, would make its grid two pieces held together by a point.
    """
    geoms = np.asarray(u.geometry.values, dtype=object)
    polygonal = np.isin(shapely.get_type_id(geoms), [3, 6])
    if not polygonal.any():
        return
    ids = u[UNIT_ID].to_numpy()
    pinched = [i for i in np.flatnonzero(shapely.get_num_geometries(geoms) > 1) if _parts_touch(geoms[i])]
    if pinched:
        raise GeometryError(
            f"{len(pinched)} unit polygon(s) are in parts that meet only at a point, as a self-intersecting ring "
            "(a bow-tie) is repaired: a grid holding one would be two pieces. Redraw them as one polygon each "
            "(QGIS: Vector > Geometry Tools > Check Validity), or split them into units of their own",
            file=source,
            index=pinched[:10],
            feature_id=ids[pinched[:10]].tolist(),
            field="geometry",
        )
    pairs = overlapping_pairs(geoms, tolerance=UNIT_OVERLAP_TOLERANCE, only=polygonal)
    if not pairs:
        return
    shown = "; ".join(f"{ids[a]} and {ids[b]} by {area:,.0f} m²" for a, b, area in pairs[:20])
    more = f"; and {len(pairs) - 20} more pairs" if len(pairs) > 20 else ""
    involved = sorted({int(i) for a, b, _ in pairs for i in (a, b)})
    raise GeometryError(
        f"{len(pairs)} pair(s) of unit polygons overlap: {shown}{more}. A place can belong to one unit only: "
        "delete duplicated features, and redraw overlapping ones so that units do not overlap",
        file=source,
        index=involved[:10],
        feature_id=ids[involved[:10]].tolist(),
        field="geometry",
    )


def _parts_touch(geom: shapely.Geometry) -> bool:
    """Whether two parts of a multipolygon meet (valid parts can only meet at points)."""
    parts = shapely.get_parts(geom)
    left, right = shapely.STRtree(parts).query(parts, predicate="intersects")
    return bool((left < right).any())


def _groups(container: np.ndarray) -> dict[str, np.ndarray]:
    """Positions of each container's units, containers in id order."""
    ids, inverse = np.unique(np.asarray(container, dtype=str), return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.searchsorted(inverse[order], np.arange(len(ids) + 1))
    return {str(cid): order[bounds[j] : bounds[j + 1]] for j, cid in enumerate(ids)}


def _jobs(
    u: gpd.GeoDataFrame,
    groups: dict[str, np.ndarray],
    comm: gpd.GeoDataFrame | None,
    bars: gpd.GeoDataFrame | None,
    boundary: shapely.Geometry | None,
    t: Targets,
    seed: int,
    time_budget: float | None,
    *,
    tessellated: bool,
    fill_gaps: bool,
    previous: np.ndarray | None = None,
    locked: frozenset[str] = frozenset(),
    exact_seconds: float = EXACT_SECONDS,
) -> Iterator[ContainerJob]:
    """One job per container, largest first (a runner with several workers then finishes sooner).

    Each job is cut from the whole input only when the runner asks for it, so a runner
    that keeps a few containers in flight never holds all of them twice.
    """
    columns = [c for c in (UNIT_ID, HOUSEHOLDS, POPULATION, COMPOUND) if c in u.columns]
    # the columns a job carries, selected once: selecting them again for each of hundreds of
    # containers cost more than cutting the rows (measured: 1.3 s against 0.15 s for Taipei)
    order = sorted(groups, key=lambda c: (-len(groups[c]), c))
    # rows in job order once, so each job is a slice of them (a pandas take per container was most
    # of the cutting: 0.39 of 0.5 s for Taipei's 456 villages)
    carried = u[[*columns, u.geometry.name]].take(np.concatenate([groups[c] for c in order])) if groups else u
    starts = np.cumsum([0, *(len(groups[c]) for c in order)])
    points = np.asarray(u.geometry.values, dtype=object)
    polygons = set() if comm is None else set(comm.index)
    # per-community values looked up once, not by label in the loop
    outlines = {} if comm is None else dict(zip(comm.index, comm.geometry.values, strict=True))
    names = {} if comm is None else dict(zip(comm.index, comm[COMMUNITY_NAME].map(_text), strict=True))
    admin_codes = {} if comm is None else dict(zip(comm.index, comm[ADMIN_CODE].map(_text), strict=True))
    # containers without a polygon share one Voronoi diagram, so their outlines cannot overlap
    cells = cell_of = comm_tree = owner = None
    if tessellated and len(groups) > 1 and any(cid not in polygons for cid in groups):
        cells, cell_of = voronoi_cells(points)
        owner = _spot_owners(cell_of, groups)
        if comm is not None:
            comm_tree = shapely.STRtree(comm.geometry.values)
    bar_tree = None if bars is None else shapely.STRtree(bars.geometry.values)
    for j, cid in enumerate(order):
        idx = groups[cid]
        box = shapely.total_bounds(points[idx]) + np.array([-1, -1, 1, 1]) * HULL_MARGIN
        extra: dict = {}
        polygon = outlines.get(cid)
        if polygon is not None:
            extra["outline"] = polygon
            box = _union_box(box, shapely.bounds(polygon))
        elif cells is not None:
            spots = np.unique(cell_of[idx])
            # a spot shared with another container's points belongs to one of them only
            owned = spots[owner[spots] == cid]
            mine = cells[owned if len(owned) else spots]
            cell_box = shapely.total_bounds(mine)
            extra["outline_cells"] = mine
            if boundary is not None:
                extra["outline_clip"] = shapely.intersection(boundary, shapely.box(*cell_box))
                box = _union_box(box, shapely.bounds(extra["outline_clip"]))
            if comm_tree is not None:
                near = np.sort(comm_tree.query(shapely.box(*cell_box)))
                extra["outline_minus"] = comm.geometry.values[near]
        elif tessellated and comm is None and boundary is not None:
            extra["outline"] = boundary
            box = _union_box(box, shapely.bounds(boundary))
        if bar_tree is not None:
            near = np.sort(bar_tree.query(shapely.box(*box)))
            extra["barriers"] = bars.iloc[near][[HARD, bars.geometry.name]]
        if cid in polygons:
            extra["name"] = names[cid]
            extra["admin_code"] = admin_codes[cid]
        if previous is not None:
            extra["previous"] = previous[idx]
            extra["locked"] = locked
        yield ContainerJob(
            container_id=cid,
            units=carried.iloc[starts[j] : starts[j + 1]],
            targets=t,
            seed=seed,
            tessellate=tessellated,
            fill_gaps=fill_gaps,
            time_budget=None if time_budget is None else time_budget * len(idx) / max(1, len(u)),
            exact_seconds=exact_seconds,
            **extra,
        )


def _spot_owners(cell_of: np.ndarray, groups: dict[str, np.ndarray]) -> np.ndarray:
    """The container owning each spot of the shared Voronoi diagram.

    Points of two containers on one spot would give both containers the spot's cell,
    and their grids would overlap there; the cell goes to the container with the most
    points on the spot (the first id on a tie), and the others' points there get cells
    from their own container's area.
    """
    container = np.empty(len(cell_of), dtype=object)
    for cid, idx in groups.items():
        container[idx] = cid
    frame = pd.DataFrame({"spot": cell_of, "container": container})
    counts = frame.groupby(["spot", "container"]).size().rename("n").reset_index()
    counts = counts.sort_values(["spot", "n", "container"], ascending=[True, False, True], kind="stable")
    first = counts.drop_duplicates("spot")
    owner = np.full(int(cell_of.max()) + 1 if len(cell_of) else 0, None, dtype=object)
    owner[first["spot"].to_numpy()] = first["container"].to_numpy()
    return owner


def _previous_codes(
    u: gpd.GeoDataFrame, previous: pd.DataFrame | None, locked: Collection[str], source: str
) -> np.ndarray | None:
    """Each unit's grid code in the previous plan (``None`` for new units), or ``None`` without one."""
    if previous is None:
        if locked:
            raise InputError("--lock needs a previous plan to lock grids of", file=source, field="lock")
        return None
    missing = [c for c in (UNIT_ID, GRID_CODE) if c not in previous.columns]
    if missing:
        raise InputError(
            f"the previous plan's assignment lacks {missing}; pass the 'assignment' layer of a plan file",
            file="previous plan",
            field=missing[0],
        )
    codes = dict(zip(previous[UNIT_ID].astype(str), previous[GRID_CODE].astype(str), strict=True))
    unknown = sorted(set(map(str, locked)) - set(codes.values()))
    if unknown:
        raise InputError(
            f"locked grids {unknown[:10]} are not in the previous plan", file="previous plan", field="lock"
        )
    return np.array([codes.get(uid) for uid in u[UNIT_ID]], dtype=object)


def _union_box(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.array([min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])])


def _text(value) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def assemble(
    u: gpd.GeoDataFrame,
    out_crs: pyproj.CRS,
    metric: pyproj.CRS,
    comm: gpd.GeoDataFrame | None,
    groups: dict[str, np.ndarray],
    outputs: dict[str, ContainerOutput],
    t: Targets,
    seed: int,
    *,
    tessellated: bool,
    started: float,
) -> PartitionResult:
    """Put the containers' outputs together, in container order, and check the whole plan."""
    geoms = np.asarray(u.geometry.values, dtype=object).copy()
    codes = np.full(len(u), None, dtype=object)
    frames, per_comm, failed, split, local = [], [], [], [], []
    atoms = soft = hard = 0
    filled = False
    for cid, idx in groups.items():
        out = outputs.get(cid) or ContainerOutput(cid, error="no result came back from the runner")
        if out.failed:
            failed.append({"community_id": cid, "error": out.error, "traceback": out.traceback})
            per_comm.append(_failed_entry(u, idx, cid, comm, out.error))
            continue
        if out.cells is not None:  # None: the units kept their own polygons
            geoms[idx] = out.cells
        codes[idx] = out.codes
        frames.append(out.grids)
        per_comm.append(out.community)
        local.append(out.checks)
        split.extend(out.split_compounds)
        atoms += out.atoms
        soft += out.soft_crossings
        hard += out.hard_crossings
        filled = filled or out.filled
    grids = _concat_grids(frames, metric)
    done = codes != None  # noqa: E711 (element-wise)
    assignment = pd.DataFrame({UNIT_ID: u[UNIT_ID].to_numpy()[done], GRID_CODE: codes[done]})
    units = u.set_geometry(gpd.GeoSeries(geoms, index=u.index, crs=metric))
    # the checks measure what is written: the grids in the output CRS, back in metres
    out_grids, out_units = _to_output(grids, out_crs), _to_output(units, out_crs)
    measured = out_grids if out_grids.crs == metric else out_grids.to_crs(metric)
    allowed = {str(c["compound"]) for c in split}  # split on purpose: each exceeds a maximum
    overlaps = {(a, b): x for c in local for a, b, x in c["overlaps"]}
    # grids written as their containers made them were checked there against their own
    # community's grids; only pairs across communities are left. Reprojected or repaired
    # grids are checked again in full, as written.
    as_made = out_grids.crs == metric and all(
        a is b for a, b in zip(out_grids.geometry.values, grids.geometry.values, strict=True)
    )
    overlaps.update({(a, b): x for a, b, x in overlapping_grids(measured, across=COMMUNITY if as_made else None)})
    checks = {
        "invalid": invalid_grids(out_grids),
        "noncontiguous": sorted({*(x for c in local for x in c["noncontiguous"]), *noncontiguous_grids(measured)}),
        "overlaps": sorted((a, b, round(x, 1)) for (a, b), x in overlaps.items()),
        "unnested": unnested_grids(assignment, units),
        "split_compounds": [c for c in split_compounds(assignment, units) if c not in allowed],
        "unassigned_units": sorted(u[UNIT_ID].to_numpy()[~done].tolist())[:50],
        "gaps": sorted(x for c in local for x in c["gaps"]),
    }
    feasible_ids = {c["community_id"] for c in per_comm if c["feasible_by_counts"]}
    proved_ids = {c["community_id"] for c in per_comm if c.get("proved_infeasible")}
    in_feasible = grids[grids[COMMUNITY].isin(feasible_ids) & (grids[STATUS] != STATUS_OVERSIZED)]
    in_possible = in_feasible[~in_feasible[COMMUNITY].isin(proved_ids)]
    pp = grids[POLSBY_POPPER]
    report = {
        "targets": {"households": list(t.households_range), "population": list(t.population_range)},
        "seed": seed,
        "metric_crs": metric.to_string(),
        "units": len(u),
        "tessellated": tessellated,
        "atoms": atoms,
        "split_compounds": split,
        "communities": len(per_comm),
        "communities_feasible_by_counts": len(feasible_ids),
        # of those, communities the exact search proved cannot have every grid in range
        "communities_proved_infeasible": len(proved_ids),
        "grids": len(grids),
        "grids_by_status": {k: int(v) for k, v in grids[STATUS].value_counts().to_dict().items()},
        "share_in_range": round(float((grids[STATUS] == STATUS_OK).mean()), 4) if len(grids) else 0.0,
        "share_in_range_where_feasible": round(float((in_feasible[STATUS] == STATUS_OK).mean()), 4)
        if len(in_feasible)
        else None,
        "share_in_range_where_possible": round(float((in_possible[STATUS] == STATUS_OK).mean()), 4)
        if len(in_possible)
        else None,
        "exact_work": round(sum(c.get("exact_work", 0.0) for c in per_comm), 6),
        "polsby_popper": {"mean": round(float(pp.mean()), 4), "min": round(float(pp.min()), 4)} if len(grids) else None,
        "soft_barrier_crossings": soft,
        "hard_barrier_crossings": hard,
        "checks": checks,
        # the failing checks in words (which check, which grids, how much)
        "check_failures": check_failures(checks, hard_crossings=hard),
        "failed_containers": failed,
        "valid": not any(checks.values()) and hard == 0 and not failed,
        "seconds": round(time.perf_counter() - started, 3),
        "per_community": per_comm,
        "street_gaps_filled": filled,
    }
    redivided = [c["redivision"] for c in per_comm if "redivision" in c]
    if redivided:
        moved = sum(r["households_moved"] for r in redivided)
        total = sum(r["households"] for r in redivided)
        report["redivision"] = {
            "grids_kept": sum(len(r["kept"]) for r in redivided),
            "grids_changed": sum(len(r["changed"]) for r in redivided),
            "grids_created": sum(len(r["created"]) for r in redivided),
            "grids_retired": sum(len(r["retired"]) for r in redivided),
            "kept": sorted(c for r in redivided for c in r["kept"]),
            "changed": sorted(c for r in redivided for c in r["changed"]),
            "created": sorted(c for r in redivided for c in r["created"]),
            "retired": sorted(c for r in redivided for c in r["retired"]),
            "units_moved": sum(r["units_moved"] for r in redivided),
            "new_units": sum(r["new_units"] for r in redivided),
            "households_moved": moved,
            "households_moved_share": round(moved / total, 4) if total else 0.0,
        }
    return PartitionResult(out_grids, assignment, out_units, report, metric)


def _to_output(frame: gpd.GeoDataFrame, crs: pyproj.CRS) -> gpd.GeoDataFrame:
    """``frame`` reprojected to ``crs``, with any ring the reprojection made cross itself repaired.

    Where grid cells meet at one point, a grid's ring can pass that point twice a
    hundred-billionth of a metre apart: valid in metres, but reprojected to degrees the
    two passes can cross. GIS tools then measure nonsense (overlaps of square
    kilometres). ``make_valid`` puts the crossing back on one point; the slivers of no
    area it leaves (lines, zero-area polygons) are dropped.
    """
    out = frame.to_crs(crs) if frame.crs != crs else frame.copy()
    geoms = np.asarray(out.geometry.values, dtype=object)
    bad = np.flatnonzero(~shapely.is_valid(geoms) & ~shapely.is_missing(geoms))
    if len(bad) == 0:
        return out
    fixed = geoms.copy()
    for i in bad:
        before = shapely.area(geoms[i])
        pieces = shapely.get_parts(shapely.make_valid(geoms[i]))  # a collection may hold a multipolygon
        parts = [
            part
            for part in shapely.get_parts(pieces[np.isin(shapely.get_type_id(pieces), [3, 6])])
            if shapely.area(part) > 1e-9 * before
        ]
        fixed[i] = shapely.union_all(parts) if len(parts) > 1 else parts[0] if parts else geoms[i]
    return out.set_geometry(gpd.GeoSeries(fixed, index=out.index, crs=out.crs))


def _concat_grids(frames: list[gpd.GeoDataFrame], metric: pyproj.CRS) -> gpd.GeoDataFrame:
    if not frames:
        empty = {
            c: pd.Series([], dtype=object if c in (COMMUNITY, STATUS, REASON, GRID_CODE) else "int64")
            for c in GRID_COLUMNS
            if c != "geometry"
        }
        empty[POLSBY_POPPER] = pd.Series([], dtype=float)
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=metric), crs=metric)[GRID_COLUMNS]
    grids = pd.concat(frames, ignore_index=True)
    return gpd.GeoDataFrame(grids, geometry="geometry", crs=metric).sort_values(GRID_CODE).reset_index(drop=True)


def _failed_entry(u: gpd.GeoDataFrame, idx: np.ndarray, cid: str, comm: gpd.GeoDataFrame | None, error: str) -> dict:
    """The report entry of a container that failed: its totals, no grids, and the error."""
    name = _text(comm.loc[cid, COMMUNITY_NAME]) if comm is not None and cid in comm.index else None
    return {
        "community_id": cid,
        "name": name,
        "households": int(u[HOUSEHOLDS].iloc[idx].sum()),
        "population": int(u[POPULATION].iloc[idx].sum()),
        "units": len(idx),
        "grids": 0,
        "grids_ok": 0,
        "grids_out_of_range": 0,
        "grids_oversized_unit": 0,
        "feasible_by_counts": None,
        "proved_infeasible": False,
        "exact_work": 0.0,
        "pieces": [],
        "explanation": f"failed, no grids: {error}",
        "error": error,
        "seconds": 0.0,
    }

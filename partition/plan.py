"""``partition()``: from units (and optional communities and barriers) to grids.

The work splits into independent containers (communities, or the whole district),
and inside each into connected pieces; :func:`solve_container` handles one container
and :func:`partition` dispatches all of them, so a parallel runner can map the same
function over containers.
"""

from __future__ import annotations

import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

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
    GRID_CODE,
    GRID_UNITS,
    HARD,
    HOUSEHOLDS,
    POLSBY_POPPER,
    POPULATION,
    REASON,
    STATUS,
    STATUS_OK,
    STATUS_OUT_OF_RANGE,
    STATUS_OVERSIZED,
    UNIT_ID,
)
from gis.crs import pick_metric_crs
from gis.errors import InputError, OutsideBoundaryError
from partition.codes import grid_codes, reading_order
from partition.constraints import check_plan
from partition.explain import diagnose_grid
from partition.graph import Adjacency, build_adjacency, components
from partition.metrics import polsby_popper
from partition.solver import Instance, solve
from partition.targets import Feasibility, Targets, assess, half_max_units
from partition.units import Atoms, gap_share, group_atoms, territories, tessellate

__all__ = ["ContainerResult", "ContainerTask", "PartitionResult", "partition", "solve_container"]

Progress = Callable[[int, int, str], None]

DISTRICT = "district"


@dataclass(frozen=True)
class PartitionResult:
    """What the engine returns.

    ``grids`` and ``units`` are in the input CRS; ``units`` are polygons (tessellated
    when the input was points) with the community each belongs to; ``assignment`` maps
    every unit id to its grid code; ``report`` is JSON-ready.
    """

    grids: gpd.GeoDataFrame
    assignment: pd.DataFrame
    units: gpd.GeoDataFrame
    report: dict
    metric_crs: pyproj.CRS


@dataclass(frozen=True)
class ContainerTask:
    """Everything needed to partition one container, with no geometry."""

    container_id: str
    atom_ids: np.ndarray  # global atom indices in this container
    households: np.ndarray
    population: np.ndarray
    area: np.ndarray
    perimeter: np.ndarray
    left: np.ndarray  # local atom indices of neighbour pairs
    right: np.ndarray
    shared: np.ndarray
    soft: np.ndarray
    targets: Targets
    seed: int
    time_budget: float | None


@dataclass
class ContainerResult:
    """Grid label (local to the container) per atom, plus the explanation."""

    container_id: str
    atom_ids: np.ndarray
    labels: np.ndarray
    grid_flags: dict[int, str]  # label -> oversized_unit / isolated
    grid_notes: dict[int, str]
    pieces: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def solve_container(task: ContainerTask) -> ContainerResult:
    """Cut one container into grids: oversized atoms alone, each connected piece by the solver."""
    start = time.perf_counter()
    t = task.targets
    n = len(task.atom_ids)
    labels = np.full(n, -1, dtype=np.int64)
    flags: dict[int, str] = {}
    notes: dict[int, str] = {}
    pieces: list[dict] = []
    next_label = 0
    oversized = np.array(
        [t.oversized(int(h), int(p)) for h, p in zip(task.households, task.population, strict=True)],
        dtype=bool,
    )
    for i in np.flatnonzero(oversized):
        labels[i] = next_label
        flags[next_label] = STATUS_OVERSIZED
        notes[next_label] = (
            f"one indivisible unit holds {int(task.households[i]):,} households and "
            f"{int(task.population[i]):,} residents, over the maximum of {t.h_max:,} / {t.p_max:,}"
        )
        next_label += 1
    rest = np.flatnonzero(~oversized)
    keep = ~oversized[task.left] & ~oversized[task.right]
    comp = components(n, task.left[keep], task.right[keep])
    comp_ids = sorted(set(comp[rest].tolist()), key=lambda c: int(np.flatnonzero(comp == c)[0]))
    totals = {c: int(task.households[comp == c].sum()) for c in comp_ids}
    has_people = [c for c in comp_ids if totals[c] > 0]
    orphans: list[int] = []
    for piece_no, c in enumerate(comp_ids):
        members = np.flatnonzero(comp == c)
        if totals[c] == 0 and has_people:
            orphans.extend(members.tolist())  # parks, water: joined to the nearest grid below
            continue
        local = {int(g): j for j, g in enumerate(members)}
        mask = np.isin(task.left, members) & np.isin(task.right, members) & keep
        inst = Instance.from_arrays(
            task.households[members],
            task.population[members],
            task.area[members],
            task.perimeter[members],
            [local[int(x)] for x in task.left[mask]],
            [local[int(x)] for x in task.right[mask]],
            task.shared[mask],
            task.soft[mask],
        )
        feas = assess(
            int(task.households[members].sum()),
            int(task.population[members].sum()),
            t,
            min_grids=half_max_units(task.households[members].tolist(), task.population[members].tolist(), t),
        )
        rng = np.random.default_rng([task.seed, zlib.crc32(task.container_id.encode()), piece_no])
        if feas.feasible:
            lo, hi = feas.k_feasible  # type: ignore[misc]
            k_choices = sorted(range(lo, hi + 1), key=lambda x: (abs(x - feas.k), x))[:4]
            # a restart re-solves the whole piece: cheap for a village, not for a whole district
            restarts = 6 if len(members) <= 150 else 3 if len(members) <= 400 else 1
        else:
            k_choices, restarts = [], 1
        budget = math.inf if task.time_budget is None else task.time_budget * len(members) / max(1, n)
        sol = solve(inst, feas.k, t, rng=rng, time_budget=budget, k_choices=k_choices, max_restarts=restarts)
        labels[members] = np.asarray(sol.assignment, dtype=np.int64) + next_label
        piece = {
            "piece": piece_no,
            "units": len(members),
            **feas.to_dict(),
            "grids": sol.k,
            "grids_off_range": sol.off_range,
            "household_deviation": sol.household_deviation,
            "population_deviation": sol.population_deviation,
            "restarts": sol.restarts,
            "largest_atom_households": int(task.households[members].max()),
        }
        if len(comp_ids) > 1:
            piece["isolated"] = True
        pieces.append(piece)
        piece_note = _piece_note(feas, sol.off_range, sol.k, len(comp_ids) > 1, t)
        for g in range(sol.k):
            why = diagnose_grid(inst, sol.assignment, g, t) if feas.feasible else ""
            notes[next_label + g] = why or piece_note
        next_label += sol.k
    if orphans:
        for piece in _attach_orphans(orphans, labels, task):
            labels[piece] = next_label
            notes[next_label] = (
                "an unpopulated piece of the community that no grid can reach without crossing a hard "
                "barrier; it needs no grid worker of its own"
            )
            next_label += 1
    return ContainerResult(task.container_id, task.atom_ids, labels, flags, notes, pieces, time.perf_counter() - start)


def _piece_note(feas: Feasibility, off: int, k: int, isolated: bool, t: Targets) -> str:
    where = "this isolated piece of the community" if isolated else "the community"
    if not feas.feasible:
        return f"{where}: {feas.reason}"
    if off:
        lo, hi = feas.k_feasible  # type: ignore[misc]
        return (
            f"{where} has {feas.households:,} households and {feas.population:,} residents, which allow "
            f"{lo}–{hi} grids in range, but with these units and contiguity the best plan found "
            f"leaves {off} of {k} grids off range"
        )
    return ""


def _attach_orphans(orphans: list[int], labels: np.ndarray, task: ContainerTask) -> list[list[int]]:
    """Give unpopulated isolated atoms to a grid they border; return the pieces no grid borders.

    Only usable edges count (none across a hard barrier), so a park cut off by a river
    is never handed to a grid on the far bank.
    """
    pending = set(orphans)
    changed = True
    while pending and changed:
        changed = False
        for i in sorted(pending):
            nb = np.concatenate([task.right[task.left == i], task.left[task.right == i]])
            assigned = [labels[j] for j in nb if labels[j] >= 0]
            if assigned:
                labels[i] = min(assigned)
                pending.discard(i)
                changed = True
    pieces: list[list[int]] = []
    while pending:
        start = min(pending)
        piece, stack = [start], [start]
        pending.discard(start)
        while stack:
            x = stack.pop()
            nb = np.concatenate([task.right[task.left == x], task.left[task.right == x]])
            for j in nb.tolist():
                if j in pending:
                    pending.discard(j)
                    piece.append(j)
                    stack.append(j)
        pieces.append(sorted(piece))
    return pieces


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
        Optional district outline, used to clip tessellated cells when there are no
        community polygons.
    targets
        Household and resident ranges (default 300–500 and 1,000–1,500).
    crs
        Metric working CRS; chosen automatically (local UTM) when ``None``.
    seed
        Seed of every random choice: the same inputs and seed give the same plan.
    time_budget
        Seconds for the whole run, shared among containers by size; ``None`` means no
        limit (and fully reproducible plans).
    progress
        Called as ``progress(done, total, container_id)`` after each container.
    source
        Name of the input, used in error messages.

    Returns
    -------
    PartitionResult

    Raises
    ------
    InputError
        Missing columns, no CRS, or units outside every community.
    """
    started = time.perf_counter()
    t = targets or Targets()
    _check_units(units, source)
    metric = pick_metric_crs(units, crs=crs)
    u = units.to_crs(metric).reset_index(drop=True)
    u[UNIT_ID] = u[UNIT_ID].astype(str)
    comm = _prepare_communities(communities, metric)
    container = _containers(u, comm, source)
    u[COMMUNITY] = container
    bars = None
    if barriers is not None and len(barriers):
        bars = barriers.to_crs(metric).reset_index(drop=True)
        if HARD not in bars.columns:
            bars[HARD] = False
    tessellated = bool(shapely.get_type_id(u.geometry.values).max() == 0) if len(u) else False
    filled = False
    spots = None
    measure = u.geometry.values
    if tessellated:
        spots, first = _shared_spots(u.geometry.values, container)
        u = _tessellate_units(u, comm, boundary, bars, metric)
        # points on one spot share a cell: measure it once, through the first of them
        measure = np.where(first, u.geometry.values, shapely.Polygon())
    elif len(u) and gap_share(u.geometry.values) > 0.01:
        u = _fill_gaps(u, comm)
        filled = True
        measure = u.geometry.values
    adjacency = build_adjacency(measure, barriers=bars)
    atoms = group_atoms(u, container, t, geoms=measure, spots=spots)
    tasks = list(_tasks(container, atoms, adjacency, t, seed, time_budget))
    results: list[ContainerResult] = []
    for done, task in enumerate(tasks, start=1):
        results.append(solve_container(task))
        if progress is not None:
            progress(done, len(tasks), task.container_id)
    return assemble(
        u,
        units.crs,
        metric,
        comm,
        atoms,
        adjacency,
        results,
        t,
        seed,
        tessellated=tessellated,
        filled=filled,
        started=started,
    )


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
        bad = np.flatnonzero(values.isna().to_numpy() | (values < 0).to_numpy())
        if len(bad):
            raise InputError(
                f"{len(bad)} unit(s) have a blank, negative or non-numeric count",
                file=source,
                index=bad[:10].tolist(),
                feature_id=units[UNIT_ID].iloc[bad[:10]].tolist(),
                field=col,
            )
    if units[UNIT_ID].duplicated().any():
        dup = np.flatnonzero(units[UNIT_ID].duplicated(keep=False).to_numpy())
        raise InputError(
            f"unit ids must be unique; {len(dup)} features share an id",
            file=source,
            index=dup[:10].tolist(),
            feature_id=units[UNIT_ID].iloc[dup[:10]].tolist(),
            field=UNIT_ID,
        )
    empty = np.flatnonzero(units.geometry.isna().to_numpy() | units.geometry.is_empty.to_numpy())
    if len(empty):
        raise InputError(
            f"{len(empty)} unit(s) have no geometry",
            file=source,
            index=empty[:10].tolist(),
            feature_id=units[UNIT_ID].iloc[empty[:10]].tolist(),
            field="geometry",
        )


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


def _containers(u: gpd.GeoDataFrame, comm: gpd.GeoDataFrame | None, source: str) -> np.ndarray:
    if COMMUNITY in u.columns and u[COMMUNITY].notna().all():
        return u[COMMUNITY].astype(str).to_numpy()
    if comm is None:
        return np.full(len(u), DISTRICT, dtype=object)
    anchors = shapely.point_on_surface(u.geometry.values)
    geoms = comm.geometry.values
    tree = shapely.STRtree(geoms)
    a_idx, c_idx = tree.query(anchors, predicate="within")
    owner = np.full(len(u), -1, dtype=np.int64)
    owner[a_idx[::-1]] = c_idx[::-1]
    lost = np.flatnonzero(owner < 0)
    if len(lost):
        # a point exactly on a shared border, or a few metres off: the nearest community within 50 m
        near, dist = tree.query_nearest(anchors[lost], return_distance=True, all_matches=False)
        close = dist <= 50.0
        owner[lost[near[0][close]]] = near[1][close]
    lost = np.flatnonzero(owner < 0)
    if len(lost):
        raise OutsideBoundaryError(
            f"{len(lost)} unit(s) lie in no community (more than 50 m outside every community polygon); "
            "check the CRS of both files or pass --community-field",
            file=source,
            index=lost[:10].tolist(),
            feature_id=u[UNIT_ID].iloc[lost[:10]].tolist(),
        )
    return comm.index.to_numpy()[owner].astype(str)


def _tessellate_units(
    u: gpd.GeoDataFrame,
    comm: gpd.GeoDataFrame | None,
    boundary: gpd.GeoDataFrame | None,
    bars: gpd.GeoDataFrame | None,
    metric: pyproj.CRS,
) -> gpd.GeoDataFrame:
    lines = None if bars is None else bars.geometry.values
    cells = np.empty(len(u), dtype=object)
    if comm is not None:
        groups = u.groupby(COMMUNITY).indices
        for cid, idx in groups.items():
            outline = comm.geometry.loc[cid] if cid in comm.index else None
            if outline is None:
                outline = shapely.convex_hull(shapely.multipoints(u.geometry.values[idx])).buffer(50.0)
            cells[idx] = tessellate(u.geometry.values[idx], outline, barriers=lines)
    else:
        if boundary is not None and len(boundary):
            outline = shapely.union_all(boundary.to_crs(metric).geometry.values)
        else:
            outline = shapely.convex_hull(shapely.multipoints(u.geometry.values)).buffer(50.0)
        cells[:] = tessellate(u.geometry.values, outline, barriers=lines)
    out = u.copy()
    out["address_point"] = u.geometry.values
    out = out.set_geometry(gpd.GeoSeries(cells, crs=metric, index=u.index))
    return out.drop(columns=["address_point"])


def _shared_spots(points: np.ndarray, container: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Key of each address point sharing its spot (1 cm) with another, and whether it comes first."""
    xy = np.round(shapely.get_coordinates(points), 2)
    frame = pd.DataFrame({"c": np.asarray(container, dtype=str), "x": xy[:, 0], "y": xy[:, 1]})
    dup = frame.duplicated(keep=False).to_numpy()
    first = ~frame.duplicated(keep="first").to_numpy()
    keys = np.full(len(frame), None, dtype=object)
    keys[dup] = (frame.c + "|" + frame.x.astype(str) + "|" + frame.y.astype(str)).to_numpy()[dup]
    return keys, first


def _fill_gaps(u: gpd.GeoDataFrame, comm: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Replace parcels that leave the streets out by the territories around them, per community."""
    cells = np.asarray(u.geometry.values, dtype=object).copy()
    for cid, idx in u.groupby(COMMUNITY).indices.items():
        clip = comm.geometry.loc[cid] if comm is not None and cid in comm.index else None
        cells[idx] = territories(u.geometry.iloc[idx], clip)
    return u.set_geometry(gpd.GeoSeries(cells, crs=u.crs, index=u.index))


def _tasks(
    container: np.ndarray,
    atoms: Atoms,
    adjacency: Adjacency,
    t: Targets,
    seed: int,
    time_budget: float | None,
):
    atom_container = np.empty(len(atoms.households), dtype=object)
    atom_container[atoms.atom_of] = container
    a_left = atoms.atom_of[adjacency.left]
    a_right = atoms.atom_of[adjacency.right]
    same_container = container[adjacency.left] == container[adjacency.right]
    # a shared edge inside one atom shortens the atom's outline twice
    inner = a_left == a_right
    perimeter = atoms.perimeter_sum - 2.0 * np.bincount(
        a_left[inner], weights=adjacency.shared[inner], minlength=len(atoms.households)
    )
    usable = same_container & ~inner & ~adjacency.hard
    el, er = np.minimum(a_left[usable], a_right[usable]), np.maximum(a_left[usable], a_right[usable])
    shared, soft = adjacency.shared[usable], adjacency.soft[usable]
    edge_container = atom_container[el]
    order = np.argsort(atom_container.astype(str), kind="stable")
    ids, starts = np.unique(atom_container[order].astype(str), return_index=True)
    bounds = [*starts.tolist(), len(order)]
    for j, cid in enumerate(ids):
        members = np.sort(order[bounds[j] : bounds[j + 1]])
        local = np.full(len(atoms.households), -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        mask = edge_container == cid
        budget = None if time_budget is None else time_budget * len(members) / max(1, len(atoms.households))
        yield ContainerTask(
            container_id=str(cid),
            atom_ids=members,
            households=atoms.households[members],
            population=atoms.population[members],
            area=atoms.area[members],
            perimeter=perimeter[members],
            left=local[el[mask]],
            right=local[er[mask]],
            shared=shared[mask],
            soft=soft[mask],
            targets=t,
            seed=seed,
            time_budget=budget,
        )


def assemble(
    u: gpd.GeoDataFrame,
    out_crs: pyproj.CRS,
    metric: pyproj.CRS,
    comm: gpd.GeoDataFrame | None,
    atoms: Atoms,
    adjacency: Adjacency,
    results: list[ContainerResult],
    t: Targets,
    seed: int,
    *,
    tessellated: bool,
    filled: bool = False,
    started: float,
) -> PartitionResult:
    """Turn per-container labels into grids with codes, statuses, reasons and the report."""
    n_atoms = len(atoms.households)
    grid_key = np.empty(n_atoms, dtype=object)
    flag_of: dict[str, str] = {}
    note_of: dict[str, str] = {}
    for r in results:
        for a, lab in zip(r.atom_ids, r.labels, strict=True):
            grid_key[a] = f"{r.container_id}\x1f{int(lab)}"
        for lab, fl in r.grid_flags.items():
            flag_of[f"{r.container_id}\x1f{lab}"] = fl
        for lab, note in r.grid_notes.items():
            note_of[f"{r.container_id}\x1f{lab}"] = note
    unit_grid = grid_key[atoms.atom_of]
    frame = gpd.GeoDataFrame(
        {
            "_key": unit_grid,
            COMMUNITY: u[COMMUNITY].to_numpy(),
            HOUSEHOLDS: u[HOUSEHOLDS].to_numpy(dtype=np.int64),
            POPULATION: u[POPULATION].to_numpy(dtype=np.int64),
        },
        geometry=u.geometry.values,
        crs=metric,
    )
    grouped = frame.groupby("_key", sort=True)
    keys = list(grouped.indices)
    geoms = np.empty(len(keys), dtype=object)
    for i, key in enumerate(keys):
        geoms[i] = _union(frame.geometry.values[grouped.indices[key]])
    grids = gpd.GeoDataFrame(
        {
            "_key": keys,
            COMMUNITY: grouped[COMMUNITY].first().reindex(keys).to_numpy(),
            HOUSEHOLDS: grouped[HOUSEHOLDS].sum().reindex(keys).to_numpy(),
            POPULATION: grouped[POPULATION].sum().reindex(keys).to_numpy(),
            GRID_UNITS: grouped.size().reindex(keys).to_numpy(),
        },
        geometry=geoms,
        crs=metric,
    )
    grids[POLSBY_POPPER] = np.round(polsby_popper(grids.geometry.values), 4)
    status, reason = _statuses(grids, flag_of, note_of, t)
    grids[STATUS] = status
    grids[REASON] = reason
    grids = _with_codes(grids, comm)
    code_of = dict(zip(grids["_key"], grids[GRID_CODE], strict=True))
    assignment = pd.DataFrame({UNIT_ID: u[UNIT_ID].to_numpy(), GRID_CODE: [code_of[k] for k in unit_grid]})
    grids = grids.drop(columns="_key").sort_values(GRID_CODE).reset_index(drop=True)
    containers = _container_outlines(u)
    checks = check_plan(grids, assignment, u, containers=containers)
    allowed = {str(c["compound"]) for c in atoms.split_compounds}  # split on purpose: each exceeds a maximum
    checks["split_compounds"] = [c for c in checks["split_compounds"] if c not in allowed]
    report = _report(
        grids,
        u,
        comm,
        results,
        atoms,
        adjacency,
        unit_grid,
        checks,
        t,
        seed,
        metric,
        tessellated,
        time.perf_counter() - started,
    )
    report["street_gaps_filled"] = filled
    units_out = u.to_crs(out_crs)
    return PartitionResult(grids.to_crs(out_crs), assignment, units_out, report, metric)


def _union(geoms: np.ndarray) -> shapely.Geometry:
    if len(geoms) == 1:
        return geoms[0]
    merged = shapely.union_all(geoms)
    if shapely.get_num_geometries(merged) > 1:
        # float noise between tessellated cells can leave hair-thin gaps; snapping to 1 cm closes them
        snapped = shapely.union_all(geoms, grid_size=0.01)
        if shapely.get_num_geometries(snapped) < shapely.get_num_geometries(merged):
            return snapped
    return merged


def _statuses(
    grids: gpd.GeoDataFrame, flag_of: dict[str, str], note_of: dict[str, str], t: Targets
) -> tuple[list[str], list[str]]:
    status, reason = [], []
    for key, h, p in zip(grids["_key"], grids[HOUSEHOLDS], grids[POPULATION], strict=True):
        flag = flag_of.get(key)
        if flag == STATUS_OVERSIZED:
            status.append(STATUS_OVERSIZED)
            reason.append(note_of.get(key, ""))
            continue
        if t.in_range(int(h), int(p)):
            status.append(STATUS_OK)
            reason.append("")
            continue
        parts = []
        if h < t.h_min:
            parts.append(f"{int(h):,} households < {t.h_min:,}")
        elif h > t.h_max:
            parts.append(f"{int(h):,} households > {t.h_max:,}")
        if p < t.p_min:
            parts.append(f"{int(p):,} residents < {t.p_min:,}")
        elif p > t.p_max:
            parts.append(f"{int(p):,} residents > {t.p_max:,}")
        note = note_of.get(key, "")
        status.append(STATUS_OUT_OF_RANGE)
        reason.append("; ".join(parts) + (f" — {note}" if note else ""))
    return status, reason


def _with_codes(grids: gpd.GeoDataFrame, comm: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    grids = grids.copy()
    codes = np.empty(len(grids), dtype=object)
    anchors = shapely.point_on_surface(grids.geometry.values)
    for cid, idx in grids.groupby(COMMUNITY).indices.items():
        band = float(np.sqrt(np.median(shapely.area(grids.geometry.values[idx])))) * 0.7
        order = reading_order(anchors[idx], band)
        admin = None
        if comm is not None and cid in comm.index:
            value = comm.loc[cid, ADMIN_CODE]
            admin = None if pd.isna(value) else str(value)
        cid_text = str(cid) if cid != DISTRICT else "G"
        for code, pos in zip(grid_codes(cid_text, admin, len(idx)), order, strict=True):
            codes[idx[pos]] = code
    grids[GRID_CODE] = codes
    return grids


def _container_outlines(u: gpd.GeoDataFrame) -> gpd.GeoSeries:
    """The area each community's grids must tile: the union of its units."""
    outlines = {}
    for cid, idx in u.groupby(COMMUNITY).indices.items():
        outlines[cid] = shapely.union_all(u.geometry.values[idx])
    return gpd.GeoSeries(outlines, crs=u.crs)


def _report(
    grids: gpd.GeoDataFrame,
    u: gpd.GeoDataFrame,
    comm: gpd.GeoDataFrame | None,
    results: list[ContainerResult],
    atoms: Atoms,
    adjacency: Adjacency,
    unit_grid: np.ndarray,
    checks: dict,
    t: Targets,
    seed: int,
    metric: pyproj.CRS,
    tessellated: bool,
    seconds: float,
) -> dict:
    same = unit_grid[adjacency.left] == unit_grid[adjacency.right]
    soft_crossings = int(adjacency.soft[same].sum())
    hard_crossings = int(adjacency.hard[same].sum())
    by_status = grids[STATUS].value_counts().to_dict()
    per_comm = []
    units_per = u[COMMUNITY].value_counts()
    grid_by_comm = grids.groupby(COMMUNITY)
    for r in results:
        g = grid_by_comm.get_group(r.container_id) if r.container_id in grid_by_comm.groups else grids.iloc[:0]
        counts = g[STATUS].value_counts().to_dict()
        feasible = all(p["feasible_by_counts"] for p in r.pieces) if r.pieces else True
        off = int(counts.get(STATUS_OUT_OF_RANGE, 0))
        name = None
        if comm is not None and r.container_id in comm.index:
            value = comm.loc[r.container_id, COMMUNITY_NAME]
            name = None if pd.isna(value) else str(value)
        explanation = [
            (
                f"an isolated piece ({p['units']} units, {p['households']:,} households) cut off from the rest "
                f"of the community: {p['reason']}"
                if p.get("isolated")
                else p["reason"]
            )
            for p in r.pieces
            if p.get("reason")
        ]
        if feasible and off:
            bad = g[g[STATUS] == STATUS_OUT_OF_RANGE].head(3)
            listed = "; ".join(
                f"{code}: {int(h):,} households, {int(p):,} residents"
                for code, h, p in zip(bad[GRID_CODE], bad[HOUSEHOLDS], bad[POPULATION], strict=True)
            )
            more = f" and {off - len(bad)} more" if off > len(bad) else ""
            largest = max((pc.get("largest_atom_households", 0) for pc in r.pieces), default=0)
            explanation.append(
                f"the totals allow every grid in range, but {off} of {len(g)} grids stay off range "
                f"({listed}{more}): no move of whole units between neighbouring grids fixes them "
                "without pushing another grid out — the units are coarse for the ranges "
                f"(largest unit or compound: {largest:,} households) or their neighbours are full"
            )
        if counts.get(STATUS_OVERSIZED):
            explanation.append(f"{counts[STATUS_OVERSIZED]} unit(s) exceed a maximum on their own")
        per_comm.append(
            {
                "community_id": r.container_id,
                "name": name,
                "households": int(g[HOUSEHOLDS].sum()),
                "population": int(g[POPULATION].sum()),
                "units": int(units_per.get(r.container_id, 0)),
                "grids": len(g),
                "grids_ok": int(counts.get(STATUS_OK, 0)),
                "grids_out_of_range": off,
                "grids_oversized_unit": int(counts.get(STATUS_OVERSIZED, 0)),
                "feasible_by_counts": feasible,
                "pieces": r.pieces,
                "explanation": "; ".join(explanation),
                "seconds": round(r.seconds, 3),
            }
        )
    feasible_ids = {c["community_id"] for c in per_comm if c["feasible_by_counts"]}
    in_feasible = grids[grids[COMMUNITY].isin(feasible_ids) & (grids[STATUS] != STATUS_OVERSIZED)]
    pp = grids[POLSBY_POPPER]
    return {
        "targets": {"households": list(t.households_range), "population": list(t.population_range)},
        "seed": seed,
        "metric_crs": metric.to_string(),
        "units": len(u),
        "tessellated": tessellated,
        "atoms": len(atoms.households),
        "split_compounds": atoms.split_compounds,
        "communities": len(per_comm),
        "communities_feasible_by_counts": len(feasible_ids),
        "grids": len(grids),
        "grids_by_status": {k: int(v) for k, v in by_status.items()},
        "share_in_range": round(float((grids[STATUS] == STATUS_OK).mean()), 4) if len(grids) else 0.0,
        "share_in_range_where_feasible": round(float((in_feasible[STATUS] == STATUS_OK).mean()), 4)
        if len(in_feasible)
        else None,
        "polsby_popper": {"mean": round(float(pp.mean()), 4), "min": round(float(pp.min()), 4)} if len(grids) else None,
        "soft_barrier_crossings": soft_crossings,
        "hard_barrier_crossings": hard_crossings,
        "checks": {k: v for k, v in checks.items()},
        "valid": not any(checks.values()) and hard_crossings == 0,
        "seconds": round(seconds, 3),
        "per_community": per_comm,
    }

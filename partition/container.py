"""One container (a community, or the whole district) from its units to finished grids.

:func:`run_container` is the unit of work a runner maps over containers: it receives one
container's units and nothing of the others (a :class:`ContainerJob`), turns address
points into cells, builds the neighbour graph and the atoms, cuts the atoms into grids
(:func:`solve_container`), merges each grid's units, numbers the grids and checks them.
It never raises: an error becomes a :class:`ContainerOutput` that names the container,
so one failing community does not cost the others their grids.
"""

from __future__ import annotations

import time
import traceback
import zlib
from collections import Counter
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from geopandas.array import from_shapely

from gis.columns import (
    COMMUNITY,
    GRID_CODE,
    GRID_UNITS,
    HOUSEHOLDS,
    POLSBY_POPPER,
    POPULATION,
    REASON,
    STATUS,
    STATUS_OK,
    STATUS_OUT_OF_RANGE,
    STATUS_OVERSIZED,
)
from partition.codes import grid_codes, reading_order
from partition.constraints import coverage_gaps, noncontiguous_grids, overlapping_grids
from partition.exact import EXACT_SECONDS, INFEASIBLE, UNDECIDED, ExactBudget
from partition.explain import diagnose_grid, proof_note
from partition.graph import Adjacency, build_adjacency, components
from partition.metrics import polsby_popper
from partition.pieces import exact_entry, oversized_note, solve_piece
from partition.redivide import Redivision, redivide_container, sequence_of
from partition.targets import Feasibility, Targets
from partition.units import Atoms, group_atoms, merge, territories, tessellate

__all__ = [
    "ContainerJob",
    "ContainerOutput",
    "ContainerResult",
    "ContainerTask",
    "run_container",
    "solve_container",
]

DISTRICT = "district"  # the one container of a district without communities

# An outline drawn around address points when no polygon is known reaches this far (metres)
# past the outermost points, so their cells are not slivers.
HULL_MARGIN = 50.0


@dataclass(frozen=True)
class ContainerJob:
    """One container's share of the input: all :func:`run_container` needs, and no more.

    ``units`` are in the metric CRS, indexed by their position in the whole input, with
    ``unit_id``, ``households``, ``population`` and optionally ``compound``. Address
    points are turned into cells when ``tessellate``; parcels are replaced by the
    territories around them when ``fill_gaps`` (decided on the whole input, since the
    edge of one community's units is no street).

    The area the cells tile, or the territories are clipped to, is ``outline``. When a
    container of address points has no polygon, it is the union of ``outline_cells``
    (its points' cells in one Voronoi diagram of the whole input, so neighbouring
    containers never overlap), cut to ``outline_clip`` (default: the points' convex hull
    grown by 50 m), less ``outline_minus`` (other communities' polygons).
    """

    container_id: str
    units: gpd.GeoDataFrame
    targets: Targets
    seed: int
    tessellate: bool = False
    fill_gaps: bool = False
    time_budget: float | None = None
    outline: shapely.Geometry | None = None
    outline_cells: np.ndarray | None = None
    outline_clip: shapely.Geometry | None = None
    outline_minus: np.ndarray | None = None
    barriers: gpd.GeoDataFrame | None = None
    name: str | None = None
    admin_code: str | None = None
    previous: np.ndarray | None = None  # re-division: each unit's grid code in the previous plan (None: new)
    locked: frozenset[str] = frozenset()  # re-division: codes of grids that must not change
    exact_seconds: float = EXACT_SECONDS  # deterministic time of the exact search in this container (0: none)


@dataclass
class ContainerOutput:
    """What :func:`run_container` returns for one container, all in the metric CRS.

    ``cells`` and ``codes`` follow the order of the job's units: the geometry each unit
    ended with (its cell, when the input was points; ``None`` when the units kept the
    polygons they came with, which the caller holds already) and the code of its grid.
    ``community`` is the container's entry of the report. When the container failed,
    ``error`` says why (``"TypeName: message"``) and only the id is set besides.
    """

    container_id: str
    grids: gpd.GeoDataFrame | None = None
    cells: np.ndarray | None = None
    codes: np.ndarray | None = None
    community: dict = field(default_factory=dict)
    atoms: int = 0
    split_compounds: list[dict] = field(default_factory=list)
    soft_crossings: int = 0
    hard_crossings: int = 0
    checks: dict[str, list] = field(default_factory=dict)
    filled: bool = False
    seconds: float = 0.0
    error: str | None = None
    traceback: str | None = None

    @classmethod
    def failure(cls, container_id: str, exc: BaseException) -> ContainerOutput:
        """The output of a container whose work raised ``exc``."""
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, limit=-6))
        return cls(container_id, error=f"{type(exc).__name__}: {exc}", traceback=text)

    @property
    def failed(self) -> bool:
        return self.error is not None


def run_container(job: ContainerJob) -> ContainerOutput:
    """Partition one container into numbered, checked grids.

    Parameters
    ----------
    job
        The container's units and settings.

    Returns
    -------
    ContainerOutput
        The container's grids, each unit's cell and grid code, its report entry and
        checks; or, if anything raised, the container id with the error.
    """
    start = time.perf_counter()
    try:
        return _run(job, start)
    except Exception as exc:  # reported by container id; the other containers go on
        return ContainerOutput.failure(job.container_id, exc)


def _run(job: ContainerJob, start: float) -> ContainerOutput:
    u = job.units
    lines = None if job.barriers is None or len(job.barriers) == 0 else job.barriers
    spots = own = None
    filled = False
    if job.tessellate:
        points = np.asarray(u.geometry.values, dtype=object)
        spots, first = _shared_spots(points, job.container_id)
        outline = _outline(job, points)
        cells = tessellate(points, outline, barriers=None if lines is None else lines.geometry.values)
        # points on one spot share a cell: measure it once, through the first of them
        measure = np.where(first, cells, shapely.Polygon())
    else:
        cells = own = np.asarray(u.geometry.values, dtype=object)
        if job.fill_gaps and len(u):
            cells = territories(u.geometry, job.outline)
            filled = True
        measure = cells
    adjacency = build_adjacency(measure, barriers=lines)
    # units keep their polygons unless they became cells or territories: no new frame then
    frame = u if cells is own else u.set_geometry(gpd.GeoSeries(cells, index=u.index, crs=u.crs))
    container = np.full(len(u), job.container_id, dtype=object)
    atoms = group_atoms(frame, container, job.targets, geoms=measure, spots=spots)
    task = _task(job, atoms, adjacency)
    redivision = None
    if job.previous is None:
        result = solve_container(task)
    else:
        redivision, result = _redivide(job, task, atoms)
    unit_label = result.labels[atoms.atom_of]
    grids, code_of = _grids(job, frame, unit_label, result, redivision)
    codes = np.asarray([code_of[int(lab)] for lab in unit_label], dtype=object)
    same = unit_label[adjacency.left] == unit_label[adjacency.right]
    outline = gpd.GeoSeries({job.container_id: merge(cells)}, crs=u.crs)
    checks = {
        "noncontiguous": noncontiguous_grids(grids),
        "overlaps": overlapping_grids(grids),
        "gaps": sorted(coverage_gaps(grids, outline).items()),
    }
    entry = community_entry(result, grids, units=len(u), name=job.name)
    if redivision is not None:
        entry["redivision"] = _redivision_entry(job, redivision, codes)
    seconds = time.perf_counter() - start
    entry["seconds"] = round(seconds, 3)  # the whole container, geometry included, not only the search
    return ContainerOutput(
        job.container_id,
        grids=grids,
        # unchanged polygons need not travel back from a worker process
        cells=None if cells is own else cells,
        codes=codes,
        community=entry,
        atoms=len(atoms.households),
        split_compounds=atoms.split_compounds,
        soft_crossings=int(adjacency.soft[same].sum()),
        hard_crossings=int(adjacency.hard[same].sum()),
        checks=checks,
        filled=filled,
        seconds=seconds,
    )


def _outline(job: ContainerJob, points: np.ndarray) -> shapely.Geometry:
    """The polygon this container's address points are tessellated in."""
    if job.outline is not None:
        return job.outline
    hull = shapely.buffer(shapely.convex_hull(shapely.multipoints(points)), HULL_MARGIN)
    if job.outline_cells is None:
        return hull
    area = shapely.union_all(job.outline_cells)
    area = shapely.intersection(area, hull if job.outline_clip is None else job.outline_clip)
    if job.outline_minus is not None and len(job.outline_minus):
        area = shapely.difference(area, shapely.union_all(job.outline_minus))
    return area


def _shared_spots(points: np.ndarray, container_id: str) -> tuple[np.ndarray | None, np.ndarray]:
    """Key of each address point sharing its spot (1 cm) with another, and whether it comes first.

    Keys are ``None`` for points alone on their spot, and the whole array is ``None`` when
    no two points share one (the usual case: nothing to merge).
    """
    xy = np.round(shapely.get_coordinates(points), 2)
    first = np.zeros(len(xy), dtype=bool)
    if len(xy) == 0:
        return None, first
    _, first_at, inverse, counts = np.unique(xy, axis=0, return_index=True, return_inverse=True, return_counts=True)
    first[first_at] = True
    dup = counts[inverse.ravel()] > 1
    if not dup.any():
        return None, first
    keys = np.full(len(xy), None, dtype=object)
    keys[dup] = [f"{container_id}|{x!r}|{y!r}" for x, y in xy[dup]]
    return keys, first


def _task(job: ContainerJob, atoms: Atoms, adjacency: Adjacency) -> ContainerTask:
    """The solver's view of the container: atoms with totals and the edges between them."""
    n = len(atoms.households)
    a_left = atoms.atom_of[adjacency.left]
    a_right = atoms.atom_of[adjacency.right]
    # a shared edge inside one atom shortens the atom's outline twice
    inner = a_left == a_right
    perimeter = atoms.perimeter_sum - 2.0 * np.bincount(a_left[inner], weights=adjacency.shared[inner], minlength=n)
    usable = ~inner & ~adjacency.hard
    left = np.minimum(a_left[usable], a_right[usable])
    right = np.maximum(a_left[usable], a_right[usable])
    return ContainerTask(
        container_id=job.container_id,
        atom_ids=np.arange(n),
        households=atoms.households,
        population=atoms.population,
        area=atoms.area,
        perimeter=perimeter,
        left=left,
        right=right,
        shared=adjacency.shared[usable],
        soft=adjacency.soft[usable],
        targets=job.targets,
        seed=job.seed,
        time_budget=job.time_budget,
        exact_seconds=job.exact_seconds,
    )


@dataclass(frozen=True)
class ContainerTask:
    """Everything needed to partition one container, with no geometry."""

    container_id: str
    atom_ids: np.ndarray  # atom indices in this container
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
    exact_seconds: float = EXACT_SECONDS  # deterministic time of the exact search (0: heuristic only)


@dataclass
class ContainerResult:
    """Grid label (local to the container) per atom, plus the explanation.

    ``proofs`` lists the connected pieces of the container (each a whole piece, not a
    re-division's region) for which the exact search proved that no contiguous plan has
    every grid in range.
    """

    container_id: str
    atom_ids: np.ndarray
    labels: np.ndarray
    grid_flags: dict[int, str]  # label -> oversized_unit / isolated
    grid_notes: dict[int, str]
    pieces: list[dict] = field(default_factory=list)
    seconds: float = 0.0
    proofs: list[dict] = field(default_factory=list)
    exact_work: float = 0.0


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
        notes[next_label] = oversized_note(int(task.households[i]), int(task.population[i]), t)
        next_label += 1
    rest = np.flatnonzero(~oversized)
    keep = ~oversized[task.left] & ~oversized[task.right]
    comp = components(n, task.left[keep], task.right[keep])
    comp_ids = sorted(set(comp[rest].tolist()), key=lambda c: int(np.flatnonzero(comp == c)[0]))
    totals = {c: int(task.households[comp == c].sum()) for c in comp_ids}
    has_people = [c for c in comp_ids if totals[c] > 0]
    orphans: list[int] = []
    budget = ExactBudget(task.exact_seconds) if task.exact_seconds > 0 else None
    proofs: list[dict] = []
    for piece_no, c in enumerate(comp_ids):
        members = np.flatnonzero(comp == c)
        if totals[c] == 0 and has_people:
            orphans.extend(members.tolist())  # parks, water: joined to the nearest grid below
            continue
        mask = np.isin(task.left, members) & np.isin(task.right, members) & keep
        rng = np.random.default_rng([task.seed, zlib.crc32(task.container_id.encode()), piece_no])
        inst, feas, sol = solve_piece(task, members, mask, rng, budget=budget)
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
            **exact_entry(sol),
        }
        if len(comp_ids) > 1:
            piece["isolated"] = True
        if sol.exact == INFEASIBLE:
            piece["proof"] = proof_note(len(members), feas, t)
            proofs.append(piece)
        pieces.append(piece)
        piece_note = _piece_note(feas, sol, len(members), len(comp_ids) > 1, t)
        for g in range(sol.k):
            why = diagnose_grid(inst, sol.assignment, g, t) if feas.feasible else ""
            notes[next_label + g] = f"{piece_note}; {why}" if why and sol.exact == INFEASIBLE else why or piece_note
        next_label += sol.k
    if orphans:
        for piece in _attach_orphans(orphans, labels, task):
            labels[piece] = next_label
            notes[next_label] = (
                "an unpopulated piece of the community that no grid can reach without crossing a hard "
                "barrier; it needs no grid worker of its own"
            )
            next_label += 1
    seconds = time.perf_counter() - start
    spent = 0.0 if budget is None else round(budget.spent, 6)
    return ContainerResult(task.container_id, task.atom_ids, labels, flags, notes, pieces, seconds, proofs, spent)


def _piece_note(feas: Feasibility, sol, units: int, isolated: bool, t: Targets) -> str:
    where = "this isolated piece of the community" if isolated else "the community"
    off, k = sol.off_range, sol.k
    if not feas.feasible:
        return f"{where}: {feas.reason}"
    if sol.exact == INFEASIBLE:
        return f"{where}: {proof_note(units, feas, t)}"
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


def _redivide(job: ContainerJob, task: ContainerTask, atoms: Atoms) -> tuple[Redivision, ContainerResult]:
    """Re-solve the troubled part of the previous plan in this container."""
    start = time.perf_counter()
    previous = np.asarray(job.previous, dtype=object)
    prev_codes = sorted({str(c) for c in previous if c is not None})
    index = {c: i for i, c in enumerate(prev_codes)}
    unit_prev = np.array([-1 if c is None else index[str(c)] for c in previous], dtype=np.int64)
    # an atom (a compound, or points on one spot) follows the previous grid holding most of its households
    households = job.units[HOUSEHOLDS].to_numpy(dtype=np.int64)
    atom_prev = np.full(len(atoms.households), -1, dtype=np.int64)
    weight = np.full(len(atoms.households), -1, dtype=np.int64)
    for i in np.argsort(-households, kind="stable"):
        a = atoms.atom_of[i]
        if unit_prev[i] >= 0 and households[i] > weight[a]:
            atom_prev[a], weight[a] = unit_prev[i], households[i]
    red = redivide_container(task, atom_prev, prev_codes, job.locked)
    result = ContainerResult(
        job.container_id,
        task.atom_ids,
        red.labels,
        red.flags,
        red.notes,
        red.pieces,
        time.perf_counter() - start,
        red.proofs,
        red.exact_work,
    )
    return red, result


def _redivision_entry(job: ContainerJob, red: Redivision, codes: np.ndarray) -> dict:
    previous = np.asarray(job.previous, dtype=object)
    households = job.units[HOUSEHOLDS].to_numpy(dtype=np.int64)
    moved = np.array([p is not None and p != c for p, c in zip(previous, codes, strict=True)], dtype=bool)
    new = np.array([p is None for p in previous], dtype=bool)
    created = sorted(set(codes.tolist()) - {str(p) for p in previous if p is not None})
    return {
        "kept": red.kept,
        "changed": red.changed,
        "created": created,
        "retired": red.retired,
        "locked": sorted(job.locked & {str(p) for p in previous if p is not None}),
        "rings": red.rings,
        "units_moved": int(moved.sum()),
        "households_moved": int(households[moved].sum()),
        "new_units": int(new.sum()),
        "households": int(households.sum()),
    }


def _grids(
    job: ContainerJob,
    units: gpd.GeoDataFrame,
    unit_label: np.ndarray,
    result: ContainerResult,
    redivision: Redivision | None = None,
) -> tuple[gpd.GeoDataFrame, dict[int, str]]:
    """Merge each grid's units, measure, judge and number the grids; codes by label."""
    t = job.targets
    households = units[HOUSEHOLDS].to_numpy(dtype=np.int64)
    population = units[POPULATION].to_numpy(dtype=np.int64)
    geoms = units.geometry.values
    labels, inverse = np.unique(unit_label, return_inverse=True)
    shapes = np.empty(len(labels), dtype=object)
    for i in range(len(labels)):
        shapes[i] = _union(geoms[inverse == i])
    grid_households = np.bincount(inverse, weights=households, minlength=len(labels)).round().astype(np.int64)
    grid_population = np.bincount(inverse, weights=population, minlength=len(labels)).round().astype(np.int64)
    status, reason = _statuses(labels, grid_households, grid_population, result, t)
    codes = np.empty(len(labels), dtype=object)
    band = float(np.sqrt(np.median(shapely.area(shapes)))) * 0.7 if len(shapes) else 0.0
    order = reading_order(shapely.point_on_surface(shapes), band)
    prefix = job.container_id if job.container_id != DISTRICT else "G"
    if redivision is None:
        for code, pos in zip(grid_codes(prefix, job.admin_code, len(labels)), order, strict=True):
            codes[pos] = code
    else:
        # kept and matched grids keep their codes; new ones continue the sequence, so a
        # retired code is never given to another grid
        inherited = {pos: redivision.codes[int(lab)] for pos, lab in enumerate(labels) if int(lab) in redivision.codes}
        for pos, code in inherited.items():
            codes[pos] = code
        fresh = [pos for pos in order.tolist() if pos not in inherited]
        used = [sequence_of(c) for c in job.previous if c is not None] if job.previous is not None else []
        start = max(used, default=0) + 1
        for pos, code in zip(
            fresh, grid_codes(prefix, job.admin_code, start + len(fresh) - 1)[start - 1 :], strict=True
        ):
            codes[pos] = code
    # built once with every column: each column added to a GeoDataFrame afterwards costs as much
    # again, and hundreds of containers add up (measured: a second of Taipei's run)
    grids = gpd.GeoDataFrame(
        {
            COMMUNITY: np.full(len(labels), job.container_id, dtype=object),
            HOUSEHOLDS: grid_households,
            POPULATION: grid_population,
            GRID_UNITS: np.bincount(inverse, minlength=len(labels)).astype(np.int64),
            "geometry": from_shapely(shapes, crs=units.crs),
            POLSBY_POPPER: np.round(polsby_popper(shapes), 4),
            STATUS: status,
            REASON: reason,
            GRID_CODE: codes,
        },
        geometry="geometry",
        crs=units.crs,
    )
    return grids, dict(zip(labels.tolist(), codes.tolist(), strict=True))


def _union(geoms: np.ndarray) -> shapely.Geometry:
    if len(geoms) == 1:
        return geoms[0]
    merged = merge(geoms)
    if shapely.get_num_geometries(merged) > 1:
        # float noise between tessellated cells can leave hair-thin gaps; snapping to 1 cm closes them
        snapped = shapely.union_all(geoms, grid_size=0.01)
        if shapely.get_num_geometries(snapped) < shapely.get_num_geometries(merged):
            return snapped
    return merged


def _statuses(
    labels: np.ndarray, households: np.ndarray, population: np.ndarray, result: ContainerResult, t: Targets
) -> tuple[list[str], list[str]]:
    status, reason = [], []
    for lab, h, p in zip(labels.tolist(), households.tolist(), population.tolist(), strict=True):
        note = result.grid_notes.get(lab, "")
        if result.grid_flags.get(lab) == STATUS_OVERSIZED:
            status.append(STATUS_OVERSIZED)
            reason.append(note)
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
        status.append(STATUS_OUT_OF_RANGE)
        reason.append("; ".join(parts) + (f" — {note}" if note else ""))
    return status, reason


def community_entry(result: ContainerResult, grids: gpd.GeoDataFrame, *, units: int, name: str | None) -> dict:
    """The report's entry for one container: totals, grids by status and why any fall short."""
    counts = Counter(grids[STATUS].tolist())
    feasible = all(p["feasible_by_counts"] for p in result.pieces) if result.pieces else True
    off = int(counts.get(STATUS_OUT_OF_RANGE, 0))
    explanation = [
        (
            f"an isolated piece ({p['units']} units, {p['households']:,} households) cut off from the rest "
            f"of the community: {p['reason']}"
            if p.get("isolated")
            else p["reason"]
        )
        for p in result.pieces
        if p.get("reason")
    ]
    if feasible and off:
        bad = grids[grids[STATUS] == STATUS_OUT_OF_RANGE].sort_values(GRID_CODE).head(3)
        listed = "; ".join(
            f"{code}: {int(h):,} households, {int(p):,} residents"
            for code, h, p in zip(bad[GRID_CODE], bad[HOUSEHOLDS], bad[POPULATION], strict=True)
        )
        more = f" and {off - len(bad)} more" if off > len(bad) else ""
        largest = max((pc.get("largest_atom_households", 0) for pc in result.pieces), default=0)
        if result.proofs:
            explanation.extend(p["proof"] for p in result.proofs)
            explanation.append(f"the closest plan found leaves {off} of {len(grids)} grids off range ({listed}{more})")
        else:
            undecided = [p.get("exact_work", 0.0) for p in result.pieces if p.get("exact") == UNDECIDED]
            why = (
                f"the exact search did not decide within its time limit ({sum(undecided):.1f} work units)"
                if undecided
                else "no move of whole units between neighbouring grids fixes them without pushing another grid out"
            )
            explanation.append(
                f"the totals allow every grid in range, but {off} of {len(grids)} grids stay off range "
                f"({listed}{more}): {why} — the units are coarse for the ranges "
                f"(largest unit or compound: {largest:,} households) or their neighbours are full"
            )
    if counts.get(STATUS_OVERSIZED):
        explanation.append(f"{counts[STATUS_OVERSIZED]} unit(s) exceed a maximum on their own")
    return {
        "community_id": result.container_id,
        "name": name,
        "households": int(grids[HOUSEHOLDS].sum()),
        "population": int(grids[POPULATION].sum()),
        "units": units,
        "grids": len(grids),
        "grids_ok": int(counts.get(STATUS_OK, 0)),
        "grids_out_of_range": off,
        "grids_oversized_unit": int(counts.get(STATUS_OVERSIZED, 0)),
        "feasible_by_counts": feasible,
        # the exact search proved that no contiguous plan of these units has every grid in range
        "proved_infeasible": bool(result.proofs),
        "exact_work": result.exact_work,
        "pieces": result.pieces,
        "explanation": "; ".join(explanation),
        "seconds": round(result.seconds, 3),
    }

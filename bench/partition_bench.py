"""Benchmark the partition engine on Taipei's basic statistical areas, beside three anchors.

Instances (all from ``../shared/data/taipei_min_stat_areas``, located from the repo root):

1. Da'an district (1,270 areas), no nesting: our engine, spopt ``MaxPHeuristic``,
   GerryChain ``recursive_tree_part`` and METIS (pymetis), all on the same units.
2. All of Taipei (11,490 areas) nested in its 456 villages: our engine with communities,
   METIS and GerryChain per village, spopt per village on Da'an's 53 villages only
   (``--maxp-scope all`` for all 456, which took 16 min on 2 CPUs).
3. The Taipei points CSV with the villages: our engine only (it tessellates the points).

Then speed (``bench/partition_speed.py``): the whole ``commgrid partition`` command against a
plain METIS-per-village script (``bench/metis_script.py``) in the same run, with the ratio
and the first run's numba compiling; all of Taiwan on a 2-worker Dask cluster; and the p95
of re-dividing one village alone. ``--only speed`` or ``--only quality`` runs one part.

Every plan is measured the same way, on grid unions in EPSG:3826 (TWD97 / TM2): share of
grids in both ranges, the same share without grids holding an oversized unit (and, when
nested, only in villages whose counts allow every grid in range), non-contiguous grids,
Polsby–Popper, wall time and peak resident memory. Results go to
``bench/results/partition.md`` and ``partition.json``; a table is printed with rich.

Run ``.venv/bin/python bench/partition_bench.py`` (``--help`` for options). The engine runs
with a fixed seed and no time budget, so its plans are reproducible.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import random
import resource
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from rich.console import Console
from rich.table import Table

from gis.columns import COMMUNITY, GRID_CODE, HOUSEHOLDS, POPULATION, UNIT_ID
from gis.io import read_communities, read_units
from partition import Targets, partition, polsby_popper
from partition.exact import EXACT_SECONDS
from partition.graph import components, shared_boundaries

try:
    from partition_speed import command_vs_metis, speed_checks, speed_markdown, taiwan_dask, village_redivision
except ModuleNotFoundError:  # imported as bench.partition_bench (bench/redivide_bench.py)
    from bench.partition_speed import command_vs_metis, speed_checks, speed_markdown, taiwan_dask, village_redivision

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data" / "taipei_min_stat_areas"
OUT = REPO / "bench" / "results"
AREAS = "taipei_min_stat_areas_2017.geojson"
POINTS = "taipei_min_stat_area_points_2017.csv"
VILLAGES = "taipei_villages.geojson"
DAAN = "大安區"
BENCH_CRS = "EPSG:3826"  # TWD97 / TM2 zone 121, Taiwan's metric grid: the same for every plan
TARGETS = Targets()
ANCHOR_MODULES = ("spopt", "gerrychain", "pymetis")  # the bench extras (scripts/setup.sh bench), and METIS

# Anchor settings. METIS aims at 460 households a grid (as the issue fixes); GerryChain
# balances around 400, the middle of 300–500, so ε = 0.25 is exactly the household range.
METIS_HOUSEHOLDS = 460
TREE_HOUSEHOLDS = 400
TREE_EPSILONS = (0.25, 0.40)
# GerryChain's default of 100,000 spanning trees per cut lets a hopeless cut run for
# minutes; 2,000 gives up within seconds. A budget of the bench, stated in README.md.
TREE_MAX_ATTEMPTS = 2000
MAXP_FLOOR = 300
# spopt's defaults (99 constructions, 10 annealing rounds) take ~50 s on Da'an for the same
# number of regions as 20 / 2, which run in a few seconds.
MAXP_CONSTRUCTIONS = 20
MAXP_ANNEALING = 2
# spopt 0.7's annealing can loop forever when no candidate touches another region
# (pysal/spopt#506, fixed upstream after 0.7.0); a call that outlives this cap is
# abandoned and retried with the next seed.
MAXP_CAP_SECONDS = 15.0
MAXP_CAP_PER_UNIT = 0.1
MAXP_TRIES = 3

# Targets the issue sets for our engine.
DAAN_SHARE_TARGET = 0.97
DAAN_PP_TARGET = 0.47
TAIPEI_SECONDS_TARGET = 30.0

MAXP_SCOPES = ("daan", "all")


@dataclass(frozen=True)
class Case:
    """Units of one instance in the bench CRS, with their containers and adjacency.

    ``left``/``right`` hold rook neighbour pairs (at least 0.5 m of shared boundary, the
    engine's rule) inside the same container only: the graph every anchor partitions.
    """

    ids: np.ndarray
    geoms: np.ndarray
    households: np.ndarray
    population: np.ndarray
    container: np.ndarray
    left: np.ndarray
    right: np.ndarray
    feasible: frozenset[str] = frozenset()  # containers whose counts allow all grids in range
    nested: bool = False
    # of those, the containers the exact search did not prove unable to have every grid in range
    possible: frozenset[str] = frozenset()

    @property
    def oversized(self) -> np.ndarray:
        return (self.households > TARGETS.h_max) | (self.population > TARGETS.p_max)

    def subset(self, keep: np.ndarray) -> Case:
        """The units where ``keep`` is true, with the pairs among them."""
        pos = np.full(len(keep), -1, dtype=np.int64)
        pos[keep] = np.arange(int(keep.sum()))
        pair = keep[self.left] & keep[self.right]
        return Case(
            self.ids[keep],
            self.geoms[keep],
            self.households[keep],
            self.population[keep],
            self.container[keep],
            pos[self.left[pair]],
            pos[self.right[pair]],
            self.feasible,
            self.nested,
            self.possible,
        )


@dataclass(frozen=True)
class Piece:
    """One connected piece of one container: global unit indices and local pairs."""

    container: str
    idx: np.ndarray
    left: np.ndarray
    right: np.ndarray


@dataclass
class Row:
    """One line of the results table."""

    instance: str
    method: str
    scope: str
    status: str = "ok"
    figures: dict = field(default_factory=dict)
    seconds: float | None = None
    peak_rss_mb: float | None = None
    note: str = ""
    error: str = ""
    extra: dict = field(default_factory=dict)


def locate_data(path: Path | None = None) -> Path:
    """The Taipei data folder, or exit with a message saying where it was looked for.

    Parameters
    ----------
    path
        Folder given on the command line; default ``../shared/data/taipei_min_stat_areas``
        next to the repository.

    Returns
    -------
    Path
        A folder holding the areas, points and villages files.
    """
    folder = path or DATA
    missing = [name for name in (AREAS, POINTS, VILLAGES) if not (folder / name).is_file()]
    if missing:
        print(
            f"partition_bench: the Taipei data is not at {folder} (missing {', '.join(missing)}); "
            "it ships in ../shared/data next to the repository, or pass --data FOLDER",
            file=sys.stderr,
        )
        raise SystemExit(2)
    return folder


# ---------------------------------------------------------------- measuring


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark so the next reading covers one run only (Linux)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


@contextmanager
def measured() -> Iterator[dict]:
    """Wall time and peak resident memory of the block (peak of the process if not resettable)."""
    out: dict = {"peak_is_per_run": _reset_peak()}
    start = time.perf_counter()
    try:
        yield out
    finally:
        out["seconds"] = time.perf_counter() - start
        out["peak_rss_mb"] = _peak_mb()


def _union(geoms: np.ndarray) -> shapely.Geometry:
    if len(geoms) == 1:
        return geoms[0]
    merged = shapely.union_all(geoms)
    if shapely.get_num_geometries(merged) > 1:
        # float noise between neighbours can leave hair-thin slivers; the engine snaps to 1 cm too
        snapped = shapely.union_all(geoms, grid_size=0.01)
        if shapely.get_num_geometries(snapped) < shapely.get_num_geometries(merged):
            return snapped
    return merged


def grid_figures(case: Case, labels: np.ndarray) -> dict:
    """Figures of a plan given as one grid label per unit.

    Parameters
    ----------
    case
        The units (geometry in the bench CRS).
    labels
        Grid label per unit, any hashable values.

    Returns
    -------
    dict
        ``grids``, ``in_range`` (share of grids in both ranges), ``in_range_sized`` (the same
        without grids holding an oversized unit), ``in_range_where_feasible`` (also only in
        containers whose counts allow it; ``None`` when not nested), ``in_range_where_possible``
        (also only in containers the exact search did not prove impossible), ``noncontiguous``,
        ``pp_mean``, ``pp_min``, ``oversized_grids``.
    """
    _, inv = np.unique(np.asarray(labels).astype(str), return_inverse=True)
    k = int(inv.max()) + 1
    households = np.bincount(inv, weights=case.households, minlength=k)
    population = np.bincount(inv, weights=case.population, minlength=k)
    has_big = np.bincount(inv, weights=case.oversized, minlength=k) > 0
    order = np.argsort(inv, kind="stable")
    starts = np.searchsorted(inv[order], np.arange(k + 1))
    geoms = np.array([_union(case.geoms[order[starts[g] : starts[g + 1]]]) for g in range(k)], dtype=object)
    first = order[starts[:-1]]
    ok = (
        (households >= TARGETS.h_min)
        & (households <= TARGETS.h_max)
        & (population >= TARGETS.p_min)
        & (population <= TARGETS.p_max)
    )
    pp = polsby_popper(geoms)
    feasible = np.isin(case.container[first], list(case.feasible)) & ~has_big
    possible = np.isin(case.container[first], list(case.possible)) & ~has_big
    return {
        "grids": k,
        "in_range": float(ok.mean()),
        "in_range_sized": float(ok[~has_big].mean()) if (~has_big).any() else None,
        "in_range_where_feasible": float(ok[feasible].mean()) if case.nested and feasible.any() else None,
        "in_range_where_possible": float(ok[possible].mean()) if case.nested and possible.any() else None,
        "oversized_grids": int(has_big.sum()),
        "noncontiguous": int((shapely.get_num_geometries(geoms) > 1).sum()),
        "pp_mean": float(pp.mean()),
        "pp_min": float(pp.min()),
    }


# ---------------------------------------------------------------- cases


def build_case(
    units: gpd.GeoDataFrame, container: np.ndarray, *, feasible=frozenset(), nested=False, possible=frozenset()
) -> Case:
    """Project units to the bench CRS and find rook neighbours within each container."""
    geoms = np.asarray(units.to_crs(BENCH_CRS).geometry.values, dtype=object)
    left, right, _ = shared_boundaries(geoms)
    same = container[left] == container[right]
    return Case(
        units[UNIT_ID].astype(str).to_numpy(),
        geoms,
        units[HOUSEHOLDS].to_numpy(dtype=np.int64),
        units[POPULATION].to_numpy(dtype=np.int64),
        np.asarray(container).astype(str),
        left[same],
        right[same],
        frozenset(feasible),
        nested,
        frozenset(possible),
    )


def pieces_of(case: Case) -> list[Piece]:
    """Connected pieces of every container (pairs never cross containers)."""
    comp = components(len(case.ids), case.left, case.right)
    order = np.argsort(comp, kind="stable")
    starts = np.searchsorted(comp[order], np.arange(int(comp.max()) + 2))
    edge_comp = comp[case.left]
    edge_order = np.argsort(edge_comp, kind="stable")
    edge_starts = np.searchsorted(edge_comp[edge_order], np.arange(int(comp.max()) + 2))
    pos = np.empty(len(case.ids), dtype=np.int64)
    out = []
    for c in range(int(comp.max()) + 1):
        idx = order[starts[c] : starts[c + 1]]
        pos[idx] = np.arange(len(idx))
        e = edge_order[edge_starts[c] : edge_starts[c + 1]]
        out.append(Piece(case.container[idx[0]], idx, pos[case.left[e]], pos[case.right[e]]))
    return out


def _grid_count(households: int, per_grid: int, n: int) -> int:
    return max(1, min(n, round(households / per_grid)))


# ---------------------------------------------------------------- anchors


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence C-level stdout: METIS prints "too many parts" when a heavy unit empties a part."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def metis_plan(case: Case, seed: int) -> tuple[np.ndarray, list[str], dict]:
    """METIS (pymetis) per connected piece: contiguous parts, household vertex weights.

    ``k = round(households / 460)`` per piece, at least 1. Zero-household units weigh 1
    because METIS balances on positive weights. k-way mode is forced: pymetis picks
    recursive bisection for ``k <= 8`` (most villages), where METIS ignores the
    contiguity option.
    """
    import pymetis

    labels = np.empty(len(case.ids), dtype=object)
    notes: list[str] = []
    for p in pieces_of(case):
        n = len(p.idx)
        k = _grid_count(int(case.households[p.idx].sum()), METIS_HOUSEHOLDS, n)
        if k == 1:
            labels[p.idx] = [f"{p.container}/{p.idx[0]}/0"] * n
            continue
        src = np.concatenate([p.left, p.right])
        dst = np.concatenate([p.right, p.left])
        order = np.lexsort((dst, src))
        xadj = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))])
        opts = pymetis.Options()
        opts.seed = seed
        opts.contig = 1
        weights = np.maximum(1, case.households[p.idx]).tolist()
        graph = pymetis.CSRAdjacency(xadj.tolist(), dst[order].tolist())
        try:
            with _quiet_stdout():
                _, parts = pymetis.part_graph(k, graph, vweights=weights, options=opts, recursive=False)
        except Exception as exc:  # METIS refuses contiguity on some graphs; say so and go on
            notes.append(f"contiguity refused in {p.container}: {exc}")
            opts.contig = 0
            with _quiet_stdout():
                _, parts = pymetis.part_graph(k, graph, vweights=weights, options=opts, recursive=False)
        labels[p.idx] = [f"{p.container}/{p.idx[0]}/{x}" for x in parts]
    return labels, notes, {"contiguity_refused": len(notes)}


class _CutTracker:
    """Wraps GerryChain's ``bipartition_tree`` to say which cut failed."""

    def __init__(self) -> None:
        self.cuts = 0
        self.units_left = 0

    def __call__(self, subgraph_to_split, **kwargs):
        from gerrychain.tree import bipartition_tree

        self.cuts += 1
        self.units_left = len(subgraph_to_split.node_indices)
        return bipartition_tree(subgraph_to_split, max_attempts=TREE_MAX_ATTEMPTS, warn_attempts=10**9, **kwargs)


def _tree_part(nodes: list[int], edges: list[tuple[int, int]], households: dict, k: int, seed: int):
    """One ``recursive_tree_part`` over ``nodes``: (assignment, ε used, failures)."""
    import networkx as nx
    from gerrychain import Graph
    from gerrychain.partition import recursive_tree_part

    g = nx.Graph()
    g.add_nodes_from((v, {HOUSEHOLDS: households[v]}) for v in nodes)
    g.add_edges_from(edges)
    graph = Graph.from_networkx(g)
    target = sum(households.values()) / k
    failures = []
    for eps in TREE_EPSILONS:
        tracker = _CutTracker()
        try:
            plan = recursive_tree_part(
                graph, list(range(k)), target, HOUSEHOLDS, eps, bipartition_tree_fn=tracker, rng=seed
            )
        except Exception as exc:  # GerryChain raises RuntimeError / BalanceError when no cut is found
            failures.append(
                f"ε={eps:.2f}: {type(exc).__name__}: {exc} (cut {tracker.cuts} of {k - 1}, "
                f"{tracker.units_left} units left)"
            )
            continue
        return plan, eps, failures
    return None, None, failures


def gerrychain_plan(case: Case, seed: int) -> tuple[np.ndarray, list[str], dict]:
    """GerryChain ``recursive_tree_part`` per connected piece, households balanced.

    Units over a maximum cannot sit in any balanced part, so they are set aside as grids
    of their own (as our engine does) and the rest, per connected piece, is cut into
    ``round(households / 400)`` parts with ε = 0.25 (300–500), else ε = 0.40. A piece with
    no balanced cut at either ε is kept as one grid and counted in ``failed``.
    """
    import networkx as nx

    labels = np.empty(len(case.ids), dtype=object)
    big = case.oversized
    stats = {"pieces": 0, "failed": 0, "eps": {}, "errors": []}
    for p in pieces_of(case):
        for i in p.idx[big[p.idx]]:
            labels[i] = f"{p.container}/big/{i}"
        g = nx.Graph()
        g.add_nodes_from(int(i) for i in p.idx[~big[p.idx]])
        g.add_edges_from(
            (int(p.idx[a]), int(p.idx[b])) for a, b in zip(p.left, p.right, strict=True) if not big[p.idx[[a, b]]].any()
        )
        for comp in sorted(nx.connected_components(g), key=min):
            nodes = sorted(comp)
            hh = {v: int(case.households[v]) for v in nodes}
            k = _grid_count(sum(hh.values()), TREE_HOUSEHOLDS, len(nodes))
            tag = f"{p.container}/{nodes[0]}"
            stats["pieces"] += 1
            if k == 1:
                labels[nodes] = [f"{tag}/0"] * len(nodes)
                continue
            plan, eps, failures = _tree_part(nodes, list(g.subgraph(nodes).edges), hh, k, seed)
            stats["errors"].extend(f"{p.container}: {f}" for f in failures)
            if plan is None:
                stats["failed"] += 1
                labels[nodes] = [f"{tag}/0"] * len(nodes)
                continue
            stats["eps"][f"{eps:.2f}"] = stats["eps"].get(f"{eps:.2f}", 0) + 1
            labels[nodes] = [f"{tag}/{plan[v]}" for v in nodes]
    notes = []
    if stats["errors"]:
        first = stats["errors"][0]
        more = len(stats["errors"]) - 1
        notes.append(f"first failed cut: {first}" + (f" (+{more} more)" if more else ""))
    notes.append("pieces by ε used: " + ", ".join(f"{e}: {c}" for e, c in sorted(stats["eps"].items())))
    if stats["failed"]:
        notes.append(f"no balanced cut at any ε in {stats['failed']} of {stats['pieces']} piece(s), kept whole")
    if big.any():
        notes.append(f"{int(big.sum())} oversized unit(s) set aside as their own grids")
    return labels, notes, stats


class _CapReached(Exception):
    """A capped call ran out of time."""


@contextmanager
def _time_cap(seconds: float) -> Iterator[None]:
    """Raise `_CapReached` inside the block after ``seconds`` (Unix main thread; else no cap)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def _stop(signum, frame):
        raise _CapReached

    previous = signal.signal(signal.SIGALRM, _stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def maxp_plan(case: Case, seed: int) -> tuple[np.ndarray, list[str], dict]:
    """spopt ``MaxPHeuristic`` per connected piece: floor of 300 households.

    Homogeneity is measured on unit centroids (km), so max-p prefers compact regions;
    max-p has no ceiling and ignores residents. Pieces under two floors' worth of
    households can only form one region and are kept whole without a solve. A solve
    that runs past its cap (spopt 0.7's endless annealing loop) is retried with the
    next seed; a piece with no result after three tries is kept whole.
    """
    from libpysal.weights import W
    from spopt.region import MaxPHeuristic

    labels = np.empty(len(case.ids), dtype=object)
    stats = {"capped": 0, "kept_whole": 0}
    centroids = shapely.centroid(case.geoms)
    for p in pieces_of(case):
        n = len(p.idx)
        tag = f"{p.container}/{p.idx[0]}"
        if n == 1 or case.households[p.idx].sum() < 2 * MAXP_FLOOR:
            labels[p.idx] = [f"{tag}/0"] * n
            continue
        neighbours: dict[int, list[int]] = {i: [] for i in range(n)}
        for a, b in zip(p.left.tolist(), p.right.tolist(), strict=True):
            neighbours[a].append(b)
            neighbours[b].append(a)
        frame = gpd.GeoDataFrame(
            {
                "x": shapely.get_x(centroids[p.idx]) / 1000.0,
                "y": shapely.get_y(centroids[p.idx]) / 1000.0,
                HOUSEHOLDS: case.households[p.idx],
            },
            geometry=case.geoms[p.idx],
            crs=BENCH_CRS,
        )
        w = W(neighbours, silence_warnings=True)
        cap = max(MAXP_CAP_SECONDS, MAXP_CAP_PER_UNIT * n)
        found = None
        for attempt in range(MAXP_TRIES):
            np.random.seed(seed + attempt)  # spopt draws from numpy's global generator
            random.seed(seed + attempt)
            model = MaxPHeuristic(
                frame,
                w,
                ["x", "y"],
                HOUSEHOLDS,
                MAXP_FLOOR,
                top_n=2,
                max_iterations_construction=MAXP_CONSTRUCTIONS,
                max_iterations_sa=MAXP_ANNEALING,
            )
            try:
                with _time_cap(cap):
                    model.solve()
            except _CapReached:
                stats["capped"] += 1
                continue
            found = model.labels_
            break
        if found is None:
            stats["kept_whole"] += 1
            labels[p.idx] = [f"{tag}/0"] * n
            continue
        labels[p.idx] = [f"{tag}/{x}" for x in np.asarray(found)]
    notes = []
    if stats["capped"]:
        notes.append(
            f"{stats['capped']} solve(s) stopped after {MAXP_CAP_SECONDS:.0f}+ s (spopt 0.7 annealing loop, "
            f"pysal/spopt#506) and retried with seed+1"
        )
    if stats["kept_whole"]:
        notes.append(f"{stats['kept_whole']} piece(s) without a result in {MAXP_TRIES} tries, kept whole")
    return labels, notes, stats


# Each anchor returns (grid label per unit, notes for the table, counters for the JSON).
ANCHORS: dict[str, Callable[[Case, int], tuple[np.ndarray, list[str], dict]]] = {
    "spopt MaxPHeuristic": maxp_plan,
    "GerryChain recursive_tree_part": gerrychain_plan,
    "METIS (pymetis)": metis_plan,
}


def run_anchor(instance: str, name: str, case: Case, seed: int, scope: str) -> Row:
    """Run one anchor and measure it; a failure becomes a row with the error text."""
    row = Row(instance, name, scope)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation chatter from the anchors' dependencies
        try:
            with measured() as m:
                labels, notes, stats = ANCHORS[name](case, seed)
        except Exception as exc:
            row.status, row.error = "failed", f"{type(exc).__name__}: {exc}"
            return row
    row.seconds, row.peak_rss_mb = m["seconds"], m["peak_rss_mb"]
    row.note, row.extra = "; ".join(notes), stats
    if not case.nested and stats.get("failed"):
        # unnested there is one cut to make: failing it at every ε fails the anchor
        row.status, row.error = "failed", " | ".join(stats["errors"])
        return row
    row.figures = grid_figures(case, labels)
    return row


# ---------------------------------------------------------------- our engine


def _read_areas(folder: Path) -> gpd.GeoDataFrame:
    return read_units(
        folder / AREAS,
        id_field="CODEBASE",
        households_field="H_CNT",
        population_field="P_CNT",
        missing_counts="zero",
    ).frame


def _read_villages(folder: Path) -> gpd.GeoDataFrame:
    return read_communities(folder / VILLAGES, id_field="CPTVID", name_field="VNAME")


def _engine_summary(report: dict) -> dict:
    keep = (
        "grids",
        "grids_by_status",
        "share_in_range",
        "share_in_range_where_feasible",
        "polsby_popper",
        "valid",
        "seconds",
        "communities",
        "communities_feasible_by_counts",
        "communities_proved_infeasible",
        "share_in_range_where_possible",
        "exact_work",
    )
    out = {k: report.get(k) for k in keep}
    out["exact_search"] = exact_counts(report)
    out["checks"] = {k: len(v) for k, v in report["checks"].items()}
    return out


def exact_counts(report: dict) -> dict:
    """Pieces the exact search ran on, by what it concluded."""
    out = {"solved": 0, "proved_infeasible": 0, "undecided": 0}
    for c in report["per_community"]:
        for p in c["pieces"]:
            if p.get("exact") in out:
                out[p["exact"]] += 1
    return out


def _our_row(instance: str, scope: str, result, m: dict, *, nested: bool) -> tuple[Row, Case]:
    units = result.units
    per = result.report["per_community"]
    feasible = frozenset(c["community_id"] for c in per if c["feasible_by_counts"])
    possible = feasible - {c["community_id"] for c in per if c.get("proved_infeasible")}
    container = units[COMMUNITY].astype(str).to_numpy()
    case = build_case(units, container, feasible=feasible, nested=nested, possible=possible)
    codes = result.assignment.set_index(UNIT_ID)[GRID_CODE].reindex(case.ids).to_numpy()
    summary = _engine_summary(result.report)
    row = Row(
        instance,
        "ours (partition)",
        scope,
        figures=grid_figures(case, codes),
        seconds=m["seconds"],
        peak_rss_mb=m["peak_rss_mb"],
        extra={"engine_report": summary, "partition_seconds": result.report["seconds"]},
    )
    return row, case


def _checks_text(row: Row) -> str:
    report = row.extra["engine_report"]
    checks = report["checks"]
    e = report["exact_search"]
    return (
        f"exact search on {sum(e.values())} piece(s) the heuristic left off range: {e['solved']} solved, "
        f"{e['proved_infeasible']} proved impossible, {e['undecided']} undecided "
        f"({report['exact_work']:.1f} work units); engine checks: "
        + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in checks.items())
    )


def daan_instance(folder: Path, seed: int, console: Console) -> list[Row]:
    """Instance 1: Da'an district without nesting, ours and the three anchors."""
    name = "1. Da'an, no nesting"
    units = _read_areas(folder)
    towns = pyogrio.read_dataframe(folder / AREAS, columns=["CODEBASE", "TOWN"], read_geometry=False)
    daan = set(towns.loc[towns["TOWN"] == DAAN, "CODEBASE"].astype(str))
    units = units[units[UNIT_ID].astype(str).isin(daan)].reset_index(drop=True)
    console.log(f"{name}: {len(units):,} units, our engine")
    with measured() as m:
        result = partition(units, seed=seed)
    row, case = _our_row(name, f"{len(units):,} units", result, m, nested=False)
    row.note = f"partition() only, reading excluded; {_checks_text(row)}"
    rows = [row]
    for anchor in ANCHORS:
        console.log(f"{name}: {anchor}")
        rows.append(run_anchor(name, anchor, case, seed, f"{len(units):,} units"))
    return rows


def taipei_instance(folder: Path, seed: int, console: Console, maxp_scope: str) -> list[Row]:
    """Instance 2: all of Taipei nested in villages; anchors per village.

    spopt runs on Da'an's villages unless ``maxp_scope`` is ``"all"`` (all 456 took 16 min
    on 2 CPUs); a row gives our figures on the same villages.
    """
    name = "2. Taipei, nested in villages"
    console.log(f"{name}: reading and partitioning")
    with measured() as m:
        units = _read_areas(folder)
        villages = _read_villages(folder)
        result = partition(units, communities=villages, seed=seed)
    read_seconds = m["seconds"] - result.report["seconds"]
    scope = f"{len(units):,} units, {len(villages)} villages"
    row, case = _our_row(name, scope, result, m, nested=True)
    row.note = f"wall includes reading ({read_seconds:.1f} s); {_checks_text(row)}"
    row.extra["read_seconds"] = read_seconds
    rows = [row]

    towns = pyogrio.read_dataframe(folder / VILLAGES, columns=["CPTVID", "TNAME"], read_geometry=False)
    daan_villages = set(towns.loc[towns["TNAME"] == DAAN, "CPTVID"].astype(str))
    in_daan = np.isin(case.container, list(daan_villages))
    sub = case.subset(in_daan)
    sub_scope = f"Da'an's {len(daan_villages)} villages ({int(in_daan.sum()):,} units)"
    solver_seconds = sum(c["seconds"] for c in result.report["per_community"] if c["community_id"] in daan_villages)
    codes = result.assignment.set_index(UNIT_ID)[GRID_CODE].reindex(sub.ids).to_numpy()
    rows.append(
        Row(
            name,
            "ours (same run, Da'an villages)",
            sub_scope,
            figures=grid_figures(sub, codes),
            seconds=solver_seconds,
            note="grids of the full run inside Da'an's villages; wall = their solver seconds only",
        )
    )
    for anchor in ANCHORS:
        whole = not anchor.startswith("spopt") or maxp_scope == "all"
        console.log(f"{name}: {anchor} ({'all villages' if whole else sub_scope})")
        rows.append(run_anchor(name, anchor, case if whole else sub, seed, scope if whole else sub_scope))
    return rows


def points_instance(folder: Path, seed: int, console: Console) -> list[Row]:
    """Instance 3: the points CSV with the villages, tessellated by our engine."""
    name = "3. Taipei points, nested"
    console.log(f"{name}: reading and partitioning")
    with measured() as m:
        units = read_units(
            folder / POINTS,
            id_field="CODEBASE",
            households_field="H_CNT",
            population_field="P_CNT",
            missing_counts="zero",
            crs="EPSG:4326",
        ).frame
        villages = _read_villages(folder)
        result = partition(units, communities=villages, seed=seed)
    read_seconds = m["seconds"] - result.report["seconds"]
    row, _ = _our_row(name, f"{len(units):,} points, {len(villages)} villages", result, m, nested=True)
    row.note = f"wall includes reading ({read_seconds:.1f} s); {_checks_text(row)}"
    row.extra["read_seconds"] = read_seconds
    return [row]


# ---------------------------------------------------------------- output


def machine_info(seed: int) -> dict:
    """Date, machine and library versions, for the header of the results."""
    libs = {}
    for pkg in ("numpy", "shapely", "geopandas", "pymetis", "ortools", "networkx", "spopt", "gerrychain", "libpysal"):
        try:
            libs[pkg] = version(pkg)
        except PackageNotFoundError:
            libs[pkg] = None
    return {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "seed": seed,
        "peak_rss_per_run": _reset_peak(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "exact_seconds": EXACT_SECONDS,
        "libraries": libs,
    }


def target_checks(rows: list[Row]) -> list[dict]:
    """The issue's targets for our engine, each with the measured value and a verdict."""
    ours = {r.instance: r for r in rows if r.method == "ours (partition)"}
    out = []
    daan = next((r for k, r in ours.items() if k.startswith("1.")), None)
    if daan is not None:
        share = daan.figures["in_range_sized"]
        pp = daan.figures["pp_mean"]
        out.append(_check("Da'an: share in both ranges (oversized-unit grids excepted)", share, DAAN_SHARE_TARGET))
        out.append(_check("Da'an: mean Polsby–Popper", pp, DAAN_PP_TARGET))
    taipei = next((r for k, r in ours.items() if k.startswith("2.")), None)
    if taipei is not None:
        out.append(
            {
                "target": "Taipei nested: wall time incl. reading",
                "value": round(taipei.seconds, 1),
                "goal": f"< {TAIPEI_SECONDS_TARGET:.0f} s",
                "met": taipei.seconds < TAIPEI_SECONDS_TARGET,
            }
        )
    return out


def _check(label: str, value: float, goal: float) -> dict:
    return {"target": label, "value": round(value, 4), "goal": f"≥ {goal}", "met": value >= goal}


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f} %"


def _cells(row: Row) -> list[str]:
    f = row.figures
    if row.status != "ok":
        return [row.method, row.scope, *(["failed"] + ["–"] * 7), "–", "–", row.error]
    return [
        row.method,
        row.scope,
        f"{f['grids']:,}",
        _pct(f["in_range"]),
        _pct(f["in_range_sized"]),
        _pct(f["in_range_where_feasible"]),
        _pct(f.get("in_range_where_possible")),
        str(f["noncontiguous"]),
        f"{f['pp_mean']:.3f}",
        f"{f['pp_min']:.3f}",
        "–" if row.seconds is None else f"{row.seconds:.2f}",
        "–" if row.peak_rss_mb is None else f"{row.peak_rss_mb:,.0f}",
        row.note,
    ]


HEADERS = [
    "method",
    "scope",
    "grids",
    "in range",
    "excl. oversized",
    "where feasible",
    "where possible",
    "non-contig.",
    "PP mean",
    "PP min",
    "wall s",
    "peak RSS MB",
    "notes",
]


def to_markdown(info: dict, rows: list[Row], checks: list[dict], speed: dict | None = None) -> str:
    """The results as Markdown: header, one table per instance, the targets."""
    libs = ", ".join(f"{k} {v}" for k, v in info["libraries"].items() if v)
    lines = [
        "# Partition benchmark",
        "",
        f"Run {info['date']} on {info['platform']}, {info['cpu_count']} CPUs, Python {info['python']}; "
        f"seed {info['seed']}. {libs}.",
        "",
        "Ranges: 300–500 households and 1,000–1,500 residents. Figures are measured on grid unions in "
        "EPSG:3826. *in range*: share of grids in both ranges; *excl. oversized*: the same without "
        "grids holding a unit over a maximum; *where feasible*: also only in villages whose counts "
        "allow every grid in range (nested runs; the engine's count test: totals of each connected "
        "piece, and units over half a maximum); *where possible*: also only in villages the exact "
        "search of that run did not prove impossible (it proves, by exhaustive search, that no "
        "contiguous division of the village's units into grids meets both ranges; villages it left "
        f"undecided stay in). The exact search may spend {info['exact_seconds']:g} work units "
        "(counted work of the cover search and CP-SAT, about seconds) on each village. Our wall time covers all of "
        "`partition()` (and reading where noted); anchors' excludes building the shared adjacency. "
        f"Load average at the start: {', '.join(map(str, info['load_average_at_start']))}, at the end: "
        f"{', '.join(map(str, info.get('load_average_at_end', [])))} (other "
        "work on this 2-CPU machine raises the wall times). "
        + (
            "Peak RSS: the process's resident peak during that run (kernel mark reset before each)."
            if info["peak_rss_per_run"]
            else "Peak RSS: the process's resident peak so far (this system cannot reset the mark)."
        ),
        "",
    ]
    for instance in dict.fromkeys(r.instance for r in rows):
        lines += [f"## {instance}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        for row in (r for r in rows if r.instance == instance):
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in _cells(row)) + " |")
        lines.append("")
    if speed:
        lines += speed_markdown(speed)
    lines += ["## Targets", "", "| target | value | goal | met |", "|---|---|---|---|"]
    for c in checks:
        lines.append(f"| {c['target']} | {c['value']} | {c['goal']} | {'yes' if c['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def print_tables(console: Console, rows: list[Row], checks: list[dict]) -> None:
    """Draw the results with rich: one table per instance, its notes below it."""
    for instance in dict.fromkeys(r.instance for r in rows):
        table = Table(title=instance)
        for h in HEADERS[:-1]:
            table.add_column(h, justify="left" if h in ("method", "scope") else "right")
        mine = [r for r in rows if r.instance == instance]
        for row in mine:
            table.add_row(*_cells(row)[:-1], style=None if row.status == "ok" else "red")
        console.print(table)
        for row in mine:
            text = row.error if row.status != "ok" else row.note
            if text:
                console.print(f"  [bold]{row.method}[/bold]: {text}", highlight=False)
    table = Table(title="Targets")
    for h in ("target", "value", "goal", "met"):
        table.add_column(h)
    for c in checks:
        table.add_row(c["target"], str(c["value"]), c["goal"], "yes" if c["met"] else "[red]NO[/red]")
    console.print(table)


def write_results(
    out: Path, info: dict, rows: list[Row], checks: list[dict], speed: dict | None = None
) -> tuple[Path, Path]:
    """Write ``partition.md`` and ``partition.json`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "partition.md", out / "partition.json"
    md.write_text(to_markdown(info, rows, checks, speed), encoding="utf-8")
    payload = {
        **info,
        "rows": [
            {
                "instance": r.instance,
                "method": r.method,
                "scope": r.scope,
                "status": r.status,
                **{k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.figures.items()},
                "seconds": None if r.seconds is None else round(r.seconds, 3),
                "peak_rss_mb": None if r.peak_rss_mb is None else round(r.peak_rss_mb, 1),
                "note": r.note,
                "error": r.error,
                "extra": r.extra,
            }
            for r in rows
        ],
        "speed": speed or {},
        "targets": checks,
    }
    js.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    return md, js


def main(argv: list[str] | None = None) -> int:
    """Run the three instances, print the tables and write the result files."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=None, help=f"folder of the Taipei files (default {DATA})")
    parser.add_argument("--out", type=Path, default=OUT, help=f"results folder (default {OUT})")
    parser.add_argument("--seed", type=int, default=0, help="seed of our engine and every anchor")
    parser.add_argument(
        "--maxp-scope",
        choices=MAXP_SCOPES,
        default="daan",
        help="villages spopt runs on in instance 2: Da'an's 53 (about 1.5 min) or all 456 "
        "(about 16 min); METIS and GerryChain always run on all",
    )
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the command against the METIS script")
    parser.add_argument("--villages", type=int, default=60, help="villages re-divided alone for the p95")
    parser.add_argument(
        "--only",
        choices=("all", "quality", "speed"),
        default="all",
        help="the instances with anchors, the speed measurements, or both (default)",
    )
    args = parser.parse_args(argv)
    if args.only in ("all", "quality"):
        missing = [name for name in ANCHOR_MODULES if importlib.util.find_spec(name) is None]
        if missing:
            # the anchors' rows would read "failed" and overwrite the last real comparison
            parser.error(
                f"the quality part compares with anchors that are not installed here ({', '.join(missing)}): "
                "run `bash scripts/setup.sh bench` first, or pass --only speed, which needs none of them"
            )
    folder = locate_data(args.data)
    console = Console() if sys.stdout.isatty() else Console(width=170)
    info = machine_info(args.seed)
    rows: list[Row] = []
    speed: dict = {}
    if args.only in ("all", "speed"):
        # first, while nothing else of this script has warmed the machine's caches
        speed["command"] = command_vs_metis(folder, args.repeats, console.log)
        speed["taiwan"] = taiwan_dask(args.seed, console.log)
        speed["redivision"] = village_redivision(
            _read_areas(folder), _read_villages(folder), args.seed, args.villages, console.log
        )
    if args.only in ("all", "quality"):
        rows += daan_instance(folder, args.seed, console)
        rows += taipei_instance(folder, args.seed, console, args.maxp_scope)
        rows += points_instance(folder, args.seed, console)
    info["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    checks = target_checks(rows) + speed_checks(speed)
    print_tables(console, rows, checks)
    if speed:
        for path in write_speed(args.out, info, speed, speed_checks(speed)):
            console.print(f"wrote {path}")
    if rows:
        md, js = write_results(args.out, info, rows, checks, speed)
        console.print(f"wrote {md} and {js}")
    return 0


def write_speed(out: Path, info: dict, speed: dict, checks: list[dict]) -> tuple[Path, Path]:
    """Write ``partition_speed.md`` and ``.json``: the speed part alone (all a ``--only speed`` run writes)."""
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "partition_speed.md", out / "partition_speed.json"
    head = [
        "# Partition benchmark: speed",
        "",
        f"Run {info['date']} on {info['platform']}, {info['cpu_count']} CPUs, Python {info['python']}; seed "
        f"{info['seed']}. Load average at the start: {', '.join(map(str, info['load_average_at_start']))}; at "
        f"the end: {', '.join(map(str, info['load_average_at_end']))} (other work on this 2-CPU machine slows "
        "every wall time; ratios are of runs in the same run).",
        "",
    ]
    lines = head + speed_markdown(speed) + ["## Targets", "", "| target | value | goal | met |", "|---|---|---|---|"]
    lines += [f"| {c['target']} | {c['value']} | {c['goal']} | {'yes' if c['met'] else 'NO'} |" for c in checks]
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    payload = {**info, "speed": speed, "targets": checks}
    js.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    return md, js


if __name__ == "__main__":
    sys.exit(main())

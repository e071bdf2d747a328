"""A plain METIS-per-village script: the yardstick for the whole `commgrid partition` command.

What anyone would write to cut Taipei's small areas into grids of about 460 households
nested in villages, with no search and no checks: read the two files, project them to
EPSG:3826, put each area in the village holding its representative point, find rook
neighbours (shared boundary of at least 0.5 m), cut each village's connected pieces with
METIS (pymetis, ``k = round(households / 460)``, contiguous k-way, household weights),
dissolve each part into one grid polygon and write the grids to a GeoPackage.

``bench/partition_bench.py`` runs it in a fresh process beside the command and records
both wall times. Run alone::

    .venv/bin/python bench/metis_script.py AREAS VILLAGES OUT.gpkg
"""

from __future__ import annotations

import os
import sys
import time

import geopandas as gpd
import numpy as np
import pymetis
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

PER_GRID = 460
CRS = "EPSG:3826"


def rook_pairs(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of polygons sharing at least 0.5 m of boundary."""
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    keep = left < right
    left, right = left[keep], right[keep]
    bounds = shapely.boundary(geoms)
    shared = shapely.length(shapely.intersection(bounds[left], bounds[right]))
    keep = shared >= 0.5
    return left[keep], right[keep]


def main(areas: str, villages: str, out: str) -> int:
    started = time.perf_counter()
    units = gpd.read_file(areas, columns=["CODEBASE", "H_CNT", "P_CNT"]).to_crs(CRS)
    units["H_CNT"] = units["H_CNT"].fillna(0).astype(int)
    comm = gpd.read_file(villages, columns=["CPTVID"]).to_crs(CRS)
    anchors = gpd.GeoDataFrame(geometry=units.geometry.representative_point(), crs=CRS)
    joined = gpd.sjoin(anchors, comm, how="left", predicate="within")
    village = joined.groupby(level=0)["CPTVID"].first().reindex(units.index).fillna("none").astype(str).to_numpy()
    geoms = units.geometry.values
    left, right = rook_pairs(np.asarray(geoms, dtype=object))
    same = village[left] == village[right]
    left, right = left[same], right[same]
    n = len(units)
    _, piece = connected_components(coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n)), directed=False)
    households = units["H_CNT"].to_numpy()
    labels = np.empty(n, dtype=object)
    edge_piece = piece[left]
    for c in np.unique(piece):
        idx = np.flatnonzero(piece == c)
        k = max(1, min(len(idx), round(int(households[idx].sum()) / PER_GRID)))
        if k == 1:
            labels[idx] = f"{c}/0"
            continue
        pos = np.full(n, -1)
        pos[idx] = np.arange(len(idx))
        e = edge_piece == c
        src = np.concatenate([pos[left[e]], pos[right[e]]])
        dst = np.concatenate([pos[right[e]], pos[left[e]]])
        order = np.lexsort((dst, src))
        xadj = np.concatenate([[0], np.cumsum(np.bincount(src, minlength=len(idx)))])
        opts = pymetis.Options()
        opts.seed = 0
        opts.contig = 1
        graph = pymetis.CSRAdjacency(xadj.tolist(), dst[order].tolist())
        weights = np.maximum(1, households[idx]).tolist()
        try:
            _, parts = pymetis.part_graph(k, graph, vweights=weights, options=opts, recursive=False)
        except Exception:  # METIS refuses contiguity on some graphs
            opts.contig = 0
            _, parts = pymetis.part_graph(k, graph, vweights=weights, options=opts, recursive=False)
        labels[idx] = [f"{c}/{p}" for p in parts]
    units["grid"] = labels
    units["village"] = village
    grids = units.dissolve(by="grid", aggfunc={"H_CNT": "sum", "P_CNT": "sum", "village": "first"})
    if os.path.exists(out):
        os.remove(out)
    grids.to_file(out, driver="GPKG")
    print(f"{len(grids)} grids in {time.perf_counter() - started:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

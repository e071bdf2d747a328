"""Checks a finished plan must pass, each paired with what explains a failure.

Every function takes data and returns the offenders (empty when the rule holds), so
tests, the engine's own final check and the report all use the same code.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.columns import COMMUNITY, COMPOUND, GRID_CODE, UNIT_ID

__all__ = [
    "check_plan",
    "coverage_gaps",
    "noncontiguous_grids",
    "overlapping_grids",
    "split_compounds",
    "unnested_grids",
]


def noncontiguous_grids(grids: gpd.GeoDataFrame) -> list[str]:
    """Codes of grids whose geometry is not one polygon."""
    geoms = grids.geometry.values
    n_parts = shapely.get_num_geometries(geoms)
    single = shapely.get_type_id(geoms) == 3
    bad = ~(single | (n_parts == 1))
    return grids.loc[bad, GRID_CODE].astype(str).tolist()


def overlapping_grids(
    grids: gpd.GeoDataFrame, *, tolerance: float = 1.0, across: str | None = None
) -> list[tuple[str, str, float]]:
    """Pairs of grids overlapping by more than ``tolerance`` square metres (metric CRS).

    With ``across``, only pairs whose values in that column differ are checked (grids of
    two communities, when each community's own grids were checked where they were made).
    """
    geoms = grids.geometry.values
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    if across is not None:
        values = grids[across].to_numpy()
        keep &= values[left] != values[right]
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return []
    # neighbours touch along their border: only pairs whose interiors meet can overlap, and
    # telling those apart costs far less than intersecting every pair
    inner = shapely.relate_pattern(geoms[left], geoms[right], "T********")
    left, right = left[inner], right[inner]
    if len(left) == 0:
        return []
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    bad = area > tolerance
    codes = grids[GRID_CODE].astype(str).to_numpy()
    return [(codes[a], codes[b], float(x)) for a, b, x in zip(left[bad], right[bad], area[bad], strict=True)]


def coverage_gaps(grids: gpd.GeoDataFrame, containers: gpd.GeoSeries, *, tolerance: float = 1.0) -> dict[str, float]:
    """Area of each container (by id) not covered by its grids, where above ``tolerance``.

    ``containers`` is indexed by community id; grids carry the id in ``community``.
    """
    if len(grids) == 0:
        return {}
    ids = grids[COMMUNITY].to_numpy()
    geoms = grids.geometry.values
    outline = dict(zip(containers.index, containers.values, strict=True))
    order = np.argsort(ids, kind="stable")
    cuts = np.flatnonzero(ids[order][1:] != ids[order][:-1]) + 1
    out: dict[str, float] = {}
    for idx in np.split(order, cuts):
        cid = ids[idx[0]]
        if cid not in outline:
            continue
        covered = shapely.union_all(geoms[idx])
        if shapely.covers(covered, outline[cid]):
            continue  # a predicate: much cheaper than the difference it makes needless
        gap = shapely.area(shapely.difference(outline[cid], covered))
        if gap > tolerance:
            out[str(cid)] = float(gap)
    return out


def unnested_grids(assignment: pd.DataFrame, units: pd.DataFrame) -> list[str]:
    """Codes of grids whose units come from more than one community."""
    if COMMUNITY not in units.columns:
        return []
    merged = assignment.merge(units[[UNIT_ID, COMMUNITY]], on=UNIT_ID, how="left")
    counts = merged.groupby(GRID_CODE)[COMMUNITY].nunique()
    return counts[counts > 1].index.astype(str).tolist()


def split_compounds(assignment: pd.DataFrame, units: pd.DataFrame) -> list[str]:
    """Compound ids whose units ended up in more than one grid."""
    if COMPOUND not in units.columns:
        return []
    merged = assignment.merge(units[[UNIT_ID, COMPOUND]], on=UNIT_ID, how="left")
    merged = merged[merged[COMPOUND].notna()]
    counts = merged.groupby(COMPOUND)[GRID_CODE].nunique()
    return counts[counts > 1].index.astype(str).tolist()


def check_plan(
    grids: gpd.GeoDataFrame,
    assignment: pd.DataFrame,
    units: gpd.GeoDataFrame,
    *,
    containers: gpd.GeoSeries | None = None,
    tolerance: float = 1.0,
) -> dict[str, list]:
    """Run every check; keys name the rule, values list the offenders.

    Geometries must be in a metric CRS.
    """
    report: dict[str, list] = {
        "noncontiguous": noncontiguous_grids(grids),
        "overlaps": overlapping_grids(grids, tolerance=tolerance),
        "unnested": unnested_grids(assignment, units),
        "split_compounds": split_compounds(assignment, units),
        "unassigned_units": sorted(set(units[UNIT_ID].astype(str)) - set(assignment[UNIT_ID].astype(str)))[:50],
    }
    if containers is not None:
        report["gaps"] = sorted(coverage_gaps(grids, containers, tolerance=tolerance).items())
    return report

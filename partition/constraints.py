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
from partition.units import merge

__all__ = [
    "check_failures",
    "check_plan",
    "coverage_gaps",
    "invalid_grids",
    "noncontiguous_grids",
    "overlapping_grids",
    "overlapping_pairs",
    "split_compounds",
    "unnested_grids",
]


def noncontiguous_grids(grids: gpd.GeoDataFrame) -> list[str]:
    """Codes of grids whose geometry is not one polygon."""
    geoms = grids.geometry.values
    n_parts = shapely.get_num_geometries(geoms)
    single = shapely.get_type_id(geoms) == 3
    bad = ~(single | (n_parts == 1))
    return [str(c) for c in grids[GRID_CODE].to_numpy()[bad]]


def invalid_grids(grids: gpd.GeoDataFrame) -> list[str]:
    """Codes of grids whose geometry is not valid (a ring crossing itself): GIS tools mismeasure them."""
    bad = ~shapely.is_valid(grids.geometry.values)
    return [str(c) for c in grids[GRID_CODE].to_numpy()[bad]]


def overlapping_pairs(
    geoms: np.ndarray, *, tolerance: float = 1.0, only: np.ndarray | None = None, group: np.ndarray | None = None
) -> list[tuple[int, int, float]]:
    """Positions of geometries whose interiors overlap by more than ``tolerance`` (square units), with the area.

    Invalid geometries are measured repaired (``make_valid``), so a ring crossing itself
    cannot hide an overlap, nor invent one. ``only`` (a mask) limits the pairs to those
    geometries; ``group`` (a value per geometry) to pairs of two groups, before any pair is measured.
    When the geometries' areas add up to their union's (within ``tolerance``), no pair can
    overlap by more and none is measured.
    """
    geoms = np.asarray(geoms, dtype=object)
    valid = shapely.is_valid(geoms) | shapely.is_missing(geoms)
    if not valid.all():
        geoms = geoms.copy()
        geoms[~valid] = shapely.make_valid(geoms[~valid])
    present = geoms[~shapely.is_missing(geoms)]
    # the area counted twice or more is at least any one pair's overlap: a plan whose parts add up to
    # their union (the rule, and cheap to see for edge-matched grids) needs no pair measured
    if len(present) > 1 and shapely.area(present).sum() - shapely.area(merge(present)) <= tolerance:
        return []
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    keep = left < right
    if only is not None:
        keep &= only[left] & only[right]
    if group is not None:
        keep &= group[left] != group[right]
    left, right = left[keep], right[keep]
    if len(left) == 0:
        return []
    # interiors meeting in an area; neighbours sharing an edge are skipped without an intersection
    inner = shapely.relate_pattern(geoms[left], geoms[right], "2********")
    left, right = left[inner], right[inner]
    area = shapely.area(shapely.intersection(geoms[left], geoms[right]))
    bad = area > tolerance
    return [(int(a), int(b), float(x)) for a, b, x in zip(left[bad], right[bad], area[bad], strict=True)]


def overlapping_grids(
    grids: gpd.GeoDataFrame, *, tolerance: float = 1.0, across: str | None = None
) -> list[tuple[str, str, float]]:
    """Pairs of grids overlapping by more than ``tolerance`` square metres (metric CRS).

    With ``across``, only pairs whose values in that column differ are checked (grids of
    two communities, when each community's own grids were checked where they were made).
    """
    group = None if across is None else grids[across].to_numpy()
    pairs = overlapping_pairs(grids.geometry.values, tolerance=tolerance, group=group)
    codes = grids[GRID_CODE].astype(str).to_numpy()
    return sorted((codes[a], codes[b], x) for a, b, x in pairs)


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
        covered = merge(geoms[idx])
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


def _listed(items: list, shown: int = 10) -> str:
    text = ", ".join(str(x) for x in items[:shown])
    return text + (f" and {len(items) - shown} more" if len(items) > shown else "")


def check_failures(checks: dict[str, list], *, hard_crossings: int = 0) -> list[str]:
    """The failing checks in words, one sentence each (empty when the plan passes).

    Examples
    --------
    >>> check_failures({"overlaps": [("A-001", "A-002", 812.4)], "gaps": []})
    ['overlap: 1 pair of grids overlap by more than 1 m² (812 m² in all): A-001 and A-002 by 812 m²']
    """
    out = []
    overlaps = sorted(checks.get("overlaps") or [], key=lambda x: -x[2])
    if overlaps:
        total = sum(x[2] for x in overlaps)
        pairs = [f"{a} and {b} by {x:,.0f} m²" for a, b, x in overlaps]
        n = len(overlaps)
        out.append(
            f"overlap: {n} pair{'s' if n > 1 else ''} of grids overlap by more than 1 m² ({total:,.0f} m² in all): "
            + _listed(pairs)
        )
    sentences = {
        "invalid": "invalid geometry: {n} grid(s) have a ring crossing itself in the output CRS: {items}",
        "noncontiguous": "contiguity: {n} grid(s) are not one polygon: {items}",
        "unnested": "nesting: {n} grid(s) hold units of more than one community: {items}",
        "split_compounds": "compounds: {n} compound(s) are split over several grids: {items}",
        "unassigned_units": "coverage: {n} unit(s) have no grid: {items}",
    }
    for key, text in sentences.items():
        items = checks.get(key) or []
        if items:
            out.append(text.format(n=len(items), items=_listed(list(items))))
    gaps = checks.get("gaps") or []
    if gaps:
        shown = [f"{cid} ({area:,.0f} m²)" for cid, area in gaps]
        which = "community is" if len(gaps) == 1 else f"{len(gaps)} communities are"
        out.append(f"gaps: {which} not covered by their grids, by more than 1 m²: " + _listed(shown))
    if hard_crossings:
        out.append(f"hard barriers: {hard_crossings} step(s) inside a grid cross a hard barrier")
    return out

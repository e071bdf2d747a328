"""Invariants every plan must keep, as checks shared by the property and edge-case tests.

Each check takes a district (what the tests know without the engine) and one engine run,
recomputes its rule from the inputs and the output geometry rather than trusting the
engine's own report (the report is checked as well, separately), and fails with an
``AssertionError`` naming the offenders.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import geopandas as gpd
import pandas as pd
import shapely
from geopandas.testing import assert_geodataframe_equal

from gis.columns import (
    ADMIN_CODE,
    COMMUNITY,
    COMMUNITY_ID,
    COMPOUND,
    GRID_CODE,
    GRID_UNITS,
    HOUSEHOLDS,
    POPULATION,
    REASON,
    STATUS,
    STATUS_OK,
    STATUS_OUT_OF_RANGE,
    STATUS_OVERSIZED,
    UNIT_ID,
)
from partition.plan import PartitionResult
from partition.targets import Targets
from tests.strategies import District

__all__ = ["CHECKS", "TARGETS", "TOLERANCE", "Run"]

TOLERANCE = 1.0  # square metres
TARGETS = Targets()


@dataclass(frozen=True)
class Run:
    """One engine run: the result, the units passed in and a copy taken before the call."""

    result: PartitionResult
    units_passed: gpd.GeoDataFrame
    units_before: gpd.GeoDataFrame


def _grid_units(district: District, run: Run) -> pd.DataFrame:
    """Input units (ids, counts, expected community, compound) with the grid each went to."""
    units = pd.DataFrame(district.units.drop(columns="geometry"))
    units["expected"] = units[UNIT_ID].map(district.community_of)
    return units.merge(run.result.assignment, on=UNIT_ID, how="left", validate="one_to_one")


def check_grids_are_single_polygons(district: District, run: Run) -> None:
    """Every grid is one polygon (contiguous), and the report agrees."""
    grids = run.result.grids
    kinds = shapely.get_type_id(grids.geometry.values)
    assert (kinds == 3).all(), f"grids not one polygon: {grids.loc[kinds != 3, GRID_CODE].tolist()}"
    assert run.result.report["checks"]["noncontiguous"] == []


def check_grids_do_not_overlap(district: District, run: Run) -> None:
    """No two grids share more than `TOLERANCE` square metres."""
    geoms = run.result.grids.geometry.values
    left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
    pairs = left < right
    shared = shapely.area(shapely.intersection(geoms[left[pairs]], geoms[right[pairs]]))
    assert (shared <= TOLERANCE).all(), f"overlaps of {shared[shared > TOLERANCE]} m²"


def check_grids_tile_each_community(district: District, run: Run) -> None:
    """The grids of each community cover its outline exactly, without overlap."""
    units = _grid_units(district, run)
    grids = run.result.grids.set_index(GRID_CODE)
    for cid, outline in district.outlines.items():
        codes = units.loc[units.expected == cid, GRID_CODE].unique()
        geoms = grids.loc[codes].geometry.values
        covered = shapely.union_all(geoms)
        missing = shapely.area(shapely.symmetric_difference(covered, outline))
        assert missing <= TOLERANCE, f"community {cid}: grids and outline differ by {missing:.2f} m²"
        excess = shapely.area(geoms).sum() - shapely.area(outline)
        assert abs(excess) <= TOLERANCE, f"community {cid}: grid areas exceed the outline by {excess:.2f} m²"


def check_grids_nest_in_communities(district: District, run: Run) -> None:
    """Each grid's units come from one community, the one the grid names."""
    units = _grid_units(district, run)
    per_grid = units.groupby(GRID_CODE)["expected"].agg(set)
    mixed = per_grid[per_grid.map(len) > 1]
    assert mixed.empty, f"grids across communities: {mixed.to_dict()}"
    if district.communities is not None:
        labels = run.result.grids.set_index(GRID_CODE)[COMMUNITY]
        assert (labels.loc[per_grid.index] == per_grid.map(min)).all()


def check_compounds_stay_whole(district: District, run: Run) -> None:
    """Compounds that fit one grid are never split; those over a maximum are listed."""
    if COMPOUND not in district.units.columns:
        return
    units = _grid_units(district, run).dropna(subset=[COMPOUND])
    by_compound = units.groupby(COMPOUND).agg(
        households=(HOUSEHOLDS, "sum"), population=(POPULATION, "sum"), grids=(GRID_CODE, "nunique")
    )
    too_big = by_compound.households.gt(TARGETS.h_max) | by_compound.population.gt(TARGETS.p_max)
    split = by_compound[~too_big & (by_compound.grids > 1)]
    assert split.empty, f"compounds split although they fit one grid: {split.index.tolist()}"
    listed = {item["compound"] for item in run.result.report["split_compounds"]}
    assert listed == set(by_compound.index[too_big]), "report['split_compounds'] lists other compounds"


def check_no_grid_crosses_the_river(district: District, run: Run) -> None:
    """No grid reaches across the hard barrier: by the report and by geometry."""
    assert run.result.report["hard_barrier_crossings"] == 0
    if district.river is None:
        return
    # 1 cm inside its outline, a grid that stops at the river no longer touches it
    inner = shapely.buffer(run.result.grids.geometry.values, -0.01)
    across = shapely.length(shapely.intersection(inner, district.river))
    codes = run.result.grids[GRID_CODE].to_numpy()
    assert (across < 1e-6).all(), f"grids across the river: {codes[across >= 1e-6].tolist()}"


def check_every_unit_assigned_once(district: District, run: Run) -> None:
    """Each unit id appears once in the assignment, to a grid that exists."""
    assignment = run.result.assignment
    assert Counter(assignment[UNIT_ID]) == Counter(district.units[UNIT_ID])
    grids = run.result.grids.set_index(GRID_CODE)
    assert set(assignment[GRID_CODE]) == set(grids.index)
    sizes = assignment[GRID_CODE].value_counts()
    assert (grids[GRID_UNITS] == sizes.reindex(grids.index)).all()


def check_totals_kept(district: District, run: Run) -> None:
    """Each grid's counts are the sums of its units'; nothing is lost or added."""
    units = _grid_units(district, run)
    expected = units.groupby(GRID_CODE)[[HOUSEHOLDS, POPULATION]].sum()
    grids = run.result.grids.set_index(GRID_CODE)[[HOUSEHOLDS, POPULATION]]
    pd.testing.assert_frame_equal(grids.sort_index(), expected.sort_index(), check_dtype=False)
    assert grids[HOUSEHOLDS].sum() == district.units[HOUSEHOLDS].sum()
    assert grids[POPULATION].sum() == district.units[POPULATION].sum()


def check_codes_unique_and_numbered(district: District, run: Run) -> None:
    """Codes are unique and number each community's grids 001, 002, … under its prefix."""
    grids = run.result.grids
    assert grids[GRID_CODE].is_unique
    admin = {}
    if district.communities is not None:
        admin = dict(zip(district.communities[COMMUNITY_ID], district.communities[ADMIN_CODE], strict=True))
    for cid, codes in grids.groupby(COMMUNITY)[GRID_CODE]:
        prefix = admin.get(cid) or (f"{cid}-" if district.communities is not None else "G-")
        expected = [f"{prefix}{i:03d}" for i in range(1, len(codes) + 1)]
        assert sorted(codes) == expected


def check_status_matches_counts(district: District, run: Run) -> None:
    """Status and reason follow from the counts; oversized units sit alone."""
    units = _grid_units(district, run)
    grids = run.result.grids.set_index(GRID_CODE)
    for code, grid in grids.iterrows():
        members = units[units[GRID_CODE] == code]
        big = members[(members[HOUSEHOLDS] > TARGETS.h_max) | (members[POPULATION] > TARGETS.p_max)]
        if grid[STATUS] == STATUS_OVERSIZED:
            # indivisible: one unit over a maximum, or address points on one spot (one shared cell)
            spots = district.units.set_index(UNIT_ID).geometry.loc[members[UNIT_ID]]
            one_spot = len(members) > 1 and (spots.geom_type == "Point").all() and spots.nunique() == 1
            if one_spot:
                total = int(members[HOUSEHOLDS].sum())
                assert total > TARGETS.h_max or members[POPULATION].sum() > TARGETS.p_max, code
                assert f"{total:,} households" in grid[REASON]
            else:
                assert len(big) == 1 and members[HOUSEHOLDS].sum() == big[HOUSEHOLDS].sum(), code
                assert f"{int(big[HOUSEHOLDS].iloc[0]):,} households" in grid[REASON]
        else:
            assert big.empty, f"grid {code} holds oversized unit(s) {big[UNIT_ID].tolist()}"
            in_range = TARGETS.in_range(int(grid[HOUSEHOLDS]), int(grid[POPULATION]))
            assert grid[STATUS] == (STATUS_OK if in_range else STATUS_OUT_OF_RANGE), code
            assert bool(grid[REASON]) != in_range, f"grid {code}: reason {grid[REASON]!r}"


def check_report_valid(district: District, run: Run) -> None:
    """The engine's own checks pass and the report counts what was returned."""
    report = run.result.report
    assert all(not offenders for offenders in report["checks"].values()), report["checks"]
    assert report["valid"] is True, f"hard_barrier_crossings: {report['hard_barrier_crossings']}"
    assert report["units"] == len(district.units)
    assert report["grids"] == len(run.result.grids)


def check_inputs_untouched(district: District, run: Run) -> None:
    """The caller's units frame is unchanged."""
    assert_geodataframe_equal(run.units_passed, run.units_before)


CHECKS = [
    check_grids_are_single_polygons,
    check_grids_do_not_overlap,
    check_grids_tile_each_community,
    check_grids_nest_in_communities,
    check_compounds_stay_whole,
    check_no_grid_crosses_the_river,
    check_every_unit_assigned_once,
    check_totals_kept,
    check_codes_unique_and_numbered,
    check_status_matches_counts,
    check_report_valid,
    check_inputs_untouched,
]

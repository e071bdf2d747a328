"""The invariant checks themselves: each passes on a good plan and fails on one broken its way.

Without this, a check that can never fail (a tautology) would pass every property test.
"""

from __future__ import annotations

import dataclasses

import geopandas as gpd
import pytest
import shapely

from gis.columns import COMPOUND, GRID_CODE, HARD, HOUSEHOLDS, STATUS, STATUS_OUT_OF_RANGE, UNIT_ID
from partition.plan import partition
from tests.partition import invariants as inv
from tests.strategies import CRS, ORIGIN, District, band_communities, district_from, square_lattice

X0, Y0 = ORIGIN


@pytest.fixture(scope="module")
def good() -> tuple[District, inv.Run]:
    """Two communities of 2 × 4 units (400 households, 1,200 residents: one grid each),
    a river along their border and compound K (u0_0, u0_1) in C1::

        +----+----+~+----+----+
        | C1      |~|  C2     |
        |         |~|         |
        | K    K  |~|         |
        +----+----+~+----+----+
    """
    units = square_lattice(4, 4, [50] * 16, [150] * 16)
    units[COMPOUND] = ["K", "K"] + [None] * 14
    communities = band_communities([X0 + 100 * c for c in range(5)], [Y0, Y0 + 400], [2])
    river = shapely.LineString([(X0 + 200, Y0 - 20), (X0 + 200, Y0 + 420)])
    barriers = gpd.GeoDataFrame({HARD: [True]}, geometry=[river], crs=CRS)
    district = district_from(units, communities=communities, barriers=barriers)
    before = units.copy()
    result = partition(units, **district.kwargs())
    assert len(result.grids) == 2
    return district, inv.Run(result, units, before)


def _grids(run: inv.Run, change) -> inv.Run:
    grids = run.result.grids.copy()
    change(grids)
    return dataclasses.replace(run, result=dataclasses.replace(run.result, grids=grids))


def _assignment(run: inv.Run, change) -> inv.Run:
    assignment = change(run.result.assignment.copy())
    return dataclasses.replace(run, result=dataclasses.replace(run.result, assignment=assignment))


def _geometry(run: inv.Run, change) -> inv.Run:
    def apply(grids: gpd.GeoDataFrame) -> None:
        geoms = grids.geometry.values.copy()
        geoms[0] = change(geoms[0])
        grids.geometry = geoms

    return _grids(run, apply)


def _move_unit(unit: str):
    """Give ``unit`` to the other grid."""

    def change(assignment):
        other = assignment.loc[assignment[UNIT_ID] != unit, GRID_CODE].iloc[-1]
        assignment.loc[assignment[UNIT_ID] == unit, GRID_CODE] = other
        return assignment

    return change


def _report(run: inv.Run, **entries) -> inv.Run:
    report = {**run.result.report, **entries}
    return dataclasses.replace(run, result=dataclasses.replace(run.result, report=report))


BREAKAGES = {
    "grids_are_single_polygons": lambda run: _geometry(
        run, lambda g: shapely.union(g, shapely.box(X0 + 900, Y0, X0 + 950, Y0 + 50))
    ),
    "grids_do_not_overlap": lambda run: _geometry(run, lambda g: g.buffer(10, join_style="mitre")),
    "grids_tile_each_community": lambda run: _geometry(run, lambda g: g.buffer(-5, join_style="mitre")),
    "grids_nest_in_communities": lambda run: _assignment(run, _move_unit("u3_0")),
    "compounds_stay_whole": lambda run: _assignment(run, _move_unit("u0_1")),
    "no_grid_crosses_the_river": lambda run: _geometry(
        run, lambda g: shapely.union(g, shapely.box(X0 + 150, Y0 + 100, X0 + 250, Y0 + 200))
    ),
    "every_unit_assigned_once": lambda run: _assignment(run, lambda a: a.iloc[1:]),
    "totals_kept": lambda run: _grids(run, lambda g: g.__setitem__(HOUSEHOLDS, g[HOUSEHOLDS] + [1, 0])),
    "codes_unique_and_numbered": lambda run: _grids(run, lambda g: g.__setitem__(GRID_CODE, g[GRID_CODE].iloc[0])),
    "status_matches_counts": lambda run: _grids(run, lambda g: g.__setitem__(STATUS, STATUS_OUT_OF_RANGE)),
    "report_valid": lambda run: _report(run, valid=False),
    "inputs_untouched": lambda run: dataclasses.replace(
        run, units_passed=run.units_passed.assign(households=run.units_passed[HOUSEHOLDS] + 1)
    ),
}


def test_every_check_has_a_breakage():
    assert sorted(BREAKAGES) == sorted(c.__name__.removeprefix("check_") for c in inv.CHECKS)


@pytest.mark.parametrize("check", inv.CHECKS, ids=lambda f: f.__name__.removeprefix("check_"))
def test_check_passes_on_the_good_plan(good, check):
    check(*good)


@pytest.mark.parametrize("check", inv.CHECKS, ids=lambda f: f.__name__.removeprefix("check_"))
def test_check_fails_on_a_broken_plan(good, check):
    district, run = good
    broken = BREAKAGES[check.__name__.removeprefix("check_")](run)
    with pytest.raises(AssertionError):
        check(district, broken)

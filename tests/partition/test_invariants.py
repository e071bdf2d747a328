"""Invariants every plan must keep: on districts drawn by ``tests/strategies.py`` and on a
catalogue of hand-drawn edge cases. The checks live in ``invariants.py``.
"""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from gis.columns import ADMIN_CODE, COMMUNITY, COMPOUND, HARD, HOUSEHOLDS, UNIT_ID
from partition.plan import partition
from tests.partition.invariants import (
    CHECKS,
    TARGETS,
    TOLERANCE,
    check_every_unit_assigned_once,
    check_grids_do_not_overlap,
    check_grids_tile_each_community,
    check_no_grid_crosses_the_river,
    check_totals_kept,
)
from tests.strategies import CRS, ORIGIN, District, band_communities, district_from, districts, square_lattice

# A fixed seed makes every check of a parametrised test see the same districts, so the
# `partitioned` fixture runs the engine once per district (derandomize alone mixes the
# parameters into the seed).
SEED = 20241123


def _river_at(y: float) -> gpd.GeoDataFrame:
    """A hard line along ``y`` running 20 m past the lattices of these cases."""
    line = shapely.LineString([(ORIGIN[0] - 20, y), (ORIGIN[0] + 420, y)])
    return gpd.GeoDataFrame({HARD: [True]}, geometry=[line], crs=CRS)


def _whole(units: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One community covering the lattice."""
    b = units.total_bounds
    return band_communities([b[0], b[2]], [b[1], b[3]], [])


def empty_district() -> District:
    """3 × 3 units, nobody lives anywhere."""
    return district_from(square_lattice(3, 3, [0] * 9, [0] * 9))


def single_unit() -> District:
    """One unit that is exactly one grid (400 households, 1,200 residents)."""
    return district_from(square_lattice(1, 1, [400], [1200]))


def oversized_unit_cuts_the_community() -> District:
    """``| 200 | 600 | 200 |``: the oversized middle leaves two isolated pieces."""
    return district_from(square_lattice(3, 1, [200, 600, 200], [600, 1700, 600]))


def river_along_a_community_border() -> District:
    """Two communities of 2 × 2 units (400 households, 1,200 residents each), a river between::

    +---+---+~+---+---+
    | C1    | ~ C2    |
    +---+---+~+---+---+
    """
    units = square_lattice(4, 2, [100] * 8, [300] * 8)
    xs = [ORIGIN[0] + 100 * c for c in range(5)]
    communities = band_communities(xs, [ORIGIN[1], ORIGIN[1] + 200], [2])
    x = ORIGIN[0] + 200
    river = shapely.LineString([(x, ORIGIN[1] - 20), (x, ORIGIN[1] + 220)])
    barriers = gpd.GeoDataFrame({HARD: [True]}, geometry=[river], crs=CRS)
    return district_from(units, communities=communities, barriers=barriers)


def empty_strip_across_a_river(*, points: bool = False) -> District:
    """A park strip (row 0, nobody living there) on the far side of a river::

    +----+----+----+
    | 60 | 60 | 60 |   360 households, 1,050 residents: one grid
    +----+----+----+
    | 60 | 60 | 60 |
    ~~~~~~~~~~~~~~~~ river (hard)
    |  0 |  0 |  0 |
    +----+----+----+
    """
    households = [0, 0, 0] + [60] * 6
    population = [0, 0, 0] + [175] * 6
    units = square_lattice(3, 3, households, population)
    barriers = _river_at(ORIGIN[1] + 100)
    if not points:
        return district_from(units, barriers=barriers)
    communities = _whole(units)
    return district_from(units.set_geometry(units.centroid), communities=communities, barriers=barriers)


def oversized_compound() -> District:
    """Compound K (u0_0 with 501 households and an empty u0_1) exceeds a grid, so it is split::

    +-----+-----+
    | 200 | 200 |
    +-----+-----+
    | 501 K  0  |
    +-----+-----+
    """
    units = square_lattice(2, 2, [501, 0, 200, 200], [1002, 0, 600, 600])
    units[COMPOUND] = ["K", "K", None, None]
    return district_from(units)


def empty_strip_away_from_the_largest_grid() -> District:
    """As above, but the north needs two grids and the larger one does not touch the river::

    +----+----+----+
    | 70 | 70 | 70 |   grid of 6 units: 420 households, 1,200 residents
    | 70 | 70 | 70 |
    +----+----+----+
    |130 |130 |130 |   grid of 3 units: 390 households, 1,200 residents
    ~~~~~~~~~~~~~~~~ river (hard)
    |  0 |  0 |  0 |
    +----+----+----+
    """
    households = [0, 0, 0] + [130] * 3 + [70] * 6
    population = [0, 0, 0] + [400] * 3 + [200] * 6
    return district_from(square_lattice(3, 4, households, population), barriers=_river_at(ORIGIN[1] + 100))


def two_address_points_on_one_spot() -> District:
    """Address points at the centres of 4 × 2 squares, plus ``dup`` on the very spot of u0_0::

    +-----+-----+-----+-----+
    | 100 | 100 | 100 | 100 |   1,300 households, 3,900 residents: 3 grids
    +-----+-----+-----+-----+
    | 300 | 100 | 100 | 100 |   u0_0 and dup hold 300 households each at one spot,
    | 300 |     |     |     |   too many for one grid
    +-----+-----+-----+-----+
    """
    units = square_lattice(4, 2, [300] + [100] * 7, [900] + [300] * 7)
    communities = _whole(units)
    points = units.set_geometry(units.centroid)
    dup = points.iloc[[0]].assign(**{UNIT_ID: "dup"})
    points = gpd.GeoDataFrame(pd.concat([points, dup], ignore_index=True), crs=CRS)
    return district_from(points, communities=communities)


EDGE_CASES = {
    "empty district": empty_district,
    "single unit": single_unit,
    "oversized unit cuts the community": oversized_unit_cuts_the_community,
    "river along a community border": river_along_a_community_border,
    "empty strip across a river": empty_strip_across_a_river,
    "empty strip across a river, points": lambda: empty_strip_across_a_river(points=True),
    "empty strip away from the largest grid": empty_strip_away_from_the_largest_grid,
    "oversized compound": oversized_compound,
    "two address points on one spot": two_address_points_on_one_spot,
}

# Engine bugs these tests found are fixed; a new one goes here as a strict xfail with its
# reason (hand-drawn cases) until the engine is mended.
KNOWN_BUGS: dict[tuple[str, str], str] = {}


def _name(check) -> str:
    return check.__name__.removeprefix("check_")


def _cases(case: str, checks: list) -> list:
    """``pytest.param``s of ``checks`` for ``case``, with known bugs marked as xfails."""
    params = []
    for check in checks:
        bug = KNOWN_BUGS.get((case, _name(check)))
        strict = not case.startswith("drawn")
        marks = [pytest.mark.xfail(strict=strict, reason=bug)] if bug else []
        params.append(pytest.param(case, check, marks=marks, id=f"{case}-{_name(check)}"))
    return params


@pytest.mark.parametrize(("case", "check"), [p for case in EDGE_CASES for p in _cases(case, CHECKS)])
def test_edge_case(partitioned, case, check):
    district = EDGE_CASES[case]()
    check(district, partitioned(district))


@pytest.mark.parametrize(("case", "check"), _cases("drawn", CHECKS))
@seed(SEED)
@given(district=districts(points=None))
def test_invariant(partitioned, case, check, district):
    check(district, partitioned(district))


@pytest.mark.parametrize(
    ("case", "check"),
    _cases("drawn", [check_grids_tile_each_community, check_no_grid_crosses_the_river, check_every_unit_assigned_once]),
)
@seed(SEED)
@given(district=districts(barriers=True, compounds=True))
def test_invariant_with_river_and_compounds(partitioned, case, check, district):
    check(district, partitioned(district))


@pytest.mark.parametrize(
    ("case", "check"),
    _cases(
        "drawn with shared spots",
        [
            check_grids_do_not_overlap,
            check_grids_tile_each_community,
            check_every_unit_assigned_once,
            check_totals_kept,
        ],
    ),
)
@seed(SEED)
@given(district=districts(points=True, shared_spots=True))
def test_invariant_with_shared_spots(partitioned, case, check, district):
    check(district, partitioned(district))


@settings(max_examples=15)
@given(district=districts(points=True, shared_spots=False))
def test_points_become_cells_that_tile_the_communities(partitioned, district):
    run = partitioned(district)
    units = run.result.units
    assert np.isin(shapely.get_type_id(units.geometry.values), [3, 6]).all()
    cells = units.set_index(UNIT_ID).geometry
    assert set(cells.index) == set(district.units[UNIT_ID])
    spots = district.units.set_index(UNIT_ID).geometry
    for cid, outline in district.outlines.items():
        ids = [u for u, c in district.community_of.items() if c == cid]
        mine = cells.loc[ids].values
        assert shapely.covers(mine, spots.loc[ids].values).all(), "an address point outside its cell"
        # points on one spot share one cell (partition.units.tessellate), so count each spot once
        first = ~spots.loc[ids].to_wkb().duplicated().to_numpy()
        assert shapely.area(shapely.symmetric_difference(shapely.union_all(mine), outline)) <= TOLERANCE
        assert abs(shapely.area(mine[first]).sum() - shapely.area(outline)) <= TOLERANCE


@settings(max_examples=10)
@given(district=districts(points=None), plan_seed=st.integers(0, 3))
def test_same_seed_same_plan(district, plan_seed):
    first = partition(district.units, seed=plan_seed, **district.kwargs())
    second = partition(district.units, seed=plan_seed, **district.kwargs())
    assert_geodataframe_equal(first.grids, second.grids)
    pd.testing.assert_frame_equal(first.assignment, second.assignment)
    assert_geodataframe_equal(first.units, second.units)
    assert _without_timing(first.report) == _without_timing(second.report)


def _without_timing(value):
    """A report with every ``seconds`` entry (wall-clock time) removed."""
    if isinstance(value, dict):
        return {k: _without_timing(v) for k, v in value.items() if k != "seconds"}
    if isinstance(value, list):
        return [_without_timing(v) for v in value]
    return value


VARIANTS = (
    "points",
    "river",
    "communities",
    "compounds",
    "community column",
    "zero households",
    "oversized",
    "admin codes",
    "several communities",
)


def test_strategy_draws_every_variant():
    """Guard against a strategy change that silently stops drawing a variant."""
    seen: Counter = Counter()

    @settings(max_examples=60, derandomize=True, database=None)
    @given(district=districts(points=None))
    def collect(district):
        seen["points"] += district.points
        seen["river"] += district.river is not None
        seen["communities"] += district.communities is not None
        seen["compounds"] += COMPOUND in district.units.columns
        seen["community column"] += COMMUNITY in district.units.columns
        seen["zero households"] += bool((district.units[HOUSEHOLDS] == 0).any())
        seen["oversized"] += bool((district.units[HOUSEHOLDS] > TARGETS.h_max).any())
        seen["admin codes"] += district.communities is not None and bool(district.communities[ADMIN_CODE].notna().all())
        seen["several communities"] += district.communities is not None and len(district.communities) > 1

    collect()
    missing = [variant for variant in VARIANTS if not seen[variant]]
    assert not missing, f"never drawn: {missing}"

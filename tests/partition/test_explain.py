"""What the engine says when grids cannot all be in range, on tiny hand-drawn districts."""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely

from gis.columns import (
    COMMUNITY,
    COMPOUND,
    GRID_CODE,
    HARD,
    HOUSEHOLDS,
    POPULATION,
    REASON,
    STATUS,
    STATUS_OK,
    STATUS_OUT_OF_RANGE,
    STATUS_OVERSIZED,
    UNIT_ID,
)
from partition.plan import partition
from tests.strategies import CRS, ORIGIN, square_lattice


def brief_example() -> gpd.GeoDataFrame:
    """The brief's community: 21 units of 50 households, 1,050 households and 2,966 residents::

        +---+---+---+
        | 50| 50| 50|   7 rows × 3 columns of 100 m squares;
        +---+---+---+   residents 141 each, 146 in the last unit
        ...
        +---+---+---+

    Households allow exactly 3 grids (350 each); residents allow only 2 (3 × 1,000 > 2,966).
    """
    population = [141] * 20 + [146]
    return square_lattice(3, 7, [50] * 21, population)


@pytest.fixture(scope="module")
def brief_result():
    return partition(brief_example(), crs=CRS)


def test_infeasible_community_keeps_households_in_range_first(brief_result):
    grids = brief_result.grids
    assert len(grids) == 3
    assert grids[HOUSEHOLDS].between(300, 500).all(), grids[HOUSEHOLDS].tolist()
    assert grids[HOUSEHOLDS].sum() == 1050
    assert grids[POPULATION].sum() == 2966
    off = grids[grids[STATUS] == STATUS_OUT_OF_RANGE]
    assert len(off) >= 1  # three grids cannot all reach 1,000 residents from 2,966
    for reason in off[REASON]:
        assert "residents < 1,000" in reason
        assert "households <" not in reason and "households >" not in reason


def test_infeasible_community_is_explained_with_numbers(brief_result):
    (community,) = brief_result.report["per_community"]
    assert community["feasible_by_counts"] is False
    assert community["households"] == 1050 and community["population"] == 2966
    text = community["explanation"]
    for number in ("1,050 households", "2,966 residents", "allow 3–3 grids", "allow 2–2", "chose 3 grids"):
        assert number in text, text
    (piece,) = community["pieces"]
    assert piece["k_households"] == [3, 3]
    assert piece["k_population"] == [2, 2]
    assert piece["k_feasible"] is None
    assert brief_result.report["share_in_range_where_feasible"] is None


def test_feasible_community_beside_an_infeasible_one_has_no_explanation():
    """Community C1 (west, 4 × 2 units of 100 households) fits; C2 (east, 2 units) cannot::

    +----+----+----+----+----+
    | 100| 100| 100| 100| 90 |    C1: 800 households, 2,400 residents → 2 grids
    +----+----+----+----+----+    C2:  180 households,   450 residents
    | 100| 100| 100| 100| 90 |
    +----+----+----+----+----+
    """
    households = [100, 100, 100, 100, 90] * 2
    units = square_lattice(5, 2, households, [h * 3 if h == 100 else 225 for h in households])
    units[COMMUNITY] = ["C2" if uid.endswith("_4") else "C1" for uid in units[UNIT_ID]]
    result = partition(units, crs=CRS)
    by_id = {c["community_id"]: c for c in result.report["per_community"]}
    assert by_id["C1"]["feasible_by_counts"] is True
    assert by_id["C1"]["explanation"] == ""
    assert by_id["C1"]["grids_ok"] == 2
    assert by_id["C2"]["feasible_by_counts"] is False
    assert "180 households are fewer than one grid's minimum of 300" in by_id["C2"]["explanation"]
    assert "450 residents are fewer than one grid's minimum of 1,000" in by_id["C2"]["explanation"]
    (small,) = result.grids[result.grids[COMMUNITY] == "C2"].itertuples()
    assert small.status == STATUS_OUT_OF_RANGE
    assert "180 households < 300" in small.reason and "180 households are fewer" in small.reason


def test_oversized_unit_is_its_own_grid():
    """One unit (u0_0) holds 620 households, more than any grid may::

    +-----+----+----+----+
    |  60 | 60 | 60 | 60 |
    +-----+----+----+----+
    | 620 | 60 | 60 | 60 |
    +-----+----+----+----+
    """
    households = [620, 60, 60, 60, 60, 60, 60, 60]
    population = [1700] + [180] * 7
    result = partition(square_lattice(4, 2, households, population), crs=CRS)
    code = result.assignment.set_index(UNIT_ID).loc["u0_0", GRID_CODE]
    grid = result.grids.set_index(GRID_CODE).loc[code]
    assert grid[STATUS] == STATUS_OVERSIZED
    assert grid["units"] == 1
    assert "620 households" in grid[REASON] and "1,700 residents" in grid[REASON]
    assert "500" in grid[REASON]  # the maximum it exceeds
    others = result.grids[result.grids[GRID_CODE] != code]
    assert (others[STATUS] == STATUS_OK).all()  # 420 households, 1,260 residents fit one grid
    (community,) = result.report["per_community"]
    assert community["grids_oversized_unit"] == 1
    assert "1 unit(s) exceed a maximum on their own" in community["explanation"]


def test_oversized_compound_is_split_and_listed():
    """Compound K (u0_0 and u0_1, 300 households each) is larger than one grid may be::

    +-----+-----+----+----+
    |  50 |  50 | 50 | 50 |
    +-----+-----+----+----+
    | 300 K 300 | 50 | 50 |
    +-----+-----+----+----+
    """
    households = [300, 300, 50, 50, 50, 50, 50, 50]
    population = [800, 800] + [140] * 6
    units = square_lattice(4, 2, households, population)
    units[COMPOUND] = ["K", "K"] + [None] * 6
    result = partition(units, crs=CRS)
    assert result.report["split_compounds"] == [
        {"container": "district", "compound": "K", "households": 600, "population": 1600}
    ]
    grid_of = result.assignment.set_index(UNIT_ID)[GRID_CODE]
    assert grid_of["u0_0"] != grid_of["u0_1"]
    assert (result.grids[STATUS] == STATUS_OK).all(), result.grids[[HOUSEHOLDS, POPULATION]]


def test_compound_that_fits_is_never_split():
    """Compound K spans three units in the middle of the row where a cut would suit best."""
    households = [100] * 8
    units = square_lattice(8, 1, households, [280] * 8)
    units[COMPOUND] = [None, None, "K", "K", "K", None, None, None]
    result = partition(units, crs=CRS)
    grid_of = result.assignment.set_index(UNIT_ID)[GRID_CODE]
    assert grid_of["u0_2"] == grid_of["u0_3"] == grid_of["u0_4"]
    assert result.report["split_compounds"] == []


def test_piece_cut_off_by_a_river_is_explained_on_its_own():
    """A river between rows cuts a 200-household strip off the community::

    +----+----+----+----+
    | 50 | 50 | 50 | 50 |    north: 200 households, 600 residents (too few)
    ~~~~~~~~~~~~~~~~~~~~~~ river (hard)
    |100 |100 |100 |100 |    south: 800 households, 2,400 residents → 2 grids
    |100 |100 |100 |100 |
    +----+----+----+----+
    """
    households = [100] * 8 + [50] * 4
    units = square_lattice(4, 3, households, [3 * h for h in households])
    y = ORIGIN[1] + 200
    river = shapely.LineString([(ORIGIN[0] - 20, y), (ORIGIN[0] + 420, y)])
    barriers = gpd.GeoDataFrame({HARD: [True]}, geometry=[river], crs=CRS)
    result = partition(units, barriers=barriers, crs=CRS)
    (community,) = result.report["per_community"]
    pieces = sorted(community["pieces"], key=lambda p: p["households"])
    assert [p["households"] for p in pieces] == [200, 800]
    assert all(p.get("isolated") for p in pieces)
    assert pieces[1]["k_feasible"] == [2, 2]
    assert "200 households are fewer than one grid's minimum of 300" in community["explanation"]
    north = result.assignment[result.assignment[UNIT_ID].str.startswith("u2_")][GRID_CODE]
    assert north.nunique() == 1
    (strip,) = result.grids[result.grids[GRID_CODE] == north.iloc[0]].itertuples()
    assert strip.households == 200
    assert "isolated piece" in strip.reason
    assert result.report["hard_barrier_crossings"] == 0

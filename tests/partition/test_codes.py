"""Grid codes: 15 digits under an admin code, numbered north to south, then west to east."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gis.columns import ADMIN_CODE, COMMUNITY, GRID_CODE, UNIT_ID
from partition.codes import grid_codes, reading_order
from partition.plan import partition
from tests.strategies import CRS, band_communities, square_lattice

ADMIN = "630100001001"


def four_grid_sized_units():
    """A 2 × 2 lattice of units that are each a grid (400 households, 1,200 residents)::

    +------+------+
    | u1_0 | u1_1 |   north
    +------+------+
    | u0_0 | u0_1 |   south
    +------+------+
    """
    return square_lattice(2, 2, [400] * 4, [1200] * 4, size=300.0)


def codes_by_unit(result) -> dict[str, str]:
    return dict(zip(result.assignment[UNIT_ID], result.assignment[GRID_CODE], strict=True))


def test_admin_code_gives_15_digits_in_reading_order():
    units = four_grid_sized_units()
    xs, ys = [units.total_bounds[0], units.total_bounds[2]], [units.total_bounds[1], units.total_bounds[3]]
    communities = band_communities(xs, ys, [])
    assert communities[ADMIN_CODE].tolist() == [ADMIN]
    result = partition(units, communities=communities, crs=CRS)
    assert codes_by_unit(result) == {
        "u1_0": ADMIN + "001",  # north-west
        "u1_1": ADMIN + "002",  # north-east
        "u0_0": ADMIN + "003",  # south-west
        "u0_1": ADMIN + "004",  # south-east
    }
    assert all(len(code) == 15 and code.isdigit() for code in result.grids[GRID_CODE])


def test_community_id_codes_without_admin_code():
    units = four_grid_sized_units()
    units[COMMUNITY] = "6300100-001"
    result = partition(units, crs=CRS)
    assert codes_by_unit(result) == {
        "u1_0": "6300100-001-001",
        "u1_1": "6300100-001-002",
        "u0_0": "6300100-001-003",
        "u0_1": "6300100-001-004",
    }


def test_district_without_communities_uses_g():
    result = partition(four_grid_sized_units(), crs=CRS)
    assert sorted(result.grids[GRID_CODE]) == ["G-001", "G-002", "G-003", "G-004"]
    assert codes_by_unit(result)["u1_0"] == "G-001"


def test_each_community_numbers_from_one():
    """Two communities side by side (west C1, east C2) each count 001, 002 from their north."""
    units = square_lattice(2, 2, [400] * 4, [1200] * 4, size=300.0)
    b = units.total_bounds
    communities = band_communities([b[0], b[0] + 300, b[2]], [b[1], b[3]], [1], admin_codes=False)
    result = partition(units, communities=communities, crs=CRS)
    assert codes_by_unit(result) == {
        "u1_0": "C1-001",
        "u0_0": "C1-002",
        "u1_1": "C2-001",
        "u0_1": "C2-002",
    }


def test_codes_are_deterministic():
    units = square_lattice(6, 4, [60 + 5 * (i % 7) for i in range(24)], [170 + 11 * (i % 5) for i in range(24)])
    first = partition(units, crs=CRS, seed=3)
    second = partition(units, crs=CRS, seed=3)
    assert codes_by_unit(first) == codes_by_unit(second)
    assert first.grids[GRID_CODE].tolist() == second.grids[GRID_CODE].tolist()


def test_reading_order_rows_then_columns():
    """Anchors a little off a row's line still read west to east within the row."""
    pts = shapely.points([(200, 95), (0, 100), (100, 104), (0, 0), (100, -3)])
    assert reading_order(pts, 50.0).tolist() == [1, 2, 0, 3, 4]


def test_reading_order_of_nothing():
    assert reading_order(np.array([], dtype=object), 10.0).tolist() == []


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        (ADMIN, [ADMIN + "001", ADMIN + "002"]),
        (None, ["C7-001", "C7-002"]),
        ("63010000100", ["C7-001", "C7-002"]),  # 11 digits: not an admin code
        ("63010000100x", ["C7-001", "C7-002"]),
    ],
)
def test_grid_codes(admin, expected):
    assert grid_codes("C7", admin, 2) == expected


def test_grid_codes_refuse_more_than_999():
    with pytest.raises(ValueError, match=r"community 'C7' would get 1000 grids; codes allow at most 999"):
        grid_codes("C7", ADMIN, 1000)

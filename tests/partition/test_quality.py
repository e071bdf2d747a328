"""Plans on districts whose counts allow every grid in range, and input the engine refuses."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from gis.columns import COMMUNITY, HOUSEHOLDS, POPULATION, STATUS, STATUS_OK, UNIT_ID
from gis.errors import InputError, OutsideBoundaryError
from partition.plan import partition
from partition.targets import Targets, assess
from tests.strategies import CRS, band_communities, square_lattice


def forty_units(seed: int) -> gpd.GeoDataFrame:
    """An 8 × 5 lattice of 100 m squares with 30–70 households of 2.6–3.0 residents each."""
    rng = np.random.default_rng(seed)
    households = rng.integers(30, 71, size=40)
    population = np.round(households * rng.uniform(2.6, 3.0, size=40)).astype(int)
    return square_lattice(8, 5, households, population)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_all_grids_in_range_when_counts_allow(seed):
    units = forty_units(seed)
    feasibility = assess(int(units[HOUSEHOLDS].sum()), int(units[POPULATION].sum()), Targets())
    assert feasibility.feasible  # the premise: counts alone allow it
    result = partition(units, crs=CRS)
    assert (result.grids[STATUS] == STATUS_OK).all(), result.grids[[HOUSEHOLDS, POPULATION]]
    assert result.report["share_in_range"] == 1.0
    assert result.report["valid"] is True
    lo, hi = feasibility.k_feasible
    assert lo <= len(result.grids) <= hi


def test_all_grids_in_range_nested_in_two_communities():
    units = forty_units(5)
    b = units.total_bounds
    xs = [b[0] + 100 * c for c in range(9)]
    communities = band_communities(xs, [b[1], b[3]], [4])
    result = partition(units, communities=communities, crs=CRS)
    for community in result.report["per_community"]:
        assert community["feasible_by_counts"], community
    assert (result.grids[STATUS] == STATUS_OK).all(), result.grids[[COMMUNITY, HOUSEHOLDS, POPULATION]]


def test_grids_are_compact_enough():
    """A lattice split into grids of 8 squares has no thread-like grid."""
    result = partition(forty_units(0), crs=CRS)
    assert result.grids["polsby_popper"].min() > 0.3
    assert result.report["polsby_popper"]["mean"] >= 0.5


@pytest.mark.parametrize("column", [UNIT_ID, HOUSEHOLDS, POPULATION])
def test_missing_column_is_named(column):
    units = forty_units(0).drop(columns=column)
    with pytest.raises(InputError, match=rf"file 'blocks.gpkg': units lack the column\(s\) \['{column}'\]"):
        partition(units, crs=CRS, source="blocks.gpkg")


def test_units_outside_every_community_are_named():
    """The community stops 110 m short of the east edge: the centres of the east column
    of units lie 60 m outside it, beyond a snap of 50 m: each is named with its distance."""
    units = forty_units(0)
    b = units.total_bounds
    communities = band_communities([b[0], b[2] - 110], [b[1], b[3]], [])
    with pytest.raises(
        OutsideBoundaryError,
        match=r"id \[u0_7, u1_7, u2_7, u3_7, u4_7\]: 5 populated unit\(s\) lie more than 50 m outside every "
        r"community polygon: u0_7 \(\d+ households\) 60 m from community C1;",
    ):
        partition(units, communities=communities, crs=CRS, snap=50)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda u: u.assign(households=u[HOUSEHOLDS].where(u.index != 3, -1)), r"id \[u0_3\], field 'households'"),
        (lambda u: u.assign(population=u[POPULATION].astype(object).where(u.index != 0, "x")), r"id \[u0_0\]"),
        (lambda u: u.assign(unit_id=u[UNIT_ID].where(u.index != 1, "u0_0")), r"unit ids must be unique"),
        (lambda u: u.set_crs(None, allow_override=True), r"units have no CRS"),
        (lambda u: u.set_geometry(u.geometry.where(u.index != 2, shapely.Polygon())), r"id \[u0_2\].*no geometry"),
    ],
    ids=["negative", "text", "duplicate id", "no crs", "empty geometry"],
)
def test_bad_units_are_refused(change, message):
    with pytest.raises(InputError, match=message):
        partition(change(forty_units(0)), crs=CRS)


def test_input_frames_are_not_changed():
    units = forty_units(0)
    before = units.copy()
    partition(units, communities=band_communities([300_000, 300_800], [2_770_000, 2_770_500], []), crs=CRS)
    assert_geodataframe_equal(units, before)


def test_grids_come_back_in_the_input_crs():
    """Lon/lat input is measured in the local UTM zone (51N for Taipei) and returned in lon/lat."""
    units = forty_units(0).to_crs("EPSG:4326")
    result = partition(units)
    assert result.metric_crs.to_epsg() == 32651
    assert result.grids.crs == units.crs
    assert result.units.crs == units.crs
    assert (result.grids[STATUS] == STATUS_OK).all()


def test_progress_reports_each_community():
    units = forty_units(5)
    b = units.total_bounds
    communities = band_communities([b[0] + 100 * c for c in range(9)], [b[1], b[3]], [4])
    calls = []
    partition(units, communities=communities, crs=CRS, progress=lambda *args: calls.append(args))
    assert calls == [(1, 2, "C1"), (2, 2, "C2")]


def test_custom_targets_are_used():
    targets = Targets(households_range=(150, 250), population_range=(400, 750))
    units = forty_units(1)
    result = partition(units, targets=targets, crs=CRS)
    assert result.report["targets"] == {"households": [150, 250], "population": [400, 750]}
    lo, hi = assess(int(units[HOUSEHOLDS].sum()), int(units[POPULATION].sum()), targets).k_feasible
    assert lo <= len(result.grids) <= hi
    assert result.grids[HOUSEHOLDS].between(150, 250).all()

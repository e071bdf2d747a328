"""Nangang (南港區, the Taipei district with the fewest basic statistical areas) nested in its villages.

481 basic statistical areas (ids ``A6309-…``) and 20 villages (里, ids ``6300900…``) from
``../shared/data/taipei_min_stat_areas``; skipped with a reason when the folder is absent.
"""

from __future__ import annotations

from collections import Counter

import geopandas as gpd
import pytest

from gis.columns import (
    COMMUNITY,
    COMMUNITY_ID,
    GRID_CODE,
    HOUSEHOLDS,
    POPULATION,
    STATUS,
    STATUS_OK,
    STATUS_OVERSIZED,
    UNIT_ID,
)
from gis.io import read_communities, read_units
from partition.plan import partition

pytestmark = pytest.mark.realdata

UNIT_PREFIX = "A6309"  # CODEBASE of Nangang's basic statistical areas (TOWN_ID 63000090)
VILLAGE_PREFIX = "6300900"  # CPTVID of Nangang's villages


def read_nangang(shared_data) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Nangang's basic statistical areas and villages, as read from ``../shared/data``."""
    folder = shared_data / "taipei_min_stat_areas"
    units = read_units(
        folder / "taipei_min_stat_areas_2017.geojson",
        id_field="CODEBASE",
        households_field="H_CNT",
        population_field="P_CNT",
        missing_counts="zero",
    ).frame
    villages = read_communities(folder / "taipei_villages.geojson", id_field="CPTVID", name_field="VNAME")
    units = units[units[UNIT_ID].str.startswith(UNIT_PREFIX)].reset_index(drop=True)
    villages = villages[villages[COMMUNITY_ID].str.startswith(VILLAGE_PREFIX)].reset_index(drop=True)
    return units, villages


@pytest.fixture(scope="module")
def nangang(shared_data):
    units, villages = read_nangang(shared_data)
    assert (len(units), len(villages)) == (481, 20)
    return units, villages, partition(units, communities=villages)


def test_every_invariant_holds(nangang):
    _, _, result = nangang
    report = result.report
    assert all(not offenders for offenders in report["checks"].values()), report["checks"]
    assert report["hard_barrier_crossings"] == 0
    assert report["valid"] is True


def test_units_assigned_once_and_totals_kept(nangang):
    units, _, result = nangang
    assert Counter(result.assignment[UNIT_ID]) == Counter(units[UNIT_ID])
    assert result.grids[HOUSEHOLDS].sum() == units[HOUSEHOLDS].sum() == 46_889
    assert result.grids[POPULATION].sum() == units[POPULATION].sum() == 122_194


def test_grids_nest_in_the_village_holding_their_units(nangang):
    """Villages found here by a spatial join of the units, not by the engine."""
    units, villages, result = nangang
    points = gpd.GeoDataFrame(units[[UNIT_ID]], geometry=units.representative_point()).to_crs("EPSG:3826")
    joined = gpd.sjoin_nearest(points, villages.to_crs("EPSG:3826"), max_distance=50.0)
    village_of = joined.drop_duplicates(UNIT_ID).set_index(UNIT_ID)[COMMUNITY_ID]
    grid_village = result.grids.set_index(GRID_CODE)[COMMUNITY]
    assigned = result.assignment.set_index(UNIT_ID)[GRID_CODE]
    mismatched = [u for u, code in assigned.items() if grid_village[code] != village_of[u]]
    assert mismatched == []


def test_most_grids_in_range_where_counts_allow(nangang):
    _, _, result = nangang
    per_community = result.report["per_community"]
    feasible = {c["community_id"] for c in per_community if c["feasible_by_counts"]}
    assert len(feasible) >= 15  # most Nangang villages can be cut into grids all in range
    grids = result.grids[result.grids[COMMUNITY].isin(feasible) & (result.grids[STATUS] != STATUS_OVERSIZED)]
    share = (grids[STATUS] == STATUS_OK).mean()
    assert share >= 0.85, f"{share:.1%} of grids in range in villages whose counts allow it"
    assert result.report["share_in_range_where_feasible"] == pytest.approx(share, abs=1e-4)


def test_every_infeasible_village_is_explained(nangang):
    _, _, result = nangang
    infeasible = [c for c in result.report["per_community"] if not c["feasible_by_counts"]]
    assert infeasible, "Nangang has villages whose counts allow no plan in range"
    for village in infeasible:
        assert f"{village['households']:,} households" in village["explanation"], village
        assert f"{village['population']:,} residents" in village["explanation"], village
